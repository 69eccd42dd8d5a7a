/**
 * ArcGIS credentials: the token service (credential modes, token cache, federated servers) and the link service.
 *
 * @module
 */
export { type ArcGISServices, type ArcGISServicesOptions, createArcGISServices } from "./arcgis_services.ts";
export { type ArcGISTokenService } from "./token_service.ts";
export { type CachedToken } from "./token_cache.ts";
