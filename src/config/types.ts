/**
 * The broker's configuration as TypeScript types: `XConfig` is what validation returns (defaults applied),
 * `XConfigInput` is what users write (fields with a default are optional). `schema.ts` proves at compile time
 * that its zod schema produces and accepts exactly these shapes.
 *
 * Secrets are never inlined: fields ending in `Env` name an environment variable that holds the secret.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------------------------
// Validated configuration (defaults applied)
// ---------------------------------------------------------------------------------------------------------------

/** Limits of one issuer's discovery and JWKS fetches and of its key cache. */
export interface JwksConfig {
  /** How long fetched keys are fresh. @default 600 */
  cacheMaxAgeSeconds: number;
  /** Minimum time between two refetches caused by an unknown `kid` or a failed fetch. @default 30 */
  cooldownSeconds: number;
  /** How long stale keys keep verifying while the IdP is down. @default 86400 */
  staleMaxAgeSeconds: number;
  /** Timeout of one discovery or JWKS fetch, at most 60000. @default 5000 */
  fetchTimeoutMs: number;
  /** Largest accepted discovery or JWKS body, at most 4 MiB. @default 262144 */
  maxBodyBytes: number;
}

/** Accepting ID tokens as bearer tokens, with their own audience. */
export interface IdTokensConfig {
  /** The audience ID tokens must carry (one of them): the client id of the app that receives them. */
  audience: string | string[];
  /** Expected `typ` header of ID tokens, if the IdP sets one; unchecked when absent. */
  typ?: string;
}

/** RFC 7662 token introspection for one issuer (opaque tokens, or every token with `useFor: "all"`). */
export interface IntrospectionConfig {
  /** The introspection endpoint; from discovery's `introspection_endpoint` when absent. */
  endpoint?: string;
  /** The broker's client id at the IdP. */
  clientId: string;
  /** Environment variable holding the client secret (`client_secret_basic`); or set `privateKeyEnv`. */
  clientSecretEnv?: string;
  /** Environment variable holding a private JWK as JSON, with `alg` (`private_key_jwt`); or `clientSecretEnv`. */
  privateKeyEnv?: string;
  /** `opaque`: tokens that are not JWTs; `all`: this issuer's JWTs too (Okta's org server). @default "opaque" */
  useFor: "opaque" | "all";
  /** Answers kept in isolate memory, keyed by a hash of the token; 0 disables the cache. @default 10000 */
  cacheMaxEntries: number;
  /** An active answer is kept until the token's `exp`, and at most this long when set; unbounded when absent. */
  cacheMaxSeconds?: number;
  /** How long an `active: false` answer is kept, at most 3600. @default 60 */
  inactiveCacheSeconds: number;
  /** Timeout of one introspection call, at most 60000. @default 5000 */
  fetchTimeoutMs: number;
}

/** One trusted OpenID Connect issuer (`issuers[]`). */
export interface IssuerConfig {
  /**
   * Exact `iss`; discovery from `{issuer}/.well-known/openid-configuration`, whose `issuer` must match. May hold
   * the `{tenantid}` placeholder once (Entra ID multi-tenant); `tenants` then lists the accepted tenants.
   */
  issuer: string;
  /**
   * Other exact spellings of the same IdP's `iss` (Entra v1 `https://sts.windows.net/{tenantid}/` beside v2);
   * tokens from them get the identity issuer of `issuer`. @default []
   */
  issuerAliases: string[];
  /** Required when a spelling has `{tenantid}`: the only tenant ids accepted (a token's `tid` must agree). */
  tenants?: string[];
  /**
   * The token's `aud` must contain this audience (or one of these). May be omitted only when `clientIds` and
   * `requiredScopes` are both set (IdentityServer's scope-only model, Cognito): then `aud` is not checked.
   */
  audience?: string | string[];
  /** Use this JWKS instead of the one named by discovery. */
  jwksUri?: string;
  /** Accepted asymmetric algorithms (`RS*`, `PS*`, `ES*`, `EdDSA`), one per key type. @default ["RS256"] */
  algorithms: string[];
  /** Leeway for `exp`, `nbf` and `iat`, at most 300. @default 30 */
  clockToleranceSeconds: number;
  /** Refuse tokens whose `iat` is older than this; unchecked when absent. */
  maxTokenAgeSeconds?: number;
  /** Claims that must be present; must include `exp`. @default ["exp", "iat", "sub"] */
  requiredClaims: string[];
  /** Expected `typ` header of access tokens, e.g. `at+jwt`; unchecked when absent. */
  typ?: string;
  /** Scopes required in `scope` (space-separated) or in `scope`/`scp` arrays. @default [] */
  requiredScopes: string[];
  /**
   * Allowed clients: each of `azp`, `client_id` and `appid` that the token carries must be one of these, and at
   * least one must be present; any client when absent.
   */
  clientIds?: string[];
  /** Accept ID tokens as bearer tokens; refused when absent. */
  idTokens?: IdTokensConfig;
  /** RFC 7662 introspection for this issuer's opaque tokens (or all its tokens); none when absent. */
  introspection?: IntrospectionConfig;
  /** Allow plain http for the issuer, discovery and JWKS, on loopback hosts only (tests, demo). @default false */
  allowInsecureLoopback: boolean;
  /** Limits of discovery and JWKS fetches and of the key cache. @default {} (every field at its default) */
  jwks: JwksConfig;
}

