/**
 * The portal's OpenID Connect login: `oauth2/authorize` without a session sends the browser to the IdP; the IdP
 * answers at `oauth2/oidc/callback`, where the portal exchanges the code over the back channel (client secret or
 * `private_key_jwt`, PKCE optional), reads the claims (user-profile endpoint, else the ID token verified with the
 * JWKS), maps them to a member (existing, joined automatically, or refused), sets its own session cookie and
 * resumes the authorize request. `oauth2/signout` ends the session and, with a logout endpoint, the IdP's.
 *
 * Paths the documents do not name are *(assumed)*: `oauth2/oidc/callback`, `oauth2/oidc/signedout`,
 * `oauth2/oidc/jwks`, `oauth2/signout`.
 *
 * @module
 */
import * as jose from "jose";
import {
  DEFAULT_PORTAL_SESSION_MINUTES,
  OIDC_INVITATION_ONLY_MESSAGE,
  OIDC_MISSING_PARAMETER_MESSAGE,
  OIDC_MISSING_PROFILE_MESSAGE,
  OIDC_PENDING_MINUTES,
  PORTAL_SESSION_COOKIE,
} from "./constants.ts";
import { arcgisUsername } from "./arcgis_username.ts";
import type { FakeOidcLoginConfig, FakeOidcLoginRecord, FakeUser } from "./types.ts";
import { type _Ctx, type _OidcKey, type _State, param, publicOrigin, sharingUrl } from "./_context.ts";
import { minutesToMs, randomString, sha256Base64url } from "./_util.ts";

const _MAX_IDP_BODY_BYTES = 256 * 1024;
const _IDP_TIMEOUT_MS = 10_000;

/** The portal's OpenID Connect URLs for a request's public origin. */
export function oidcUrls(state: _State, origin: string): {
  callback: string;
  signedOut: string;
  publicKeys: string;
} {
  const sharing = sharingUrl(state, origin);
  return {
    callback: `${sharing}/oauth2/oidc/callback`,
    signedOut: `${sharing}/oauth2/oidc/signedout`,
    publicKeys: `${sharing}/oauth2/oidc/jwks`,
  };
}

function _cookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

function _cookiePath(state: _State): string {
  return `${state.portalPath}/sharing`;
}

function _sessionCookie(ctx: _Ctx, value: string, maxAgeSeconds: number): string {
  const secure = ctx.url.protocol === "https:" ? "; Secure" : "";
  return `${PORTAL_SESSION_COOKIE}=${value}; Path=${
    _cookiePath(ctx.state)
  }; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure}`;
}

/** The member signed in by the portal's session cookie, if the session is live. */
export function sessionUser(ctx: _Ctx): FakeUser | undefined {
  const id = _cookie(ctx.request, PORTAL_SESSION_COOKIE);
  const session = id === undefined ? undefined : ctx.state.portalSessions.get(id);
  if (session === undefined) return undefined;
  if (ctx.state.now() >= session.expiresMs) {
    ctx.state.portalSessions.delete(id!);
    return undefined;
  }
  return ctx.state.users.get(session.username);
}

