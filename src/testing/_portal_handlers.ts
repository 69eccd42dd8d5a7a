/**
 * Portal endpoints of the fake: `info`, `generateToken`, `oauth2/token`, `oauth2/authorize`, `oauth2/revokeToken`,
 * `portals/self`, `community/self`, `content/items/{id}`.
 *
 * @module
 */
import {
  FAKE_PORTAL_VERSION,
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
  REFERER_REQUIRED_ERROR,
  REFRESH_TOKEN_EXPIRED_ERROR,
  SIGNED_IN_USER_HEADER,
  TOKEN_REQUIRED_ERROR,
  UNSUPPORTED_GRANT_TYPE_ERROR,
} from "./constants.ts";
import type { FakeTokenInfo, FakeUser } from "./types.ts";
import {
  type _Ctx,
  type _Server,
  type _State,
  arcgisError,
  json,
  param,
  portalUrl,
  publicOrigin,
  serverUrl,
  sharingUrl,
} from "./_context.ts";
import { allowed, validToken } from "./_auth.ts";
import { extractToken } from "./_request_reader.ts";
import { clampMinutes, hexId, minutesToMs, randomString, sha256Base64url } from "./_util.ts";
import { sessionUser, startOidcLogin } from "./_oidc_login.ts";

/** `P/info`. */
export function portalInfo(ctx: _Ctx): Response {
  const origin = publicOrigin(ctx);
  return json(ctx, {
    owningSystemUrl: portalUrl(ctx.state, origin),
    authInfo: {
      tokenServicesUrl: `${sharingUrl(ctx.state, origin)}/generateToken`,
      isTokenBasedSecurity: true,
    },
  });
}

/** Checks username/password; the user or undefined. */
export function checkPassword(
  state: _State,
  username: string | undefined,
  password: string | undefined,
): FakeUser | undefined {
  if (username === undefined || password === undefined) return undefined;
  const user = state.users.get(username);
  return user && user.password === password ? user : undefined;
}

/**
 * The username/password flow shared by the portal's and a standalone server's `generateToken`: checks the
 * credentials and the referer binding, clamps `expiration`, and issues a `portal` or `server` token. Returns the
 * token and its expiry, or the ArcGIS error answer.
 */
export function issuePasswordToken(
  ctx: _Ctx,
  options: { kind: "portal" | "server"; defaultMinutes: number; serverRoot?: string },
): { token: string; expiresMs: number } | Response {
  const state = ctx.state;
  const user = checkPassword(state, param(ctx, "username"), param(ctx, "password"));
  if (!user) return arcgisError(ctx, GENERATE_TOKEN_ERROR);
  const client = param(ctx, "client");
  const referer = param(ctx, "referer");
  if (client === "referer" && !referer) return arcgisError(ctx, REFERER_REQUIRED_ERROR);
  const minutes = clampMinutes(
    param(ctx, "expiration"),
    options.defaultMinutes,
    state.limits.generateTokenMaxMinutes,
  );
  const expiresMs = state.now() + minutesToMs(minutes);
  const token = state.tokens.issue({
    kind: options.kind,
    username: user.username,
    issuedMs: state.now(),
    expiresMs,
    referer: client === "referer" ? referer : undefined,
    ...(options.serverRoot === undefined ? {} : { serverRoot: options.serverRoot }),
    via: "generateToken",
  });
  return { token, expiresMs };
}

function _secondsUntil(state: _State, expiresMs: number): number {
  return Math.max(0, Math.round((expiresMs - state.now()) / 1000));
}

/** Finds the federated server whose root is `raw` or contains it (segment-wise, same origin). */
function _federatedServerFor(ctx: _Ctx, raw: string): _Server | undefined {
  let target: URL;
  try {
    target = new URL(raw);
  } catch {
    return undefined;
  }
  const origin = publicOrigin(ctx);
  for (const server of ctx.state.servers.values()) {
    // ArcGIS Online answers generateToken(serverUrl) for its hosted services too (the Maps SDK asks it).
    if (!server.federated) continue;
    const root = new URL(serverUrl(ctx.state, server, origin));
    if (root.origin.toLowerCase() !== target.origin.toLowerCase()) continue;
    const path = target.pathname.replace(/\/+$/, "");
    if (
      path.toLowerCase() === root.pathname.toLowerCase() ||
      path.toLowerCase().startsWith(`${root.pathname.toLowerCase()}/`)
    ) {
      return server;
    }
  }
  return undefined;
}

