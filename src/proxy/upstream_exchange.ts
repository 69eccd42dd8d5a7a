/**
 * One upstream attempt of stage 4 (`upstream_forwarder.ts`): the request sent to ArcGIS with our token injected,
 * under the timeout and the client watch, and the start of its answer looked at for an ArcGIS auth error (not for
 * raw content). Redirects are not followed (their
 * `Location` goes to the answer stage); failures become a `BrokerError` (502/504, or the body stage's own error).
 *
 * @module
 */
import type { Deps } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { Identity, UpstreamToken } from "../types.ts";
import { createDeadlineQueue } from "./_deadlines.ts";
import { _badGateway, _discard, type _ProxySettings } from "./_proxy_settings.ts";
import { authErrorCodeOfBytes, peekAuthError } from "./auth_error_peek.ts";
import { AUTH_ERROR_PEEK_BYTES, CLIENT_ABORT_WATCH_DELAY_MS } from "./constants.ts";
import { filterQueryString } from "./form_filter.ts";
import { forwardRequestHeaderRecord } from "./header_filter.ts";
import type { PolicyDecision } from "./request_policy.ts";
import { keepsContentLength, type RequestBody, upstreamBody } from "./request_body.ts";

/** Where the token travels: the `X-Esri-Authorization` header, the query string, or the form body. */
export type TokenPlacement = "header" | "query" | "form";

/** One proxied request, ready to send. */
export interface UpstreamCall {
  /** The caller's request (headers and signal). */
  request: Request;
  /** The verified caller, whose token is injected. */
  identity: Identity;
  /** What the policy admitted. */
  decision: PolicyDecision;
  /** The prepared body. */
  body: RequestBody;
  /** Where the token goes. */
  placement: TokenPlacement;
}

/** An upstream answer whose body start has been looked at. */
export interface UpstreamAnswer {
  /** The upstream response (its body is in `body`). */
  response: Response;
  /** The body to send on: the upstream stream itself, a replaying stream, the whole small body, or none. */
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  /** The whole body, when it is small enough to have been read. */
  complete?: Uint8Array;
  /** 498/499 from the body. */
  authErrorCode?: 498 | 499;
  /** The `Location` of a 3xx (its body discarded). */
  location?: string;
}

/** Sends one upstream attempt with `token`. */
export type UpstreamExchange = (call: UpstreamCall, token: UpstreamToken) => Promise<UpstreamAnswer>;

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** The exchange of one handler: its deadline queues are built once. */
export function createUpstreamExchange(
  settings: _ProxySettings,
  options: { fetch: Deps["fetch"]; shareTimers: boolean },
): UpstreamExchange {
  const { proxy, logTarget } = settings;
  const fetchUpstream = options.fetch;
  // First deadline: start watching the caller (or the timeout itself when it is shorter); second: the rest of it.
  const watchDelayMs = Math.min(CLIENT_ABORT_WATCH_DELAY_MS, proxy.fetchTimeoutMs);
  const watchDeadlines = createDeadlineQueue(watchDelayMs, { shared: options.shareTimers });
  const timeoutDeadlines = proxy.fetchTimeoutMs > watchDelayMs
    ? createDeadlineQueue(proxy.fetchTimeoutMs - watchDelayMs, { shared: options.shareTimers })
    : undefined;

  return async function exchange(call: UpstreamCall, token: UpstreamToken): Promise<UpstreamAnswer> {
    const { request, decision, body, placement } = call;
    const target = decision.url;
    let url = target;
    if (placement === "query") {
      url = new URL(target.href);
      url.search = filterQueryString(target.search, { appendToken: token.token });
    }
    const headers = forwardRequestHeaderRecord(request.headers, {
      keepContentLength: keepsContentLength(body),
    });
    if (placement === "header") headers["x-esri-authorization"] = `Bearer ${token.token}`;
    if (token.referer !== undefined) headers.referer = token.referer;
    let bodyFailure: BrokerError | undefined;
    const sent = upstreamBody(body, {
      ...(placement === "form" ? { token: token.token } : {}),
      maxBodyBytes: proxy.maxBodyBytes,
      onFailure: (error) => void (bodyFailure ??= error),
    });

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
      method: decision.method,
      headers,
      redirect: "manual",
      cache: "no-store",
      signal: controller.signal,
    };
    if (sent !== undefined) {
      init.body = sent;
      if (sent instanceof ReadableStream) init.duplex = "half";
    }

    const fail = async (error: unknown): Promise<never> => {
      settle();
      if (bodyFailure !== undefined) throw bodyFailure;
      if (error instanceof BrokerError) throw error;
      if (timedOut) {
        await logTarget("warn", "Upstream request timed out", target);
        throw new BrokerError("ERR_UPSTREAM_TIMEOUT", "Upstream request timed out");
      }
      await logTarget("warn", "Upstream request failed", target, {
        errorName: error instanceof Error ? error.name : typeof error,
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
      await _discard(response.body);
      return await fail(bodyFailure);
    }
    const location = response.status >= 300 && response.status < 400 && response.status !== 304
      ? response.headers.get("location")
      : null;
    if (location !== null) {
      settle();
      await _discard(response.body);
      return { response, body: null, location };
    }

    let answer: UpstreamAnswer = { response, body: null };
    if (response.body !== null && decision.method !== "HEAD" && !NULL_BODY_STATUSES.has(response.status)) {
      try {
        // User-authored content (item data, files) is never read as an error envelope: its text could otherwise
        // make the broker refresh its token at will.
        answer = decision.operation.raw
          ? { response, body: response.body }
          : await _peek(response, response.body);
      } catch (error) {
        return await fail(error);
      }
    } else {
      await _discard(response.body);
    }
    settle(answer.body instanceof ReadableStream);
    if (bodyFailure !== undefined) {
      await _discard(answer.body);
      return await fail(bodyFailure);
    }
    if (response.status < 200 || response.status > 599) {
      await _discard(answer.body);
      throw _badGateway();
    }
    return answer;
  };
}

/**
 * Looks at the start of a response body. A body whose declared length exceeds the peek window cannot be an error
 * envelope: it is sent on as the runtime's own stream, untouched. A small declared one is read whole; one of
 * unknown length is peeked at. (A declared length of a compressed body says nothing about the decoded one.)
 */
async function _peek(response: Response, body: ReadableStream<Uint8Array>): Promise<UpstreamAnswer> {
  const length = response.headers.get("content-length");
  const declared = length !== null && /^\d+$/.test(length) && !response.headers.has("content-encoding")
    ? Number(length)
    : undefined;
  if (declared !== undefined && declared > AUTH_ERROR_PEEK_BYTES) return { response, body };
  if (declared !== undefined) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    const answer: UpstreamAnswer = { response, body: bytes, complete: bytes };
    const code = authErrorCodeOfBytes(bytes);
    if (code !== undefined) answer.authErrorCode = code;
    return answer;
  }
  const peeked = await peekAuthError(body);
  const answer: UpstreamAnswer = { response, body: peeked.complete ?? peeked.stream };
  if (peeked.complete !== undefined) answer.complete = peeked.complete;
  if (peeked.authErrorCode !== undefined) answer.authErrorCode = peeked.authErrorCode;
  return answer;
}
