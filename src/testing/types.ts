/**
 * Public types of the fake ArcGIS portal and servers (`./testing`).
 *
 * @module
 */

/** What a token is: a portal user token, a server token scoped to one server root, an app token
 * (`client_credentials`), an API key, or a refresh token (never accepted as an access token). */
export type FakeTokenKind = "portal" | "server" | "app" | "apikey" | "refresh";

/** The three service types the fake serves. */
export type FakeServiceType = "FeatureServer" | "MapServer" | "VectorTileServer";

/** ArcGIS organization roles (`IUser.role`). */
export type FakeUserRole = "org_admin" | "org_publisher" | "org_user";

/** A named user of the fake portal. Standalone servers authenticate the same users. */
export interface FakeUser {
  /** Case-sensitive user name. */
  username: string;
  /** Password accepted by `generateToken`. */
  password: string;
  /** Display name. @default the username */
  fullName?: string;
  /** Role. @default "org_user" */
  role?: FakeUserRole;
  /** Privileges reported by `community/self`. @default a few `portal:user:*` privileges */
  privileges?: string[];
  /** Group titles the user belongs to; access rules match on these titles. @default [] */
  groups?: string[];
  /** IdP-side user name of a SAML/OIDC user (`IUser.idpUsername`). @default undefined */
  idpUsername?: string;
  /** Organization id. Users of another org are refused ("org" access) with 403. @default the portal's orgId */
  orgId?: string;
  /** E-mail. @default `<username>@example.com` */
  email?: string;
  /** `IUser.provider`. @default "enterprise" when `idpUsername` is set, else "arcgis" */
  provider?: string;
  /** User type (`IUser.userLicenseTypeId`), e.g. `"creatorUT"`. @default "creatorUT" */
  userType?: string;
  /** Add-on licenses assigned to the member (e.g. `"ArcGIS Pro Advanced"`). @default [] */
  addOnLicenses?: string[];
}

/** The new-member defaults an administrator sets before letting members join automatically. */
export interface FakeNewMemberDefaults {
  /** User type of a new member. @default "creatorUT" */
  userType?: string;
  /** Role of a new member. @default "org_user" */
  role?: FakeUserRole;
  /** Add-on licenses of a new member. @default [] */
  addOnLicenses?: string[];
  /** Groups (titles) a new member is added to. @default [] */
  groups?: string[];
}

/** How the portal authenticates at the IdP's token endpoint. */
export type FakeOidcClientAuthentication = "client_secret_post" | "client_secret_basic" | "private_key_jwt";

/**
 * The portal's OpenID Connect login, with the settings of ArcGIS Enterprise's "Configure OpenID Connect logins"
 * (and ArcGIS Online's): the portal signs members in at the IdP with the authorization code flow, a confidential
 * client authenticated with a client secret or with a key pair (`private_key_jwt`, public key at
 * {@link FakeArcGISUrls.oidcPublicKeys}).
 */
