/**
 * Redaction of our ArcGIS token from what goes back to the browser: byte arrays, header values, and streams of any
 * length, without buffering them. An upstream that echoes the request (capabilities documents, `next` links, error
 * texts) would otherwise hand the token it was sent to the browser. The token is looked for as sent, plain and
 * URL-encoded, and replaced with `[redacted]`; every other byte passes unchanged.
 *
 * The stream keeps back fewer bytes than the longest form of the token between chunks, so a token split across
 * chunks is found, and a slow reader still pulls the upstream at its own pace (one chunk in, at most one out).
 *
 * @module
 */
import { concatBytes, indexOfBytes } from "../util/bytes.ts";

/** What replaces the token. */
export const REDACTED = "[redacted]";

const _encoder = new TextEncoder();
const _REDACTED_BYTES = _encoder.encode(REDACTED);

/** Shortest text that is redacted: shorter ones would match ordinary content. */
const _MIN_NEEDLE_CHARS = 8;

/** Redacts one token. */
export interface TokenRedactor {
  /** `bytes` with the token replaced; `bytes` itself when it holds none. */
  bytes(bytes: Uint8Array): Uint8Array;
  /** `text` with the token replaced. */
  text(text: string): string;
  /** A transform that redacts a stream of any length chunk by chunk. */
  stream(): TransformStream<Uint8Array, Uint8Array>;
}

interface _Match {
  index: number;
  length: number;
}

/** The leftmost occurrence of any needle at or after `from`. */
function _nextMatch(hay: Uint8Array, needles: readonly Uint8Array[], from: number): _Match | undefined {
  let best: _Match | undefined;
  for (const needle of needles) {
    const index = indexOfBytes(hay, needle, from);
    if (index >= 0 && (best === undefined || index < best.index)) best = { index, length: needle.length };
  }
  return best;
}

/** Replaces every match in `hay`; returns the parts to emit and where the last match ended. */
function _replaceAll(hay: Uint8Array, needles: readonly Uint8Array[]): { parts: Uint8Array[]; end: number } {
  const parts: Uint8Array[] = [];
  let position = 0;
  for (
    let match = _nextMatch(hay, needles, 0);
    match !== undefined;
    match = _nextMatch(hay, needles, position)
  ) {
    parts.push(hay.subarray(position, match.index), _REDACTED_BYTES);
    position = match.index + match.length;
  }
  return { parts, end: position };
}

/** A redactor for `token`; one that changes nothing when the token is shorter than 8 characters. */
export function createTokenRedactor(token: string): TokenRedactor {
  const forms = [...new Set([token, encodeURIComponent(token)])].filter((f) => f.length >= _MIN_NEEDLE_CHARS);
  const needles = forms.map((form) => _encoder.encode(form));
  const keep = Math.max(0, ...needles.map((n) => n.length - 1));
  return {
    bytes(bytes) {
      if (needles.length === 0) return bytes;
      const { parts, end } = _replaceAll(bytes, needles);
      if (parts.length === 0) return bytes;
      parts.push(bytes.subarray(end));
      return concatBytes(parts);
    },
    text(text) {
      let out = text;
      for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
      return out;
    },
    stream() {
      let held: Uint8Array = new Uint8Array(0);
      return new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          if (needles.length === 0) return controller.enqueue(chunk);
          const data = held.length === 0 ? chunk : concatBytes([held, chunk]);
          const { parts, end } = _replaceAll(data, needles);
          // Hold back what could be the start of a token that the next chunk completes.
          const safe = Math.max(end, data.length - keep);
          if (safe > end) parts.push(data.subarray(end, safe));
          held = data.slice(safe);
          const out = parts.length === 1 ? parts[0] : concatBytes(parts);
          if (out.length > 0) controller.enqueue(out);
        },
        flush(controller) {
          if (held.length > 0) controller.enqueue(held);
        },
      });
    },
  };
}
