/**
 * Turns a fetched JWKS (untrusted JSON) into the keys a token may be verified with, applying the key sanity rules
 * jose leaves to us (RFC 8725 §3.1 and §3.4, RFC 7517 §4):
 *
 * - The whole set is refused ({@link JwksRejectedError}) when any member carries private or symmetric key material:
 *   that is an IdP misconfiguration we must not paper over (a token that needs such a set gets 503, not 401).
 * - A single key is skipped when it is not usable for signatures: `use` other than `sig`, `key_ops` without
 *   `verify`, an unknown key type or curve, RSA under 2048 bits or with an exponent that is even, below 65537 or
 *   longer than 4 bytes, a modulus with the ROCA fingerprint, an EC point not on its stated curve, an `alg` that
 *   is not configured or does not fit the key.
 * - One algorithm per key: the key's `alg`, or else the single configured algorithm for its key type.
 * - A `kid` shared by more than one usable key is ambiguous: all of them are refused.
 *
 * @module
 */
import { importJWK } from "jose";
import { keyTypeOf } from "../config/schema.ts";
import { decodeBase64url } from "../util/bytes.ts";
import { bytesToBigInt, ecCoordinateBytes, isOnCurve } from "./_ec_curves.ts";
import { hasRocaFingerprint } from "./_roca.ts";
import {
  MAX_JWKS_KEYS,
  MAX_KID_LENGTH,
  MAX_RSA_MODULUS_BITS,
  MAX_RSA_PUBLIC_EXPONENT_BYTES,
  MIN_RSA_MODULUS_BITS,
  MIN_RSA_PUBLIC_EXPONENT,
} from "./constants.ts";

/** JWK members that hold private or secret key material. */
const _PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** A JWKS was refused as a whole (private or symmetric material, not a JWKS at all, too many keys). */
export class JwksRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwksRejectedError";
  }
}

/** A public key that passed the sanity checks, bound to exactly one algorithm. */
export interface VerificationKey {
  /** The key id, if the JWKS gave one. */
  readonly kid: string | undefined;
  /** The one algorithm this key verifies. */
  readonly alg: string;
  /** The public members only (`kty`, `n`, `e` / `crv`, `x`, `y`). */
  readonly jwk: Readonly<Record<string, string>>;
  /** Identity of the key material and algorithm, to carry imported keys over a refetch. */
  readonly fingerprint: string;
  /** The imported key, once imported. */
  cryptoKey?: CryptoKey;
  /** Set when a refetch no longer lists this key: memoized tokens verified with it stop counting. */
  retired: boolean;
}

/** A key that was skipped, for diagnostics (never contains key material). */
export interface SkippedKey {
  /** Its `kid`, when it had a usable one. */
  kid?: string;
  /** Why it was skipped. */
  reason: string;
}

/** The usable keys of one JWKS. */
export interface KeySet {
  /** Usable keys by `kid`. */
  readonly byKid: ReadonlyMap<string, VerificationKey>;
  /** Usable keys without a `kid`. */
  readonly withoutKid: readonly VerificationKey[];
  /** Key ids that appear in the set but name no usable key (skipped or ambiguous): no refetch helps them. */
  readonly refusedKids: ReadonlySet<string>;
  /** Every usable key. */
  readonly keys: readonly VerificationKey[];
  /** Keys that were skipped, and why. */
  readonly skipped: readonly SkippedKey[];
}

function _isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _decodeMember(jwk: Record<string, unknown>, name: string): Uint8Array | string {
  const value = jwk[name];
  if (typeof value !== "string" || value.length === 0) return `missing "${name}"`;
  try {
    return decodeBase64url(value);
  } catch {
    return `"${name}" is not canonical base64url`;
  }
}