/** `P/generateToken`: username/password, or portal token + `serverUrl` → server token. */
export function portalGenerateToken(ctx: _Ctx): Response {
  const state = ctx.state;
  if (ctx.request.method !== "POST") return arcgisError(ctx, GENERATE_TOKEN_GET_ERROR);
  const token = param(ctx, "token");
  const username = param(ctx, "username");
  const client = param(ctx, "client");
  const referer = param(ctx, "referer");
  if (token !== undefined && token !== "" && username === undefined) {
    const parent = validToken(ctx, token, { portal: true });
    if (!parent || parent.kind === "apikey") return arcgisError(ctx, INVALID_TOKEN_ERROR);
    const serverUrlParam = param(ctx, "serverUrl");
    const server = serverUrlParam ? _federatedServerFor(ctx, serverUrlParam) : undefined;
    if (!server) return arcgisError(ctx, INVALID_SERVER_URL_ERROR);
    const minutes = clampMinutes(
      param(ctx, "expiration"),
      state.limits.serverTokenDefaultMinutes,
      state.limits.generateTokenMaxMinutes,
    );
    const cap = state.limits.capServerTokenToParent;
    let expiresMs = state.now() + minutesToMs(minutes);
    if (cap) expiresMs = Math.min(expiresMs, parent.expiresMs);
    const issued = state.tokens.issue({
      kind: "server",
      username: parent.username,
      clientId: parent.clientId,
      issuedMs: state.now(),
      expiresMs,
      referer: client === "referer" && referer ? referer : parent.referer,
      serverRoot: server.path,
      family: cap ? parent.family : undefined,
      parent: cap ? parent.token : undefined,
      via: "serverToken",
    });
    return json(ctx, { token: issued, expires: expiresMs, ssl: state.allSSL });
  }
  const issued = issuePasswordToken(ctx, {
    kind: "portal",
    defaultMinutes: state.limits.portalTokenDefaultMinutes,
  });
  if (issued instanceof Response) return issued;
  return json(ctx, { token: issued.token, expires: issued.expiresMs, ssl: state.allSSL });
}

function _refreshRecord(ctx: _Ctx, clientId: string): FakeTokenInfo | Response {
  const raw = param(ctx, "refresh_token");
  const info = raw ? ctx.state.tokens.get(raw) : undefined;
  if (!info || info.kind !== "refresh" || info.revoked || info.clientId !== clientId) {
    return arcgisError(ctx, INVALID_REFRESH_TOKEN_ERROR);
  }
  if (ctx.state.now() >= info.expiresMs) return arcgisError(ctx, REFRESH_TOKEN_EXPIRED_ERROR);
  return info;
}

function _issueUserAccess(
  state: _State,
  username: string,
  clientId: string,
  family: string,
  via: string,
): FakeTokenInfo {
  const expiresMs = state.now() + minutesToMs(state.limits.userAccessTokenMinutes);
  const token = state.tokens.issue({
    kind: "portal",
    username,
    clientId,
    issuedMs: state.now(),
    expiresMs,
    family,
    via,
  });
  return state.tokens.get(token)!;
}

function _issueRefresh(state: _State, username: string, clientId: string, minutes: number): FakeTokenInfo {
  const family = randomString(12);
  const token = state.tokens.issue({
    kind: "refresh",
    username,
    clientId,
    issuedMs: state.now(),
    expiresMs: state.now() + minutesToMs(minutes),
    family,
    lifetimeMinutes: minutes,
    via: "refresh",
  });
  return state.tokens.get(token)!;
}

/** Rotates a refresh token: revokes it and its family, issues a new one with the same lifetime. */
export function rotateRefresh(state: _State, old: FakeTokenInfo): FakeTokenInfo {
  state.tokens.revoke(old.token);
  const minutes = old.lifetimeMinutes ?? state.limits.refreshTokenDefaultMinutes;
  return _issueRefresh(state, old.username!, old.clientId!, minutes);
}

