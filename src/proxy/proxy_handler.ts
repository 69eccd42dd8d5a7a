/**
 * The proxy: `{mount}/proxy?<targetUrl>` forwarded to ArcGIS with the token injected at the edge.
 *
 * Error style: {@link ProxyHandler.handle} resolves to the upstream's answer (status, allowlisted headers and the
 * streamed body, or a rewritten redirect) and rejects with a {@link BrokerError} for everything the broker answers
 * itself: refusals (400/403/405/413/429) and upstream failures (502/504). The Hono layer maps the codes. Messages
 * are generic and never contain the URL, the upstream's error text or a token; no raw cause is attached either
 * (runtime fetch errors quote the URL), only a log entry with the target's origin and a hash.
 *
 * Order of checks: target syntax (400) → allowlist and deny list (403) → method (405) → edit operations, JSONP
 * `callback` and `f=html` in the query (403) → profile (403) → `Content-Length` (413) → rate limit (429) → body
 * checks (small bodies buffered first, so a refused body reaches no one) → token → upstream.
 *
 * Bodies:
 * - `application/x-www-form-urlencoded` up to `retryMaxBodyBytes` (by `Content-Length`, or read up to that much
 *   when there is none) is buffered, its `token` parameters are cut out (other bytes unchanged), `callback` and
 *   `f=html` refused, and it can be replayed once.
 * - Larger form bodies are streamed through the same filter (so the `Content-Length` is dropped); a refused
 *   parameter found mid-stream aborts the upstream request. They are not replayed.
 * - `multipart/form-data` up to `retryMaxBodyBytes` is buffered and scanned, `token` parts are cut out; larger ones
 *   are streamed unchanged while scanned, and a `token`, `callback` or `f=html` part aborts the upstream request
 *   (a streamed body cannot be edited without changing its length). Multipart bodies are never replayed.
 * - Any other body (binary, JSON) is streamed unchanged and never replayed. A body without `Content-Type` is refused.
 * - Every streamed body is counted; past `maxBodyBytes` the upstream request is aborted and the answer is 413.
 *
 * Upstream answers pass through with their status, except HTTP 401/407 (a web-tier challenge: the broker's own 401
 * means the IdP bearer) and HTML 5xx pages (they reveal internal host names), which become a generic 502.
 *
 * Auth errors: HTTP 498/499, or a `{"error":{"code":498|499}}` body, whatever the content type. A body whose
 * declared `Content-Length` exceeds the 8 KiB window cannot be one and is passed on untouched (the runtime's own
 * stream: tiles and exports cost nothing extra); a smaller declared one is read whole; one of unknown length is
 * peeked at (see `auth_error_peek.ts`). A small body read whole has our token redacted should it echo it. The token
 * is refreshed with `forceRefresh` and the rejected token, and requests without a body or with a buffered form body
 * are sent once more; the second answer is passed on as received, whatever it is. Other requests get the first
 * answer as received.
 *
 * `fetchTimeoutMs` bounds the time until the upstream's response headers and the peek at its body; a streaming body
 * is not cut off. The upstream request is aborted when the caller's request signal aborts (client gone), checked
 * from `CLIENT_ABORT_WATCH_DELAY_MS` on (reading the signal is costly on Deno.serve and a fast exchange does not need
 * it), and a client that stops reading cancels the upstream body.
 *
 * @module
 */
