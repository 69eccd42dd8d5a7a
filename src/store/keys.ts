/**
 * Store keys. Every key is `atb:v1:<namespace>:<digest>`: versioned, and never containing a token, a secret or
 * an identity in clear. The digest runs over length-prefixed fields, so `("https://a", "bc")` and
 * `("https://ab", "c")` never collide.
 *
 * - {@link createKeyDeriver}: HMAC-SHA256 under a secret, for anything that names a user or a credential
 *   (token cache, links). Without the secret nobody can tell whose entry a key is.
 * - {@link digestKey}: plain SHA-256, for public inputs such as an issuer URL (JWKS, discovery).
 *
 * @module
 */
import { KEY_NAMESPACE_PATTERN, MIN_KEY_DERIVER_SECRET_BYTES } from "./constants.ts";
import { BrokerError } from "../errors.ts";
import { KEY_PREFIX } from "./kv_store.ts";
import { encodeBase64url } from "../util/bytes.ts";

/** Derives store keys under a secret. */
export interface KeyDeriver {
  /**
   * Returns `atb:v1:<namespace>:<base64url HMAC-SHA256>` over the length-prefixed namespace and fields. The
   * same inputs always give the same key; the key reveals none of them.
   */
  deriveKey(namespace: string, fields: readonly string[]): Promise<string>;
}

const _encoder = new TextEncoder();

/**
 * Encodes the namespace and fields as a sequence of (4-byte big-endian byte length, UTF-8 bytes), which no two
 * different field lists share.
 */
function _lengthPrefixed(namespace: string, fields: readonly string[]): Uint8Array<ArrayBuffer> {
  const parts = [namespace, ...fields].map((part) => {
    if (typeof part !== "string") throw new TypeError("Invalid key field: expected a string");
    return _encoder.encode(part);
  });
  const total = parts.reduce((sum, part) => sum + 4 + part.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.length);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

function _checkNamespace(namespace: string): void {
  if (typeof namespace !== "string" || !KEY_NAMESPACE_PATTERN.test(namespace)) {
    throw new TypeError(`Invalid key namespace: expected ${String(KEY_NAMESPACE_PATTERN)}`);
  }
}

class HmacKeyDeriver implements KeyDeriver {
  readonly #key: Promise<CryptoKey>;

  constructor(key: Promise<CryptoKey>) {
    this.#key = key;
  }

  async deriveKey(namespace: string, fields: readonly string[]): Promise<string> {
    _checkNamespace(namespace);
    const data = _lengthPrefixed(namespace, fields);
    const mac = await crypto.subtle.sign("HMAC", await this.#key, data);
    return `${KEY_PREFIX}${namespace}:${encodeBase64url(new Uint8Array(mac))}`;
  }
}

/**
 * Creates a {@link KeyDeriver} from an HMAC-SHA256 `CryptoKey` (with the `sign` usage) or from raw secret bytes
 * (at least 32). Sealers derive one from their keyring: see `createSealer(...).deriveCacheKey`.
 */
export function createKeyDeriver(secret: CryptoKey | Uint8Array): KeyDeriver {
  if (secret instanceof Uint8Array) {
    if (secret.length < MIN_KEY_DERIVER_SECRET_BYTES) {
      throw new BrokerError(
        "ERR_CONFIG_INVALID",
        `Invalid key derivation secret: ${secret.length} bytes, expected at least ${MIN_KEY_DERIVER_SECRET_BYTES}`,
      );
    }
    const raw = new Uint8Array(secret);
    const key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    // Keep a rejected import from surfacing as an unhandled rejection before the first deriveKey().
    key.catch(() => {});
    return new HmacKeyDeriver(key);
  }
  const algorithm = secret.algorithm as { name?: string; hash?: { name?: string } };
  if (algorithm.name !== "HMAC" || algorithm.hash?.name !== "SHA-256" || !secret.usages.includes("sign")) {
    throw new BrokerError(
      "ERR_CONFIG_INVALID",
      "Invalid key derivation key: expected an HMAC SHA-256 signing key",
    );
  }
  return new HmacKeyDeriver(Promise.resolve(secret));
}

/**
 * Returns `atb:v1:<namespace>:<base64url SHA-256>` over the length-prefixed namespace and fields, for keys whose
 * inputs are public (an issuer URL). Use {@link createKeyDeriver} when an input names a user or a credential.
 */
export async function digestKey(namespace: string, fields: readonly string[]): Promise<string> {
  _checkNamespace(namespace);
  const digest = await crypto.subtle.digest("SHA-256", _lengthPrefixed(namespace, fields));
  return `${KEY_PREFIX}${namespace}:${encodeBase64url(new Uint8Array(digest))}`;
}