/** Whether a shared identity's ArcGIS token may be handed to browsers. */
export interface BrowserExposureConfig {
  /** Hand this shared identity's token to browsers (`/credentials`, `/token`); otherwise proxy only. @default false */
  exposeToBrowser: boolean;
  /** Longest lifetime of a token handed to a browser for this identity, at most 3600. @default 900 */
  browserTokenMaxSeconds: number;
}

/** Each signed-in user links their own ArcGIS account (OAuth authorization code with PKCE). */
export interface UserProfileConfig {
  /** Selects this kind of profile. */
  mode: "user";
  /** The ArcGIS OAuth app's client id. */
  clientId: string;
  /** Environment variable holding the OAuth app's client secret, if it has one. */
  clientSecretEnv?: string;
  /** The link callback URL registered with the ArcGIS OAuth app. */
  redirectUri: string;
  /** IdP claim whose value must equal the linked ArcGIS user's `idpUsername`; unchecked when absent. */
  idpUsernameClaim?: string;
  /** Lifetime asked for the refresh token at authorize time (`expiration`), at most 129600. @default 20160 */
  refreshTokenExpirationMinutes: number;
  /** Rotate the refresh token with `exchange_refresh_token` when less than this is left. @default 86400 */
  rotationMarginSeconds: number;
}

/** One shared app identity (OAuth client credentials). */
export interface AppProfileConfig extends BrowserExposureConfig {
  /** Selects this kind of profile. */
  mode: "app";
  /** The ArcGIS OAuth app's client id. */
  clientId: string;
  /** Environment variable holding the OAuth app's client secret. */
  clientSecretEnv: string;
  /** Lifetime asked for app tokens (`expiration`), at most 20160. @default 120 */
  expirationMinutes: number;
}

/** One shared named ArcGIS account (username and password). */
export interface AccountProfileConfig extends BrowserExposureConfig {
  /** Selects this kind of profile. */
  mode: "account";
  /** The ArcGIS username. */
  username: string;
  /** Environment variable holding the account's password. */
  passwordEnv: string;
  /** Must be `true`: sharing one named account can break Esri's named-user terms (see the README). */
  acknowledgeNamedUserTerms: true;
  /** Bind the token to this referer (`client=referer`); the proxy then sends it as `Referer`. */
  referer?: string;
  /** Lifetime asked for the token (`expiration`), at most 20160. @default 60 */
  expirationMinutes: number;
}

/** One ArcGIS API key, used only by the proxy. */
export interface ApiKeyProfileConfig {
  /** Selects this kind of profile. */
  mode: "apiKey";
  /** Environment variable holding the API key. */
  apiKeyEnv: string;
  /** An API key never reaches a browser: only `false` is accepted. @default false */
  exposeToBrowser: false;
  /** How long the broker treats the key as valid before re-reading it. @default 86400 */
  assumedLifetimeSeconds: number;
}

/** One `profiles` entry: how the broker obtains an ArcGIS token, chosen by `mode`. */
export type ProfileConfig = UserProfileConfig | AppProfileConfig | AccountProfileConfig | ApiKeyProfileConfig;

/**
 * One `rules[]` entry. Rules are tried in order and the first match wins. A rule names a claim with exactly one
 * of `equals`, `includes`, `matches`, `exists`, or no claim and no test (it then matches every identity).
 */