import type { ProxyConfig } from "../config/schema.ts";
import type { Deps } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { Identity, TokenForUrlOptions, UpstreamToken } from "../types.ts";
import { _parseMediaType } from "./_media_type.ts";
import { createAllowlist } from "./allowlist.ts";
import { authErrorCodeOfBytes, peekAuthError, replayStream } from "./auth_error_peek.ts";
import { createDeadlineQueue } from "./_deadlines.ts";
import { createBodyLimitStream, createFormFilterStream, createMultipartCheckStream } from "./body_streams.ts";
import {
  AUTH_ERROR_PEEK_BYTES,
  CLIENT_ABORT_WATCH_DELAY_MS,
  DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS,
  LOG_HASH_HEX_CHARS,
  PROXIED_CONTENT_SECURITY_POLICY,
} from "./constants.ts";
import { _comparableSegments } from "./_path_segments.ts";
import { isDeniedSegments } from "./deny_list.ts";
import { isEditOperationSegments } from "./edit_operations.ts";
import { filterFormBytes, filterQueryString } from "./form_filter.ts";
import {
  forwardRequestHeaderRecord,
  privateCacheControl,
  returnResponseHeaderRecord,
} from "./header_filter.ts";
import { checkMultipartBoundary, stripMultipartTokenParts } from "./multipart_scanner.ts";
import { parseProxyTarget } from "./proxy_target.ts";
import { rewriteRedirect } from "./redirect_rewrite.ts";

/** The part of the broker config the proxy reads. */
export interface ProxyHandlerConfig {
  /** The validated `proxy` section. */
  proxy: ProxyConfig;
  /** Allow plain http and IP-literal loopback targets (`arcgis.allowInsecureLoopback`; tests only). @default false */
  allowInsecureLoopback?: boolean;
}

/**
 * Gets the ArcGIS token for one upstream request; the same signature as `TokenService.tokenForUrl`, so
 * `tokenService.tokenForUrl.bind(tokenService)` fits. Called once per request, and once more (with `forceRefresh`
 * and `rejectedToken`) before the single retry after a 498/499.
 */
export type ProxyTokenSource = (
  identity: Identity,
  profile: string,
  url: URL,
  options: TokenForUrlOptions,
) => Promise<UpstreamToken>;

/** A per-identity rate limiter: resolves `false` when `key` is over its limit (e.g. a Workers rate-limit binding). */
export type ProxyRateLimiter = (key: string) => Promise<boolean>;

/** Options for {@link createProxyHandler}. */
export interface ProxyHandlerOptions {
  /** Where upstream tokens come from. */
  tokens: ProxyTokenSource;
  /** Per-identity rate limit, keyed by a SHA-256 hex of (issuer, subject). @default no limit */
  rateLimit?: ProxyRateLimiter;
  /** `Retry-After` of a 429 from {@link ProxyHandlerOptions.rateLimit}. @default 60 */
  rateLimitRetryAfterSeconds?: number;
  /**
   * Time every in-flight upstream request on one shared timer instead of one timer each (a timer per request is
   * a noticeable part of the CPU a small request costs). Leave it off on Cloudflare Workers, where a timer set
   * during one request must not act on another. `createBroker` sets it from its `shareInFlight`. @default false
   */
  shareTimers?: boolean;
}

/** Per-request input from the authenticated route. */
export interface ProxyRequestContext {
  /** The verified caller. */
  identity: Identity;
  /** The profiles the caller's rules grant, in rule order; an allowlist entry's `profile` can only narrow them. */
  profiles: readonly string[];
}

/** The proxy. */
export interface ProxyHandler {
  /**
   * Forwards `request` (whose URL is `<proxyPath>?<targetUrl>`) and resolves to the answer for the browser;
   * rejects with a `BrokerError` for refusals and upstream failures (see the module documentation).
   */
  handle(request: Request, context: ProxyRequestContext): Promise<Response>;
}

type _Body =
  | { kind: "none" }
  | { kind: "form"; bytes: Uint8Array }
  | { kind: "multipart"; bytes: Uint8Array }
  | { kind: "form-stream"; stream: ReadableStream<Uint8Array> }
  | { kind: "multipart-stream"; boundary: string; stream: ReadableStream<Uint8Array> }
  | { kind: "raw-stream"; stream: ReadableStream<Uint8Array> };