export interface FakeOidcLoginConfig {
  /** Name of the login on the sign-in page. @default "OpenID Connect" */
  name?: string;
  /** Registered client id. */
  clientId: string;
  /** Registered client secret; without it the portal signs a `private_key_jwt` client assertion. @default undefined */
  clientSecret?: string;
  /** Token endpoint authentication. @default "client_secret_post" with a secret, else "private_key_jwt" */
  clientAuthentication?: FakeOidcClientAuthentication;
  /** Provider scopes/permissions (space-separated). @default "openid profile email" */
  scopes?: string;
  /** Provider issuer id: the ID token's `iss` must equal it. */
  issuer: string;
  /** OAuth 2.0 authorization endpoint URL. */
  authorizationEndpoint: string;
  /** Token endpoint URL. */
  tokenEndpoint: string;
  /** JSON web key set URL: verifies the ID token, used only when no `userProfileEndpoint` is set. @default undefined */
  jwksUrl?: string;
  /** User profile (userinfo) endpoint URL; when set, the claims come from it. @default undefined */
  userProfileEndpoint?: string;
  /** Logout endpoint URL (RP-initiated logout); signing out of the portal then also signs out at the IdP.
   * @default undefined */
  logoutEndpoint?: string;
  /** Send the access token in the `Authorization` header of the user-profile call (else as `access_token` in the
   * query). @default true */
  sendAccessTokenInHeader?: boolean;
  /** Use the PKCE enhanced authorization code flow (S256). @default false */
  usePkce?: boolean;
  /** The claim whose value becomes the ArcGIS username (and `idpUsername`). Without it the username is the e-mail
   * prefix, else the `sub` (ID) claim. @default undefined */
  usernameClaim?: string;
  /** `"automatic"`: unknown members join with {@link FakeOidcLoginConfig.newMemberDefaults};
   * `"administrator"`: only members an administrator added (matched by `idpUsername`) can sign in.
   * @default "automatic" */
  joinMode?: "automatic" | "administrator";
  /** Defaults for members who join automatically. @default {} */
  newMemberDefaults?: FakeNewMemberDefaults;
  /** Appended to new usernames before the length rules (ArcGIS Online appends `_<urlKey>`). @default "" */
  usernameSuffix?: string;
  /** Lifetime of the portal's own sign-in session cookie, minutes. @default 120 */
  sessionMinutes?: number;
  /** `fetch` for the back-channel calls to the IdP. @default globalThis.fetch */
  fetch?: (input: Request | URL | string, init?: RequestInit) => Promise<Response>;
  /** Clock for the JWTs exchanged with the IdP (client assertion, ID token checks), epoch ms. A real IdP checks
   * them against its own clock, so this stays real time even when the fake's clock is moved. @default Date.now */
  now?: () => number;
}

/** One sign-in through the portal's OpenID Connect login. */
export interface FakeOidcLoginRecord {
  /** Fake clock time, epoch ms. */
  timeMs: number;
  /** `member`: an existing member signed in; `joined`: a new member joined automatically; `refused`:
   * administrator-only join refused an unknown member; `error`: the IdP exchange failed. */
  outcome: "member" | "joined" | "refused" | "error";
  /** The IdP subject, when known. */
  sub?: string;
  /** The IdP-side username (`idpUsername`), when known. */
  idpUsername?: string;
  /** The ArcGIS username signed in, when any. */
  username?: string;
  /** The message shown to the user, for `refused` and `error`. */
  message?: string;
}

/** An OAuth application registered in the fake portal. */
export interface FakeApp {
  /** OAuth `client_id`. */
  clientId: string;
  /** OAuth `client_secret` (checked for `client_credentials`, and for other grants only when sent). */
  clientSecret: string;
  /** Registered redirect URIs; `authorize` and `exchange_refresh_token` require an exact match. @default [] */
  redirectUris?: string[];
  /** Owning user name. @default undefined */
  owner?: string;
}

/** A configured API key (developer credential). Its `token` string is accepted by services directly. */
export interface FakeApiKey {
  /** The API key token string, e.g. `"AAPTxyz..."`. */
  token: string;
  /** Absolute expiry in epoch ms. @default creation time + `limits.apiKeyMinutes` */
  expiresMs?: number;
  /** Service names (`"Trailheads"`) or `name/Type` keys this key may use. @default every service */
  services?: string[];
  /** Owning user name (informational). @default undefined */
  owner?: string;
}

/** One ArcGIS Server site under the fake's origin. */
export interface FakeServerConfig {
  /** Root path of the site, e.g. `"/server"`; services live under `{path}/rest/services`. */
  path: string;
  /** Federated with the portal (tokens come from the portal) or standalone (`{path}/tokens/generateToken`).
   * @default true */
  federated?: boolean;
  /** Accept user tokens issued by the portal directly (ArcGIS Online-style reuse). @default false */
  acceptsPortalTokens?: boolean;
  /** Public origin used in this server's absolute URLs. @default the fake's origin */
  origin?: string;
}

/** Options for the ArcGIS Online-style hosted services root `/<orgId>/arcgis` on the portal's host. */
export interface FakeHostedConfig {
  /** Accept portal user tokens on hosted services (ArcGIS Online does). @default true */
  acceptsPortalTokens?: boolean;
  /** Public origin for the hosted root's absolute URLs (e.g. `https://services.arcgis.com`). @default the fake's origin */
  origin?: string;
}