export interface RuleConfig {
  /** Only identities from this issuer match; required when several issuers are configured. */
  issuer?: string;
  /** The claim to test. */
  claim?: string;
  /** The claim equals this value. */
  equals?: string | number | boolean;
  /** The claim is an array holding this value, or a space-separated string holding this word. */
  includes?: string | number;
  /** The claim is a string (or an array with a string) matching this regular expression (`u` flag). */
  matches?: string;
  /** The claim is present and not null (`true`), or absent or null (`false`). */
  exists?: boolean;
  /** The profile (or profiles) matching identities may use; the first one is their default. */
  profile: string | string[];
}

/** HTTP methods a proxy allowlist entry can admit. */
export type ProxyMethod = "GET" | "POST" | "HEAD" | "PUT" | "DELETE" | "PATCH";

/** One `proxy.allow[]` entry: an upstream URL prefix the proxy may forward to. */
export interface ProxyEntryConfig {
  /** Upstream URL prefix, https (or loopback http when `arcgis.allowInsecureLoopback`), without query. */
  url: string;
  /** Methods forwarded to this prefix. @default ["GET", "POST"] */
  methods: ProxyMethod[];
  /** Where the proxy puts the ArcGIS token. @default "header" */
  tokenIn: "header" | "query";
  /** Allow edit operations (`applyEdits`, `addFeatures`, …) through this entry. @default false */
  allowEdits: boolean;
  /** Use this profile (one the rules allow the identity) instead of the identity's default profile. */
  profile?: string;
}

/** The `proxy` section. */
export interface ProxyConfig {
  /** Upstream URL prefixes the proxy may forward to; empty denies all. @default [] */
  allow: ProxyEntryConfig[];
  /** Largest proxied request body (413 above). @default 10485760 */
  maxBodyBytes: number;
  /** Bodies up to this size are buffered so a 498/499 can be retried once. @default 65536 */
  retryMaxBodyBytes: number;
  /** Upstream timeout (504). @default 30000 */
  fetchTimeoutMs: number;
  /** Name of a Workers rate-limiting binding used per identity (429); none when absent. */
  rateLimitBinding?: string;
}

/** The `arcgis` section: the portal and the servers the broker gets tokens for. */
export interface ArcGISConfig {
  /** The portal's REST root, ending in `/sharing/rest`. */
  portalUrl: string;
  /** The organization id, checked on link and on ArcGIS Online services; unchecked when absent. */
  orgId?: string;
  /** Federated ArcGIS Server roots (`https://host/server`). @default [] */
  servers: string[];
  /** Timeout of ArcGIS token calls. @default 10000 */
  fetchTimeoutMs: number;
  /** Allow plain http ArcGIS and proxy URLs on loopback hosts only (tests, demo). @default false */
  allowInsecureLoopback: boolean;
}

/** The `link` section (the flow that links a user's ArcGIS account). */
export interface LinkConfig {
  /** Where the link flow may return to (exact prefixes, https or loopback). @default [] */
  returnUrls: string[];
}

/** The `cors` section. */
export interface CorsConfig {
  /** Exact browser origins allowed, like `https://app.example.com`. @default [] */
  origins: string[];
  /** How long browsers may cache a preflight answer. @default 600 */
  maxAgeSeconds: number;
}

/** The `sealing` section: the keys that encrypt stored refresh tokens and link state. */
export interface SealingConfig {
  /** Environment variable holding the keyring `kid:base64key,…` (32-byte keys; the first one seals). */
  keysEnv: string;
}

/** The `cache` section: reuse of ArcGIS tokens. */
export interface CacheConfig {
  /** A cached ArcGIS token is reused only while more than this is left, at least 60. @default 120 */
  safetyMarginSeconds: number;
  /** How long a failed ArcGIS token call is remembered, so ArcGIS is not hammered. @default 15 */
  negativeCacheSeconds: number;
}

/** The `validation` section: limits on incoming bearer tokens. */
export interface ValidationConfig {
  /** Largest accepted bearer token, 512 to 65536. @default 8192 */
  maxTokenBytes: number;
  /** Size of the verified-token memo; 0 disables it. @default 10000 */
  memoMaxEntries: number;
}

/** The `errors` section: what refusals tell clients. */
export interface ErrorsConfig {
  /**
   * Put the refusal reason code (`aud_mismatch`, `expired`, …) in `error_description`. Off: clients see generic
   * descriptions and only the log names the reason. @default false
   */
  exposeReasons: boolean;
}

