/**
 * ArcGIS credentials: the token service (credential modes, token cache, link flow, federated servers).
 *
 * @module
 */
export { type ArcGISTokenService, createTokenService, type TokenServiceOptions } from "./token_service.ts";
export { type CachedToken } from "./token_cache.ts";
