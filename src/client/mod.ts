/**
 * `./client`: the dependency-free browser helper for web apps using the ArcGIS Maps SDK.
 *
 * ```ts
 * import IdentityManager from "@arcgis/core/identity/IdentityManager.js";
 * import { createArcGISCredentialsClient } from "arcgis-token-broker/client";
 *
 * const client = createArcGISCredentialsClient({
 *   brokerUrl: "https://app.example.com/arcgis",
 *   getIdpToken: () => oidc.getAccessToken(),
 *   identityManager: IdentityManager,
 * });
 * await client.start();
 * ```
 *
 * @module
 */
export {
  type ArcGISCredentialsClient,
  type ArcGISCredentialsClientOptions,
  type BrokerCredential,
  type BrokerCredentials,
  BrokerRequestError,
  createArcGISCredentialsClient,
  type IdentityManagerLike,
  type LinkRequiredEvent,
  type Navigation,
  type RegisterTokenProperties,
  type Timers,
} from "./credentials_client.ts";
export {
  addProxyRules,
  type InterceptorParams,
  proxyInterceptor,
  type ProxyInterceptorOptions,
  type ProxyRequestInterceptor,
  type UrlUtilsLike,
} from "./proxy_interceptor.ts";
export {
  DEFAULT_MIN_REFRESH_DELAY_MS,
  DEFAULT_REFRESH_MARGIN_MS,
  DEFAULT_RETRY_DELAY_MS,
} from "./constants.ts";