/** The validated broker configuration (defaults applied), as returned by `parseConfig`. */
export interface BrokerConfig {
  /** The trusted OpenID Connect issuers; at least one. */
  issuers: IssuerConfig[];
  /** The portal and the servers the broker gets tokens for. */
  arcgis: ArcGISConfig;
  /** Named ways of obtaining an ArcGIS token; names use `A-Z a-z 0-9 _ -`. */
  profiles: Record<string, ProfileConfig>;
  /** Ordered rules mapping identities to profiles; first match wins, no match is 403. @default [] */
  rules: RuleConfig[];
  /** The authenticated proxy. @default {} (deny all) */
  proxy: ProxyConfig;
  /** The account link flow. @default {} */
  link: LinkConfig;
  /** Browser origins. @default {} (none) */
  cors: CorsConfig;
  /** Keys that encrypt stored secrets. */
  sealing: SealingConfig;
  /** Reuse of ArcGIS tokens. @default {} */
  cache: CacheConfig;
  /** Limits on incoming bearer tokens. @default {} */
  validation: ValidationConfig;
  /** What refusals tell clients. @default {} (reasons in the log only) */
  errors: ErrorsConfig;
  /** Where the host mounts `routes()`, used to build link URLs in answers. @default "/arcgis" */
  mountPath: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Configuration as written (fields with a default are optional)
// ---------------------------------------------------------------------------------------------------------------

/** {@link JwksConfig} as written. */
export interface JwksConfigInput {
  /** How long fetched keys are fresh. @default 600 */
  cacheMaxAgeSeconds?: number;
  /** Minimum time between two refetches caused by an unknown `kid` or a failed fetch. @default 30 */
  cooldownSeconds?: number;
  /** How long stale keys keep verifying while the IdP is down. @default 86400 */
  staleMaxAgeSeconds?: number;
  /** Timeout of one discovery or JWKS fetch, at most 60000. @default 5000 */
  fetchTimeoutMs?: number;
  /** Largest accepted discovery or JWKS body, at most 4 MiB. @default 262144 */
  maxBodyBytes?: number;
}

/** {@link IntrospectionConfig} as written. */
export interface IntrospectionConfigInput {
  /** The introspection endpoint; from discovery's `introspection_endpoint` when absent. */
  endpoint?: string;
  /** The broker's client id at the IdP. */
  clientId: string;
  /** Environment variable holding the client secret (`client_secret_basic`); or set `privateKeyEnv`. */
  clientSecretEnv?: string;
  /** Environment variable holding a private JWK as JSON, with `alg` (`private_key_jwt`); or `clientSecretEnv`. */
  privateKeyEnv?: string;
  /** `opaque`: tokens that are not JWTs; `all`: this issuer's JWTs too (Okta's org server). @default "opaque" */
  useFor?: "opaque" | "all";
  /** Answers kept in isolate memory, keyed by a hash of the token; 0 disables the cache. @default 10000 */
  cacheMaxEntries?: number;
  /** An active answer is kept until the token's `exp`, and at most this long when set; unbounded when absent. */
  cacheMaxSeconds?: number;
  /** How long an `active: false` answer is kept, at most 3600. @default 60 */
  inactiveCacheSeconds?: number;
  /** Timeout of one introspection call, at most 60000. @default 5000 */
  fetchTimeoutMs?: number;
}

/** {@link IssuerConfig} as written. */
export interface IssuerConfigInput {
  /**
   * Exact `iss`; discovery from `{issuer}/.well-known/openid-configuration`, whose `issuer` must match. May hold
   * the `{tenantid}` placeholder once (Entra ID multi-tenant); `tenants` then lists the accepted tenants.
   */
  issuer: string;
  /**
   * Other exact spellings of the same IdP's `iss` (Entra v1 `https://sts.windows.net/{tenantid}/` beside v2);
   * tokens from them get the identity issuer of `issuer`. @default []
   */
  issuerAliases?: string[];
  /** Required when a spelling has `{tenantid}`: the only tenant ids accepted (a token's `tid` must agree). */
  tenants?: string[];
  /**
   * The token's `aud` must contain this audience (or one of these). May be omitted only when `clientIds` and
   * `requiredScopes` are both set (IdentityServer's scope-only model, Cognito): then `aud` is not checked.
   */
  audience?: string | string[];
  /** Use this JWKS instead of the one named by discovery. */
  jwksUri?: string;
  /** Accepted asymmetric algorithms (`RS*`, `PS*`, `ES*`, `EdDSA`), one per key type. @default ["RS256"] */
  algorithms?: string[];
  /** Leeway for `exp`, `nbf` and `iat`, at most 300. @default 30 */
  clockToleranceSeconds?: number;
  /** Refuse tokens whose `iat` is older than this; unchecked when absent. */
  maxTokenAgeSeconds?: number;
  /** Claims that must be present; must include `exp`. @default ["exp", "iat", "sub"] */
  requiredClaims?: string[];
  /** Expected `typ` header of access tokens, e.g. `at+jwt`; unchecked when absent. */
  typ?: string;
  /** Scopes required in `scope` (space-separated) or in `scope`/`scp` arrays. @default [] */
  requiredScopes?: string[];
  /**
   * Allowed clients: each of `azp`, `client_id` and `appid` that the token carries must be one of these, and at
   * least one must be present; any client when absent.
   */
  clientIds?: string[];
  /** Accept ID tokens as bearer tokens; refused when absent. */
  idTokens?: IdTokensConfig;
  /** RFC 7662 introspection for this issuer's opaque tokens (or all its tokens); none when absent. */
  introspection?: IntrospectionConfigInput;
  /** Allow plain http for the issuer, discovery and JWKS, on loopback hosts only (tests, demo). @default false */
  allowInsecureLoopback?: boolean;
  /** Limits of discovery and JWKS fetches and of the key cache. @default {} (every field at its default) */
  jwks?: JwksConfigInput;
}

/** {@link BrowserExposureConfig} as written. */
export interface BrowserExposureConfigInput {
  /** Hand this shared identity's token to browsers (`/credentials`, `/token`); otherwise proxy only. @default false */
  exposeToBrowser?: boolean;
  /** Longest lifetime of a token handed to a browser for this identity, at most 3600. @default 900 */
  browserTokenMaxSeconds?: number;
}

/** {@link UserProfileConfig} as written. */
export interface UserProfileConfigInput {
  /** Selects this kind of profile. */
  mode: "user";
  /** The ArcGIS OAuth app's client id. */
  clientId: string;
  /** Environment variable holding the OAuth app's client secret, if it has one. */
  clientSecretEnv?: string;
  /** The link callback URL registered with the ArcGIS OAuth app. */
  redirectUri: string;
  /** IdP claim whose value must equal the linked ArcGIS user's `idpUsername`; unchecked when absent. */
  idpUsernameClaim?: string;
  /** Lifetime asked for the refresh token at authorize time (`expiration`), at most 129600. @default 20160 */
  refreshTokenExpirationMinutes?: number;
  /** Rotate the refresh token with `exchange_refresh_token` when less than this is left. @default 86400 */
  rotationMarginSeconds?: number;
}

/** {@link AppProfileConfig} as written. */
export interface AppProfileConfigInput extends BrowserExposureConfigInput {
  /** Selects this kind of profile. */
  mode: "app";
  /** The ArcGIS OAuth app's client id. */
  clientId: string;
  /** Environment variable holding the OAuth app's client secret. */
  clientSecretEnv: string;
  /** Lifetime asked for app tokens (`expiration`), at most 20160. @default 120 */
  expirationMinutes?: number;
}

/** {@link AccountProfileConfig} as written. */
export interface AccountProfileConfigInput extends BrowserExposureConfigInput {
  /** Selects this kind of profile. */
  mode: "account";
  /** The ArcGIS username. */
  username: string;
  /** Environment variable holding the account's password. */
  passwordEnv: string;
  /** Must be `true`: sharing one named account can break Esri's named-user terms (see the README). */
  acknowledgeNamedUserTerms: true;
  /** Bind the token to this referer (`client=referer`); the proxy then sends it as `Referer`. */
  referer?: string;
  /** Lifetime asked for the token (`expiration`), at most 20160. @default 60 */
  expirationMinutes?: number;
}

/** {@link ApiKeyProfileConfig} as written. */
export interface ApiKeyProfileConfigInput {
  /** Selects this kind of profile. */
  mode: "apiKey";
  /** Environment variable holding the API key. */
  apiKeyEnv: string;
  /** An API key never reaches a browser: only `false` is accepted. @default false */
  exposeToBrowser?: false;
  /** How long the broker treats the key as valid before re-reading it. @default 86400 */
  assumedLifetimeSeconds?: number;
}

/** {@link ProfileConfig} as written. */
export type ProfileConfigInput =
  | UserProfileConfigInput
  | AppProfileConfigInput
  | AccountProfileConfigInput
  | ApiKeyProfileConfigInput;

/** {@link ProxyEntryConfig} as written. */
export interface ProxyEntryConfigInput {
  /** Upstream URL prefix, https (or loopback http when `arcgis.allowInsecureLoopback`), without query. */
  url: string;
  /** Methods forwarded to this prefix. @default ["GET", "POST"] */
  methods?: ProxyMethod[];
  /** Where the proxy puts the ArcGIS token. @default "header" */
  tokenIn?: "header" | "query";
  /** Allow edit operations (`applyEdits`, `addFeatures`, …) through this entry. @default false */
  allowEdits?: boolean;
  /** Use this profile (one the rules allow the identity) instead of the identity's default profile. */
  profile?: string;
}

/** {@link ProxyConfig} as written. */
export interface ProxyConfigInput {
  /** Upstream URL prefixes the proxy may forward to; empty denies all. @default [] */
  allow?: ProxyEntryConfigInput[];
  /** Largest proxied request body (413 above). @default 10485760 */
  maxBodyBytes?: number;
  /** Bodies up to this size are buffered so a 498/499 can be retried once. @default 65536 */
  retryMaxBodyBytes?: number;
  /** Upstream timeout (504). @default 30000 */
  fetchTimeoutMs?: number;
  /** Name of a Workers rate-limiting binding used per identity (429); none when absent. */
  rateLimitBinding?: string;
}

/** {@link ArcGISConfig} as written. */
export interface ArcGISConfigInput {
  /** The portal's REST root, ending in `/sharing/rest`. */
  portalUrl: string;
  /** The organization id, checked on link and on ArcGIS Online services; unchecked when absent. */
  orgId?: string;
  /** Federated ArcGIS Server roots (`https://host/server`). @default [] */
  servers?: string[];
  /** Timeout of ArcGIS token calls. @default 10000 */
  fetchTimeoutMs?: number;
  /** Allow plain http ArcGIS and proxy URLs on loopback hosts only (tests, demo). @default false */
  allowInsecureLoopback?: boolean;
}

/** {@link LinkConfig} as written. */
export interface LinkConfigInput {
  /** Where the link flow may return to (exact prefixes, https or loopback). @default [] */
  returnUrls?: string[];
}

/** {@link CorsConfig} as written. */
export interface CorsConfigInput {
  /** Exact browser origins allowed, like `https://app.example.com`. @default [] */
  origins?: string[];
  /** How long browsers may cache a preflight answer. @default 600 */
  maxAgeSeconds?: number;
}

/** {@link CacheConfig} as written. */
export interface CacheConfigInput {
  /** A cached ArcGIS token is reused only while more than this is left, at least 60. @default 120 */
  safetyMarginSeconds?: number;
  /** How long a failed ArcGIS token call is remembered, so ArcGIS is not hammered. @default 15 */
  negativeCacheSeconds?: number;
}

/** {@link ValidationConfig} as written. */
export interface ValidationConfigInput {
  /** Largest accepted bearer token, 512 to 65536. @default 8192 */
  maxTokenBytes?: number;
  /** Size of the verified-token memo; 0 disables it. @default 10000 */
  memoMaxEntries?: number;
}

/** {@link ErrorsConfig} as written. */
export interface ErrorsConfigInput {
  /**
   * Put the refusal reason code (`aud_mismatch`, `expired`, …) in `error_description`. Off: clients see generic
   * descriptions and only the log names the reason. @default false
   */
  exposeReasons?: boolean;
}

/** The broker configuration as written by users (`BROKER_CONFIG`, `createBroker`'s first argument). */
export interface BrokerConfigInput {
  /** The trusted OpenID Connect issuers; at least one. */
  issuers: IssuerConfigInput[];
  /** The portal and the servers the broker gets tokens for. */
  arcgis: ArcGISConfigInput;
  /** Named ways of obtaining an ArcGIS token; names use `A-Z a-z 0-9 _ -`. */
  profiles: Record<string, ProfileConfigInput>;
  /** Ordered rules mapping identities to profiles; first match wins, no match is 403. @default [] */
  rules?: RuleConfig[];
  /** The authenticated proxy. @default {} (deny all) */
  proxy?: ProxyConfigInput;
  /** The account link flow. @default {} */
  link?: LinkConfigInput;
  /** Browser origins. @default {} (none) */
  cors?: CorsConfigInput;
  /** Keys that encrypt stored secrets. */
  sealing: SealingConfig;
  /** Reuse of ArcGIS tokens. @default {} */
  cache?: CacheConfigInput;
  /** Limits on incoming bearer tokens. @default {} */
  validation?: ValidationConfigInput;
  /** What refusals tell clients. @default {} (reasons in the log only) */
  errors?: ErrorsConfigInput;
  /** Where the host mounts `routes()`, used to build link URLs in answers. @default "/arcgis" */
  mountPath?: string;
}