/** Fine-grained access rules of a secured service. Any matching rule grants access. */
export interface FakeAccessRules {
  /** User names allowed. @default [] */
  users?: string[];
  /** Group titles whose members are allowed. @default [] */
  groups?: string[];
  /** Every member of the portal's organization (and every app of it) is allowed. @default false */
  org?: boolean;
  /** App tokens (`client_credentials`) of these client ids are allowed. @default [] */
  clientIds?: string[];
}

/** Who may use a service: everyone, the organization, or explicit rules. API keys are governed by their own
 * `services` list. */
export type FakeServiceAccess = "public" | "org" | FakeAccessRules;

/** A field of a fake feature layer. */
export interface FakeField {
  /** Field name. */
  name: string;
  /** Esri field type, e.g. `"esriFieldTypeOID"`, `"esriFieldTypeString"`, `"esriFieldTypeInteger"`. */
  type: string;
  /** Alias. @default the name */
  alias?: string;
  /** String length. @default undefined */
  length?: number;
}

/** A point feature in WGS84 (`x` = longitude, `y` = latitude). */
export interface FakeFeature {
  /** Attribute values; `OBJECTID` is assigned (1-based) when missing. */
  attributes: Record<string, string | number | null>;
  /** Point geometry in WGS84. */
  geometry: { x: number; y: number };
}

/** One service of the fake. */
export interface FakeServiceConfig {
  /** Service name, optionally with folders: `"Trailheads"`, `"Parks/Trailheads"`. */
  name: string;
  /** Service type. */
  type: FakeServiceType;
  /** Root path of the site it lives under: a server `path` or the hosted root `/<orgId>/arcgis`.
   * @default the first server's path */
  root?: string;
  /** Access rules. @default "org" */
  access?: FakeServiceAccess;
  /** Features of layer 0 (FeatureServer). @default the 36 default trailheads */
  features?: FakeFeature[];
  /** Fields of layer 0 (FeatureServer); must include one `esriFieldTypeOID` field. @default the trailhead fields */
  fields?: FakeField[];
  /** Layer 0 name. @default the last segment of `name` */
  layerName?: string;
  /** Advertise `maxRecordCount` + `advancedQueryCapabilities.supportsPagination` (the Maps SDK then uses snapshot
   * mode; without them it uses tile mode with envelope queries). @default true */
  pagination?: boolean;
  /** `maxRecordCount` of layer 0. @default 2000 */
  maxRecordCount?: number;
  /** `capabilities` of the FeatureServer and layer 0. @default "Query" */
  capabilities?: string;
  /** Accept `applyEdits`/`addFeatures`/`updateFeatures`/`deleteFeatures`. @default true */
  editable?: boolean;
  /** Extra bytes added to every tile (MapServer PNG chunk / VectorTileServer unknown field), for large-tile tests.
   * @default 0 */
  tilePaddingBytes?: number;
  /** Portal item id of the service. @default derived from root, name and type */
  itemId?: string;
}

/** A redirect rule: requests to `path` answer 301/302/307/308 with `Location`. */
export interface FakeRedirect {
  /** Exact path (`/server/rest/services/Old/MapServer`) or, with a trailing `*`, a path prefix. */
  path: string;
  /** HTTP status. @default 302 */
  status?: 301 | 302 | 303 | 307 | 308;
  /** Target; a value starting with `/` is resolved against the request's public origin. */
  location: string;
  /** Append the request's query string to the location. @default false */
  appendQuery?: boolean;
}

