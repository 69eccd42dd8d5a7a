/**
 * Defaults and fixed limits of the IdP token validator. Per-issuer settings (audiences, algorithms, JWKS timings)
 * live in the config schema; these are the numbers the schema does not carry.
 *
 * @module
 */

/** Largest accepted bearer token, in bytes (characters: a well-formed token is ASCII). */
export const DEFAULT_MAX_TOKEN_BYTES = 8 * 1024;

/** Verified tokens kept in the isolate memo before the least recently used goes. */
export const DEFAULT_MEMO_MAX_ENTRIES = 10_000;

/** Largest number of keys accepted in one JWKS; a larger set is refused whole. */
export const MAX_JWKS_KEYS = 100;

/** Smallest RSA modulus accepted, in bits (RFC 7518 §3.3). */
export const MIN_RSA_MODULUS_BITS = 2048;

/** Largest RSA modulus accepted, in bits: bigger keys only cost verification time. */
export const MAX_RSA_MODULUS_BITS = 8192;

/** Smallest RSA public exponent accepted (F4, what every mainstream IdP publishes). */
export const MIN_RSA_PUBLIC_EXPONENT = 65_537;

/** Largest RSA public exponent accepted, in bytes. */
export const MAX_RSA_PUBLIC_EXPONENT_BYTES = 4;

/** Longest `kid` accepted, in characters; `kid` is an opaque lookup string and nothing more. */
export const MAX_KID_LENGTH = 256;

/** The path appended to an issuer for OpenID Connect discovery. */
export const DISCOVERY_PATH = "/.well-known/openid-configuration";

/** Store namespace of cached key sets (`atb:v1:jwks:<digest of the issuer>`). */
export const JWKS_STORE_NAMESPACE = "jwks";

/** Message of every token rejection; the reason goes to the error's `cause` only. */
export const INVALID_TOKEN_MESSAGE = "Invalid bearer token";

/** Message when keys are needed and the IdP cannot be reached. */
export const IDP_UNAVAILABLE_MESSAGE = "Identity provider unavailable";
