/**
 * The claim checks of an OpenID Connect Back-Channel Logout 1.0 logout token (§2.4, §2.6). The signature, the
 * algorithm and the issuer's key set are checked before this by the bearer token verifier's JWS layer
 * (`TokenVerifier.verifySignedJwt`), so there is one JWS verifier in the broker.
 *
 * Checked here, in the spec's order:
 * - `typ`, when present, is `logout+jwt` (§2.4 explicit typing; `JWT` is still accepted, as the spec allows
 *   untyped tokens); any other type (an access or ID token) is refused, so no other JWT passes as a logout token;
 * - `iss` is the configured issuer that signed it, `aud` contains one of its configured `clientIds`;
 * - `iat` is present and neither in the future nor older than {@link LOGOUT_TOKEN_MAX_AGE_SECONDS} (both with
 *   the issuer's clock tolerance), `exp`, when present, has not passed;
 * - `jti` is present (a string);
 * - `events` is a JSON object with a member `http://schemas.openid.net/event/backchannel-logout` whose value is a
 *   JSON object;
 * - `sub` and/or `sid` are present (strings);
 * - `nonce` is absent (so an ID token can never be replayed as a logout token).
 *
 * @module
 */
import type { IssuerConfig } from "../config/schema.ts";
import { BrokerError } from "../errors.ts";
import type { SignedJwt } from "../types.ts";
import { BACKCHANNEL_LOGOUT_EVENT, LOGOUT_TOKEN_MAX_AGE_SECONDS } from "./constants.ts";

/** What a valid logout token names. */
export interface LogoutClaims {
  /** The configured issuer. */
  issuer: string;
  /** The user, when the token names one. */
  subject?: string;
  /** The IdP session, when the token names one. */
  sid?: string;
  /** The token's unique id. */
  jti: string;
  /** Until when the token could be replayed (its `exp`, or `iat` plus the accepted age), epoch ms. */
  replayableUntilMs: number;
}

/** Options for {@link checkLogoutToken}. */
export interface CheckLogoutTokenOptions {
  /** The configured issuers (their `clientIds` are the accepted audiences). */
  issuers: readonly IssuerConfig[];
  /** Current time, epoch ms. */
  now: number;
}

function _refuse(reason: string): BrokerError {
  return new BrokerError("ERR_INVALID_TOKEN", `Logout token refused: ${reason}`);
}

function _isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _normalizedTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith("application/") ? lower.slice("application/".length) : lower;
}

/**
 * Checks the claims of a logout token whose signature the verifier checked. Throws a `BrokerError`
 * `ERR_INVALID_TOKEN` whose message names the failed check (never a claim value).
 */
export function checkLogoutToken(jwt: SignedJwt, options: CheckLogoutTokenOptions): LogoutClaims {
  const { header, payload } = jwt;
  const typ = header.typ;
  if (typ !== undefined) {
    const normalized = typeof typ === "string" ? _normalizedTyp(typ) : "";
    if (normalized !== "logout+jwt" && normalized !== "jwt") throw _refuse("typ is not logout+jwt");
  }
  const issuer = options.issuers.find((entry) => entry.issuer === jwt.issuer);
  if (issuer === undefined || payload.iss !== issuer.issuer) throw _refuse("iss is not a configured issuer");
  const clientIds = issuer.clientIds ?? [];
  if (clientIds.length === 0) throw _refuse("the issuer has no clientIds configured");
  const aud = payload.aud;
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  if (!audiences.some((value) => typeof value === "string" && clientIds.includes(value))) {
    throw _refuse("aud names no configured client id");
  }
  const toleranceMs = (issuer.clockToleranceSeconds ?? 0) * 1000;
  const iat = payload.iat;
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw _refuse("iat is missing");
  if (iat * 1000 > options.now + toleranceMs) throw _refuse("iat is in the future");
  if (iat * 1000 < options.now - LOGOUT_TOKEN_MAX_AGE_SECONDS * 1000 - toleranceMs) {
    throw _refuse("iat is too old");
  }
  const exp = payload.exp;
  if (exp !== undefined) {
    if (typeof exp !== "number" || !Number.isFinite(exp)) throw _refuse("exp is not a number");
    if (exp * 1000 <= options.now - toleranceMs) throw _refuse("the token has expired");
  }
  const jti = payload.jti;
  if (typeof jti !== "string" || jti === "") throw _refuse("jti is missing");
  const events = payload.events;
  if (!_isObject(events) || !Object.hasOwn(events, BACKCHANNEL_LOGOUT_EVENT)) {
    throw _refuse("events does not contain the back-channel logout event");
  }
  if (!_isObject(events[BACKCHANNEL_LOGOUT_EVENT])) throw _refuse("the logout event is not a JSON object");
  const sub = payload.sub;
  const sid = payload.sid;
  if (sub !== undefined && (typeof sub !== "string" || sub === "")) throw _refuse("sub is not a string");
  if (sid !== undefined && (typeof sid !== "string" || sid === "")) throw _refuse("sid is not a string");
  if (sub === undefined && sid === undefined) throw _refuse("neither sub nor sid is present");
  if (Object.hasOwn(payload, "nonce")) throw _refuse("nonce is present");
  const replayableUntilMs = typeof exp === "number"
    ? exp * 1000 + toleranceMs
    : iat * 1000 + LOGOUT_TOKEN_MAX_AGE_SECONDS * 1000 + toleranceMs;
  return {
    issuer: issuer.issuer,
    ...(sub === undefined ? {} : { subject: sub as string }),
    ...(sid === undefined ? {} : { sid: sid as string }),
    jti,
    replayableUntilMs,
  };
}
