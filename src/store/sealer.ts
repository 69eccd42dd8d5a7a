/**
 * Sealing: AES-256-GCM under a keyring, for every stored value that is a credential (ArcGIS tokens, refresh
 * tokens, PKCE verifiers, pending links). There is no plaintext fallback: a missing or short key is a startup
 * error.
 *
 * The keyring is text, `kid:base64key,kid2:base64key`, typically from one secret binding. The first entry is the
 * current key, used for every new seal; the others still open what they sealed, so keys rotate by prepending a
 * new entry. Each 32-byte key is only ever used as HKDF input: one derived key encrypts, another one (from the
 * ring's anchor entry) keys the HMAC of cache keys, so one secret serves both.
 *
 * A sealed value reads `s1.<kid>.<base64url IV>.<base64url ciphertext and tag>`. The additional data is
 * `s1.<kid>.` followed by the caller's `aad` (the store key), so a value moved to another key does not open.
 *
 * @module
 */
import {
  AES_GCM_IV_BYTES,
  AES_GCM_TAG_BYTES,
  CACHE_KEY_HKDF_INFO,
  KEY_ID_PATTERN,
  SEAL_HKDF_INFO,
  SEALED_VALUE_VERSION,
  SEALING_KEY_BYTES,
} from "./constants.ts";
import { BrokerError } from "../errors.ts";
import { decodeBase64Loose, encodeBase64url } from "../util/bytes.ts";
import { createKeyDeriver, type KeyDeriver } from "./keys.ts";

/**
 * A parsed sealing keyring. It shows only key ids; the key material stays inside this module and is never
 * printed, serialized or logged.
 */
export interface Keyring {
  /** The key id new values are sealed under (the first entry). */
  readonly currentKid: string;
  /** Every key id, in keyring order. */
  readonly kids: readonly string[];
}

/** Options for {@link createSealer}. */
export interface SealerOptions {
  /**
   * Key id whose key derives the cache-key HMAC key. Cache keys stay stable as long as this entry stays in the
   * ring; removing it changes every cache key (cached tokens are fetched again, users link again).
   * @default the last (oldest) entry of the keyring
   */
  cacheKeyKid?: string;
}

/** Seals and opens values, and derives cache keys, under one keyring. */
export interface Sealer {
  /** The key id new values are sealed under. */
  readonly currentKid: string;
  /** Encrypts `plaintext` under the current key with a fresh 12-byte IV, bound to `aad` (the store key). */
  seal(plaintext: string, aad: string): Promise<string>;
  /**
   * Decrypts a sealed value; `null` for an unknown key id, a tampered or truncated value, another `aad`, or
   * anything that is not a sealed value. Never throws for bad input.
   */
  open(sealed: string, aad: string): Promise<string | null>;
  /** True when `sealed` was sealed under a key other than the current one (re-seal it on the next write). */
  needsReseal(sealed: string): boolean;
  /**
   * `atb:v1:<namespace>:<base64url HMAC-SHA256>` over the length-prefixed namespace and fields, under a key
   * derived from the keyring (see {@link SealerOptions.cacheKeyKid}).
   */
  deriveCacheKey(namespace: string, fields: readonly string[]): Promise<string>;
}

const _material = new WeakMap<Keyring, ReadonlyMap<string, Uint8Array<ArrayBuffer>>>();
const _encoder = new TextEncoder();
const _decoder = new TextDecoder("utf-8", { fatal: true });
const _HKDF_SALT = new Uint8Array(32);

function _invalid(problem: string): BrokerError {
  return new BrokerError("ERR_CONFIG_INVALID", `Invalid sealing keyring: ${problem}`);
}

/**
 * Parses `kid:base64key,kid2:base64key` (whitespace around entries ignored). Each key id is 1-64 of
 * `A-Z a-z 0-9 _ -`, unique; each key is base64 or base64url (padding optional) of exactly 32 bytes. Throws a
 * {@link BrokerError} `ERR_CONFIG_INVALID` naming the entry and the problem, never the key material.
 */
export function parseKeyring(text: string): Keyring {
  if (typeof text !== "string" || text.trim() === "") throw _invalid("it is empty");
  const keys = new Map<string, Uint8Array<ArrayBuffer>>();
  const entries = text.split(",");
  for (const [index, raw] of entries.entries()) {
    const n = index + 1;
    const entry = raw.trim();
    if (entry === "") throw _invalid(`entry ${n} is empty`);
    const colon = entry.indexOf(":");
    if (colon < 0) throw _invalid(`entry ${n} is not "kid:base64key"`);
    const kid = entry.slice(0, colon);
    if (!KEY_ID_PATTERN.test(kid)) {
      throw _invalid(`entry ${n} has an invalid key id (expected 1-64 of A-Z a-z 0-9 _ -)`);
    }
    if (keys.has(kid)) throw _invalid(`entry ${n} repeats the key id of an earlier entry`);
    const key = decodeBase64Loose(entry.slice(colon + 1).trim());
    if (key === undefined) throw _invalid(`entry ${n} key is not base64 or base64url`);
    if (key.length !== SEALING_KEY_BYTES) {
      throw _invalid(`entry ${n} key is ${key.length} bytes, expected ${SEALING_KEY_BYTES}`);
    }
    keys.set(kid, key);
  }
  const kids = Object.freeze([...keys.keys()]);
  const keyring: Keyring = Object.freeze({ currentKid: kids[0], kids });
  _material.set(keyring, keys);
  return keyring;
}

