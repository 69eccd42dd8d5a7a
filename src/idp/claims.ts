/**
 * JWT claim checks (RFC 7519 §4.1, RFC 9068 §4, OIDC Core §3.1.3.7), with the gaps jose leaves closed: `exp` is
 * always required (B1), `iss`/`aud`/`sub`/`typ` always checked (B2), no untrusted extra audiences on ID tokens
 * (B3), `iat` never in the future (B4), and `exp == now` counts as expired (B17).
 *
 * Access tokens and ID tokens are told apart by this rule (first match wins):
 * 1. `typ` is `at+jwt` (RFC 9068): access token.
 * 2. The payload has `client_id`, `scope` or `scp`: access token (RFC 9068 claims, or the scope claims of
 *    IdentityServer, Okta and Entra access tokens; ID tokens carry none of them).
 * 3. The payload has `nonce`, `at_hash` or `c_hash` (claims only ID tokens carry): ID token.
 * 4. The issuer enables ID tokens and the audience contains one of their audiences: ID token.
 * 5. Otherwise: access token.
 *
 * @module
 */
import type { IssuerConfig } from "../config/schema.ts";
import { invalidToken } from "./_rejection.ts";
import { normalizeMediaType } from "./compact_jws.ts";
import type { RefusalReason } from "./refusal_reason.ts";

/** Which kind of token a bearer is. */
export type TokenKind = "access" | "id";

/** The per-issuer settings the claim checks need, precomputed from an {@link IssuerConfig}. */
export interface ClaimsPolicy {
  /** The issuer entry's configured `issuer` (a template when it has `{tenantid}`). */
  issuer: string;
  /**
   * Audiences an access token may carry (one is enough); `undefined`: `aud` is not checked (the schema allows that
   * only with `clientIds` and `requiredScopes`).
   */
  audiences: ReadonlySet<string> | undefined;
  /** Audiences of ID tokens (all of a token's audiences must be among them); `undefined`: ID tokens refused. */
  idAudiences: ReadonlySet<string> | undefined;
  /** Normalized `typ` required of access tokens, if configured. */
  typ: string | undefined;
  /** Normalized `typ` required of ID tokens, if configured. */
  idTyp: string | undefined;
  /** Clock tolerance, seconds. */
  toleranceSeconds: number;
  /** Largest token age (`now - iat`), seconds, if configured. */
  maxTokenAgeSeconds: number | undefined;
  /** Claims that must be present. */
  requiredClaims: readonly string[];
  /** Scopes that must all be granted (access tokens only). */
  requiredScopes: readonly string[];
  /** Allowed clients (each of `azp`, `client_id`, `appid`, `cid` that is present), if configured. */
  clientIds: ReadonlySet<string> | undefined;
}

/** Token `typ` values accepted for access tokens when no `typ` is configured (normalized). */
const _DEFAULT_ACCESS_TYPS = new Set(["jwt", "at+jwt"]);

/** Token `typ` values accepted for ID tokens when no `idTokens.typ` is configured (normalized). */
const _DEFAULT_ID_TYPS = new Set(["jwt"]);

/** Precomputes the {@link ClaimsPolicy} of an issuer. */
export function claimsPolicyOf(issuer: IssuerConfig): ClaimsPolicy {
  const list = (value: string | readonly string[]): ReadonlySet<string> =>
    new Set(typeof value === "string" ? [value] : value);
  return {
    issuer: issuer.issuer,
    audiences: issuer.audience === undefined ? undefined : list(issuer.audience),
    idAudiences: issuer.idTokens === undefined ? undefined : list(issuer.idTokens.audience),
    typ: issuer.typ === undefined ? undefined : normalizeMediaType(issuer.typ),
    idTyp: issuer.idTokens?.typ === undefined ? undefined : normalizeMediaType(issuer.idTokens.typ),
    toleranceSeconds: issuer.clockToleranceSeconds,
    maxTokenAgeSeconds: issuer.maxTokenAgeSeconds,
    requiredClaims: [...new Set(["exp", ...issuer.requiredClaims])],
    requiredScopes: issuer.requiredScopes,
    clientIds: issuer.clientIds === undefined ? undefined : new Set(issuer.clientIds),
  };
}

function _audiences(aud: unknown): string[] | undefined {
  if (typeof aud === "string") return [aud];
  if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === "string")) return aud as string[];
  return undefined;
}