/** `P/oauth2/token`. */
export async function oauth2Token(ctx: _Ctx): Promise<Response> {
  const state = ctx.state;
  const clientId = param(ctx, "client_id") ?? "";
  const app = state.apps.get(clientId);
  if (!app) return arcgisError(ctx, INVALID_CLIENT_ERROR);
  const secret = param(ctx, "client_secret");
  if (secret !== undefined && secret !== app.clientSecret) return arcgisError(ctx, INVALID_CLIENT_ERROR);
  const grant = param(ctx, "grant_type");
  switch (grant) {
    case "client_credentials": {
      if (secret !== app.clientSecret) return arcgisError(ctx, INVALID_CLIENT_ERROR);
      const apiToken = param(ctx, "apiToken");
      const isApiKey = apiToken === "1" || apiToken === "2";
      const minutes = isApiKey
        ? clampMinutes(param(ctx, "expiration"), state.limits.apiKeyMinutes, state.limits.apiKeyMinutes)
        : clampMinutes(
          param(ctx, "expiration"),
          state.limits.appTokenDefaultMinutes,
          state.limits.appTokenMaxMinutes,
        );
      const expiresMs = state.now() + minutesToMs(minutes);
      const token = state.tokens.issue({
        kind: isApiKey ? "apikey" : "app",
        clientId,
        issuedMs: state.now(),
        expiresMs,
        via: isApiKey ? "apiKey" : "client_credentials",
      });
      return json(ctx, { access_token: token, expires_in: _secondsUntil(state, expiresMs) });
    }
    case "authorization_code": {
      const code = state.tokens.getCode(param(ctx, "code") ?? "");
      if (
        !code || code.used || code.clientId !== clientId || state.now() >= code.expiresMs ||
        code.redirectUri !== param(ctx, "redirect_uri")
      ) {
        return arcgisError(ctx, INVALID_GRANT_ERROR);
      }
      if (code.codeChallenge !== undefined) {
        const verifier = param(ctx, "code_verifier");
        if (!verifier) return arcgisError(ctx, INVALID_GRANT_ERROR);
        const computed = code.codeChallengeMethod === "S256" ? await sha256Base64url(verifier) : verifier;
        if (computed !== code.codeChallenge) return arcgisError(ctx, INVALID_GRANT_ERROR);
      }
      code.used = true;
      const refresh = _issueRefresh(state, code.username, clientId, code.refreshMinutes);
      const access = _issueUserAccess(state, code.username, clientId, refresh.family!, "authorization_code");
      return json(ctx, {
        access_token: access.token,
        expires_in: _secondsUntil(state, access.expiresMs),
        username: code.username,
        ssl: state.allSSL,
        refresh_token: refresh.token,
        refresh_token_expires_in: _secondsUntil(state, refresh.expiresMs),
      });
    }
    case "refresh_token": {
      const refresh = _refreshRecord(ctx, clientId);
      if (refresh instanceof Response) return refresh;
      const access = _issueUserAccess(state, refresh.username!, clientId, refresh.family!, "refresh_token");
      return json(ctx, {
        access_token: access.token,
        expires_in: _secondsUntil(state, access.expiresMs),
        username: refresh.username,
        ssl: state.allSSL,
      });
    }
    case "exchange_refresh_token": {
      const redirectUri = param(ctx, "redirect_uri");
      if (!redirectUri || !(app.redirectUris ?? []).includes(redirectUri)) {
        return arcgisError(ctx, INVALID_REDIRECT_URI_ERROR);
      }
      const old = _refreshRecord(ctx, clientId);
      if (old instanceof Response) return old;
      const refresh = rotateRefresh(state, old);
      const access = _issueUserAccess(
        state,
        refresh.username!,
        clientId,
        refresh.family!,
        "exchange_refresh_token",
      );
      return json(ctx, {
        access_token: access.token,
        expires_in: _secondsUntil(state, access.expiresMs),
        username: refresh.username,
        ssl: state.allSSL,
        refresh_token: refresh.token,
        refresh_token_expires_in: _secondsUntil(state, refresh.expiresMs),
      });
    }
    default:
      return arcgisError(ctx, UNSUPPORTED_GRANT_TYPE_ERROR);
  }
}

function _redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { Location: location, "Cache-Control": "no-store" } });
}

function _withParams(base: string, params: Record<string, string | undefined>, fragment = false): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) search.set(k, v);
  if (fragment) return `${base.split("#")[0]}#${search}`;
  return `${base}${base.includes("?") ? "&" : "?"}${search}`;
}

/**
 * The member signed in at `oauth2/authorize`: the `X-Fake-ArcGIS-User` header, else the portal's session cookie,
 * else (with no OpenID Connect login configured) the `signedInUser` setting.
 */
