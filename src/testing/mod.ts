/**
 * `./testing`: an offline fake ArcGIS (portal, federated and standalone servers, ArcGIS Online-style hosted
 * services) for integration tests, faithful to the broker's reference spec.
 *
 * ```ts
 * import { createFakeArcGIS, serveFakeArcGIS } from "arcgis-token-broker/testing";
 *
 * const fake = createFakeArcGIS({ startTimeMs: 0 });
 * const res = await fake.fetch("http://fake.test/portal/sharing/rest/generateToken", {
 *   method: "POST",
 *   body: new URLSearchParams({ username: "alice", password: "alice-password", f: "json" }),
 * });
 *
 * await using served = serveFakeArcGIS();   // http://127.0.0.1:<port>
 * ```
 *
 * With `oidcLogin` the portal signs its members in through an OpenID Connect IdP, configured with the settings of
 * ArcGIS's "Configure OpenID Connect logins" (see `docs/testing.md`).
 *
 * @module
 */
export { createFakeArcGIS } from "./fake_arcgis.ts";
export { serveFakeArcGIS } from "./serve_fake_arcgis.ts";
export type { ServedFakeArcGIS, ServeFakeArcGISOptions } from "./serve_fake_arcgis.ts";
export {
  createDefaultTrailheads,
  DEFAULT_TRAILHEAD_COUNT,
  DEFAULT_TRAILHEAD_FIELDS,
  defaultFakeServices,
} from "./default_dataset.ts";
export type { DefaultFakeServicesOptions } from "./default_dataset.ts";
export { fromWebMercator, toWebMercator } from "./web_mercator.ts";
export { largeExportByteAt } from "./large_export.ts";
export { arcgisUsername } from "./arcgis_username.ts";
export type { ArcGISUsernameOptions } from "./arcgis_username.ts";
export {
  DEFAULT_EDITORS_GROUP,
  DEFAULT_FAKE_API_KEYS,
  DEFAULT_FAKE_APPS,
  DEFAULT_FAKE_LIMITS,
  DEFAULT_FAKE_USERS,
  DEFAULT_ORG_ID,
  DEFAULT_PORTAL_PATH,
  DEFAULT_SERVER_PATH,
  DEFAULT_URL_KEY,
  FEDERATED_GENERATE_TOKEN_ERROR,
  GENERATE_TOKEN_ERROR,
  GENERATE_TOKEN_GET_ERROR,
  INVALID_CLIENT_ERROR,
  INVALID_GRANT_ERROR,
  INVALID_REDIRECT_URI_ERROR,
  INVALID_REFRESH_TOKEN_ERROR,
  INVALID_SERVER_URL_ERROR,
  INVALID_TOKEN_ERROR,
  INVALID_URL_ERROR,
  ITEM_PERMISSION_DENIED_ERROR,
  OIDC_INVITATION_ONLY_MESSAGE,
  OIDC_MISSING_PARAMETER_MESSAGE,
  OIDC_MISSING_PROFILE_MESSAGE,
  OPERATION_NOT_SUPPORTED_ERROR,
  PERMISSION_DENIED_ERROR,
  PORTAL_SESSION_COOKIE,
  REFERER_REQUIRED_ERROR,
  REFRESH_TOKEN_EXPIRED_ERROR,
  SIGNED_IN_USER_HEADER,
  TOKEN_REQUIRED_ERROR,
  UNSUPPORTED_GRANT_TYPE_ERROR,
} from "./constants.ts";
export type { ArcGISErrorBody } from "./constants.ts";
export type {
  CreateFakeArcGISOptions,
  FakeAccessRules,
  FakeApiKey,
  FakeApp,
  FakeArcGIS,
  FakeArcGISUrls,
  FakeEditRecord,
  FakeEndpoint,
  FakeFailureHandle,
  FakeFailureMode,
  FakeFailureRule,
  FakeFeature,
  FakeField,
  FakeHostedConfig,
  FakeIssueCodeOptions,
  FakeIssueTokenOptions,
  FakeLimits,
  FakeNewMemberDefaults,
  FakeOidcClientAuthentication,
  FakeOidcLoginConfig,
  FakeOidcLoginRecord,
  FakeRecordedFile,
  FakeRedirect,
  FakeRequestRecord,
  FakeServerConfig,
  FakeServiceAccess,
  FakeServiceConfig,
  FakeServiceType,
  FakeSignedInUserResolver,
  FakeStreamRecord,
  FakeTokenInfo,
  FakeTokenKind,
  FakeTokenSource,
  FakeUser,
  FakeUserRole,
} from "./types.ts";
