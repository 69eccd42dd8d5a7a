/**
 * The signature step, and the whole JWS layer (format, header, key choice, signature; no JWT claims) as one
 * function for test vectors.
 *
 * jose imports and checks each key once (`importJWK`, bound to the key's one algorithm). The signature itself is
 * checked with WebCrypto on the bytes the format check already validated, with the parameters of that one
 * algorithm: jose's `compactVerify` would re-split, re-decode and re-check the header we have already checked
 * more strictly, which costs about a third of an Ed25519 verification per token (see `bench/auth_bench.ts`). The
 * Wycheproof test keeps jose's `compactVerify` as an oracle: both must agree on every vector.
 *
 * @module
 */
import { decodeBase64url } from "../util/bytes.ts";
import { invalidToken } from "./_rejection.ts";
import {
  checkCompactJws,
  checkJwsHeader,
  type CompactJwsParts,
  decodeJwsPart,
  type JwsHeader,
} from "./compact_jws.ts";
import { findKey, importVerificationKey, type KeySet, type VerificationKey } from "./key_set.ts";

/** WebCrypto parameters of each accepted JWS algorithm (RFC 7518 §3.3-3.5, RFC 8037). */
const _SIGNATURE_PARAMS: Readonly<Record<string, AlgorithmIdentifier | RsaPssParams | EcdsaParams>> = {
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  RS384: { name: "RSASSA-PKCS1-v1_5" },
  RS512: { name: "RSASSA-PKCS1-v1_5" },
  PS256: { name: "RSA-PSS", saltLength: 32 } as RsaPssParams,
  PS384: { name: "RSA-PSS", saltLength: 48 } as RsaPssParams,
  PS512: { name: "RSA-PSS", saltLength: 64 } as RsaPssParams,
  ES256: { name: "ECDSA", hash: "SHA-256" },
  ES384: { name: "ECDSA", hash: "SHA-384" },
  ES512: { name: "ECDSA", hash: "SHA-512" },
  EdDSA: { name: "Ed25519" },
  Ed25519: { name: "Ed25519" },
};

/** The WebCrypto parameters of a JWS algorithm (sign or verify), or `undefined` for one not accepted. */
export function signatureParamsOf(alg: string): AlgorithmIdentifier | RsaPssParams | EcdsaParams | undefined {
  return Object.hasOwn(_SIGNATURE_PARAMS, alg) ? _SIGNATURE_PARAMS[alg] : undefined;
}

/** Length of a JWS ECDSA signature (r || s, RFC 7518 §3.4). */
const _ECDSA_SIGNATURE_BYTES: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 };

const _ascii = new TextEncoder();

/**
 * Verifies the signature of a compact JWS whose parts passed {@link checkCompactJws} and whose header names
 * `key.alg`, with `key`. Throws `ERR_INVALID_TOKEN`.
 */
export async function verifySignature(parts: CompactJwsParts, key: VerificationKey): Promise<void> {
  const params = signatureParamsOf(key.alg);
  if (params === undefined) throw invalidToken("alg_not_allowed", "Unsupported algorithm");
  let cryptoKey = key.cryptoKey;
  if (cryptoKey === undefined) {
    try {
      cryptoKey = await importVerificationKey(key);
    } catch (error) {
      throw invalidToken("key_unusable", "Key cannot be imported", error);
    }
  }
  const signature = decodeBase64url(parts.signature);
  const ecdsaBytes = _ECDSA_SIGNATURE_BYTES[key.alg];
  if (ecdsaBytes !== undefined && signature.length !== ecdsaBytes) {
    throw invalidToken("signature_invalid", "Signature has the wrong size");
  }
  // The signing input is ASCII (the format check allowed nothing else), so UTF-8 encoding is the identity.
  const signingInput = _ascii.encode(parts.signingInput);
  let valid: boolean;
  try {
    valid = await crypto.subtle.verify(params, cryptoKey, signature, signingInput);
  } catch (error) {
    throw invalidToken("signature_invalid", "Signature verification failed", error);
  }
  if (!valid) throw invalidToken("signature_invalid", "Signature verification failed");
}

/** Options for {@link verifyJws}. */
export interface VerifyJwsOptions {
  /** Allowed algorithms. */
  algorithms: readonly string[];
  /** Largest accepted token. */
  maxTokenBytes: number;
}

/** A JWS that passed {@link verifyJws}. */
export interface VerifiedJws {
  /** The protected header. */
  header: JwsHeader;
  /** The payload bytes. */
  payload: Uint8Array;
  /** The key that verified it. */
  key: VerificationKey;
}

/**
 * The JWS layer of the validator on its own, with a fixed key set: the checks a bearer token goes through before
 * and including the signature, without any JWT claim check. Rejects with `ERR_INVALID_TOKEN`.
 */
export async function verifyJws(
  token: unknown,
  keySet: KeySet,
  options: VerifyJwsOptions,
): Promise<VerifiedJws> {
  const parts = checkCompactJws(token, options.maxTokenBytes);
  const header = checkJwsHeader(decodeJwsPart(parts, "header"), new Set(options.algorithms));
  const match = findKey(keySet, header.kid, header.alg);
  if (!("found" in match)) {
    throw "refused" in match
      ? invalidToken("key_unusable", match.refused)
      : invalidToken("kid_unknown", "Unknown key id");
  }
  await verifySignature(parts, match.found);
  return { header, payload: decodeBase64url(parts.payload), key: match.found };
}
