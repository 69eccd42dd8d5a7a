/**
 * Stage 3 of the proxy, the body: the caller's request body made ready to send (see the module documentation of
 * `proxy_handler.ts` for the rules per media type), and the body of each upstream attempt built from it.
 *
 * @module
 */
import type { ProxyConfig } from "../config/types.ts";
import { BrokerError } from "../errors.ts";
import { concatBytes, readUpTo } from "../util/bytes.ts";
import { _parseMediaType } from "./_media_type.ts";
import { replayStream } from "./auth_error_peek.ts";
import {
  type BodyFailureHandler,
  createBodyLimitStream,
  createFormFilterStream,
  createMultipartCheckStream,
} from "./body_streams.ts";
import { filterFormBytes } from "./form_filter.ts";
import { checkMultipartBoundary, stripMultipartTokenParts } from "./multipart_scanner.ts";

/** A request body, ready to send. */
export type RequestBody =
  | { kind: "none" }
  | { kind: "form"; bytes: Uint8Array }
  | { kind: "multipart"; bytes: Uint8Array }
  | { kind: "form-stream"; stream: ReadableStream<Uint8Array> }
  | { kind: "multipart-stream"; boundary: string; stream: ReadableStream<Uint8Array> }
  | { kind: "raw-stream"; stream: ReadableStream<Uint8Array> };

const _NO_BODY: RequestBody = Object.freeze({ kind: "none" });
const _encoder = new TextEncoder();

/** True when the body can be sent a second time (after a 498/499). */
export function isReplayable(body: RequestBody): boolean {
  return body.kind === "none" || body.kind === "form";
}

/** True when the body is form-encoded, so a `token` parameter can travel in it. */
export function isFormBody(body: RequestBody): boolean {
  return body.kind === "form" || body.kind === "form-stream";
}

/** True when the body is streamed on unchanged, so the caller's `Content-Length` still holds. */
export function keepsContentLength(body: RequestBody): boolean {
  return body.kind === "multipart-stream" || body.kind === "raw-stream";
}

/** Reads `body` up to `limit` bytes: the whole of it, or a stream replaying what was read before the rest. */
async function _readUpTo(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<{ bytes: Uint8Array } | { stream: ReadableStream<Uint8Array> }> {
  const read = await readUpTo(body, limit);
  return read.done ? { bytes: read.bytes } : { stream: replayStream(read.head, read.reader) };
}

async function _readStreamedBody(
  request: Request,
  requestBody: ReadableStream<Uint8Array>,
  contentLength: number | undefined,
  proxy: ProxyConfig,
): Promise<RequestBody> {
  if (contentLength === 0) {
    await requestBody.cancel();
    return _NO_BODY;
  }
  const mediaType = _parseMediaType(request.headers.get("content-type"));
  if (mediaType === undefined) {
    throw new BrokerError("ERR_INVALID_REQUEST", "Request body without a Content-Type");
  }
  // Bodies that may be small are read up to `retryMaxBodyBytes` first; a longer one streams on from there.
  const mayBeSmall = contentLength === undefined || contentLength <= proxy.retryMaxBodyBytes;
  const read = async () =>
    mayBeSmall ? await _readUpTo(requestBody, proxy.retryMaxBodyBytes) : { stream: requestBody };
  if (mediaType.essence === "application/x-www-form-urlencoded") {
    const body = await read();
    if ("stream" in body) return { kind: "form-stream", stream: body.stream };
    return { kind: "form", bytes: filterFormBytes(body.bytes) };
  }
  if (mediaType.essence === "multipart/form-data") {
    const boundary = checkMultipartBoundary(mediaType.params.get("boundary"));
    const body = await read();
    if ("stream" in body) return { kind: "multipart-stream", boundary, stream: body.stream };
    return { kind: "multipart", bytes: stripMultipartTokenParts(body.bytes, boundary) };
  }
  return { kind: "raw-stream", stream: requestBody };
}

/** The request body, prepared; without a body, synchronously (no promise to wait for). */
export function readRequestBody(
  request: Request,
  contentLength: number | undefined,
  proxy: ProxyConfig,
): RequestBody | Promise<RequestBody> {
  if (request.body === null) return _NO_BODY;
  return _readStreamedBody(request, request.body, contentLength, proxy);
}

/** Our byte arrays are always backed by a plain ArrayBuffer (never shared), which is what `BodyInit` wants. */
function _bodyBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

/**
 * The body of one upstream attempt: `token`, when given, appended as the last form parameter; streamed bodies
 * counted against `maxBodyBytes` and checked, their failures reported to `onFailure`.
 */
export function upstreamBody(
  body: RequestBody,
  options: { token?: string; maxBodyBytes: number; onFailure: BodyFailureHandler },
): BodyInit | undefined {
  const { token, onFailure } = options;
  switch (body.kind) {
    case "none":
      return undefined;
    case "form":
      if (token === undefined) return _bodyBytes(body.bytes);
      return concatBytes([
        body.bytes,
        _encoder.encode(`${body.bytes.length > 0 ? "&" : ""}token=${encodeURIComponent(token)}`),
      ]);
    case "multipart":
      return _bodyBytes(body.bytes);
  }
  const stream = body.stream.pipeThrough(createBodyLimitStream(options.maxBodyBytes, onFailure));
  if (body.kind === "form-stream") {
    return stream.pipeThrough(
      createFormFilterStream(token !== undefined ? { appendToken: token } : {}, onFailure),
    );
  }
  if (body.kind === "multipart-stream") {
    return stream.pipeThrough(
      createMultipartCheckStream({ boundary: body.boundary, tokenParts: "refuse" }, onFailure),
    );
  }
  return stream;
}