function _stripLeadingZeros(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

function _bitLength(bytes: Uint8Array): number {
  const trimmed = _stripLeadingZeros(bytes);
  if (trimmed.length === 0 || (trimmed.length === 1 && trimmed[0] === 0)) return 0;
  return (trimmed.length - 1) * 8 + (32 - Math.clz32(trimmed[0]));
}

/** Checks RSA members; returns the public JWK or a reason. */
function _rsaMembers(jwk: Record<string, unknown>): Record<string, string> | string {
  const n = _decodeMember(jwk, "n");
  if (typeof n === "string") return n;
  const e = _decodeMember(jwk, "e");
  if (typeof e === "string") return e;
  const bits = _bitLength(n);
  if (bits < MIN_RSA_MODULUS_BITS) return `RSA modulus of ${bits} bits is too small`;
  if (bits > MAX_RSA_MODULUS_BITS) return `RSA modulus of ${bits} bits is too large`;
  if ((n[n.length - 1] & 1) === 0) return "RSA modulus is even";
  const exponent = _stripLeadingZeros(e);
  if (exponent.length > MAX_RSA_PUBLIC_EXPONENT_BYTES) return "RSA exponent is too large";
  const eValue = Number(bytesToBigInt(exponent));
  if (eValue < MIN_RSA_PUBLIC_EXPONENT || eValue % 2 === 0) return `RSA exponent ${eValue} is not acceptable`;
  if (hasRocaFingerprint(bytesToBigInt(n))) return "RSA modulus has the ROCA fingerprint";
  return { kty: "RSA", n: jwk.n as string, e: jwk.e as string };
}

/** Checks EC members; returns the public JWK or a reason. */
function _ecMembers(jwk: Record<string, unknown>): Record<string, string> | string {
  const crv = jwk.crv;
  if (typeof crv !== "string" || ecCoordinateBytes(crv) === undefined) return "unsupported EC curve";
  const x = _decodeMember(jwk, "x");
  if (typeof x === "string") return x;
  const y = _decodeMember(jwk, "y");
  if (typeof y === "string") return y;
  if (!isOnCurve(crv, x, y)) return `EC point is not on ${crv}`;
  return { kty: "EC", crv, x: jwk.x as string, y: jwk.y as string };
}

/** Checks OKP members; returns the public JWK or a reason. */
function _okpMembers(jwk: Record<string, unknown>): Record<string, string> | string {
  if (jwk.crv !== "Ed25519") return "unsupported OKP curve";
  const x = _decodeMember(jwk, "x");
  if (typeof x === "string") return x;
  if (x.length !== 32) return "Ed25519 key has the wrong length";
  return { kty: "OKP", crv: "Ed25519", x: jwk.x as string };
}

/** The key type label {@link keyTypeOf} uses for this JWK (`RSA`, `EC:P-256`, `OKP`). */
function _keyTypeLabel(jwk: Record<string, string>): string {
  return jwk.kty === "EC" ? `EC:${jwk.crv}` : jwk.kty;
}

/** The one algorithm a key verifies, or a reason it has none. */
function _algorithmFor(
  declared: unknown,
  publicJwk: Record<string, string>,
  algorithms: readonly string[],
): { alg: string } | string {
  const label = _keyTypeLabel(publicJwk);
  const fitting = algorithms.filter((alg) => keyTypeOf(alg) === label);
  if (declared !== undefined) {
    if (typeof declared !== "string") return "alg is not a string";
    if (!algorithms.includes(declared)) return `alg "${declared.slice(0, 16)}" is not configured`;
    if (!fitting.includes(declared)) return `alg "${declared}" does not fit the key`;
    return { alg: declared };
  }
  if (fitting.length === 1) return { alg: fitting[0] };
  return fitting.length === 0 ? `no configured algorithm for key type ${label}` : "ambiguous algorithm";
}

/** Sanity checks one member of `keys`; returns the key or a reason to skip it. Throws for private material. */
function _checkKey(jwk: unknown, algorithms: readonly string[]): VerificationKey | SkippedKey {
  if (!_isObject(jwk)) return { reason: "not an object" };
  if (jwk.kty === "oct") throw new JwksRejectedError("JWKS contains a symmetric key");
  for (const member of _PRIVATE_MEMBERS) {
    if (member in jwk) throw new JwksRejectedError("JWKS contains private key material");
  }
  const { kid, use, key_ops: keyOps } = jwk;
  if (kid !== undefined && (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_LENGTH)) {
    return { reason: "invalid kid" };
  }
  const skip = (reason: string): SkippedKey => (kid === undefined ? { reason } : { kid, reason });
  if (use !== undefined && use !== "sig") return skip("use is not sig");
  if (keyOps !== undefined) {
    if (!Array.isArray(keyOps) || !keyOps.every((op) => typeof op === "string")) {
      return skip("invalid key_ops");
    }
    if (!keyOps.includes("verify")) return skip("key_ops lacks verify");
  }
  let members: Record<string, string> | string;
  if (jwk.kty === "RSA") members = _rsaMembers(jwk);
  else if (jwk.kty === "EC") members = _ecMembers(jwk);
  else if (jwk.kty === "OKP") members = _okpMembers(jwk);
  else members = "unsupported key type";
  if (typeof members === "string") return skip(members);
  const chosen = _algorithmFor(jwk.alg, members, algorithms);
  if (typeof chosen === "string") return skip(chosen);
  const fingerprint = JSON.stringify([kid ?? null, chosen.alg, members]);
  return { kid, alg: chosen.alg, jwk: Object.freeze(members), fingerprint, retired: false };
}

/**
 * Builds the usable {@link KeySet} of a JWKS for an issuer that allows `algorithms`. Throws
 * {@link JwksRejectedError} when the set must be refused whole.
 */
export function buildKeySet(jwks: unknown, algorithms: readonly string[]): KeySet {
  if (!_isObject(jwks) || !Array.isArray(jwks.keys)) throw new JwksRejectedError("Not a JWKS");
  if (jwks.keys.length > MAX_JWKS_KEYS) {
    throw new JwksRejectedError(`JWKS has more than ${MAX_JWKS_KEYS} keys`);
  }
  const usable: VerificationKey[] = [];
  const skipped: SkippedKey[] = [];
  for (const member of jwks.keys) {
    const checked = _checkKey(member, algorithms);
    if ("fingerprint" in checked) usable.push(checked);
    else skipped.push(checked);
  }
  const counts = new Map<string, number>();
  for (const key of usable) if (key.kid !== undefined) counts.set(key.kid, (counts.get(key.kid) ?? 0) + 1);
  const byKid = new Map<string, VerificationKey>();
  const withoutKid: VerificationKey[] = [];
  const refusedKids = new Set<string>();
  const keys: VerificationKey[] = [];
  for (const key of usable) {
    if (key.kid === undefined) {
      withoutKid.push(key);
      keys.push(key);
    } else if (counts.get(key.kid) === 1) {
      byKid.set(key.kid, key);
      keys.push(key);
    } else {
      refusedKids.add(key.kid);
      skipped.push({ kid: key.kid, reason: "duplicate kid" });
    }
  }
  for (const skip of skipped) if (skip.kid !== undefined && !byKid.has(skip.kid)) refusedKids.add(skip.kid);
  return { byKid, withoutKid, refusedKids, keys, skipped };
}

/**
 * Reuses the already imported keys of `previous` for identical keys of `next` (same kid, algorithm and material),
 * and marks keys of `previous` that `next` no longer has as retired.
 */
export function carryOverKeys(previous: KeySet | undefined, next: KeySet): KeySet {
  if (previous === undefined) return next;
  const old = new Map(previous.keys.map((key) => [key.fingerprint, key]));
  const keep = new Set<VerificationKey>();
  const swap = (key: VerificationKey): VerificationKey => {
    const same = old.get(key.fingerprint);
    if (same === undefined || same.retired) return key;
    keep.add(same);
    return same;
  };
  const byKid = new Map([...next.byKid].map(([kid, key]) => [kid, swap(key)]));
  const withoutKid = next.withoutKid.map(swap);
  const keys = [...byKid.values(), ...withoutKid];
  for (const key of previous.keys) if (!keep.has(key)) key.retired = true;
  return { byKid, withoutKid, refusedKids: next.refusedKids, keys, skipped: next.skipped };
}

/** Returns the key's `CryptoKey`, importing it on first use. */
export async function importVerificationKey(key: VerificationKey): Promise<CryptoKey> {
  if (key.cryptoKey !== undefined) return key.cryptoKey;
  const imported = await importJWK({ ...key.jwk }, key.alg);
  if (!(imported instanceof CryptoKey)) throw new TypeError("Expected an asymmetric public key");
  key.cryptoKey = imported;
  return imported;
}

/** What {@link findKey} found: a key, a reason no key of the set can serve, or an unknown `kid`. */
export type KeyMatch = { found: VerificationKey } | { refused: string } | { unknown: true };

/**
 * Finds the key for a token's `kid` and `alg`. A token without `kid` is served only when exactly one usable key
 * has its algorithm; a `kid` that names a skipped or ambiguous key is refused (no refetch helps).
 */
export function findKey(keySet: KeySet, kid: string | undefined, alg: string): KeyMatch {
  if (kid !== undefined) {
    const key = keySet.byKid.get(kid);
    if (key !== undefined) return key.alg === alg ? { found: key } : { refused: "Key algorithm mismatch" };
    return keySet.refusedKids.has(kid) ? { refused: "Key id names an unusable key" } : { unknown: true };
  }
  const candidates = keySet.keys.filter((key) => key.alg === alg);
  if (candidates.length === 1) return { found: candidates[0] };
  return { refused: candidates.length === 0 ? "No key for the algorithm" : "Token without kid is ambiguous" };
}
