/**
 * The words of the configuration: one line per field and per named type, keyed by the field's path. The schema
 * (`schema.ts`) owns everything else (types, defaults, bounds, checks); `scripts/config_docs.ts` joins the two
 * into `types.ts` and the README's config table, and `tests/config/config_docs_test.ts` fails when a field has
 * no words here, when words name no field, or when the generated files drift.
 *
 * Paths: `issuers[]` is an element of the `issuers` list, `profiles.<name>` a value of the `profiles` record,
 * `profiles.<name>(user)` its `user` variant. A field shared by several variants may be documented once under
 * `profiles.<name>.<field>`. Not imported at runtime: the words stay out of the Workers bundle.
 *
 * @module
 */

/** The words of one field. */
export interface FieldDoc {
  /** One line: what the field means, without its default or bounds (the schema adds those). */
  doc: string;
  /** What an optional field without default means when absent, e.g. `not checked`. @default "none" */
  absent?: string;
}

/** The name and words of one object (or union, or enum) of the schema. */
export interface TypeDoc {
  /** The exported interface or type name of the validated shape. */
  name: string;
  /** One line about the validated shape. */
  doc: string;
  /** One line about the shape as written, when it has defaults. @default "{@link name} as written." */
  inputDoc?: string;
}

/** Named types by path (`""` is the root). */
export const TYPE_DOCS: Readonly<Record<string, TypeDoc>> = {
  "": {
    name: "BrokerConfig",
    doc: "The validated broker configuration (defaults applied), as returned by `parseConfig`.",
    inputDoc:
      "The broker configuration as written by users (`BROKER_CONFIG`, `createBroker`'s first argument).",
  },
  "issuers[]": { name: "IssuerConfig", doc: "One trusted OpenID Connect issuer (`issuers[]`)." },
  "issuers[].jwks": {
    name: "JwksConfig",
    doc: "Limits of one issuer's discovery and JWKS fetches and of its key cache.",
  },
  "issuers[].introspection": {
    name: "IntrospectionConfig",
    doc: 'RFC 7662 token introspection for one issuer (opaque tokens, or every token with `useFor: "all"`).',
  },
  "issuers[].idTokens": {
    name: "IdTokensConfig",
    doc: "Accepting ID tokens as bearer tokens, with their own audience.",
  },
  "arcgis": {
    name: "ArcGISConfig",
    doc: "The `arcgis` section: the portal and the servers the broker gets tokens for.",
  },
  "profiles.<name>": {
    name: "ProfileConfig",
    doc: "One `profiles` entry: how the broker obtains an ArcGIS token, chosen by `mode`.",
  },
  "profiles.<name>(user)": {
    name: "UserProfileConfig",
    doc: "Each signed-in user links their own ArcGIS account (OAuth authorization code with PKCE).",
  },
  "profiles.<name>(app)": {
    name: "AppProfileConfig",
    doc: "One shared app identity (OAuth client credentials).",
  },
  "profiles.<name>(account)": {
    name: "AccountProfileConfig",
    doc: "One shared named ArcGIS account (username and password).",
  },
  "profiles.<name>(apiKey)": {
    name: "ApiKeyProfileConfig",
    doc: "One ArcGIS API key, used only by the proxy.",
  },
  "rules[]": {
    name: "RuleConfig",
    doc:
      "One `rules[]` entry. Rules are tried in order and the first match wins. A rule names a claim with " +
      "exactly one of `equals`, `includes`, `matches`, `exists`, or no claim and no test (it then matches every " +
      "identity).",
  },
  "proxy": { name: "ProxyConfig", doc: "The `proxy` section." },
  "proxy.allow[]": {
    name: "ProxyEntryConfig",
    doc: "One `proxy.allow[]` entry: an upstream URL prefix the proxy may forward to.",
  },
  "proxy.allow[].methods[]": { name: "ProxyMethod", doc: "HTTP methods a proxy allowlist entry can admit." },
  "link": { name: "LinkConfig", doc: "The `link` section (the flow that links a user's ArcGIS account)." },
  "cors": { name: "CorsConfig", doc: "The `cors` section." },
  "sealing": {
    name: "SealingConfig",
    doc: "The `sealing` section: the keys that encrypt stored refresh tokens and link state.",
  },
  "cache": { name: "CacheConfig", doc: "The `cache` section: reuse of ArcGIS tokens." },
  "validation": {
    name: "ValidationConfig",
    doc: "The `validation` section: limits on incoming bearer tokens.",
  },
  "errors": { name: "ErrorsConfig", doc: "The `errors` section: what refusals tell clients." },
};