/** Classifies a token by the rule in the module documentation. */
export function classifyToken(
  typ: string | undefined,
  payload: Record<string, unknown>,
  policy: ClaimsPolicy,
): TokenKind {
  if (typ !== undefined && normalizeMediaType(typ) === "at+jwt") return "access";
  if ("client_id" in payload || "scope" in payload || "scp" in payload) return "access";
  if ("nonce" in payload || "at_hash" in payload || "c_hash" in payload) return "id";
  if (policy.idAudiences !== undefined) {
    const audiences = _audiences(payload.aud) ?? [];
    if (audiences.some((a) => policy.idAudiences!.has(a))) return "id";
  }
  return "access";
}

/** The time claims of a token, kept to re-check on every memo hit. */
export interface TokenTimes {
  /** `exp`, seconds. */
  exp: number;
  /** `nbf`, seconds, if present. */
  nbf: number | undefined;
  /** `iat`, seconds, if present. */
  iat: number | undefined;
}

function _numericDate(payload: Record<string, unknown>, name: string): number | undefined {
  const value = payload[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw invalidToken("claim_invalid", `Claim "${name}" is not a number`);
  }
  return value;
}

/** Reads and type-checks `exp`, `nbf` and `iat`. */
export function tokenTimesOf(payload: Record<string, unknown>): TokenTimes {
  const exp = _numericDate(payload, "exp");
  if (exp === undefined) throw invalidToken("claim_missing", 'Claim "exp" is missing');
  return { exp, nbf: _numericDate(payload, "nbf"), iat: _numericDate(payload, "iat") };
}

/** Why a token is refused: a stable reason code and a detail for the log. */
export interface Refusal {
  /** The stable reason code. */
  reason: RefusalReason;
  /** A secret-free detail. */
  detail: string;
}

/**
 * Returns why `times` are not acceptable at `nowMs`, or `undefined` when they are. Expired means
 * `exp <= now - tolerance`; not yet valid means `nbf > now + tolerance`; `iat` may not be later than
 * `now + tolerance`, nor older than `maxTokenAgeSeconds + tolerance`.
 */
export function checkTimes(times: TokenTimes, policy: ClaimsPolicy, nowMs: number): Refusal | undefined {
  const now = nowMs / 1000;
  const tolerance = policy.toleranceSeconds;
  if (times.exp <= now - tolerance) return { reason: "expired", detail: "Token expired" };
  if (times.nbf !== undefined && times.nbf > now + tolerance) {
    return { reason: "not_yet_valid", detail: "Token not yet valid" };
  }
  if (times.iat !== undefined && times.iat > now + tolerance) {
    return { reason: "issued_in_future", detail: "Token issued in the future" };
  }
  if (policy.maxTokenAgeSeconds !== undefined) {
    if (times.iat === undefined) return { reason: "claim_missing", detail: 'Claim "iat" is missing' };
    if (now - times.iat > policy.maxTokenAgeSeconds + tolerance) {
      return { reason: "too_old", detail: "Token too old" };
    }
  }
  return undefined;
}

/** True when `value` is a non-empty string without lone UTF-16 surrogates (so it has one UTF-8 encoding). */
export function isWellFormedText(value: unknown): value is string {
  return typeof value === "string" && value !== "" && value.isWellFormed();
}

const _SCOPE_CLAIMS = ["scope", "scp"] as const;

/** Throws `claim_invalid` unless `scope` and `scp` are each absent, a string or an array of strings. */
function _checkScopeClaims(payload: Record<string, unknown>): void {
  for (const name of _SCOPE_CLAIMS) {
    const value = payload[name];
    if (
      value !== undefined && typeof value !== "string" &&
      !(Array.isArray(value) && value.every((s) => typeof s === "string"))
    ) {
      throw invalidToken("claim_invalid", `Claim "${name}" is not a string or a list of strings`);
    }
  }
}

/** The scopes a token grants: `scope` and `scp`, each a space-separated string or an array of strings. */
export function grantedScopes(payload: Record<string, unknown>): Set<string> {
  _checkScopeClaims(payload);
  const scopes = new Set<string>();
  for (const name of _SCOPE_CLAIMS) {
    const value = payload[name] as string | string[] | undefined;
    if (typeof value === "string") {
      for (const scope of value.split(" ")) if (scope !== "") scopes.add(scope);
    } else if (value !== undefined) {
      for (const scope of value) scopes.add(scope);
    }
  }
  return scopes;
}

/**
 * The client claims a token may carry, each of which must be allowed when `clientIds` is configured: `azp` (OIDC,
 * Keycloak, Entra v2), `client_id` (RFC 9068, IdentityServer, Cognito), `appid` (Entra v1), `cid` (Okta).
 */
const _CLIENT_CLAIMS = ["azp", "client_id", "appid", "cid"] as const;

