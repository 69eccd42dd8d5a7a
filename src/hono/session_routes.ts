/**
 * The session cookie routes (`POST` / `DELETE {mount}/session`), OpenID Connect back-channel logout
 * (`POST {mount}/backchannel-logout`), and the proxy's authentication: the IdP bearer, or for `GET`/`HEAD` of a
 * read-only proxy entry the session cookie, for map clients that load tiles with `<img>` and cannot add a header
 * (Leaflet with esri-leaflet, OpenLayers).
 *
 * The cookie is `HttpOnly`, `SameSite=Strict`, scoped to the mount path, `Secure` (and `__Secure-` prefixed) on
 * https. On top of `SameSite`, the proxy refuses a cookie-authenticated request that says it comes from another
 * site (`Sec-Fetch-Site: cross-site`) or from an origin that is neither the broker's own nor a configured CORS
 * origin: same-site is wider than same-origin (another port or subdomain of the same site).
 *
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import type { IssuerConfig, ProxyEntryConfig } from "../config/schema.ts";
import type { LogFn } from "../deps.ts";
import { BrokerError, isBrokerError } from "../errors.ts";
import { createAllowlist } from "../proxy/allowlist.ts";
import { parseProxyTarget } from "../proxy/proxy_target.ts";
import { checkLogoutToken } from "../session/logout_token.ts";
import type { Session, SessionStore } from "../session/session_store.ts";
import { SECURE_SESSION_COOKIE_NAME, SESSION_COOKIE_NAME } from "../session/constants.ts";
import type { Identity, TokenVerifier } from "../types.ts";
import { bearerTokenOf, type BrokerEnv } from "./authenticate.ts";
import { errorResponse, jsonHeaders, REALM } from "./errors.ts";
import { mangledProxyUrlProblem } from "./proxy_url_hint.ts";

/** What the session routes need. */
export interface SessionRoutesParts {
  /** Makes, opens and ends sessions. */
  sessions: SessionStore;
  /** The IdP token verifier (its JWS layer checks logout tokens). */
  verifier: TokenVerifier;
  /** The configured issuers (their `clientIds` are the accepted logout token audiences). */
  issuers: readonly IssuerConfig[];
  /** The proxy allowlist: the cookie is accepted for read-only entries only. */
  proxyAllow: readonly ProxyEntryConfig[];
  /** Accept plain-http loopback proxy targets (as the proxy does). */
  allowInsecureLoopback: boolean;
  /** Origins besides the broker's own that may use the cookie (`cors.origins`). */
  corsOrigins: readonly string[];
  /** Where the host mounts the routes: the cookie's `Path`. */
  mountPath: string;
  /** Purges every cached ArcGIS token of a user (after a back-channel logout). */
  purgeUser(identity: Identity): Promise<void>;
  /** The profiles the rules give an identity; throws `ERR_INSUFFICIENT_SCOPE` when none. */
  profilesOf(identity: Identity): readonly string[];
  /** Log hook. */
  log: LogFn;
  /** Clock, epoch ms. */
  now: () => number;
}

const LOGOUT_FORM_MAX_BYTES = 16 * 1024;

function _json(body: unknown, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: jsonHeaders(extra) });
}

function _isHttps(c: { req: { url: string } }): boolean {
  return c.req.url.startsWith("https:");
}

function _cookieName(https: boolean): string {
  return https ? SECURE_SESSION_COOKIE_NAME : SESSION_COOKIE_NAME;
}

