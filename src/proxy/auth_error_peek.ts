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
  /** The whole body, when it looked like JSON and ended inside the window. */
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

function _concat(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
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

/**
 * Reads the start of `body` (see the module documentation). Rejects only when reading the upstream fails; the
 * caller then cancels nothing more (the stream is already errored).
 */
export async function peekAuthError(
  body: ReadableStream<Uint8Array>,
  options: PeekAuthErrorOptions = {},
): Promise<PeekedBody> {
  const maxBytes = options.maxBytes ?? AUTH_ERROR_PEEK_BYTES;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  let done = false;
  let first = -1;
  while (length < maxBytes) {
    const result = await reader.read();
    if (result.done) {
      done = true;
      break;
    }
    chunks.push(result.value);
    length += result.value.length;
    if (first < 0) first = _firstSignificant(chunks);
    if (first >= 0 && first !== 0x7b) break; // not JSON: stop after the first meaningful chunk
  }
  if (done) {
    reader.releaseLock();
    const complete = _concat(chunks, length);
    let authErrorCode: 498 | 499 | undefined;
    if (first === 0x7b) {
      try {
        const text = new TextDecoder().decode(complete); // drops a leading BOM
        authErrorCode = authErrorCodeOf(JSON.parse(text));
      } catch {
        authErrorCode = undefined;
      }
    }
    const result: PeekedBody = { stream: replayStream(length === 0 ? [] : [complete], undefined) };
    if (first === 0x7b) result.complete = complete;
    if (authErrorCode !== undefined) result.authErrorCode = authErrorCode;
    return result;
  }
  return { stream: replayStream(chunks, reader) };
}