/** Field words by path. */
export const FIELD_DOCS: Readonly<Record<string, FieldDoc>> = {
  "issuers": { doc: "The trusted OpenID Connect issuers" },
  "issuers[].issuer": {
    doc: "Exact `iss`; discovery from `{issuer}/.well-known/openid-configuration`, whose `issuer` must " +
      "match; may hold `{tenantid}` once (Entra multi-tenant), then `tenants` is required",
  },
  "issuers[].issuerAliases": {
    doc: "Other exact spellings of the same IdP's `iss` (Entra v1 `https://sts.windows.net/{tenantid}/` " +
      "beside v2); their tokens get the identity issuer of `issuer`",
  },
  "issuers[].tenants": {
    doc: "The only tenant ids a `{tenantid}` spelling accepts (a token's `tid`, when present, must agree); " +
      "required with a template",
    absent: "no template",
  },
  "issuers[].audience": {
    doc: "The token's `aud` must contain this audience (or one of these); may be omitted only when " +
      "`clientIds` and `requiredScopes` are both set (IdentityServer's scope-only model, Cognito)",
    absent: "`aud` not checked",
  },
  "issuers[].jwksUri": { doc: "Use this JWKS instead of the one named by discovery", absent: "discovery" },
  "issuers[].algorithms": {
    doc:
      "Accepted asymmetric algorithms (`RS*`, `PS*`, `ES*`, `EdDSA`), one per key type; `HS*` and `none` " +
      "are refused",
  },
  "issuers[].clockToleranceSeconds": { doc: "Leeway for `exp`, `nbf` and `iat`" },
  "issuers[].maxTokenAgeSeconds": {
    doc: "Refuse tokens whose `iat` is older than this",
    absent: "not checked",
  },
  "issuers[].requiredClaims": { doc: "Claims that must be present; must include `exp`" },
  "issuers[].typ": { doc: "Expected `typ` header of access tokens, e.g. `at+jwt`", absent: "not checked" },
  "issuers[].requiredScopes": {
    doc: "Scopes required in `scope` (space-separated) or in `scope`/`scp` arrays",
  },
  "issuers[].clientIds": {
    doc: "Allowed clients: each of `azp`, `client_id`, `appid` (Entra v1) and `cid` (Okta) the token " +
      "carries must be listed, and one must be present",
    absent: "any",
  },
  "issuers[].introspection": {
    doc: "RFC 7662 introspection for this issuer's opaque tokens (one issuer at most)",
    absent: "none",
  },
  "issuers[].introspection.endpoint": {
    doc: "The introspection endpoint",
    absent: "discovery's `introspection_endpoint`",
  },
  "issuers[].introspection.clientId": { doc: "The broker's client id at the IdP" },
  "issuers[].introspection.clientSecretEnv": {
    doc: "Environment variable holding the client secret (`client_secret_basic`); or `privateKeyEnv`",
  },
  "issuers[].introspection.privateKeyEnv": {
    doc: "Environment variable holding a private JWK as JSON, with `alg` (`private_key_jwt`); or " +
      "`clientSecretEnv`",
  },
  "issuers[].introspection.useFor": {
    doc: "`opaque`: tokens that are not JWTs; `all`: this issuer's JWTs too (Okta's org server)",
  },
  "issuers[].introspection.cacheMaxEntries": {
    doc: "Answers kept in isolate memory, keyed by a hash of the token; 0 disables the cache",
  },
  "issuers[].introspection.cacheMaxSeconds": {
    doc: "An active answer is kept until the token's `exp`, and at most this long",
    absent: "until `exp`",
  },
  "issuers[].introspection.inactiveCacheSeconds": { doc: "How long an `active: false` answer is kept" },
  "issuers[].introspection.fetchTimeoutMs": { doc: "Timeout of one introspection call" },
  "issuers[].idTokens": {
    doc: "Accept ID tokens as bearer tokens, with their own audience",
    absent: "refused",
  },
  "issuers[].idTokens.audience": {
    doc: "The audience ID tokens must carry (one of them): the client id of the app that receives them",
  },
  "issuers[].idTokens.typ": {
    doc: "Expected `typ` header of ID tokens, if the IdP sets one",
    absent: "not checked",
  },
  "issuers[].allowInsecureLoopback": {
    doc: "Allow plain http for the issuer, discovery and JWKS, on loopback hosts only (tests, demo)",
  },
  "issuers[].jwks": { doc: "Limits of discovery and JWKS fetches and of the key cache" },
  "issuers[].jwks.cacheMaxAgeSeconds": { doc: "How long fetched keys are fresh" },
  "issuers[].jwks.cooldownSeconds": {
    doc: "Minimum time between two refetches caused by an unknown `kid` or a failed fetch",
  },
  "issuers[].jwks.staleMaxAgeSeconds": { doc: "How long stale keys keep verifying while the IdP is down" },
  "issuers[].jwks.fetchTimeoutMs": { doc: "Timeout of one discovery or JWKS fetch" },
  "issuers[].jwks.maxBodyBytes": { doc: "Largest accepted discovery or JWKS body" },
  "arcgis": { doc: "The portal and the servers the broker gets tokens for" },
  "arcgis.portalUrl": { doc: "The portal's REST root, ending in `/sharing/rest`" },
  "arcgis.orgId": {
    doc:
      "The organization id, checked on link and on ArcGIS Online services; required for an ArcGIS Online " +
      "portal",
    absent: "not checked",
  },
  "arcgis.servers": {
    doc: "Federated ArcGIS Server roots (`https://host/server`); on ArcGIS Online list the hosted root " +
      "(`https://servicesN.arcgis.com/<orgId>/arcgis`) too: `/credentials` then registers the portal token for " +
      "it; without it the Maps SDK gets its own hosted token with `generateToken(serverUrl)`, which works but " +
      "costs that call and, right after a token expires, can cost a refused request that the SDK retries",
  },
  "arcgis.fetchTimeoutMs": { doc: "Timeout of ArcGIS token calls" },
  "arcgis.allowInsecureLoopback": {
    doc: "Allow plain http ArcGIS and proxy URLs on loopback hosts only (tests, demo)",
  },
  "arcgis.forcedRefreshFloorSeconds": {
    doc: "A cached ArcGIS token younger than this is not replaced because upstream answered 498/499 for it " +
      "(a forged error body cannot make the broker mint a token per request); 0 turns the floor off",
  },
  "profiles": { doc: "Named ways of obtaining an ArcGIS token; names use `A-Z a-z 0-9 _ -`" },
  "profiles.<name>.mode": { doc: "Selects the kind of profile (see Credential modes)" },
  "profiles.<name>.clientId": { doc: "The ArcGIS OAuth app's client id" },
  "profiles.<name>(user).clientSecretEnv": {
    doc: "Environment variable holding the OAuth app's client secret, if it has one",
    absent: "public client",
  },
  "profiles.<name>(app).clientSecretEnv": {
    doc: "Environment variable holding the OAuth app's client secret",
  },
  "profiles.<name>.redirectUri": {
    doc: "The link callback URL (`{mount}/link/callback`) registered with the ArcGIS OAuth app",
  },
  "profiles.<name>.idpUsernameClaim": {
    doc: "IdP claim whose value must equal the linked ArcGIS user's `idpUsername`",
    absent: "not checked",
  },
  "profiles.<name>.refreshTokenExpirationMinutes": {
    doc: "Lifetime asked for the refresh token at authorize time (`expiration`)",
  },
  "profiles.<name>.rotationMarginSeconds": {
    doc: "Rotate the refresh token with `exchange_refresh_token` when less than this is left",
  },
  "profiles.<name>(app).expirationMinutes": { doc: "Lifetime asked for app tokens (`expiration`)" },
  "profiles.<name>(account).expirationMinutes": { doc: "Lifetime asked for the token (`expiration`)" },
  "profiles.<name>.exposeToBrowser": {
    doc: "Hand this shared identity's token to browsers (`/credentials`, `/token`); otherwise proxy only",
  },
  "profiles.<name>(apiKey).exposeToBrowser": {
    doc: "An API key never reaches a browser: only `false` is accepted",
  },
  "profiles.<name>.browserTokenMaxSeconds": {
    doc: "Longest lifetime of a token handed to a browser for this identity; more than twice " +
      "`cache.safetyMarginSeconds`",
  },
  "profiles.<name>.username": { doc: "The ArcGIS username" },
  "profiles.<name>.passwordEnv": { doc: "Environment variable holding the account's password" },
  "profiles.<name>.acknowledgeNamedUserTerms": {
    doc: "Must be `true`: sharing one named account can break Esri's named-user terms (see Credential modes)",
  },
  "profiles.<name>.referer": {
    doc: "Bind the token to this referer (`client=referer`); the proxy then sends it as `Referer`",
    absent: "not bound",
  },
  "profiles.<name>.apiKeyEnv": { doc: "Environment variable holding the API key" },
  "profiles.<name>.assumedLifetimeSeconds": {
    doc: "How long the broker treats the key as valid before re-reading it",
  },
  "rules": { doc: "Ordered rules mapping identities to profiles; first match wins, no match is 403" },
  "rules[].issuer": {
    doc: "Only identities from this issuer match; required when several issuers are configured",
    absent: "any issuer",
  },
  "rules[].claim": { doc: "The claim to test", absent: "matches every identity" },
  "rules[].equals": { doc: "The claim equals this value" },
  "rules[].includes": {
    doc: "The claim is an array holding this value, or a space-separated string holding this word",
  },
  "rules[].matches": {
    doc: "The claim is a string (or an array with a string) matching this regular expression",
  },
  "rules[].exists": { doc: "The claim is present and not null (`true`), or absent or null (`false`)" },
  "rules[].profile": {
    doc: "The profile (or profiles) matching identities may use; the first one is their default",
  },
  "proxy": { doc: "The authenticated proxy; without entries it denies everything" },
  "proxy.allow": { doc: "Upstream URL prefixes the proxy may forward to; empty denies all" },
  "proxy.allow[].url": {
    doc:
      "Upstream URL prefix, https (or loopback http when `arcgis.allowInsecureLoopback`), without query; " +
      "under the portal, a configured server or the org's hosted services",
  },
  "proxy.allow[].methods": { doc: "Methods forwarded to this prefix" },
  "proxy.allow[].tokenIn": { doc: "Where the proxy puts the ArcGIS token" },
  "proxy.allow[].allowEdits": {
    doc: "Allow edit operations (`applyEdits`, `addFeatures`, …) through this entry",
  },
  "proxy.allow[].profile": {
    doc: "Use this profile (one a rule grants) instead of the identity's default profile",
    absent: "the identity's default",
  },
  "proxy.maxBodyBytes": { doc: "Largest proxied request body (413 above)" },
  "proxy.retryMaxBodyBytes": { doc: "Bodies up to this size are buffered so a 498/499 can be retried once" },
  "proxy.fetchTimeoutMs": { doc: "Upstream timeout (504)" },
  "proxy.rateLimitBinding": {
    doc: "Name of a Workers rate-limiting binding used per identity (429)",
    absent: "no limit",
  },
  "link": { doc: "The account link flow" },
  "link.returnUrls": {
    doc:
      "Where the link flow may return to (exact prefixes, https or loopback); needed by every `user` profile",
  },
  "cors": { doc: "Browser origins" },
  "cors.origins": { doc: "Exact browser origins allowed, like `https://app.example.com`" },
  "cors.maxAgeSeconds": { doc: "How long browsers may cache a preflight answer" },
  "sealing": { doc: "Keys that encrypt stored secrets" },
  "sealing.keysEnv": {
    doc: "Environment variable holding the keyring `kid:base64key,…` (32-byte keys; the first one seals)",
  },
  "cache": { doc: "Reuse of ArcGIS tokens" },
  "cache.safetyMarginSeconds": { doc: "A cached ArcGIS token is reused only while more than this is left" },
  "cache.negativeCacheSeconds": {
    doc: "How long a failed ArcGIS token call is remembered, so ArcGIS is not hammered",
  },
  "validation": { doc: "Limits on incoming bearer tokens" },
  "validation.maxTokenBytes": { doc: "Largest accepted bearer token" },
  "validation.memoMaxEntries": { doc: "Size of the verified-token memo; 0 disables it" },
  "errors": { doc: "What refusals tell clients" },
  "errors.exposeReasons": {
    doc: "Put the refusal reason code (`aud_mismatch`, `expired`, …) in `error_description`; it is always " +
      "in the log",
  },
  "mountPath": { doc: "Where the host mounts `routes()`, used to build link URLs in answers" },
};