/** Token lifetimes and clamps, in minutes (fractions allowed, e.g. 0.5 for a 30 s token in browser tests). */
export interface FakeLimits {
  /** Portal `generateToken` default. @default 120 */
  portalTokenDefaultMinutes: number;
  /** Server tokens (standalone `tokens/generateToken` and portal token → server token) default. @default 60 */
  serverTokenDefaultMinutes: number;
  /** `generateToken` maximum; larger requests are clamped, not refused. @default 20160 */
  generateTokenMaxMinutes: number;
  /** `client_credentials` default. @default 120 */
  appTokenDefaultMinutes: number;
  /** `client_credentials` maximum (clamp). @default 20160 */
  appTokenMaxMinutes: number;
  /** Access tokens from `authorization_code`, `refresh_token`, `exchange_refresh_token`, implicit. @default 30 */
  userAccessTokenMinutes: number;
  /** Refresh token default (authorize `expiration`). @default 20160 */
  refreshTokenDefaultMinutes: number;
  /** Refresh token maximum (clamp). @default 129600 */
  refreshTokenMaxMinutes: number;
  /** Lifetime of an authorization code. @default 10 */
  authorizationCodeMinutes: number;
  /** Lifetime of configured API keys without `expiresMs`. @default 525600 (one year) */
  apiKeyMinutes: number;
  /** A server token minted from a portal token never outlives its parent, and dies with it. @default true */
  capServerTokenToParent: boolean;
}

/** Resolves the user signed in at `oauth2/authorize` for one request; `null` or `undefined` means nobody is
 * signed in (the fake then answers a `text/html` sign-in page, no redirect). */
export type FakeSignedInUserResolver = (request: Request) => string | null | undefined;

/** Options of {@link createFakeArcGIS}. Every field is optional; the defaults give a demo-ready portal. */
export interface CreateFakeArcGISOptions {
  /** Public origin for absolute URLs (`owningSystemUrl`, `tokenServicesUrl`, redirects). @default the origin of
   * each request's URL */
  origin?: string;
  /** Public origin of the portal, when it differs (e.g. `https://www.arcgis.com`). @default `origin` */
  portalOrigin?: string;
  /** Clock in epoch ms. When given, {@link FakeArcGIS.advance} throws. @default the fake's own clock */
  now?: () => number;
  /** Start of the fake's own clock; it then moves only with `advance()`. Without it the own clock is real time
   * plus the advanced offset. @default undefined */
  startTimeMs?: number;
  /** Portal web-adaptor path; the sharing API is at `{portalPath}/sharing/rest`. Use `""` for ArcGIS
   * Online-style `/sharing/rest`. @default "/portal" */
  portalPath?: string;
  /** Organization id (`portals/self` `id`, hosted root `/<orgId>/arcgis`). @default "FakeOrg123456789" */
  orgId?: string;
  /** `portals/self` `urlKey`. @default "fakeorg" */
  urlKey?: string;
  /** `portals/self` `name`. @default "Fake ArcGIS Organization" */
  portalName?: string;
  /** `allSSL` of the portal, echoed as `ssl` in token responses. @default false */
  allSSL?: boolean;
  /** Users. @default {@link DEFAULT_FAKE_USERS} */
  users?: FakeUser[];
  /** OAuth apps. @default {@link DEFAULT_FAKE_APPS} */
  apps?: FakeApp[];
  /** API keys. @default {@link DEFAULT_FAKE_API_KEYS} */
  apiKeys?: FakeApiKey[];
  /** Server sites. @default one federated server at "/server" */
  servers?: FakeServerConfig[];
  /** The ArcGIS Online-style hosted root `/<orgId>/arcgis`; `false` disables it. @default enabled */
  hosted?: boolean | FakeHostedConfig;
  /** Services. @default {@link defaultFakeServices} for the configured roots */
  services?: FakeServiceConfig[];
  /** User signed in at `oauth2/authorize` (a user name, `null` for nobody, or a per-request resolver). The request
   * header `X-Fake-ArcGIS-User` overrides it per request. @default the first user */
  signedInUser?: string | null | FakeSignedInUserResolver;
  /** `oauth2/authorize` answers `error=access_denied`. @default false */
  authorizeDenied?: boolean;
  /** Lifetimes and clamps. @default {@link DEFAULT_FAKE_LIMITS} */
  limits?: Partial<FakeLimits>;
  /** HTTP status equals `error.code` on error bodies (instead of HTTP 200). @default false */
  statusMirrorsErrorCode?: boolean;
  /** Tile requests with an invalid token get `text/html` 200 "Invalid Token" instead of the JSON body.
   * @default false */
  htmlInvalidTokenForTiles?: boolean;
  /** Every response also carries `Set-Cookie`, `WWW-Authenticate` and (without `Origin`) `Access-Control-Allow-Origin: *`,
   * so a proxy can prove it strips them. @default false */
  leakyHeaders?: boolean;
  /** Redirect rules. @default [] */
  redirects?: FakeRedirect[];
  /** Sign members in at an OpenID Connect IdP (`oauth2/authorize` then redirects to it unless the portal's
   * session cookie or the `X-Fake-ArcGIS-User` header names the user; `signedInUser` is then ignored).
   * @default undefined */
  oidcLogin?: FakeOidcLoginConfig;
  /** `Cache-Control` on tiles and exports. @default "public, max-age=86400" */
  tileCacheControl?: string;
  /** `Last-Modified` of tiles and exports, epoch ms. @default 2024-01-01T00:00:00Z */
  tileLastModifiedMs?: number;
  /** Raw bodies above this size are not kept in the request log (only their size and CRC-32). @default 1 MiB */
  maxRecordedBodyBytes?: number;
}

