/**
 * Defaults and the exact ArcGIS error bodies of the fake ArcGIS (see `reference/arcgis.md`, "Fake ArcGIS server
 * spec for tests"). Error bodies are frozen; compare responses against them with `assert.deepEqual`.
 *
 * @module
 */
import type { FakeApiKey, FakeApp, FakeLimits, FakeUser } from "./types.ts";

/** An ArcGIS error envelope. */
export interface ArcGISErrorBody {
  /** The error object. */
  readonly error: {
    readonly code: number;
    readonly messageCode?: string;
    readonly error?: string;
    readonly error_description?: string;
    readonly message: string;
    readonly details: readonly string[];
  };
}

function _freeze(body: ArcGISErrorBody): ArcGISErrorBody {
  Object.freeze(body.error.details);
  Object.freeze(body.error);
  return Object.freeze(body);
}

/** 498: unknown, expired, revoked, wrongly scoped or referer-mismatched token. */
export const INVALID_TOKEN_ERROR: ArcGISErrorBody = _freeze({
  error: { code: 498, message: "Invalid token.", details: [] },
});

/** 499: a secured resource was requested without a token. */
export const TOKEN_REQUIRED_ERROR: ArcGISErrorBody = _freeze({
  error: { code: 499, message: "Token Required", details: [] },
});

/** 403 on services: valid token, no access. */
export const PERMISSION_DENIED_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 403,
    message: "You do not have permissions to access this resource or perform this operation.",
    details: [],
  },
});

/** 403 on portal items (and `community/self` with a token that has no user). */
export const ITEM_PERMISSION_DENIED_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 403,
    messageCode: "GWM_0003",
    message: "You do not have permissions to access this resource or perform this operation.",
    details: [],
  },
});

/** `generateToken` with bad credentials. */
export const GENERATE_TOKEN_ERROR: ArcGISErrorBody = _freeze({
  error: { code: 400, message: "Unable to generate token.", details: ["Invalid username or password."] },
});

/** `generateToken` with `client=referer` but no `referer` (assumed text). */
export const REFERER_REQUIRED_ERROR: ArcGISErrorBody = _freeze({
  error: { code: 400, message: "Unable to generate token.", details: ["'referer' must be specified."] },
});

/** `generateToken` with `token` + `serverUrl` naming no federated server (assumed text). */
export const INVALID_SERVER_URL_ERROR: ArcGISErrorBody = _freeze({
  error: { code: 400, message: "Unable to generate token.", details: ["Invalid serverUrl."] },
});

/** `generateToken` over GET (assumed text). */
export const GENERATE_TOKEN_GET_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 400,
    message: "Unable to generate token.",
    details: ["This request must be made as a POST."],
  },
});

/** `tokens/generateToken` on a federated server (assumed text). */
export const FEDERATED_GENERATE_TOKEN_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 400,
    message: "Unable to generate token.",
    details: ["Token generation is not available on a federated server; use the portal."],
  },
});

/** `oauth2/token`: unknown client id or wrong secret. */
export const INVALID_CLIENT_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 400,
    error: "invalid_client",
    error_description: "Invalid client_id",
    message: "Invalid client_id",
    details: [],
  },
});

/** `oauth2/token` `refresh_token`/`exchange_refresh_token` with an expired refresh token. */
export const REFRESH_TOKEN_EXPIRED_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 498,
    error: "invalid_request",
    error_description: "refresh_token expired",
    message: "refresh_token expired",
    details: [],
  },
});

/** `oauth2/token` with an unknown, revoked or rotated refresh token (assumed text; code 498 as for expiry). */
export const INVALID_REFRESH_TOKEN_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 498,
    error: "invalid_request",
    error_description: "Invalid refresh_token",
    message: "Invalid refresh_token",
    details: [],
  },
});

/** `oauth2/token` `authorization_code`: unknown, used or expired code, redirect_uri mismatch, PKCE failure
 * (assumed text). */
export const INVALID_GRANT_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 400,
    error: "invalid_grant",
    error_description: "Invalid authorization code",
    message: "Invalid authorization code",
    details: [],
  },
});

/** `oauth2/token` with an unknown grant type (assumed text). */
export const UNSUPPORTED_GRANT_TYPE_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 400,
    error: "unsupported_grant_type",
    error_description: "Invalid grant_type",
    message: "Invalid grant_type",
    details: [],
  },
});

/** `oauth2/token` or `authorize` with a missing or unregistered `redirect_uri` (assumed text). */
export const INVALID_REDIRECT_URI_ERROR: ArcGISErrorBody = _freeze({
  error: {
    code: 400,
    error: "invalid_request",
    error_description: "Invalid redirect_uri",
    message: "Invalid redirect_uri",
    details: [],
  },
});

/** Unknown path or service (assumed text). */
export const INVALID_URL_ERROR: ArcGISErrorBody = _freeze({
  error: { code: 400, message: "Invalid URL", details: ["Invalid URL"] },
});

/** An edit operation on a non-editable service, or over GET (assumed text). */
export const OPERATION_NOT_SUPPORTED_ERROR: ArcGISErrorBody = _freeze({
  error: { code: 400, message: "Requested operation is not supported by this service.", details: [] },
});

/** Default token lifetimes and clamps (minutes), per the reference's "limits". */
export const DEFAULT_FAKE_LIMITS: Readonly<FakeLimits> = Object.freeze({
  portalTokenDefaultMinutes: 120,
  serverTokenDefaultMinutes: 60,
  generateTokenMaxMinutes: 20160,
  appTokenDefaultMinutes: 120,
  appTokenMaxMinutes: 20160,
  userAccessTokenMinutes: 30,
  refreshTokenDefaultMinutes: 20160,
  refreshTokenMaxMinutes: 129600,
  authorizationCodeMinutes: 10,
  apiKeyMinutes: 525600,
  capServerTokenToParent: true,
});

