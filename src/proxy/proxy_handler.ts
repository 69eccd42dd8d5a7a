/**
 * The proxy: `{mount}/proxy?<targetUrl>` forwarded to ArcGIS with the token injected at the edge, as a pipeline of
 * five stages, each in its own file: target (`resolve_target.ts`) → policy (`request_policy.ts`) → body
 * (`request_body.ts`) → upstream (`upstream_forwarder.ts`, one attempt in `upstream_exchange.ts`) → answer
 * (`upstream_answer.ts`). What a read-only entry forwards is one table, `read_operations.ts`.
 *
 * Error style: {@link ProxyHandler.handle} resolves to the upstream's answer (status, allowlisted headers and the
 * streamed body, or a rewritten redirect) and rejects with a {@link BrokerError} for everything the broker answers
 * itself: refusals (400/403/405/413/414/429) and upstream failures (502/504). The Hono layer maps the codes. Messages
 * are generic and never contain the URL, the upstream's error text or a token; no raw cause is attached either
 * (runtime fetch errors quote the URL), only a log entry with the target's origin and a hash.
 *
 * Order of checks: target length (414) and syntax (400: also empty segments and encoded bytes of 0x80 or more) →
 * allowlist, token minting and administration (403) → method (405) → operations that are not reads on read-only
 * entries, JSONP `callback` and `f=html` in the query (403) → profile (403) → `Content-Length` (400/413) → rate
 * limit (429) → body checks (small bodies buffered first, so a refused body reaches no one) → token → upstream.
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
 * means the IdP bearer) and every 5xx (their text can reveal internal host names), which become a generic 502
 * (504 for an upstream 504).
 *
 * Auth errors: HTTP 498/499, or a `{"error":{"code":498|499}}` body, whatever the content type, except for raw
 * content (item data and files, attachments), which is never parsed. A body whose declared `Content-Length` exceeds
 * the 8 KiB window cannot be one and is passed on untouched (the runtime's own stream: tiles and exports cost
 * nothing extra); a smaller declared one is read whole; one of unknown length is peeked at (see
 * `auth_error_peek.ts`). The token is refreshed with one call (`forceRefresh` and the rejected token), and requests
 * without a body or with a buffered form body are sent once more. A 498/499 that survives, or that cannot be
 * retried, is answered 502: relayed, it would open the Maps SDK's sign-in dialog.
 *
 * Our token never comes back: a body read whole is always redacted; when the token travels in the query or a form
 * (`tokenIn: "query"`; never for API keys, which go only in the header), every body is redacted as it streams and
 * every returned header too (`token_redaction.ts`).
 *
 * `fetchTimeoutMs` bounds the time until the upstream's response headers and the peek at its body; a streaming body
 * is not cut off. The upstream request is aborted when the caller's request signal aborts (client gone), checked
 * from `CLIENT_ABORT_WATCH_DELAY_MS` on (reading the signal is costly on Deno.serve and a fast exchange does not need
 * it), and a client that stops reading cancels the upstream body.
 *
 * @module
 */
import type { ProxyConfig } from "../config/types.ts";
import type { Deps } from "../deps.ts";
import { _createRedactorCache, _createTargetLogger, type _ProxySettings } from "./_proxy_settings.ts";
import { createAllowlist } from "./allowlist.ts";
import { DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS } from "./constants.ts";
import { readRequestBody } from "./request_body.ts";
import {
  _createRateCheck,
  checkRequestPolicy,
  type ProxyRateLimiter,
  type ProxyRequestContext,
} from "./request_policy.ts";
import { resolveTarget } from "./resolve_target.ts";
import { answerUpstream } from "./upstream_answer.ts";
import { createUpstreamForwarder, type ProxyTokenSource, tokenPlacement } from "./upstream_forwarder.ts";

export { type ProxyRateLimiter, proxyRateLimitKey, type ProxyRequestContext } from "./request_policy.ts";
export type { ProxyTokenSource } from "./upstream_forwarder.ts";

/** The part of the broker config the proxy reads. */
export interface ProxyHandlerConfig {
  /** The validated `proxy` section. */
  proxy: ProxyConfig;
  /** Allow plain http and IP-literal loopback targets (`arcgis.allowInsecureLoopback`; tests only). @default false */
  allowInsecureLoopback?: boolean;
  /**
   * Profiles whose tokens are sent only in the `X-Esri-Authorization` header, whatever an entry's `tokenIn`:
   * `createBroker` lists every `apiKey` profile, so an API key never travels in a URL or form. @default []
   */
  headerOnlyProfiles?: readonly string[];
}

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

/** The proxy. */
export interface ProxyHandler {
  /**
   * Forwards `request` (whose URL is `<proxyPath>?<targetUrl>`) and resolves to the answer for the browser;
   * rejects with a `BrokerError` for refusals and upstream failures (see the module documentation).
   */
  handle(request: Request, context: ProxyRequestContext): Promise<Response>;
}

/** Builds the proxy; see the module documentation. */
export function createProxyHandler(
  config: ProxyHandlerConfig,
  deps: Pick<Deps, "fetch" | "log">,
  options: ProxyHandlerOptions,
): ProxyHandler {
  if (typeof options.tokens !== "function") throw new TypeError("createProxyHandler needs a tokens function");
  const settings: _ProxySettings = {
    proxy: config.proxy,
    allowlist: createAllowlist(config.proxy.allow),
    allowInsecureLoopback: config.allowInsecureLoopback === true,
    logTarget: _createTargetLogger(deps.log),
    headerOnlyProfiles: new Set(config.headerOnlyProfiles ?? []),
    redactorFor: _createRedactorCache(),
  };
  const retryAfterSeconds = options.rateLimitRetryAfterSeconds ?? DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS;
  const checkRate = _createRateCheck(options.rateLimit, retryAfterSeconds);
  const forward = createUpstreamForwarder(settings, {
    fetch: deps.fetch,
    shareTimers: options.shareTimers === true,
    tokens: options.tokens,
  });

  return {
    handle: async function handleProxyRequest(request, context): Promise<Response> {
      const target = await resolveTarget(request, settings);
      const decision = await checkRequestPolicy(request, target, { context, settings, checkRate });
      const body = await readRequestBody(request, decision.contentLength, settings.proxy);
      const placement = tokenPlacement(decision.tokenIn, body);
      const sent = await forward({ request, identity: context.identity, decision, body, placement });
      const { url } = decision;
      const answer = { url, proxyPath: target.proxyPath, token: sent.token.token, placement };
      return await answerUpstream(sent.answer, answer, settings);
    },
  };
}
