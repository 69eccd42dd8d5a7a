/**
 * The `authenticate()` middleware: reads an RFC 6750 bearer token from `Authorization`, verifies it and puts the
 * {@link Identity} in `c.var.identity`. A request that also carries an `access_token` query parameter is refused
 * (RFC 6750 §3.1: one method per request).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { BrokerError } from "../errors.ts";
import type { LogFn } from "../deps.ts";
import type { Identity, TokenVerifier } from "../types.ts";
import { errorResponse } from "./errors.ts";

/** The Hono environment `authenticate()` provides: `c.var.identity`. */
export interface BrokerEnv {
  /** Variables set by the broker's middleware. */
  Variables: {
    /** The verified caller. */
    identity: Identity;
  };
}

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Extracts the bearer token from an `Authorization` header value. Throws `ERR_NO_CREDENTIALS` when there is none
 * and `ERR_INVALID_REQUEST` when it is malformed.
 */
export function bearerTokenOf(header: string | undefined | null): string {
  // The well-formed case first: one regular expression, no other work.
  const wellFormed = header === undefined || header === null ? null : BEARER.exec(header);
  if (wellFormed !== null) return wellFormed[1];
  if (header === undefined || header === null || header.trim() === "") {
    throw new BrokerError("ERR_NO_CREDENTIALS", "No bearer token");
  }
  if (!/^bearer(\s|$)/i.test(header)) {
    // Another scheme (Basic, DPoP, …): RFC 6750 §3.1 treats it as no bearer credentials.
    throw new BrokerError("ERR_NO_CREDENTIALS", "No bearer token");
  }
  const match = BEARER.exec(header);
  if (match === null) throw new BrokerError("ERR_INVALID_REQUEST", "Malformed Authorization header");
  return match[1];
}

/**
 * Refuses a request that carries its bearer token in more than one way (RFC 6750 §3.1): with a token in the
 * `Authorization` header, an `access_token` query parameter is `ERR_INVALID_REQUEST`.
 */
function _refuseSecondMethod(url: string): void {
  // The substring test keeps the common case free of URL parsing.
  if (!url.includes("access_token")) return;
  const query = url.indexOf("?");
  if (query === -1 || !new URLSearchParams(url.slice(query + 1).split("#")[0]).has("access_token")) return;
  throw new BrokerError(
    "ERR_INVALID_REQUEST",
    "Bearer token in both the Authorization header and the access_token query parameter",
    { description: "Send the bearer token in one way only, not also in access_token" },
  );
}

/** Options for {@link createAuthenticate}. */
export interface AuthenticateOptions {
  /** The log hook for refused tokens (no token content is logged). */
  log?: LogFn;
  /** Put the refusal reason code in `error_description` (config `errors.exposeReasons`). @default false */
  exposeReasons?: boolean;
}

/** Builds the middleware over a verifier. */
export function createAuthenticate(
  verifier: TokenVerifier,
  options: AuthenticateOptions = {},
): MiddlewareHandler<BrokerEnv> {
  const { log, exposeReasons = false } = options;
  return async function authenticate(c, next) {
    let identity: Identity;
    try {
      const headers = c.req.raw.headers;
      const token = bearerTokenOf(headers.get("authorization"));
      _refuseSecondMethod(c.req.raw.url);
      identity = await verifier.verify(token);
    } catch (error) {
      return errorResponse(error, { log, exposeReasons });
    }
    c.set("identity", identity);
    await next();
  };
}