/** Default organization id. */
export const DEFAULT_ORG_ID = "FakeOrg123456789";
/** Default `urlKey`. */
export const DEFAULT_URL_KEY = "fakeorg";
/** Default portal name. */
export const DEFAULT_PORTAL_NAME = "Fake ArcGIS Organization";
/** Default portal web-adaptor path. */
export const DEFAULT_PORTAL_PATH = "/portal";
/** Default server root path. */
export const DEFAULT_SERVER_PATH = "/server";
/** Group title used by the default access rules. */
export const DEFAULT_EDITORS_GROUP = "Trail Editors";
/** `currentVersion` reported by servers. */
export const FAKE_SERVER_VERSION = 11.3;
/** `currentVersion` reported by the portal. */
export const FAKE_PORTAL_VERSION = "11.3";
/** `shortLivedTokenValidity` in `rest/info` (minutes). */
export const FAKE_SHORT_LIVED_TOKEN_VALIDITY_MINUTES = 60;
/** Default `Cache-Control` on tiles and exports. */
export const DEFAULT_TILE_CACHE_CONTROL = "public, max-age=86400";
/** Default `Last-Modified` of tiles and exports (2024-01-01T00:00:00Z). */
export const DEFAULT_TILE_LAST_MODIFIED_MS = 1704067200000;
/** Default chunk size of the large streamed export. */
export const DEFAULT_EXPORT_CHUNK_BYTES = 65536;
/** Largest `bytes` accepted by the large streamed export (16 GiB). */
export const MAX_EXPORT_BYTES = 17179869184;
/** Default cap for raw bodies kept in the request log. */
export const DEFAULT_MAX_RECORDED_BODY_BYTES = 1048576;
/** Default `maxRecordCount`. */
export const DEFAULT_MAX_RECORD_COUNT = 2000;
/** Request header that picks the user signed in at `oauth2/authorize` for one request. */
export const SIGNED_IN_USER_HEADER = "x-fake-arcgis-user";

const _USER_PRIVILEGES = [
  "portal:user:joinGroup",
  "portal:user:viewOrgGroups",
  "portal:user:viewOrgItems",
  "portal:user:viewOrgUsers",
];

/** Default users: `alice` (editor group), `bob` (plain member), `carol` (admin), `eve` (another org). Passwords
 * are `<username>-password`. */
export const DEFAULT_FAKE_USERS: readonly Readonly<FakeUser>[] = Object.freeze([
  {
    username: "alice",
    password: "alice-password",
    fullName: "Alice Analyst",
    role: "org_user",
    privileges: _USER_PRIVILEGES,
    groups: [DEFAULT_EDITORS_GROUP],
    idpUsername: "alice@example.com",
  },
  {
    username: "bob",
    password: "bob-password",
    fullName: "Bob Builder",
    role: "org_user",
    privileges: _USER_PRIVILEGES,
    groups: [],
    idpUsername: "bob@example.com",
  },
  {
    username: "carol",
    password: "carol-password",
    fullName: "Carol Admin",
    role: "org_admin",
    privileges: [..._USER_PRIVILEGES, "portal:admin:viewUsers", "portal:admin:updateUsers"],
    groups: [],
  },
  {
    username: "eve",
    password: "eve-password",
    fullName: "Eve Outsider",
    role: "org_user",
    privileges: _USER_PRIVILEGES,
    groups: [],
    orgId: "OtherOrg12345678",
  },
]);

/** Default OAuth app. */
export const DEFAULT_FAKE_APPS: readonly Readonly<FakeApp>[] = Object.freeze([
  {
    clientId: "fake-client-id",
    clientSecret: "fake-client-secret",
    redirectUris: ["http://127.0.0.1/callback"],
    owner: "alice",
  },
]);

/** Default API key (valid for every service). */
export const DEFAULT_FAKE_API_KEYS: readonly Readonly<FakeApiKey>[] = Object.freeze([
  { token: "AAPTfakeApiKey0000000000000000000000000000", owner: "alice" },
]);

/** Shortest ArcGIS username of a member who joins through an OpenID Connect or SAML login. */
export const USERNAME_MIN_LENGTH = 6;

/** Longest ArcGIS username. */
export const USERNAME_MAX_LENGTH = 128;

/** The portal's sign-in session cookie (the name ArcGIS uses for its encrypted session cookie). */
export const PORTAL_SESSION_COOKIE = "esri_aopc";

/** Default lifetime of the portal's sign-in session, minutes *(assumed)*. */
export const DEFAULT_PORTAL_SESSION_MINUTES = 120;

/** How long an `oauth2/authorize` request waits for the IdP's answer, minutes *(assumed)*. */
export const OIDC_PENDING_MINUTES = 10;

/** What ArcGIS shows when administrator-only join refuses an unknown member. */
export const OIDC_INVITATION_ONLY_MESSAGE =
  "Unable to sign in, logins are by invitation only. Please contact the administrator of this web site to access this site.";

/** What ArcGIS shows when the IdP's token answer (or the ID token) is unusable. */
export const OIDC_MISSING_PARAMETER_MESSAGE = "Did not receive required parameter from the provider";

/** What ArcGIS shows when the user-profile call fails. */
export const OIDC_MISSING_PROFILE_MESSAGE = "Did not receive 'user profile' parameter from the provider";