/** An upstream answer whose body start has been looked at. */
interface _Received {
  response: Response;
  /** The body to send on: the upstream stream itself, a replaying stream, the whole small body, or none. */
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  /** The whole body, when it is small enough to have been read. */
  complete?: Uint8Array;
  /** 498/499 from the body. */
  authErrorCode?: 498 | 499;
}

const _encoder = new TextEncoder();
const _NO_BODY: _Body = Object.freeze({ kind: "none" });
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function _notAllowed(): BrokerError {
  return new BrokerError("ERR_TARGET_NOT_ALLOWED", "Proxy target not allowed");
}

function _badGateway(message = "Upstream request failed"): BrokerError {
  return new BrokerError("ERR_ARCGIS_BAD_GATEWAY", message);
}

async function _sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", _encoder.encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The rate-limit key of an identity: SHA-256 over length-prefixed issuer and subject. */
export async function proxyRateLimitKey(identity: Identity): Promise<string> {
  const { issuer, subject } = identity;
  return await _sha256Hex(`${issuer.length}:${issuer}|${subject.length}:${subject}`);
}

function _concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Cancels a body that will not be sent on. */
async function _discard(body: ReadableStream<Uint8Array> | Uint8Array | null): Promise<void> {
  if (body instanceof ReadableStream) await body.cancel().catch(() => {});
}

/** Our byte arrays are always backed by a plain ArrayBuffer (never shared), which is what `BodyInit` wants. */
function _bodyBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

/**
 * Reads a body while it stays within `limit` bytes: the whole body when it ends in time, else a stream that
 * replays what was read in front of the rest (so small bodies are recognized without a `Content-Length`).
 */
async function _readUpTo(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<{ bytes: Uint8Array } | { stream: ReadableStream<Uint8Array> }> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (length <= limit) {
    const result = await reader.read();
    if (result.done) {
      const bytes = new Uint8Array(length);
      let offset = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
      return { bytes };
    }
    chunks.push(result.value);
    length += result.value.byteLength;
  }
  return { stream: replayStream(chunks, reader) };
}