async function _hkdf(
  raw: Uint8Array<ArrayBuffer>,
  info: string,
  algorithm: AesKeyGenParams | HmacImportParams,
  usages: KeyUsage[],
): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveKey"]);
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: _HKDF_SALT, info: _encoder.encode(info) },
    ikm,
    algorithm,
    false,
    usages,
  );
}

function _additionalData(kid: string, aad: string): Uint8Array<ArrayBuffer> {
  return _encoder.encode(`${SEALED_VALUE_VERSION}.${kid}.${aad}`);
}

function _kidOf(sealed: string): string | null {
  if (typeof sealed !== "string") return null;
  const parts = sealed.split(".");
  if (parts.length !== 4 || parts[0] !== SEALED_VALUE_VERSION) return null;
  return parts[1];
}

class KeyringSealer implements Sealer {
  readonly currentKid: string;
  readonly #raw: ReadonlyMap<string, Uint8Array<ArrayBuffer>>;
  readonly #aesKeys = new Map<string, Promise<CryptoKey>>();
  readonly #cacheKeyKid: string;
  #deriver: Promise<KeyDeriver> | undefined;

  constructor(keyring: Keyring, raw: ReadonlyMap<string, Uint8Array<ArrayBuffer>>, cacheKeyKid: string) {
    this.currentKid = keyring.currentKid;
    this.#raw = raw;
    this.#cacheKeyKid = cacheKeyKid;
  }

  #aesKey(kid: string): Promise<CryptoKey> | null {
    let key = this.#aesKeys.get(kid);
    if (key === undefined) {
      const raw = this.#raw.get(kid);
      if (raw === undefined) return null;
      key = _hkdf(raw, SEAL_HKDF_INFO, { name: "AES-GCM", length: 256 }, ["encrypt", "decrypt"]);
      this.#aesKeys.set(kid, key);
    }
    return key;
  }

  async seal(plaintext: string, aad: string): Promise<string> {
    if (typeof plaintext !== "string" || typeof aad !== "string") {
      throw new TypeError("Cannot seal: plaintext and aad must be strings");
    }
    const kid = this.currentKid;
    const iv = crypto.getRandomValues(new Uint8Array(AES_GCM_IV_BYTES));
    const ciphertext = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: _additionalData(kid, aad), tagLength: AES_GCM_TAG_BYTES * 8 },
      await this.#aesKey(kid)!,
      _encoder.encode(plaintext),
    );
    return `${SEALED_VALUE_VERSION}.${kid}.${encodeBase64url(iv)}.${
      encodeBase64url(new Uint8Array(ciphertext))
    }`;
  }

  async open(sealed: string, aad: string): Promise<string | null> {
    const kid = _kidOf(sealed);
    if (kid === null || typeof aad !== "string") return null;
    const key = this.#aesKey(kid);
    if (key === null) return null;
    const [, , ivText, ciphertextText] = sealed.split(".");
    const iv = decodeBase64Loose(ivText);
    const ciphertext = decodeBase64Loose(ciphertextText);
    if (
      iv === undefined || iv.length !== AES_GCM_IV_BYTES || ciphertext === undefined ||
      ciphertext.length < AES_GCM_TAG_BYTES
    ) {
      return null;
    }
    try {
      const plaintext = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: _additionalData(kid, aad), tagLength: AES_GCM_TAG_BYTES * 8 },
        await key,
        ciphertext,
      );
      return _decoder.decode(plaintext);
    } catch {
      return null;
    }
  }

  needsReseal(sealed: string): boolean {
    return _kidOf(sealed) !== this.currentKid;
  }

  async deriveCacheKey(namespace: string, fields: readonly string[]): Promise<string> {
    this.#deriver ??= _hkdf(this.#raw.get(this.#cacheKeyKid)!, CACHE_KEY_HKDF_INFO, {
      name: "HMAC",
      hash: "SHA-256",
      length: 256,
    }, ["sign"]).then((key) => createKeyDeriver(key));
    return await (await this.#deriver).deriveKey(namespace, fields);
  }
}

/**
 * Creates a {@link Sealer} over a keyring from {@link parseKeyring}. Keys are imported lazily, on first use;
 * nothing runs at creation beyond checking the options.
 */
export function createSealer(keyring: Keyring, options: SealerOptions = {}): Sealer {
  const raw = _material.get(keyring);
  if (raw === undefined) throw _invalid("it was not made by parseKeyring()");
  const cacheKeyKid = options.cacheKeyKid ?? keyring.kids[keyring.kids.length - 1];
  if (!raw.has(cacheKeyKid)) throw _invalid(`option "cacheKeyKid" names no key of the keyring`);
  return new KeyringSealer(keyring, raw, cacheKeyKid);
}