function _escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An HTML page of the portal (sign-in errors, signed out). */
export function portalPage(title: string, message: string, headers?: Record<string, string>): Response {
  return new Response(
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${_escape(title)}</title></head>` +
      `<body><h1>${_escape(title)}</h1><p class="message">${_escape(message)}</p></body></html>`,
    {
      status: 200,
      headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", ...headers },
    },
  );
}

function _redirect(location: string, headers?: Record<string, string>): Response {
  return new Response(null, {
    status: 302,
    headers: { Location: location, "Cache-Control": "no-store", ...headers },
  });
}

function _authMethod(config: FakeOidcLoginConfig): NonNullable<FakeOidcLoginConfig["clientAuthentication"]> {
  return config.clientAuthentication ??
    (config.clientSecret !== undefined ? "client_secret_post" : "private_key_jwt");
}

/** The portal's key pair for `private_key_jwt` (made on first use). */
function _key(state: _State): Promise<_OidcKey> {
  state.oidcKey ??= (async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair("RS256", { extractable: true });
    const kid = randomString(12);
    const jwk = await jose.exportJWK(publicKey);
    return {
      kid,
      privateKey: privateKey as CryptoKey,
      publicJwk: { ...(jwk as JsonWebKey), kid, alg: "RS256", use: "sig" },
    };
  })();
  return state.oidcKey;
}

/** `P/oauth2/oidc/jwks`: the portal's public key URL. */
export async function oidcJwks(ctx: _Ctx): Promise<Response> {
  const key = await _key(ctx.state);
  return new Response(JSON.stringify({ keys: [key.publicJwk] }), {
    status: 200,
    headers: { "Content-Type": "application/json; charset=utf-8" },
  });
}

/** Sends the browser to the IdP, remembering the authorize request to resume. */
export async function startOidcLogin(ctx: _Ctx, config: FakeOidcLoginConfig): Promise<Response> {
  const state = ctx.state;
  const loginState = randomString(24);
  const nonce = randomString(16);
  const verifier = config.usePkce ? randomString(32) : undefined;
  state.oidcPending.set(loginState, {
    resume: ctx.url.href,
    nonce,
    ...(verifier !== undefined ? { verifier } : {}),
    expiresMs: state.now() + minutesToMs(OIDC_PENDING_MINUTES),
  });
  const target = new URL(config.authorizationEndpoint);
  const params: Record<string, string> = {
    client_id: config.clientId,
    response_type: "code",
    scope: config.scopes ?? "openid profile email",
    redirect_uri: oidcUrls(state, publicOrigin(ctx)).callback,
    state: loginState,
    nonce,
  };
  if (verifier !== undefined) {
    params.code_challenge = await sha256Base64url(verifier);
    params.code_challenge_method = "S256";
  }
  for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
  return _redirect(target.href);
}

function _record(state: _State, record: Omit<FakeOidcLoginRecord, "timeMs">): void {
  state.oidcLogins.push({ timeMs: state.now(), ...record });
}

async function _readJson(response: Response): Promise<Record<string, unknown> | undefined> {
  const text = await response.text();
  if (text.length > _MAX_IDP_BODY_BYTES) return undefined;
  try {
    const body: unknown = JSON.parse(text);
    return typeof body === "object" && body !== null && !Array.isArray(body)
      ? body as Record<string, unknown>
      : undefined;
  } catch {
    return undefined;
  }
}

function _idpFetch(config: FakeOidcLoginConfig, url: string, init: RequestInit): Promise<Response> {
  const doFetch = config.fetch ?? globalThis.fetch;
  return doFetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(_IDP_TIMEOUT_MS) });
}

/** The token request body and headers, with the configured client authentication. */
async function _tokenRequest(
  ctx: _Ctx,
  config: FakeOidcLoginConfig,
  code: string,
  verifier: string | undefined,
): Promise<RequestInit> {
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: oidcUrls(ctx.state, publicOrigin(ctx)).callback,
  });
  if (verifier !== undefined) body.set("code_verifier", verifier);
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  const method = _authMethod(config);
  if (method === "client_secret_basic") {
    const user = encodeURIComponent(config.clientId);
    const secret = encodeURIComponent(config.clientSecret ?? "");
    headers.authorization = `Basic ${btoa(`${user}:${secret}`)}`;
  } else if (method === "client_secret_post") {
    body.set("client_id", config.clientId);
    body.set("client_secret", config.clientSecret ?? "");
  } else {
    const key = await _key(ctx.state);
    const nowSeconds = Math.floor((config.now ?? Date.now)() / 1000);
    const assertion = await new jose.SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid: key.kid })
      .setIssuer(config.clientId)
      .setSubject(config.clientId)
      .setAudience(config.tokenEndpoint)
      .setIssuedAt(nowSeconds)
      .setExpirationTime(nowSeconds + 300)
      .setJti(randomString(16))
      .sign(key.privateKey);
    body.set("client_id", config.clientId);
    body.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    body.set("client_assertion", assertion);
  }
  return { method: "POST", headers, body };
}

/** The claims of the signed-in IdP user, or the message to show. */
async function _claims(
  config: FakeOidcLoginConfig,
  tokens: { accessToken: string; idToken: string },
  nonce: string,
): Promise<{ claims: Record<string, unknown> } | { message: string }> {
  let idClaims: jose.JWTPayload;
  try {
    idClaims = jose.decodeJwt(tokens.idToken);
  } catch {
    return { message: OIDC_MISSING_PARAMETER_MESSAGE };
  }
  const audience = Array.isArray(idClaims.aud) ? idClaims.aud : [idClaims.aud];
  if (idClaims.iss !== config.issuer || !audience.includes(config.clientId) || idClaims.nonce !== nonce) {
    return { message: OIDC_MISSING_PARAMETER_MESSAGE };
  }
  if (config.userProfileEndpoint !== undefined) {
    // The ID token came over the back channel from the token endpoint (OIDC Core 3.1.3.7): the profile call is
    // the source of the claims, and the JWKS is not needed.
    const inHeader = config.sendAccessTokenInHeader ?? true;
    const url = new URL(config.userProfileEndpoint);
    if (!inHeader) url.searchParams.set("access_token", tokens.accessToken);
    let response: Response;
    try {
      response = await _idpFetch(config, url.href, {
        headers: {
          accept: "application/json",
          ...(inHeader ? { authorization: `Bearer ${tokens.accessToken}` } : {}),
        },
      });
    } catch {
      return { message: OIDC_MISSING_PROFILE_MESSAGE };
    }
    const profile = response.ok ? await _readJson(response) : undefined;
    if (!response.ok) await response.body?.cancel();
    if (profile === undefined || profile.sub !== idClaims.sub) {
      return { message: OIDC_MISSING_PROFILE_MESSAGE };
    }
    return { claims: profile };
  }
  if (config.jwksUrl === undefined) return { message: OIDC_MISSING_PARAMETER_MESSAGE };
  try {
    const response = await _idpFetch(config, config.jwksUrl, { headers: { accept: "application/json" } });
    const jwks = response.ok ? await _readJson(response) : undefined;
    if (!response.ok) await response.body?.cancel();
    if (jwks === undefined) return { message: OIDC_MISSING_PARAMETER_MESSAGE };
    const keys = jose.createLocalJWKSet(jwks as unknown as jose.JSONWebKeySet);
    const { payload } = await jose.jwtVerify(tokens.idToken, keys, {
      issuer: config.issuer,
      audience: config.clientId,
      currentDate: new Date((config.now ?? Date.now)()),
    });
    return { claims: payload as Record<string, unknown> };
  } catch {
    return { message: OIDC_MISSING_PARAMETER_MESSAGE };
  }
}

/** The member for the claims: existing (by `idpUsername`), joined, or refused (`message`). */
function _member(
  state: _State,
  config: FakeOidcLoginConfig,
  claims: Record<string, unknown>,
): { user: FakeUser; joined: boolean } | { message: string; idpUsername?: string } {
  const text = (name: string): string | undefined => {
    const value = Object.hasOwn(claims, name) ? claims[name] : undefined;
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  const sub = text("sub");
  const email = text("email");
  const claimValue = config.usernameClaim !== undefined ? text(config.usernameClaim) : undefined;
  if (sub === undefined || (config.usernameClaim !== undefined && claimValue === undefined)) {
    return { message: OIDC_MISSING_PARAMETER_MESSAGE };
  }
  // idpUsername: the configured claim's value, else the e-mail, else the sub (assumed for the last two).
  const idpUsername = claimValue ?? email ?? sub;
  for (const user of state.users.values()) {
    if (user.idpUsername === idpUsername) return { user, joined: false };
  }
  if ((config.joinMode ?? "automatic") !== "automatic") {
    return { message: OIDC_INVITATION_ONLY_MESSAGE, idpUsername };
  }
  const base = claimValue ?? (email !== undefined ? email.split("@")[0] : sub);
  const lower = new Set([...state.users.keys()].map((name) => name.toLowerCase()));
  const username = arcgisUsername(base, {
    suffix: config.usernameSuffix ?? "",
    taken: (name) => lower.has(name.toLowerCase()),
  });
  const defaults = config.newMemberDefaults ?? {};
  const name = text("name");
  const user: FakeUser = {
    username,
    password: randomString(24),
    fullName: name ?? username,
    ...(email !== undefined ? { email } : {}),
    idpUsername,
    provider: "enterprise",
    role: defaults.role ?? "org_user",
    userType: defaults.userType ?? "creatorUT",
    addOnLicenses: [...(defaults.addOnLicenses ?? [])],
    groups: [...(defaults.groups ?? [])],
  };
  state.users.set(username, user);
  return { user, joined: true };
}

/** `P/oauth2/oidc/callback`: the IdP's answer. */
export async function oidcCallback(ctx: _Ctx): Promise<Response> {
  const state = ctx.state;
  const config = state.oidcLogin;
  const loginState = param(ctx, "state") ?? "";
  const pending = state.oidcPending.get(loginState);
  state.oidcPending.delete(loginState);
  if (config === undefined || pending === undefined || state.now() >= pending.expiresMs) {
    return portalPage("Sign In", "The sign-in request is unknown or has expired. Sign in again.");
  }
  const fail = (message: string, extra: Partial<FakeOidcLoginRecord> = {}): Response => {
    _record(state, { outcome: "error", message, ...extra });
    return portalPage("Sign In", `Unable to sign in. ${message}`);
  };
  if (param(ctx, "error") !== undefined) return fail(`The provider answered "${param(ctx, "error")}"`);
  const code = param(ctx, "code");
  if (code === undefined || code === "") return fail(OIDC_MISSING_PARAMETER_MESSAGE);
  let tokenBody: Record<string, unknown> | undefined;
  try {
    const response = await _idpFetch(
      config,
      config.tokenEndpoint,
      await _tokenRequest(ctx, config, code, pending.verifier),
    );
    tokenBody = await _readJson(response);
    if (!response.ok) tokenBody = undefined;
  } catch {
    tokenBody = undefined;
  }
  const accessToken = tokenBody?.access_token;
  const idToken = tokenBody?.id_token;
  if (typeof accessToken !== "string" || typeof idToken !== "string") {
    return fail(OIDC_MISSING_PARAMETER_MESSAGE);
  }
  const read = await _claims(config, { accessToken, idToken }, pending.nonce);
  if ("message" in read) return fail(read.message);
  const claims = read.claims;
  const sub = typeof claims.sub === "string" ? claims.sub : undefined;
  const member = _member(state, config, claims);
  if ("message" in member) {
    const refused = member.message === OIDC_INVITATION_ONLY_MESSAGE;
    _record(state, {
      outcome: refused ? "refused" : "error",
      message: member.message,
      ...(sub !== undefined ? { sub } : {}),
      ...(member.idpUsername !== undefined ? { idpUsername: member.idpUsername } : {}),
    });
    return portalPage("Sign In", member.message);
  }
  _record(state, {
    outcome: member.joined ? "joined" : "member",
    ...(sub !== undefined ? { sub } : {}),
    idpUsername: member.user.idpUsername,
    username: member.user.username,
  });
  const minutes = config.sessionMinutes ?? DEFAULT_PORTAL_SESSION_MINUTES;
  const sessionId = randomString(24);
  state.portalSessions.set(sessionId, {
    username: member.user.username,
    expiresMs: state.now() + minutesToMs(minutes),
    idToken,
  });
  return _redirect(pending.resume, {
    "Set-Cookie": _sessionCookie(ctx, sessionId, Math.round(minutes * 60)),
  });
}

/**
 * `P/oauth2/signout?redirect_uri=…&client_id=…`: ends the portal session; with a logout endpoint, continues to
 * the IdP's RP-initiated logout, which comes back to `oauth2/oidc/signedout`. The `redirect_uri` is followed only
 * when it is registered for `client_id`.
 */
export function oauth2SignOut(ctx: _Ctx): Response {
  const state = ctx.state;
  const id = _cookie(ctx.request, PORTAL_SESSION_COOKIE);
  const session = id === undefined ? undefined : state.portalSessions.get(id);
  if (id !== undefined) state.portalSessions.delete(id);
  const app = state.apps.get(param(ctx, "client_id") ?? "");
  const redirectUri = param(ctx, "redirect_uri");
  const back = redirectUri !== undefined && (app?.redirectUris ?? []).includes(redirectUri)
    ? redirectUri
    : undefined;
  const clear = { "Set-Cookie": _sessionCookie(ctx, "", 0) };
  const config = state.oidcLogin;
  if (config?.logoutEndpoint !== undefined && session?.idToken !== undefined) {
    const logoutState = randomString(16);
    state.signOutReturns.set(logoutState, back);
    const target = new URL(config.logoutEndpoint);
    target.searchParams.set("id_token_hint", session.idToken);
    target.searchParams.set("client_id", config.clientId);
    target.searchParams.set("post_logout_redirect_uri", oidcUrls(state, publicOrigin(ctx)).signedOut);
    target.searchParams.set("state", logoutState);
    return _redirect(target.href, clear);
  }
  return back !== undefined ? _redirect(back, clear) : portalPage("Signed Out", "You are signed out.", clear);
}

/** `P/oauth2/oidc/signedout`: back from the IdP's logout. */
export function oidcSignedOut(ctx: _Ctx): Response {
  const logoutState = param(ctx, "state") ?? "";
  const back = ctx.state.signOutReturns.get(logoutState);
  ctx.state.signOutReturns.delete(logoutState);
  return back !== undefined ? _redirect(back) : portalPage("Signed Out", "You are signed out.");
}