/** Where a service request's token was found. */
export type FakeTokenSource = "query" | "form" | "multipart" | "x-esri-authorization" | "authorization";

/** Endpoint names used in the request log and by {@link FakeArcGIS.count}. */
export type FakeEndpoint =
  | "portal:info"
  | "portal:generateToken"
  | "portal:oauth2/token"
  | "portal:oauth2/authorize"
  | "portal:oauth2/revokeToken"
  | "portal:portals/self"
  | "portal:community/self"
  | "portal:content/items"
  | "portal:oauth2/signout"
  | "portal:oidc/callback"
  | "portal:oidc/signedout"
  | "portal:oidc/jwks"
  | "server:info"
  | "server:generateToken"
  | "server:catalog"
  | "FeatureServer"
  | "FeatureServer/layer"
  | "FeatureServer/query"
  | "FeatureServer/applyEdits"
  | "FeatureServer/addFeatures"
  | "FeatureServer/updateFeatures"
  | "FeatureServer/deleteFeatures"
  | "MapServer"
  | "MapServer/tile"
  | "MapServer/export"
  | "MapServer/exportLarge"
  | "VectorTileServer"
  | "VectorTileServer/tile"
  | "VectorTileServer/style"
  | "service:other"
  | "redirect"
  | "options"
  | "notFound";

/** A multipart file part, as recorded. */
export interface FakeRecordedFile {
  /** File name sent by the client. */
  filename: string;
  /** Content type of the part. */
  type: string;
  /** Size in bytes. */
  size: number;
}

/** One request as the fake saw it. */
export interface FakeRequestRecord {
  /** 1-based sequence number. */
  seq: number;
  /** Fake clock time at arrival, epoch ms. */
  timeMs: number;
  /** HTTP method. */
  method: string;
  /** Full request URL. */
  url: string;
  /** URL path. */
  path: string;
  /** Endpoint classification. */
  endpoint: FakeEndpoint;
  /** Server root path for server and service requests (`"/server"`, `"/<orgId>/arcgis"`), `"portal"` for the portal. */
  root?: string;
  /** Service key for service requests, e.g. `"Trailheads/FeatureServer"`. */
  service?: string;
  /** Query parameters (last value wins). */
  query: Record<string, string>;
  /** Body parameters of a form or multipart body (files are in `files`). */
  body: Record<string, string>;
  /** Multipart file parts. */
  files: Record<string, FakeRecordedFile>;
  /** Body kind. */
  bodyKind: "none" | "form" | "multipart" | "other";
  /** Body size in bytes. */
  bodyBytes: number;
  /** CRC-32 (hex) of the whole body, for checking bodies arrive intact. */
  bodyCrc32: string;
  /** The raw body when not larger than `maxRecordedBodyBytes`, else undefined. */
  rawBody?: Uint8Array;
  /** Every request header, lower-cased names. */
  headers: Record<string, string>;
  /** `Referer` header. */
  referer?: string;
  /** `X-Esri-Authorization` header. */
  xEsriAuthorization?: string;
  /** `Authorization` header. */
  authorization?: string;
  /** `Content-Type` header. */
  contentType?: string;
  /** `Cookie` header. */
  cookie?: string;
  /** `Origin` header. */
  origin?: string;
  /** The token the fake extracted (services, portals/self, community/self), if any. */
  token?: string;
  /** Where that token came from. */
  tokenSource?: FakeTokenSource;
  /** HTTP status answered (set once the response is built). */
  status?: number;
  /** `error.code` of an ArcGIS error body answered, if any. */
  errorCode?: number;
  /** Name of the injected failure that answered, if any. */
  failure?: string;
}

