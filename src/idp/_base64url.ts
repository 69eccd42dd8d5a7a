/**
 * Strict base64url (RFC 4648 §5) without padding, as JWS compact serialization requires (RFC 7515 §2). Unlike
 * jose's lenient decoder this accepts exactly one spelling per byte string: no `=`, no whitespace, no `+` or `/`,
 * and zero trailing bits, so a token cannot be re-spelled to slip past a cache or deny list keyed on its text.
 *
 * @module
 */

const _ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const _VALUES = new Int16Array(128).fill(-1);
for (let i = 0; i < _ALPHABET.length; i++) _VALUES[_ALPHABET.charCodeAt(i)] = i;

function _valueAt(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? _VALUES[code] : -1;
}

/**
 * True when `text` is canonical unpadded base64url: only the URL-safe alphabet, a length that is not 1 mod 4,
 * and zero bits after the last whole byte.
 */
export function isCanonicalBase64url(text: string): boolean {
  const remainder = text.length % 4;
  if (remainder === 1) return false;
  for (let i = 0; i < text.length; i++) if (_valueAt(text, i) < 0) return false;
  if (remainder === 0) return true;
  const last = _valueAt(text, text.length - 1);
  return remainder === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

/**
 * Only the trailing-bits part of {@link isCanonicalBase64url}, for text whose alphabet is already checked (a
 * regular expression did it).
 */
export function hasCanonicalTail(text: string): boolean {
  const remainder = text.length % 4;
  if (remainder === 0) return true;
  if (remainder === 1) return false;
  const last = _valueAt(text, text.length - 1);
  return remainder === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

/** Decodes canonical base64url; throws a `TypeError` for anything {@link isCanonicalBase64url} refuses. */
export function decodeBase64url(text: string): Uint8Array<ArrayBuffer> {
  if (!hasCanonicalTail(text)) throw new TypeError("Invalid base64url");
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  let i = 0;
  const whole = text.length - (text.length % 4);
  for (; i < whole; i += 4) {
    const n = (_valueAt(text, i) << 18) | (_valueAt(text, i + 1) << 12) | (_valueAt(text, i + 2) << 6) |
      _valueAt(text, i + 3);
    if (n < 0) throw new TypeError("Invalid base64url");
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (i < text.length) {
    const a = _valueAt(text, i);
    const b = _valueAt(text, i + 1);
    const c = i + 2 < text.length ? _valueAt(text, i + 2) : 0;
    if (a < 0 || b < 0 || c < 0) throw new TypeError("Invalid base64url");
    const n = (a << 18) | (b << 12) | (c << 6);
    out[o++] = n >> 16;
    if (i + 2 < text.length) out[o++] = (n >> 8) & 0xff;
  }
  return out;
}

/** Encodes bytes as unpadded base64url. */
export function encodeBase64url(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += _ALPHABET[n >> 18] + _ALPHABET[(n >> 12) & 63] + _ALPHABET[(n >> 6) & 63] + _ALPHABET[n & 63];
  }
  if (i < bytes.length) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += _ALPHABET[n >> 18] + _ALPHABET[(n >> 12) & 63];
    if (i + 1 < bytes.length) out += _ALPHABET[(n >> 6) & 63];
  }
  return out;
}