function _signedInUser(ctx: _Ctx): FakeUser | undefined {
  const state = ctx.state;
  const header = ctx.request.headers.get(SIGNED_IN_USER_HEADER);
  if (header !== null) return state.users.get(header);
  const fromSession = sessionUser(ctx);
  if (fromSession !== undefined || state.oidcLogin !== undefined) return fromSession;
  const setting = state.signedInUser;
  const name = typeof setting === "function" ? setting(ctx.request) : setting;
  return name ? state.users.get(name) : undefined;
}

/** `P/oauth2/authorize`. */
export async function oauth2Authorize(ctx: _Ctx): Promise<Response> {
  const state = ctx.state;
  const app = state.apps.get(param(ctx, "client_id") ?? "");
  if (!app) return arcgisError(ctx, INVALID_CLIENT_ERROR);
  const redirectUri = param(ctx, "redirect_uri");
  if (!redirectUri || !(app.redirectUris ?? []).includes(redirectUri)) {
    return arcgisError(ctx, INVALID_REDIRECT_URI_ERROR);
  }
  const stateParam = param(ctx, "state");
  const responseType = param(ctx, "response_type");
  const implicit = responseType === "token";
  if (state.authorizeDenied) {
    return _redirect(_withParams(redirectUri, {
      error: "access_denied",
      error_description: "The user denied your request.",
      state: stateParam,
    }, implicit));
  }
  if (responseType !== "code" && !implicit) {
    return _redirect(_withParams(redirectUri, {
      error: "unsupported_response_type",
      error_description: "Invalid response_type",
      state: stateParam,
    }));
  }
  const user = _signedInUser(ctx);
  if (!user && state.oidcLogin !== undefined) return await startOidcLogin(ctx, state.oidcLogin);
  if (!user) {
    return new Response(
      "<!DOCTYPE html><html><head><title>Sign In</title></head><body><h1>Sign in to Fake ArcGIS</h1>" +
        "<p>No user is signed in.</p></body></html>",
      { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } },
    );
  }
  if (implicit) {
    const minutes = clampMinutes(
      param(ctx, "expiration"),
      state.limits.portalTokenDefaultMinutes,
      state.limits.generateTokenMaxMinutes,
    );
    const expiresMs = state.now() + minutesToMs(minutes);
    const token = state.tokens.issue({
      kind: "portal",
      username: user.username,
      clientId: app.clientId,
      issuedMs: state.now(),
      expiresMs,
      via: "implicit",
    });
    return _redirect(_withParams(redirectUri, {
      access_token: token,
      expires_in: String(_secondsUntil(state, expiresMs)),
      username: user.username,
      ssl: String(state.allSSL),
      state: stateParam,
    }, true));
  }
  const challenge = param(ctx, "code_challenge");
  const methodRaw = param(ctx, "code_challenge_method");
  let method: "S256" | "plain" | undefined;
  if (challenge) {
    if (methodRaw === undefined || methodRaw === "plain") method = "plain";
    else if (methodRaw === "S256") method = "S256";
    else {
      return _redirect(_withParams(redirectUri, {
        error: "invalid_request",
        error_description: "Invalid code_challenge_method",
        state: stateParam,
      }));
    }
  }
  const code = state.tokens.issueCode({
    clientId: app.clientId,
    redirectUri,
    username: user.username,
    codeChallenge: challenge || undefined,
    codeChallengeMethod: method,
    refreshMinutes: clampMinutes(
      param(ctx, "expiration"),
      state.limits.refreshTokenDefaultMinutes,
      state.limits.refreshTokenMaxMinutes,
    ),
    expiresMs: state.now() + minutesToMs(state.limits.authorizationCodeMinutes),
  });
  return _redirect(_withParams(redirectUri, { code, state: stateParam }));
}

/** `P/oauth2/revokeToken`: always `{success:true}`; user and refresh tokens are revoked (with cascades). */
export function oauth2RevokeToken(ctx: _Ctx): Response {
  const raw = param(ctx, "auth_token") ?? param(ctx, "token");
  const info = raw ? ctx.state.tokens.get(raw) : undefined;
  if (info && (info.kind === "portal" || info.kind === "server" || info.kind === "refresh")) {
    ctx.state.tokens.revoke(info.token);
  }
  return json(ctx, { success: true });
}

function _groupJson(title: string): { id: string; title: string } {
  return { id: hexId(`group:${title}`), title };
}