/** A token as the fake knows it (a copy; changing it changes nothing). */
export interface FakeTokenInfo {
  /** The opaque token string. */
  token: string;
  /** Kind. */
  kind: FakeTokenKind;
  /** User the token acts for (user, server and refresh tokens). */
  username?: string;
  /** OAuth client the token was issued to. */
  clientId?: string;
  /** Issue time, epoch ms. */
  issuedMs: number;
  /** Expiry, epoch ms; the token is invalid when `now >= expiresMs`. */
  expiresMs: number;
  /** Bound referer: requests must send a `Referer` that starts with it. */
  referer?: string;
  /** Server root path a server token is scoped to. */
  serverRoot?: string;
  /** Refresh-token family: the refresh token and every access token minted from it share it. */
  family?: string;
  /** Token this one was minted from (a server token's portal token). */
  parent?: string;
  /** Revoked (revokeToken, family invalidation, or a test hook). */
  revoked: boolean;
  /** How it was issued: `"generateToken"`, `"serverToken"`, `"client_credentials"`, `"authorization_code"`,
   * `"refresh_token"`, `"exchange_refresh_token"`, `"implicit"`, `"apiKey"`, `"hook"`. */
  via: string;
  /** Lifetime of a refresh token in minutes (kept across `exchange_refresh_token`). */
  lifetimeMinutes?: number;
}

/** Arguments of {@link FakeArcGIS.issueToken}. */
export interface FakeIssueTokenOptions {
  /** Kind. */
  kind: FakeTokenKind;
  /** User (portal, server, refresh tokens). */
  username?: string;
  /** Client id (app, refresh tokens). */
  clientId?: string;
  /** Lifetime in minutes. @default the kind's default lifetime */
  minutes?: number;
  /** Referer binding. @default undefined */
  referer?: string;
  /** Server root path (server tokens). @default the first server's path */
  serverRoot?: string;
  /** Family (access tokens of a refresh family). @default a new family for refresh tokens */
  family?: string;
}

/** Arguments of {@link FakeArcGIS.issueAuthorizationCode}. */
export interface FakeIssueCodeOptions {
  /** Client id. */
  clientId: string;
  /** Redirect URI the code is bound to. */
  redirectUri: string;
  /** User. */
  username: string;
  /** PKCE challenge. @default none */
  codeChallenge?: string;
  /** PKCE method. @default "plain" when a challenge is given */
  codeChallengeMethod?: "S256" | "plain";
  /** Refresh-token lifetime (the authorize `expiration`), minutes. @default `limits.refreshTokenDefaultMinutes` */
  expirationMinutes?: number;
}

/** An edit that arrived at a FeatureServer. */
export interface FakeEditRecord {
  /** Service key, e.g. `"Trailheads/FeatureServer"`. */
  service: string;
  /** Server root path. */
  root: string;
  /** Layer id (`undefined` for a service-level `applyEdits`). */
  layerId?: number;
  /** Operation. */
  operation: "applyEdits" | "addFeatures" | "updateFeatures" | "deleteFeatures";
  /** All body and query parameters (minus `token`). */
  params: Record<string, string>;
  /** Object ids assigned to added features. */
  addedIds: number[];
  /** Object ids updated. */
  updatedIds: number[];
  /** Object ids deleted. */
  deletedIds: number[];
  /** Acting user, or client id for app tokens. */
  principal?: string;
}