/** Index of `needle` in `hay` at or after `from`, or -1. */
function _indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number): number {
  for (
    let i = hay.indexOf(needle[0], from);
    i >= 0 && i <= hay.length - needle.length;
    i = hay.indexOf(needle[0], i + 1)
  ) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

const _REDACTED = _encoder.encode("[redacted]");

let _lastNeedles: { token: string; needles: Uint8Array[] } | undefined;

/** The byte forms of a token to redact (plain and URL-encoded), remembered for the last token seen. */
function _needlesFor(token: string): Uint8Array[] {
  if (_lastNeedles?.token !== token) {
    const encoded = encodeURIComponent(token);
    const needles = [_encoder.encode(token)];
    if (encoded !== token) needles.push(_encoder.encode(encoded));
    _lastNeedles = { token, needles };
  }
  return _lastNeedles.needles;
}

/**
 * Replaces every occurrence of the `needles` (tokens of 8+ characters) in `hay` with `[redacted]`, byte for byte
 * elsewhere; returns `hay` itself when there is none.
 */
function _redact(hay: Uint8Array, needles: readonly Uint8Array[]): Uint8Array {
  let current = hay;
  for (const bytes of needles) {
    if (bytes.length < 8) continue;
    let index = _indexOfBytes(current, bytes, 0);
    if (index < 0) continue;
    const parts: Uint8Array[] = [];
    let position = 0;
    while (index >= 0) {
      parts.push(current.subarray(position, index), _REDACTED);
      position = index + bytes.length;
      index = _indexOfBytes(current, bytes, position);
    }
    parts.push(current.subarray(position));
    const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    current = out;
  }
  return current;
}

/** Builds the proxy; see the module documentation. */
export function createProxyHandler(
  config: ProxyHandlerConfig,
  deps: Pick<Deps, "fetch" | "log">,
  options: ProxyHandlerOptions,
): ProxyHandler {
  if (typeof options.tokens !== "function") throw new TypeError("createProxyHandler needs a tokens function");
  const proxy = config.proxy;
  const allowInsecureLoopback = config.allowInsecureLoopback === true;
  const allowlist = createAllowlist(proxy.allow);
  const retryAfterSeconds = options.rateLimitRetryAfterSeconds ?? DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS;
  const fetchUpstream = deps.fetch;
  const shareTimers = options.shareTimers === true;
  // First deadline: start watching the caller (or the timeout itself when it is shorter); second: the rest of it.
  const watchDelayMs = Math.min(CLIENT_ABORT_WATCH_DELAY_MS, proxy.fetchTimeoutMs);
  const watchDeadlines = createDeadlineQueue(watchDelayMs, { shared: shareTimers });
  const timeoutDeadlines = proxy.fetchTimeoutMs > watchDelayMs
    ? createDeadlineQueue(proxy.fetchTimeoutMs - watchDelayMs, { shared: shareTimers })
    : undefined;
  const log = deps.log;

  async function _logTarget(
    level: "info" | "warn",
    msg: string,
    url: URL,
    fields: Record<string, unknown> = {},
  ) {
    try {
      const hash = (await _sha256Hex(url.href)).slice(0, LOG_HASH_HEX_CHARS);
      log({ level, msg, targetOrigin: url.origin, targetHash: hash, ...fields });
    } catch {
      // logging never fails a request
    }
  }

  // Rate-limit keys of the identities seen (the verifier hands out one frozen Identity per token), so a limited
  // proxy does not hash every request; resolved strings only, weakly held.
  const rateLimitKeys = new WeakMap<Identity, string>();
  async function _rateLimitKey(identity: Identity): Promise<string> {
    let key = rateLimitKeys.get(identity);
    if (key === undefined) {
      key = await proxyRateLimitKey(identity);
      rateLimitKeys.set(identity, key);
    }
    return key;
  }

  function _chooseProfile(entryProfile: string | undefined, profiles: readonly string[]): string {
    if (profiles.length === 0) {
      throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "No profile allows the proxy", { reason: "no_rule" });
    }
    if (entryProfile === undefined) return profiles[0];
    if (!profiles.includes(entryProfile)) {
      throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "No profile allows this proxy target");
    }
    return entryProfile;
  }

  /** The request body, prepared (see the module documentation); without a body, synchronously. */
  function _prepareBody(request: Request, lengthHeader: string | null): _Body | Promise<_Body> {
    let contentLength: number | undefined;
    if (lengthHeader !== null) {
      if (!/^\d+$/.test(lengthHeader.trim())) {
        throw new BrokerError("ERR_INVALID_REQUEST", "Malformed Content-Length");
      }
      contentLength = Number(lengthHeader.trim());
      if (contentLength > proxy.maxBodyBytes) {
        throw new BrokerError("ERR_BODY_TOO_LARGE", "Request body too large");
      }
    }
    if (request.body === null) return _NO_BODY;
    return _prepareStreamedBody(request, request.body, contentLength);
  }

  async function _prepareStreamedBody(
    request: Request,
    requestBody: ReadableStream<Uint8Array>,
    contentLength: number | undefined,
  ): Promise<_Body> {
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
    if (mediaType.essence === "application/x-www-form-urlencoded") {
      const read = mayBeSmall
        ? await _readUpTo(requestBody, proxy.retryMaxBodyBytes)
        : { stream: requestBody };
      if ("stream" in read) return { kind: "form-stream", stream: read.stream };
      return { kind: "form", bytes: filterFormBytes(read.bytes) };
    }
    if (mediaType.essence === "multipart/form-data") {
      const boundary = checkMultipartBoundary(mediaType.params.get("boundary"));
      const read = mayBeSmall
        ? await _readUpTo(requestBody, proxy.retryMaxBodyBytes)
        : { stream: requestBody };
      if ("stream" in read) return { kind: "multipart-stream", boundary, stream: read.stream };
      return { kind: "multipart", bytes: stripMultipartTokenParts(read.bytes, boundary) };
    }
    return { kind: "raw-stream", stream: requestBody };
  }

  return {
    handle: async function handleProxyRequest(
      request: Request,
      context: ProxyRequestContext,
    ): Promise<Response> {
      const { url: target, proxyPath } = parseProxyTarget(request.url, { allowInsecureLoopback });
      const entry = allowlist.match(target);
      const segments = _comparableSegments(target.pathname);
      if (entry === undefined || isDeniedSegments(segments)) {
        await _logTarget("info", "Proxy target refused", target);
        throw _notAllowed();
      }
      const method = request.method.toUpperCase();
      if (!(entry.methods as readonly string[]).includes(method)) {
        throw new BrokerError("ERR_METHOD_NOT_ALLOWED", "Method not allowed for this proxy target");
      }
      if (!entry.allowEdits && isEditOperationSegments(segments)) {
        await _logTarget("info", "Proxy edit operation refused", target);
        throw new BrokerError("ERR_TARGET_NOT_ALLOWED", "Proxy request not allowed");
      }
      const search = filterQueryString(target.search); // strips `token`, refuses `callback` and `f=html`
      let cleanUrl = target;
      if (search !== target.search) {
        cleanUrl = new URL(target.href);
        cleanUrl.search = search;
      }
      const profile = _chooseProfile(entry.profile, context.profiles);
      const lengthHeader = request.headers.get("content-length");
      if (
        lengthHeader !== null && /^\d+$/.test(lengthHeader.trim()) &&
        Number(lengthHeader) > proxy.maxBodyBytes
      ) {
        throw new BrokerError("ERR_BODY_TOO_LARGE", "Request body too large");
      }
      if (
        options.rateLimit !== undefined && !(await options.rateLimit(await _rateLimitKey(context.identity)))
      ) {
        throw new BrokerError("ERR_RATE_LIMITED", "Too many proxy requests", { retryAfterSeconds });
      }
      const prepared = _prepareBody(request, lengthHeader);
      const body = prepared instanceof Promise ? await prepared : prepared;
      const tokenInHeader = entry.tokenIn === "header";
      const tokenInBody = entry.tokenIn === "query" && (body.kind === "form" || body.kind === "form-stream");
      const tokenInQuery = entry.tokenIn === "query" && !tokenInBody;
      const retryable = body.kind === "none" || body.kind === "form";

      let token = await options.tokens(context.identity, profile, cleanUrl, {});
      for (let attempt = 0;; attempt++) {
        const upstream = await _send(token);
        if (upstream instanceof Response) return upstream;
        const response = upstream.response;
        const authCode = response.status === 498 || response.status === 499
          ? response.status
          : upstream.authErrorCode;
        if (authCode !== undefined && retryable && attempt === 0) {
          await _discard(upstream.body);
          await _logTarget("info", "Upstream refused the token; refreshing it and retrying once", cleanUrl, {
            arcgisCode: authCode,
          });
          token = await options.tokens(context.identity, profile, cleanUrl, {
            forceRefresh: true,
            rejectedToken: token.token,
          });
          continue;
        }
        if (authCode !== undefined) {
          await _logTarget("info", "Upstream refused the token", cleanUrl, { arcgisCode: authCode, attempt });
        }
        return await _answer(upstream, token);
      }

      /** One upstream request: a finished redirect answer, or the response with its peeked body. */
      async function _send(
        current: UpstreamToken,
      ): Promise<Response | _Received> {
        let url = cleanUrl;
        if (tokenInQuery) {
          url = new URL(cleanUrl.href);
          url.search = filterQueryString(cleanUrl.search, { appendToken: current.token });
        }
        const headers = forwardRequestHeaderRecord(request.headers, {
          keepContentLength: body.kind === "multipart-stream" || body.kind === "raw-stream",
        });
        if (tokenInHeader) headers["x-esri-authorization"] = `Bearer ${current.token}`;
        if (current.referer !== undefined) headers.referer = current.referer;

        let bodyFailure: BrokerError | undefined;
        const onFailure = (error: BrokerError) => {
          bodyFailure ??= error;
        };
        let upstreamBody: BodyInit | undefined;
        if (body.kind === "form") {
          upstreamBody = _bodyBytes(
            tokenInBody
              ? _concatBytes(
                body.bytes,
                _encoder.encode(
                  `${body.bytes.length > 0 ? "&" : ""}token=${encodeURIComponent(current.token)}`,
                ),
              )
              : body.bytes,
          );
        } else if (body.kind === "multipart") {
          upstreamBody = _bodyBytes(body.bytes);
        } else if (body.kind !== "none") {
          let stream = body.stream.pipeThrough(createBodyLimitStream(proxy.maxBodyBytes, onFailure));
          if (body.kind === "form-stream") {
            stream = stream.pipeThrough(
              createFormFilterStream(tokenInBody ? { appendToken: current.token } : {}, onFailure),
            );
          } else if (body.kind === "multipart-stream") {
            stream = stream.pipeThrough(
              createMultipartCheckStream({ boundary: body.boundary, tokenParts: "refuse" }, onFailure),
            );
          }
          upstreamBody = stream;
        }

        // The caller's signal is looked at only once the upstream is slow (CLIENT_ABORT_WATCH_DELAY_MS): on
        // Deno.serve, reading `request.signal` creates it and every finished response then aborts it, which costs
        // more CPU than the rest of a small proxied request. A client that left is noticed then at the latest; once
        // an answer streams, a client that goes away cancels its body, which cancels the upstream's.
        const controller = new AbortController();
        let timedOut = false;
        let watchingClient = false;
        const onClientAbort = () => controller.abort();
        const onTimeout = () => {
          timedOut = true;
          controller.abort();
        };
        let deadline = watchDeadlines.add(() => {
          if (timeoutDeadlines === undefined) return onTimeout();
          watchingClient = true;
          if (request.signal.aborted) controller.abort();
          else request.signal.addEventListener("abort", onClientAbort, { once: true });
          deadline = timeoutDeadlines.add(onTimeout);
        });
        /** Stops the deadline, and the client watch unless the answer streams on. */
        const settle = (keepClientWatch = false) => {
          deadline.cancel();
          if (watchingClient && !keepClientWatch) request.signal.removeEventListener("abort", onClientAbort);
        };
        const init: RequestInit & { duplex?: "half" } = {
          method,
          headers,
          redirect: "manual",
          cache: "no-store",
          signal: controller.signal,
        };
        if (upstreamBody !== undefined) {
          init.body = upstreamBody;
          if (upstreamBody instanceof ReadableStream) init.duplex = "half";
        }

        const fail = async (error: unknown): Promise<never> => {
          settle();
          if (bodyFailure !== undefined) throw bodyFailure;
          if (error instanceof BrokerError) throw error;
          const name = error instanceof Error ? error.name : typeof error;
          if (timedOut) {
            await _logTarget("warn", "Upstream request timed out", cleanUrl);
            throw new BrokerError("ERR_UPSTREAM_TIMEOUT", "Upstream request timed out");
          }
          await _logTarget("warn", "Upstream request failed", cleanUrl, {
            errorName: name,
            clientAborted: request.signal.aborted,
          });
          throw _badGateway();
        };

        let response: Response;
        try {
          response = await fetchUpstream(url, init);
        } catch (error) {
          return await fail(error);
        }
        if (bodyFailure !== undefined) {
          // The upstream answered a request whose body we cut short: its answer means nothing.
          await response.body?.cancel().catch(() => {});
          return await fail(bodyFailure);
        }

        if (response.status >= 300 && response.status < 400 && response.status !== 304) {
          const location = response.headers.get("location");
          if (location !== null) {
            settle();
            await response.body?.cancel().catch(() => {});
            const rewritten = rewriteRedirect(location, cleanUrl, {
              allowlist,
              proxyPath,
              allowInsecureLoopback,
            });
            if (rewritten === undefined) {
              await _logTarget("warn", "Upstream redirect outside the allowlist refused", cleanUrl, {
                status: response.status,
              });
              throw _badGateway("Upstream redirect refused");
            }
            return new Response(null, {
              status: response.status,
              headers: {
                location: rewritten,
                "cache-control": privateCacheControl(response.headers.get("cache-control")),
                "x-content-type-options": "nosniff",
                "content-security-policy": PROXIED_CONTENT_SECURITY_POLICY,
              },
            });
          }
        }

        let received: _Received = { response, body: null };
        if (response.body !== null && method !== "HEAD" && !NULL_BODY_STATUSES.has(response.status)) {
          // A body whose declared length exceeds the peek window cannot be an error envelope: it is sent on as
          // the runtime's own stream, untouched. A small declared one is read whole; one of unknown length is
          // peeked at. (A declared length of a compressed body says nothing about the decoded one.)
          const length = response.headers.get("content-length");
          const declared =
            length !== null && /^\d+$/.test(length) && !response.headers.has("content-encoding")
              ? Number(length)
              : undefined;
          try {
            if (declared !== undefined && declared > AUTH_ERROR_PEEK_BYTES) {
              received = { response, body: response.body };
            } else if (declared !== undefined) {
              const bytes = new Uint8Array(await response.arrayBuffer());
              received = { response, body: bytes, complete: bytes };
              const code = authErrorCodeOfBytes(bytes);
              if (code !== undefined) received.authErrorCode = code;
            } else {
              const peeked = await peekAuthError(response.body);
              received = { response, body: peeked.complete ?? peeked.stream };
              if (peeked.complete !== undefined) received.complete = peeked.complete;
              if (peeked.authErrorCode !== undefined) received.authErrorCode = peeked.authErrorCode;
            }
          } catch (error) {
            return await fail(error);
          }
        } else {
          await _discard(response.body);
        }
        settle(received.body instanceof ReadableStream);
        if (bodyFailure !== undefined) {
          await _discard(received.body);
          return await fail(bodyFailure);
        }
        if (response.status < 200 || response.status > 599) {
          await _discard(received.body);
          settle();
          throw _badGateway();
        }
        return received;
      }

      /** The answer for the browser from an upstream response. */
      async function _answer(received: _Received, current: UpstreamToken): Promise<Response> {
        const response = received.response;
        const contentType = response.headers.get("content-type") ?? "";
        if (response.status === 401 || response.status === 407) {
          // The broker's own 401 means "your IdP token"; an upstream challenge (web-tier auth) is a gateway problem.
          await _discard(received.body);
          await _logTarget("warn", "Upstream asked for other credentials", cleanUrl, {
            status: response.status,
          });
          throw _badGateway();
        }
        if (response.status >= 500 && /^\s*text\/html/i.test(contentType)) {
          // Server error pages can reveal internal host names; answer our own generic 502 instead.
          await _discard(received.body);
          await _logTarget("warn", "Upstream answered an HTML error page", cleanUrl, {
            status: response.status,
          });
          throw _badGateway();
        }
        let body = received.body;
        let changed = false;
        if (received.complete !== undefined) {
          const redacted = _redact(received.complete, _needlesFor(current.token));
          if (redacted !== received.complete) {
            changed = true;
            body = redacted;
          }
        }
        const headers = returnResponseHeaderRecord(response.headers, {
          dropContentLength: changed || response.headers.has("content-encoding"),
        });
        return new Response(body instanceof Uint8Array ? _bodyBytes(body) : body, {
          status: response.status,
          headers,
        });
      }
    },
  };
}