/** IUser JSON of a user. */
export function userJson(state: _State, user: FakeUser): Record<string, unknown> {
  return {
    username: user.username,
    id: hexId(`user:${user.username}`),
    fullName: user.fullName ?? user.username,
    email: user.email ?? `${user.username}@example.com`,
    idpUsername: user.idpUsername ?? null,
    orgId: user.orgId ?? state.orgId,
    role: user.role ?? "org_user",
    privileges: user.privileges ??
      ["portal:user:joinGroup", "portal:user:viewOrgGroups", "portal:user:viewOrgItems"],
    groups: (user.groups ?? []).map(_groupJson),
    provider: user.provider ?? (user.idpUsername ? "enterprise" : "arcgis"),
    userLicenseTypeId: user.userType ?? "creatorUT",
    disabled: false,
    access: "org",
  };
}

function _portalToken(ctx: _Ctx): { present: false } | { present: true; info?: FakeTokenInfo } {
  const found = extractToken(ctx.request, ctx.read);
  if (!found) return { present: false };
  ctx.record.token = found.token;
  ctx.record.tokenSource = found.source;
  return { present: true, info: validToken(ctx, found.token, { portal: true }) };
}

/** `P/portals/self`. */
export function portalsSelf(ctx: _Ctx): Response {
  const state = ctx.state;
  const t = _portalToken(ctx);
  if (t.present && !t.info) return arcgisError(ctx, INVALID_TOKEN_ERROR);
  const body: Record<string, unknown> = {
    id: state.orgId,
    name: state.portalName,
    urlKey: state.urlKey,
    isPortal: true,
    allSSL: state.allSSL,
    currentVersion: FAKE_PORTAL_VERSION,
    authorizedCrossOriginDomains: [],
    portalHostname: new URL(portalUrl(state, publicOrigin(ctx))).host,
  };
  const username = t.present ? t.info?.username : undefined;
  const user = username !== undefined ? state.users.get(username) : undefined;
  if (user) body.user = userJson(state, user);
  return json(ctx, body);
}

/** `P/community/self`. */
export function communitySelf(ctx: _Ctx): Response {
  const t = _portalToken(ctx);
  if (!t.present) return arcgisError(ctx, TOKEN_REQUIRED_ERROR);
  if (!t.info) return arcgisError(ctx, INVALID_TOKEN_ERROR);
  const user = t.info.username !== undefined ? ctx.state.users.get(t.info.username) : undefined;
  if (!user) return arcgisError(ctx, ITEM_PERMISSION_DENIED_ERROR);
  return json(ctx, userJson(ctx.state, user));
}

const _ITEM_TYPES: Record<string, string> = {
  FeatureServer: "Feature Service",
  MapServer: "Map Service",
  VectorTileServer: "Vector Tile Service",
};

/** `P/content/items/{id}` and `/data`. */
export function contentItem(ctx: _Ctx, itemId: string, data: boolean): Response {
  const state = ctx.state;
  const service = state.services.find((s) => s.itemId === itemId);
  if (!service) {
    return arcgisError(ctx, {
      error: {
        code: 400,
        messageCode: "CONT_0001",
        message: "Item does not exist or is inaccessible.",
        details: [],
      },
    });
  }
  if (service.access !== "public") {
    const t = _portalToken(ctx);
    if (!t.present) return arcgisError(ctx, ITEM_PERMISSION_DENIED_ERROR);
    if (!t.info) return arcgisError(ctx, INVALID_TOKEN_ERROR);
    if (!allowed(state, t.info, service)) return arcgisError(ctx, ITEM_PERMISSION_DENIED_ERROR);
  }
  if (data) return json(ctx, {});
  const server = state.servers.get(service.root);
  const base = server ? serverUrl(state, server, publicOrigin(ctx)) : publicOrigin(ctx);
  return json(ctx, {
    id: service.itemId,
    owner: [...state.users.keys()][0] ?? "admin",
    orgId: state.orgId,
    title: service.layerName,
    name: service.name,
    type: _ITEM_TYPES[service.type],
    url: `${base}/rest/services/${service.name}/${service.type}`,
    access: service.access === "public" ? "public" : service.access === "org" ? "org" : "shared",
  });
}

/** Unknown portal path. */
export function portalNotFound(ctx: _Ctx): Response {
  return arcgisError(ctx, INVALID_URL_ERROR);
}