/** Pull accounting of one streamed large export. */
export interface FakeStreamRecord {
  /** Service key. */
  service: string;
  /** Total bytes the stream will produce. */
  totalBytes: number;
  /** Size of each chunk (the last may be shorter). */
  chunkBytes: number;
  /** Chunks the consumer has pulled so far. */
  pulledChunks: number;
  /** Bytes enqueued so far. */
  pulledBytes: number;
  /** The whole body was produced. */
  done: boolean;
  /** The consumer cancelled the stream (e.g. the client disconnected). */
  cancelled: boolean;
}

/** What an injected failure does. */
export type FakeFailureMode =
  /** Answer this HTTP status with an optional body (default: a JSON body naming the status). */
  | { kind: "status"; status: number; body?: string; contentType?: string; headers?: Record<string, string> }
  /** Never answer until the request's signal aborts (then the fetch rejects) or {@link FakeArcGIS.releaseHangs}
   * is called (then 503). */
  | { kind: "hang" }
  /** HTTP 200, `application/json`, with a truncated, unparseable body. */
  | { kind: "garbage" }
  /** HTTP 200 with this ArcGIS error body `{"error":{"code","message","details":[]}}`. */
  | { kind: "arcgisError"; code: number; message: string };

/** A failure-injection rule. */
export interface FakeFailureRule {
  /** Which requests: an endpoint name or a predicate on the request record. */
  match: FakeEndpoint | ((record: FakeRequestRecord) => boolean);
  /** What to answer. */
  mode: FakeFailureMode;
  /** Number of matching requests it applies to, then it is removed. @default Infinity */
  times?: number;
  /** Name recorded in `FakeRequestRecord.failure`. @default the mode's kind */
  name?: string;
}

/** Handle of an injected failure. */
export interface FakeFailureHandle {
  /** Removes the rule. */
  remove(): void;
  /** How many requests it has answered. */
  readonly hits: number;
}

/** Absolute URLs of the fake for one origin. */
export interface FakeArcGISUrls {
  /** The origin. */
  origin: string;
  /** Portal URL (`owningSystemUrl`), e.g. `http://127.0.0.1:8080/portal`. */
  portal: string;
  /** Sharing API root, e.g. `…/portal/sharing/rest`. */
  sharingRest: string;
  /** Portal `generateToken`. */
  generateToken: string;
  /** `oauth2/token`. */
  oauth2Token: string;
  /** `oauth2/authorize`. */
  oauth2Authorize: string;
  /** `oauth2/revokeToken`. */
  oauth2RevokeToken: string;
  /** `oauth2/signout?redirect_uri=…`: ends the portal session (and, with a logout endpoint, the IdP's). */
  signOut: string;
  /** The portal's OpenID Connect redirect URI, to register at the IdP ("ArcGIS Login Redirect URI"). */
  oidcRedirect: string;
  /** Where the IdP sends the browser back after logout (register it as a post-logout redirect URI). */
  oidcSignedOut: string;
  /** The portal's public key URL (JWKS) for `private_key_jwt`. */
  oidcPublicKeys: string;
  /** Server sites by root path: `{ root: "…/server", restServices: "…/server/rest/services", federated }`. */
  servers: Record<string, { root: string; restServices: string; federated: boolean }>;
  /** Hosted root `…/<orgId>/arcgis` and its `rest/services`, when enabled. */
  hosted?: { root: string; restServices: string };
  /** Service URLs by `"<root>:<name>/<Type>"`, e.g. `"/server:Trailheads/FeatureServer"`. */
  services: Record<string, string>;
}