/** The value of cookie `name` in a `Cookie` header, or undefined (the first one wins, as browsers send it). */
export function readCookie(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function _cookie(name: string, value: string, path: string, maxAgeSeconds: number, https: boolean): string {
  return `${name}=${value}; Path=${path}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${
    https ? "; Secure" : ""
  }`;
}

function _unauthorized(description: string, clear?: string): Response {
  const headers: Record<string, string> = {
    "www-authenticate": `Bearer realm="${REALM}", error="invalid_token"`,
  };
  const response = _json({ error: "invalid_token", error_description: description }, 401, headers);
  if (clear !== undefined) response.headers.append("set-cookie", clear);
  return response;
}

/**
 * Adds `POST /session`, `DELETE /session` and `POST /backchannel-logout` to the broker's sub-app. `authenticate`
 * is the bearer middleware.
 */
export function addSessionRoutes(
  app: Hono<BrokerEnv>,
  authenticate: MiddlewareHandler<BrokerEnv>,
  parts: SessionRoutesParts,
): void {
  const { sessions, log } = parts;
  const path = parts.mountPath.replace(/\/$/, "") || "/";

  app.post("/session", authenticate, async (c) => {
    try {
      const identity = c.get("identity");
      parts.profilesOf(identity);
      const { session, value } = await sessions.create(identity);
      const https = _isHttps(c);
      const maxAge = Math.max(1, Math.floor((session.expiresAtMs - parts.now()) / 1000));
      const response = _json({ expires: session.expiresAtMs, maxAgeSeconds: maxAge });
      response.headers.append("set-cookie", _cookie(_cookieName(https), value, path, maxAge, https));
      return response;
    } catch (error) {
      return errorResponse(error, { log });
    }
  });

  app.delete("/session", async (c) => {
    try {
      const https = _isHttps(c);
      const name = _cookieName(https);
      const value = readCookie(c.req.raw.headers.get("cookie"), name);
      const session = value === undefined ? null : await sessions.open(value);
      if (session === null) {
        // No live session: only a valid bearer may clear the cookie (nothing is ended).
        await parts.verifier.verify(bearerTokenOf(c.req.raw.headers.get("authorization")));
      } else {
        await sessions.end(session);
      }
      const response = _json({ ended: session !== null });
      response.headers.append("set-cookie", _cookie(name, "", path, 0, https));
      return response;
    } catch (error) {
      return errorResponse(error, { log });
    }
  });

  app.post("/backchannel-logout", async (c) => {
    const refuse = (description: string): Response =>
      _json({ error: "invalid_request", error_description: description }, 400);
    try {
      if (parts.verifier.verifySignedJwt === undefined) {
        return errorResponse(new BrokerError("ERR_NOT_CONFIGURED", "No JWS verifier"), { log });
      }
      const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
      if (type !== "application/x-www-form-urlencoded") {
        return refuse("Expected an application/x-www-form-urlencoded body");
      }
      const declared = Number(c.req.header("content-length") ?? "0");
      if (declared > LOGOUT_FORM_MAX_BYTES) return refuse("Request body too large");
      const text = await c.req.raw.text();
      if (text.length > LOGOUT_FORM_MAX_BYTES) return refuse("Request body too large");
      const tokens = new URLSearchParams(text).getAll("logout_token");
      if (tokens.length !== 1 || tokens[0] === "") return refuse("Expected one logout_token");
      let claims;
      try {
        const signed = await parts.verifier.verifySignedJwt(tokens[0]);
        claims = checkLogoutToken(signed, { issuers: parts.issuers, now: parts.now() });
      } catch (error) {
        if (isBrokerError(error) && error.code === "ERR_INVALID_TOKEN") {
          log({ level: "warn", msg: "Back-channel logout refused", reason: error.message });
          return refuse("The logout token is invalid");
        }
        throw error;
      }
      if (!await sessions.useLogoutToken(claims.issuer, claims.jti, claims.replayableUntilMs)) {
        log({ level: "warn", msg: "Back-channel logout refused: the logout token was used before" });
        return refuse("The logout token was used before");
      }
      const subject = await sessions.logout({
        issuer: claims.issuer,
        ...(claims.subject === undefined ? {} : { subject: claims.subject }),
        ...(claims.sid === undefined ? {} : { sid: claims.sid }),
      });
      if (subject !== undefined) {
        await parts.purgeUser({
          issuer: claims.issuer,
          subject,
          claims: {},
          tokenKind: "access",
          expiresAt: 0,
        });
      }
      log({
        level: "info",
        msg: "Back-channel logout ended the user's sessions",
        purged: subject !== undefined,
      });
      return _json({}, 200);
    } catch (error) {
      return errorResponse(error, { log });
    }
  });
}

/**
 * The proxy route's authentication: a mangled proxy URL gets a 400 that says how to configure the client; a
 * request with an `Authorization` header goes to the bearer middleware; without one, a `GET`/`HEAD` for a
 * read-only proxy entry may carry the session cookie instead (when `parts` is given).
 */
export function createProxyAuthenticate(
  authenticate: MiddlewareHandler<BrokerEnv>,
  parts: SessionRoutesParts | undefined,
): MiddlewareHandler<BrokerEnv> {
  const allowlist = parts === undefined ? undefined : createAllowlist(parts.proxyAllow);
  const origins = new Set(parts?.corsOrigins ?? []);
  return async function proxyAuthenticate(c, next) {
    const url = c.req.url;
    const problem = mangledProxyUrlProblem(url);
    if (problem !== undefined) return _json({ error: "invalid_request", error_description: problem }, 400);
    const headers = c.req.raw.headers;
    if (parts === undefined || allowlist === undefined || headers.has("authorization")) {
      return await authenticate(c, next);
    }
    const https = url.startsWith("https:");
    const name = _cookieName(https);
    const value = readCookie(headers.get("cookie"), name);
    if (value === undefined) return await authenticate(c, next);
    const log = parts.log;
    try {
      const method = c.req.method;
      if (method !== "GET" && method !== "HEAD") {
        return _unauthorized(
          `The session cookie is accepted for GET and HEAD only: send "${method}" with the IdP bearer token`,
        );
      }
      const origin = headers.get("origin");
      const selfOrigin = new URL(url).origin;
      if (
        headers.get("sec-fetch-site") === "cross-site" ||
        (origin !== null && origin !== selfOrigin && !origins.has(origin))
      ) {
        log({ level: "warn", msg: "Session cookie refused: the request came from another site" });
        return _json({
          error: "forbidden",
          error_description: "The session cookie is not accepted from another site",
        }, 403);
      }
      const target = parseProxyTarget(url, { allowInsecureLoopback: parts.allowInsecureLoopback });
      const entry = allowlist.match(target.url);
      if (entry === undefined) throw new BrokerError("ERR_TARGET_NOT_ALLOWED", "Proxy target not allowed");
      if (entry.allowEdits) {
        return _json({
          error: "forbidden",
          error_description:
            "The session cookie is accepted for read-only proxy entries only: send the IdP bearer token",
        }, 403);
      }
      const session: Session | null = await parts.sessions.open(value);
      if (session === null) {
        return _unauthorized(
          "The session has ended or is invalid: start a new one with POST to the session route",
          _cookie(name, "", parts.mountPath.replace(/\/$/, "") || "/", 0, https),
        );
      }
      c.set("identity", session.identity);
    } catch (error) {
      return errorResponse(error, { log });
    }
    await next();
  };
}
