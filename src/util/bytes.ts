/**
 * Byte helpers shared by every part of the broker: joining byte arrays, finding bytes, reading a body up to a cap,
 * and base64url. One home for them, so each has one behaviour and one set of tests.
 *
 * The strict base64url decoder (RFC 4648 §5 without padding, as JWS compact serialization requires, RFC 7515 §2)
 * accepts exactly one spelling per byte string: no `=`, no whitespace, no `+` or `/`, and zero trailing bits, so a
 * token cannot be re-spelled to slip past a cache or deny list keyed on its text. {@link decodeBase64Loose} is the
 * forgiving one for operator input (sealing keys).
 *
 * @module
 */

/** Bytes backed by a plain `ArrayBuffer` (what `BodyInit` and WebCrypto want). */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Joins byte arrays into a new one. */
export function concatBytes(parts: readonly Uint8Array[]): Bytes {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Index of `needle` in `hay` at or after `from`, or -1 (an empty needle is found at `from`). */
export function indexOfBytes(hay: Uint8Array, needle: ArrayLike<number>, from = 0): number {
  if (needle.length === 0) return from <= hay.length ? from : -1;
  const first = needle[0];
  const last = hay.length - needle.length;
  for (let i = hay.indexOf(first, from); i >= 0 && i <= last; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/** Options for {@link readUpTo} and {@link readCapped}. */
export interface ReadUpToOptions {
  /**
   * Stops reading when it aborts: the stream is cancelled and the read rejects with the signal's reason.
   * @default none
   */
  signal?: AbortSignal;
}

/** What {@link readUpTo} read: the whole body, or the start of a longer one and the reader holding the rest. */
export type ReadUpToResult =
  | { done: true; bytes: Bytes }
  | { done: false; head: Uint8Array[]; reader: ReadableStreamDefaultReader<Uint8Array> };

/**
 * Reads `body` while it stays within `maxBytes`: the whole body when it ends in time, else the chunks read so far
 * (more than `maxBytes` in all) and the reader, which the caller must consume or cancel.
 */
export async function readUpTo(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  options: ReadUpToOptions = {},
): Promise<ReadUpToResult> {
  const reader = body.getReader();
  const signal = options.signal;
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  const head: Uint8Array[] = [];
  let length = 0;
  try {
    while (length <= maxBytes) {
      const result = await reader.read();
      if (signal?.aborted) throw signal.reason;
      if (result.done) return { done: true, bytes: concatBytes(head) };
      head.push(result.value);
      length += result.value.byteLength;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  return { done: false, head, reader };
}

/**
 * Reads a whole body of at most `maxBytes`; `undefined` (the rest cancelled) when it is longer. A `null` body is
 * empty.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  options: ReadUpToOptions = {},
): Promise<Bytes | undefined> {
  if (body === null) return new Uint8Array(0);
  const read = await readUpTo(body, maxBytes, options);
  if (read.done) return read.bytes;
  await read.reader.cancel().catch(() => {});
  return undefined;
}

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
  for (let i = 0; i < text.length; i++) if (_valueAt(text, i) < 0) return false;
  return hasCanonicalTail(text);
}

/**
 * Only the length and trailing-bits part of {@link isCanonicalBase64url}, for text whose alphabet is already
 * checked (a regular expression did it).
 */
export function hasCanonicalTail(text: string): boolean {
  const remainder = text.length % 4;
  if (remainder === 0) return true;
  if (remainder === 1) return false;
  const last = _valueAt(text, text.length - 1);
  return remainder === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

/** Decodes canonical base64url; throws a `TypeError` for anything {@link isCanonicalBase64url} refuses. */
export function decodeBase64url(text: string): Bytes {
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

/**
 * Decodes base64 or base64url, padded or not, trailing bits ignored (operator input such as sealing keys);
 * `undefined` for anything else.
 */
export function decodeBase64Loose(text: string): Bytes | undefined {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(text)) return undefined;
  let s = text.replace(/={1,2}$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (s.length % 4 === 1) return undefined;
  s += "=".repeat((4 - (s.length % 4)) % 4);
  let binary: string;
  try {
    binary = atob(s);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