/** The fake ArcGIS: a pure `fetch` handler plus state and test hooks. */
export interface FakeArcGIS {
  /** Handles one request (no network). Usable as a `fetch` replacement: `deps.fetch = fake.fetch`. */
  fetch(input: Request | URL | string, init?: RequestInit): Promise<Response>;
  /** Handles one request as a server handler (`Deno.serve(fake.handle)`): like `fetch` but it does not race the
   * request's abort signal (Deno.serve aborts it after every response). */
  handle(request: Request): Promise<Response>;
  /** Every request seen, oldest first. */
  readonly requests: readonly FakeRequestRecord[];
  /** Requests matching an endpoint name or predicate. */
  count(match: FakeEndpoint | ((record: FakeRequestRecord) => boolean)): number;
  /** Clears the request log, edit log and stream records (tokens and toggles stay). */
  reset(): void;
  /** Current fake time, epoch ms. */
  now(): number;
  /** Moves the fake's own clock forward. Throws when a `now` option was given. */
  advance(ms: number): void;
  /** Absolute URLs for an origin. @default origin: the configured `origin` (throws when none is configured) */
  urls(origin?: string): FakeArcGISUrls;
  /** Organization id. */
  readonly orgId: string;

  /** Issues a token out of band. */
  issueToken(options: FakeIssueTokenOptions): string;
  /** Issues an authorization code out of band (as `oauth2/authorize` would). */
  issueAuthorizationCode(options: FakeIssueCodeOptions): string;
  /** Revokes a token (with a refresh token: its whole family; with a portal token: its server tokens).
   * Returns false when unknown. */
  revokeToken(token: string): boolean;
  /** Rotates a refresh token out of band, as `exchange_refresh_token` does; returns the new refresh token. */
  rotateRefreshToken(refreshToken: string): string;
  /** A copy of a token's state, or undefined. */
  inspectToken(token: string): FakeTokenInfo | undefined;
  /** Copies of every token issued (and configured API keys). */
  tokens(): FakeTokenInfo[];

  /** Switches a server between federated and standalone. */
  setFederated(serverRoot: string, federated: boolean): void;
  /** Toggles "HTTP status mirrors error.code". */
  setStatusMirrorsErrorCode(on: boolean): void;
  /** Toggles portal-token reuse on a root. @default root: the hosted root */
  setPortalTokenReuse(on: boolean, root?: string): void;
  /** Toggles the `text/html` "Invalid Token" answer for tiles. */
  setHtmlInvalidTokenForTiles(on: boolean): void;
  /** Toggles `Set-Cookie`/`WWW-Authenticate`/wildcard CORS headers on every response. */
  setLeakyHeaders(on: boolean): void;
  /** Sets the user signed in at `oauth2/authorize` (`null`: nobody). */
  setSignedInUser(user: string | null | FakeSignedInUserResolver): void;
  /** Configures (or, with `null`, removes) the OpenID Connect login; sessions made before stay valid. */
  setOidcLogin(config: FakeOidcLoginConfig | null): void;
  /** Sign-ins through the OpenID Connect login, oldest first. */
  readonly oidcLogins: readonly FakeOidcLoginRecord[];
  /** A copy of a member, or undefined. */
  user(username: string): FakeUser | undefined;
  /** Makes `oauth2/authorize` deny (`error=access_denied`). */
  setAuthorizeDenied(on: boolean): void;
  /** Adds a redirect rule. */
  addRedirect(rule: FakeRedirect): void;
  /** Removes every redirect rule. */
  clearRedirects(): void;
  /** Adds a user. */
  addUser(user: FakeUser): void;
  /** Adds an app. */
  addApp(app: FakeApp): void;
  /** Adds an API key. */
  addApiKey(apiKey: FakeApiKey): void;
  /** Adds a service. */
  addService(service: FakeServiceConfig): void;
  /** Injects a failure for matching requests (checked in insertion order, before normal handling). */
  injectFailure(rule: FakeFailureRule): FakeFailureHandle;
  /** Removes every injected failure and releases hanging requests. */
  clearFailures(): void;
  /** Answers every hanging request with 503. */
  releaseHangs(): void;

  /** Edits received by FeatureServers, oldest first. */
  readonly edits: readonly FakeEditRecord[];
  /** Large streamed exports, oldest first. */
  readonly streams: readonly FakeStreamRecord[];
  /** Current features of a FeatureServer (copies), by `"<name>"` or `"<root>:<name>"`. */
  features(service: string): FakeFeature[];
}
