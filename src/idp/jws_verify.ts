/**
 * The signature step, done by jose (`compactVerify`) with the one algorithm the key is bound to, and the whole JWS
 * layer (format, header, key choice, signature; no JWT claims) as one function for test vectors.
 *
 * @module
 */
import { compactVerify } from "jose";
import { decodeBase64url } from "./_base64url.ts";
import { invalidToken } from "./_rejection.ts";
import { checkCompactJws, checkJwsHeader, decodeJsonObjectSegment, type JwsHeader } from "./compact_jws.ts";
import { findKey, importVerificationKey, type KeySet, type VerificationKey } from "./key_set.ts";

/** Verifies the signature of a compact JWS that passed the format and header checks, with `key`. */
export async function verifySignature(token: string, key: VerificationKey): Promise<void> {
  let cryptoKey: CryptoKey;
  try {
    cryptoKey = await importVerificationKey(key);
  } catch (error) {
    throw invalidToken("Key cannot be imported", error);
  }
  try {
    await compactVerify(token, cryptoKey, { algorithms: [key.alg] });
  } catch (error) {
    throw invalidToken("Signature verification failed", error);
  }
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
  const header = checkJwsHeader(decodeJsonObjectSegment(parts.header, "header"), new Set(options.algorithms));
  const match = findKey(keySet, header.kid, header.alg);
  if (!("found" in match)) throw invalidToken("refused" in match ? match.refused : "Unknown key id");
  await verifySignature(token as string, match.found);
  return { header, payload: decodeBase64url(parts.payload), key: match.found };
}
