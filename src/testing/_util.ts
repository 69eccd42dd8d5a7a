/**
 * Small helpers for the fake ArcGIS: random strings, checksums, base64url, minute parsing.
 *
 * @module
 */

import { encodeBase64url } from "../util/bytes.ts";

const _ENCODER = new TextEncoder();

/** An opaque random string from `byteLength` random bytes (base64url). */
export function randomString(byteLength = 32): string {
  const bytes = new Uint8Array(byteLength);
  crypto.getRandomValues(bytes);
  return encodeBase64url(bytes);
}

/** SHA-256 of a UTF-8 string, base64url (PKCE S256). */
export async function sha256Base64url(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", _ENCODER.encode(text));
  return encodeBase64url(new Uint8Array(digest));
}

const _CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Incremental CRC-32: pass the previous value (start with 0). */
export function crc32(bytes: Uint8Array, previous = 0): number {
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (const byte of bytes) crc = _CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Adler-32 (zlib trailer). */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** FNV-1a 32-bit hash of a string. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** A deterministic 32-hex-digit id (portal item / group id style) derived from a string. */
export function hexId(text: string): string {
  let out = "";
  let seed = 0x811c9dc5;
  for (let i = 0; i < 4; i++) {
    seed = fnv1a(`${i}:${text}`, seed);
    out += seed.toString(16).padStart(8, "0");
  }
  return out;
}

/** Hex of a 32-bit number, 8 digits. */
export function hex32(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return _ENCODER.encode(text);
}

/**
 * Parses a requested lifetime in minutes (`expiration` parameter): missing, non-numeric or non-positive values give
 * `defaultMinutes`; larger than `maxMinutes` is clamped.
 */
export function clampMinutes(raw: string | undefined, defaultMinutes: number, maxMinutes: number): number {
  const requested = raw === undefined || raw.trim() === "" ? NaN : Number(raw);
  const minutes = Number.isFinite(requested) && requested > 0 ? requested : defaultMinutes;
  return Math.min(minutes, maxMinutes);
}

/** Minutes to milliseconds, rounded to whole ms. */
export function minutesToMs(minutes: number): number {
  return Math.round(minutes * 60_000);
}

/** Removes a trailing slash (but keeps "/"). */
export function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}
