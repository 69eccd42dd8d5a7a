/**
 * The checks a bearer token passes before anything else looks at it, and before any crypto: compact JWS only
 * (no JWE, no JSON serialization, no nested JWT), under a size cap, in canonical base64url, with a header that is
 * a JSON object naming an allowed asymmetric algorithm and nothing we would have to follow or understand.
 *
 * @module
 */
import { hasCanonicalTail } from "../util/bytes.ts";
import { invalidToken } from "./_rejection.ts";
import { MAX_KID_LENGTH } from "./constants.ts";

/** Three non-empty base64url segments: the only shape accepted (a JWE has five, JSON serialization has braces). */
const _COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Header members whose presence means "fetch or trust a key from somewhere else": never honoured (RFC 8725 §3.10). */
const _KEY_POINTING_MEMBERS = ["jku", "x5u", "jwk", "x5c"] as const;

/** Header members that only make sense for JWE (RFC 7516); a JWS carrying them is refused. */
const _JWE_MEMBERS = ["enc", "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c"] as const;

/** The three segments of a compact JWS that passed {@link checkCompactJws}. */
export interface CompactJwsParts {
  /** The protected header, base64url. */
  header: string;
  /** The payload, base64url. */
  payload: string;
  /** The signature, base64url. */
  signature: string;
  /** `header.payload`, the JWS signing input (ASCII). */
  signingInput: string;
}

/** A JOSE header that passed {@link checkJwsHeader}. */
export interface JwsHeader {
  /** The algorithm, one of the allowed ones. */
  alg: string;
  /** The key id, when the token names one. */
  kid?: string;
  /** The `typ` member, when present. */
  typ?: string;
  /** Every member, as parsed. */
  [member: string]: unknown;
}

/**
 * Checks the shape of `token` (string, at most `maxTokenBytes`, three canonical base64url segments) and returns
 * its segments. Throws `ERR_INVALID_TOKEN` otherwise. After this, the token text is the only spelling of its
 * bytes, so it may key a cache.
 */
export function checkCompactJws(token: unknown, maxTokenBytes: number): CompactJwsParts {
  if (typeof token !== "string") throw invalidToken("malformed", "Token is not a string");
  if (token.length > maxTokenBytes) {
    throw invalidToken("malformed", `Token larger than ${maxTokenBytes} bytes`);
  }
  if (!_COMPACT_JWS.test(token)) throw invalidToken("malformed", "Token is not a compact JWS");
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  const parts: CompactJwsParts = {
    header: token.slice(0, first),
    payload: token.slice(first + 1, second),
    signature: token.slice(second + 1),
    signingInput: token.slice(0, second),
  };
  if (
    !hasCanonicalTail(parts.header) || !hasCanonicalTail(parts.payload) || !hasCanonicalTail(parts.signature)
  ) {
    throw invalidToken("malformed", "Token is not canonical base64url");
  }
  return parts;
}

const _utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const _NON_ASCII = /[\u0080-\uffff]/;

/** The text of a canonical base64url segment, decoded as strict UTF-8 (no BOM skipping). */
function _segmentText(segment: string): string {
  // atob is native and fast; it wants the standard alphabet. Canonical unpadded input is accepted as is.
  const binary = atob(segment.replaceAll("-", "+").replaceAll("_", "/"));
  if (!_NON_ASCII.test(binary)) return binary;
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return _utf8.decode(bytes);
}

/**
 * Decodes the header or payload of parts that passed {@link checkCompactJws} (which checked their alphabet and
 * canonical tails) as a UTF-8 JSON object; throws `ERR_INVALID_TOKEN` for anything else.
 */
export function decodeJwsPart(parts: CompactJwsParts, what: "header" | "payload"): Record<string, unknown> {
  return _jsonObjectOf(what === "header" ? parts.header : parts.payload, what);
}

function _jsonObjectOf(segment: string, what: "header" | "payload"): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(_segmentText(segment));
  } catch (error) {
    throw invalidToken("malformed", `Token ${what} is not JSON`, error);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidToken("malformed", `Token ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Checks a parsed JOSE header: `alg` among `algorithms` (never `none` or `HS*`, whatever the list says), no
 * `crit` (we implement no extension), no `b64` other than `true` (RFC 7797 unencoded payloads are refused), no
 * `jku`/`x5u`/`jwk`/`x5c` (a token that points at its own key is refused rather than ignored), no JWE members,
 * no nested JWT (`cty: JWT`), and a `kid`/`typ` that are strings when present.
 */
export function checkJwsHeader(header: Record<string, unknown>, algorithms: ReadonlySet<string>): JwsHeader {
  const { alg, kid, typ, cty } = header;
  if (typeof alg !== "string") throw invalidToken("alg_not_allowed", "Token header has no algorithm");
  if (alg.toLowerCase() === "none" || alg.toUpperCase().startsWith("HS") || !algorithms.has(alg)) {
    throw invalidToken("alg_not_allowed", `Algorithm "${alg.slice(0, 16)}" not allowed`);
  }
  if ("crit" in header) throw invalidToken("header_not_allowed", "Token header has crit");
  if ("b64" in header && header.b64 !== true) {
    throw invalidToken("header_not_allowed", "Token header has b64");
  }
  for (const member of _KEY_POINTING_MEMBERS) {
    if (member in header) throw invalidToken("header_not_allowed", `Token header has "${member}"`);
  }
  for (const member of _JWE_MEMBERS) {
    if (member in header) throw invalidToken("header_not_allowed", `Token header has JWE member "${member}"`);
  }
  if (kid !== undefined && (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_LENGTH)) {
    throw invalidToken("malformed", "Token header has an invalid kid");
  }
  if (typ !== undefined && typeof typ !== "string") {
    throw invalidToken("malformed", "Token header has an invalid typ");
  }
  if (cty !== undefined && (typeof cty !== "string" || normalizeMediaType(cty) === "jwt")) {
    throw invalidToken("header_not_allowed", "Nested tokens are not accepted");
  }
  return header as JwsHeader;
}

/**
 * Normalizes a `typ`/`cty` value for comparison: media types are case-insensitive and the `application/` prefix
 * may be omitted (RFC 7515 §4.1.9).
 */
export function normalizeMediaType(value: string): string {
  const lower = value.toLowerCase();
  return lower.startsWith("application/") ? lower.slice("application/".length) : lower;
}
