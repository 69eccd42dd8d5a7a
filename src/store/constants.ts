/**
 * Defaults and fixed sizes of the storage layer. Every number here is documented in `docs/storage.md`.
 *
 * @module
 */

/** Entries the in-memory store keeps before evicting the least recently used. */
export const DEFAULT_MEMORY_MAX_ENTRIES = 10_000;

/** How long the tiered store keeps a value in isolate memory, at most, in seconds. */
export const DEFAULT_TIERED_MEMORY_TTL_SECONDS = 30;

/** The smallest TTL any adapter stores, in seconds; shorter TTLs are raised to it. */
export const MIN_TTL_SECONDS = 1;

/** Cloudflare KV refuses an `expirationTtl` below 60 seconds. */
export const CLOUDFLARE_KV_MIN_TTL_SECONDS = 60;

/** The first part of every Deno KV key the broker writes. */
export const DENO_KV_KEY_ROOT = "atb";

/** Attempts of a Deno KV `take()` before it gives up under contention and reports a miss. */
export const DENO_KV_TAKE_MAX_ATTEMPTS = 8;

/** Length of the error text a store adapter puts in a log entry, in characters. */
export const LOG_ERROR_MAX_CHARS = 200;

/** Length of every sealing key, in bytes (AES-256-GCM). */
export const SEALING_KEY_BYTES = 32;

/** Length of the AES-GCM nonce, in bytes (fresh for every seal). */
export const AES_GCM_IV_BYTES = 12;

/** Length of the AES-GCM authentication tag, in bytes. */
export const AES_GCM_TAG_BYTES = 16;

/** Version tag at the start of every sealed value (`s1.<kid>.<iv>.<ciphertext>`). */
export const SEALED_VALUE_VERSION = "s1";

/** HKDF `info` label that derives the AES-256-GCM key from a sealing key. */
export const SEAL_HKDF_INFO = "atb:v1:seal-aes-256-gcm";

/** HKDF `info` label that derives the cache-key HMAC key from a sealing key. */
export const CACHE_KEY_HKDF_INFO = "atb:v1:cache-key-hmac";

/** Smallest raw secret {@link createKeyDeriver} accepts, in bytes. */
export const MIN_KEY_DERIVER_SECRET_BYTES = 32;

/** Pattern of a key namespace (the segment after `atb:v1:`). */
export const KEY_NAMESPACE_PATTERN: RegExp = /^[a-z][a-z0-9-]{0,31}$/;

/** Pattern of a key id in a sealing keyring. */
export const KEY_ID_PATTERN: RegExp = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The key namespaces of the broker (`atb:v1:<namespace>:<digest>`), reserved here so that two parts never pick
 * the same one. `docs/storage.md` describes each value's format.
 */
export const KEY_NAMESPACES = {
  /** OIDC discovery document of a configured issuer. */
  discovery: "discovery",
  /** JWKS of a configured issuer. */
  jwks: "jwks",
  /** A cached ArcGIS access token (portal or federated server), sealed. */
  token: "token",
  /** Single-use `state` of a link flow (PKCE verifier, issuer, subject), sealed. */
  linkState: "link-state",
  /** Per identity: recent link starts and outstanding link `state`s (rate limit and cap), sealed. */
  linkStarts: "link-starts",
  /** A pending link between the callback and `link/complete`, sealed, 5 minutes. */
  pendingLink: "pending-link",
  /** A committed link: the ArcGIS refresh token of one IdP identity, sealed. */
  link: "link",
  /** The short lock that makes one refresh-token rotation happen at a time (atomic stores only). */
  linkLock: "link-lock",
  /** A short negative cache entry after an upstream failure. */
  negative: "negative",
  /** A session cookie ended with `DELETE {mount}/session` (revocation marker). */
  sessionEnded: "session-ended",
  /** When a user or an IdP session was logged out at the IdP (back-channel logout). */
  sessionLogout: "session-logout",
  /** The subject of an IdP session id (`sid`), for `sid`-only logout tokens. */
  sessionSid: "session-sid",
  /** A back-channel logout token `jti` already used (replay refused). */
  logoutJti: "logout-jti",
} as const;

/** One of {@link KEY_NAMESPACES}. */
export type KeyNamespace = typeof KEY_NAMESPACES[keyof typeof KEY_NAMESPACES];
