/**
 * Finds ArcGIS auth errors (`{"error":{"code":498|499,…}}`) at the start of a response body without buffering the
 * body. ArcGIS answers most errors as HTTP 200 with such a JSON body, also on pbf and image requests, with any
 * whitespace and key order, so this parses JSON instead of matching substrings.
 *
 * Only the start is read: the first chunk decides whether the body could be JSON (first non-whitespace byte `{`);
 * if so, chunks are read until the body ends or `maxBytes` are in hand. A body that ends inside the window is
 * parsed; a longer one is not an error envelope (those are tiny). The bytes read are then replayed in front of the
 * rest of the body as a pull-driven stream, so a slow reader still pulls the upstream at its own pace.
 *
 * @module
 */
import { concatBytes, indexOfBytes } from "../util/bytes.ts";
import { AUTH_ERROR_PEEK_BYTES } from "./constants.ts";

/** Options for {@link peekAuthError}. */
export interface PeekAuthErrorOptions {
  /** How many bytes of a JSON-looking body may be read. @default 8 KiB */
  maxBytes?: number;
}

/** What {@link peekAuthError} found. */
export interface PeekedBody {
  /** 498 or 499 when the body is an ArcGIS auth error envelope. */
  authErrorCode?: 498 | 499;
  /** The whole body, when it ended inside the window (then `stream` replays just these bytes). */
  complete?: Uint8Array;
  /** The body to send on: the peeked bytes, then the rest, read only as the consumer pulls. */
  stream: ReadableStream<Uint8Array>;
}

/** The ArcGIS auth error code of a parsed JSON body, if it is one. */
export function authErrorCodeOf(json: unknown): 498 | 499 | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const error = (json as Record<string, unknown>).error;
  if (typeof error !== "object" || error === null || Array.isArray(error)) return undefined;
  const code = (error as Record<string, unknown>).code;
  if (code === 498 || code === "498") return 498;
  if (code === 499 || code === "499") return 499;
  return undefined;
}

function _isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/** Index of the first byte that is not whitespace or part of a UTF-8 BOM, or -1. */
function _firstSignificant(chunks: Uint8Array[]): number {
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (_isWhitespace(b) || b === 0xef || b === 0xbb || b === 0xbf) continue;
      return b;
    }
  }
  return -1;
}

/** A stream that yields `head` and then whatever `reader` still has, one read per pull. */
export function replayStream(
  head: readonly Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined,
): ReadableStream<Uint8Array> {
  let index = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (index < head.length) {
        controller.enqueue(head[index++]);
        if (index === head.length && reader === undefined) controller.close();
        return;
      }
      if (reader === undefined) {
        controller.close();
        return;
      }
      const result = await reader.read();
      if (result.done) controller.close();
      else controller.enqueue(result.value);
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

const _decoder = new TextDecoder();
const _ERROR = [0x65, 0x72, 0x72, 0x6f, 0x72]; // "error"
const _ESCAPE = [0x5c, 0x75]; // "\\u"

function _contains(bytes: Uint8Array, needle: readonly number[]): boolean {
  return indexOfBytes(bytes, needle) >= 0;
}

/**
 * The ArcGIS auth error code of a whole (small) body, if it is a JSON error envelope. Bodies that cannot hold the
 * key `error` (neither literally nor through a `\\u` escape) are not parsed.
 */
export function authErrorCodeOfBytes(bytes: Uint8Array): 498 | 499 | undefined {
  if (_firstSignificant([bytes]) !== 0x7b) return undefined;
  if (!_contains(bytes, _ERROR) && !_contains(bytes, _ESCAPE)) return undefined;
  try {
    return authErrorCodeOf(JSON.parse(_decoder.decode(bytes))); // the decoder drops a leading BOM
  } catch {
    return undefined;
  }
}

/**
 * Reads the start of `body` (see the module documentation). Rejects only when reading the upstream fails (the
 * stream is then errored already).
 */
export async function peekAuthError(
  body: ReadableStream<Uint8Array>,
  options: PeekAuthErrorOptions = {},
): Promise<PeekedBody> {
  const maxBytes = options.maxBytes ?? AUTH_ERROR_PEEK_BYTES;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  let first = -1;
  while (length < maxBytes) {
    const result = await reader.read();
    if (result.done) {
      reader.releaseLock();
      const complete = chunks.length === 1 ? chunks[0] : concatBytes(chunks);
      const peeked: PeekedBody = {
        complete,
        stream: replayStream(length === 0 ? [] : [complete], undefined),
      };
      const authErrorCode = authErrorCodeOfBytes(complete);
      if (authErrorCode !== undefined) peeked.authErrorCode = authErrorCode;
      return peeked;
    }
    chunks.push(result.value);
    length += result.value.length;
    if (first < 0) first = _firstSignificant(chunks);
    if (first >= 0 && first !== 0x7b) break; // not JSON: stop after the first meaningful chunk
  }
  return { stream: replayStream(chunks, reader) };
}
