/**
 * Internal state of one fake ArcGIS instance, the per-request context, and the JSON/error response helpers that
 * every handler uses (status mirroring, `f=pjson`).
 *
 * @module
 */
import type { ArcGISErrorBody } from "./constants.ts";
import type {
  FakeAccessRules,
  FakeApiKey,
  FakeApp,
  FakeEditRecord,
  FakeFailureMode,
  FakeFeature,
  FakeField,
  FakeLimits,
  FakeOidcLoginConfig,
  FakeOidcLoginRecord,
  FakeRedirect,
  FakeRequestRecord,
  FakeServiceType,
  FakeSignedInUserResolver,
  FakeStreamRecord,
  FakeUser,
} from "./types.ts";
import type { TokenStore } from "./_token_store.ts";
import type { _ReadRequest } from "./_request_reader.ts";

/** A server site (or the hosted root). */
export interface _Server {
  path: string;
  federated: boolean;
  acceptsPortalTokens: boolean;
  origin?: string;
  hosted: boolean;
}

/** A service with its live data. */
export interface _Service {
  root: string;
  name: string;
  type: FakeServiceType;
  access: "public" | "org" | FakeAccessRules;
  fields: FakeField[];
  features: FakeFeature[];
  oidField: string;
  layerName: string;
  pagination: boolean;
  maxRecordCount: number;
  capabilities: string;
  editable: boolean;
  tilePaddingBytes: number;
  itemId: string;
  nextObjectId: number;
}

/** An injected failure rule, live. */
export interface _Failure {
  id: number;
  match: string | ((record: FakeRequestRecord) => boolean);
  mode: FakeFailureMode;
  remaining: number;
  name: string;
  hits: number;
}

/** A sign-in session of the portal (its own cookie). */
export interface _PortalSession {
  username: string;
  expiresMs: number;
  /** The IdP's ID token, for `id_token_hint` at logout (OpenID Connect sessions only). */
  idToken?: string;
}

/** An `oauth2/authorize` request waiting for the IdP's answer. */
export interface _OidcPending {
  /** The authorize URL to resume once signed in. */
  resume: string;
  nonce: string;
  verifier?: string;
  expiresMs: number;
}

/** The portal's key pair for `private_key_jwt`. */
export interface _OidcKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JsonWebKey & { kid: string; alg: string; use: string };
}

/** Everything one fake instance holds. */
export interface _State {
  now: () => number;
  origin?: string;
  portalOrigin?: string;
  portalPath: string;
  orgId: string;
  urlKey: string;
  portalName: string;
  allSSL: boolean;
  limits: FakeLimits;
  users: Map<string, FakeUser>;
  apps: Map<string, FakeApp>;
  apiKeys: Map<string, FakeApiKey>;
  servers: Map<string, _Server>;
  hostedRoot?: string;
  services: _Service[];
  tokens: TokenStore;
  statusMirrorsErrorCode: boolean;
  htmlInvalidTokenForTiles: boolean;
  leakyHeaders: boolean;
  signedInUser: string | null | FakeSignedInUserResolver;
  authorizeDenied: boolean;
  oidcLogin?: FakeOidcLoginConfig;
  portalSessions: Map<string, _PortalSession>;
  oidcPending: Map<string, _OidcPending>;
  /** Where a sign-out goes after the IdP's logout, by logout `state`. */
  signOutReturns: Map<string, string | undefined>;
  oidcLogins: FakeOidcLoginRecord[];
  oidcKey?: Promise<_OidcKey>;
  redirects: FakeRedirect[];
  tileCacheControl: string;
  tileLastModifiedMs: number;
  maxRecordedBodyBytes: number;
  requests: FakeRequestRecord[];
  edits: FakeEditRecord[];
  streams: FakeStreamRecord[];
  failures: _Failure[];
  hangs: Set<() => void>;
  tileCache: Map<string, Uint8Array<ArrayBuffer>>;
}

/** One request being handled. */
export interface _Ctx {
  state: _State;
  request: Request;
  url: URL;
  read: _ReadRequest;
  record: FakeRequestRecord;
}

/** A parameter from the body, else the query (names are case-insensitive). */
export function param(ctx: _Ctx, name: string): string | undefined {
  const key = name.toLowerCase();
  return ctx.read.body.get(key) ?? ctx.read.query.get(key);
}

/** The public origin for absolute URLs of this request. */
export function publicOrigin(ctx: _Ctx): string {
  return ctx.state.origin ?? ctx.url.origin;
}

/** The portal URL (`owningSystemUrl`), e.g. `http://host/portal`. */
export function portalUrl(state: _State, requestOrigin: string): string {
  return `${state.portalOrigin ?? state.origin ?? requestOrigin}${state.portalPath}`;
}

/** The sharing API root. */
export function sharingUrl(state: _State, requestOrigin: string): string {
  return `${portalUrl(state, requestOrigin)}/sharing/rest`;
}

/** A server's root URL. */
export function serverUrl(state: _State, server: _Server, requestOrigin: string): string {
  return `${server.origin ?? state.origin ?? requestOrigin}${server.path}`;
}

/** JSON answer (pretty for `f=pjson`). */
export function json(ctx: _Ctx, body: unknown, status = 200, headers?: HeadersInit): Response {
  const pretty = (param(ctx, "f") ?? "").toLowerCase() === "pjson";
  const text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
  const h = new Headers(headers);
  h.set("Content-Type", "application/json; charset=utf-8");
  return new Response(text, { status, headers: h });
}

/** ArcGIS error answer: HTTP 200 by default, HTTP `error.code` when status mirroring is on. */
export function arcgisError(ctx: _Ctx, body: ArcGISErrorBody): Response {
  const code = body.error.code;
  ctx.record.errorCode = code;
  const status = ctx.state.statusMirrorsErrorCode && code >= 200 && code <= 599 ? code : 200;
  return json(ctx, body, status);
}

/** Builds an ArcGIS error body. */
export function errorBody(code: number, message: string, details: string[] = []): ArcGISErrorBody {
  return { error: { code, message, details } };
}