/**
 * Checks every claim of an unverified payload for a token of `kind` (signature checked separately; `iss` was
 * matched by the caller). Throws `ERR_INVALID_TOKEN` with its reason code; returns the time claims.
 */
export function checkClaims(
  payload: Record<string, unknown>,
  kind: TokenKind,
  policy: ClaimsPolicy,
  nowMs: number,
): TokenTimes {
  // Security event tokens (RFC 8417: back-channel logout, CAEP) carry "events"; no bearer token does.
  if ("events" in payload) throw invalidToken("event_token", "Security event tokens are not accepted");
  for (const name of policy.requiredClaims) {
    if (payload[name] === undefined || payload[name] === null) {
      throw invalidToken(name === "sub" ? "sub_malformed" : "claim_missing", `Claim "${name}" is missing`);
    }
  }
  const times = tokenTimesOf(payload);
  const timeProblem = checkTimes(times, policy, nowMs);
  if (timeProblem !== undefined) throw invalidToken(timeProblem.reason, timeProblem.detail);
  // A subject keys stored links: it must have exactly one spelling (no lone surrogate, which JSON allows).
  if (!isWellFormedText(payload.sub)) {
    throw invalidToken("sub_malformed", 'Claim "sub" is missing or malformed');
  }
  const audiences = payload.aud === undefined && kind === "access" && policy.audiences === undefined
    ? []
    : _audiences(payload.aud);
  if (audiences === undefined) throw invalidToken("aud_mismatch", 'Claim "aud" is missing or invalid');
  for (const name of _CLIENT_CLAIMS) {
    if (payload[name] !== undefined && typeof payload[name] !== "string") {
      throw invalidToken("claim_invalid", `Claim "${name}" is not a string`);
    }
  }
  if (kind === "id") {
    const trusted = policy.idAudiences;
    if (trusted === undefined) {
      throw invalidToken("id_token_as_bearer", "ID tokens are not accepted from this issuer");
    }
    // OIDC Core §3.1.3.7 steps 3-5: our client among the audiences, no untrusted extra audience, and azp
    // (required when there are several audiences) naming our client.
    if (!audiences.every((a) => trusted.has(a))) {
      throw invalidToken("aud_mismatch", "ID token has an untrusted audience");
    }
    if (audiences.length > 1 && payload.azp === undefined) {
      throw invalidToken("client_not_allowed", "ID token lacks azp");
    }
    if (payload.azp !== undefined && !trusted.has(payload.azp as string)) {
      throw invalidToken("client_not_allowed", "ID token azp mismatch");
    }
  } else {
    if (policy.audiences !== undefined && !audiences.some((a) => policy.audiences!.has(a))) {
      throw invalidToken("aud_mismatch", "Audience mismatch");
    }
    if (policy.requiredScopes.length === 0) {
      _checkScopeClaims(payload);
    } else {
      const scopes = grantedScopes(payload);
      for (const scope of policy.requiredScopes) {
        if (!scopes.has(scope)) throw invalidToken("scope_missing", "Missing scope");
      }
    }
  }
  if (policy.clientIds !== undefined) {
    // Every client claim the token carries must name an allowed client (one of them naming another client is
    // enough to refuse); an ID token without any names its client in its one audience.
    const clients = _CLIENT_CLAIMS.map((name) => payload[name]).filter((c) => c !== undefined) as string[];
    if (clients.length === 0 && kind === "id" && audiences.length === 1) clients.push(audiences[0]);
    if (clients.length === 0) {
      throw invalidToken("client_not_allowed", "Client not allowed: no azp, client_id, appid or cid");
    }
    if (!clients.every((client) => policy.clientIds!.has(client))) {
      throw invalidToken("client_not_allowed", "Client not allowed");
    }
  }
  return times;
}

/** Checks the header `typ` for a token of `kind`. */
export function checkTyp(typ: string | undefined, kind: TokenKind, policy: ClaimsPolicy): void {
  const actual = typ === undefined ? undefined : normalizeMediaType(typ);
  const expected = kind === "access" ? policy.typ : policy.idTyp;
  if (expected !== undefined) {
    if (actual !== expected) throw invalidToken("typ_not_accepted", "Token type mismatch");
    return;
  }
  // Explicitly typed tokens of other kinds (logout+jwt, secevent+jwt, dpop+jwt, ...) are never bearer tokens.
  if (actual !== undefined && !(kind === "access" ? _DEFAULT_ACCESS_TYPS : _DEFAULT_ID_TYPS).has(actual)) {
    throw invalidToken("typ_not_accepted", "Token type not accepted");
  }
}
