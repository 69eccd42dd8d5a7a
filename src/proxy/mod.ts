/**
 * The ArcGIS proxy: target parsing and allowlist, deny list, header hygiene, token injection, streaming bodies,
 * redirect rewriting and the single retry after a 498/499. No Hono and no runtime APIs here.
 *
 * @module
 */
export {
  createProxyHandler,
  type ProxyHandler,
  type ProxyHandlerConfig,
  type ProxyHandlerOptions,
  type ProxyRateLimiter,
  proxyRateLimitKey,
  type ProxyRequestContext,
  type ProxyTokenSource,
} from "./proxy_handler.ts";
export {
  checkTargetUrl,
  parseProxyTarget,
  type ParseProxyTargetOptions,
  type ProxyTarget,
} from "./proxy_target.ts";
export { type Allowlist, createAllowlist } from "./allowlist.ts";
export { isDeniedPath } from "./deny_list.ts";
export { isEditOperationPath } from "./edit_operations.ts";
export { type ResolvedTarget, resolveTarget } from "./resolve_target.ts";
export { checkRequestPolicy, type PolicyDecision } from "./request_policy.ts";
export { isReplayable, readRequestBody, type RequestBody, upstreamBody } from "./request_body.ts";
export {
  createUpstreamExchange,
  type TokenPlacement,
  type UpstreamAnswer,
  type UpstreamCall,
  type UpstreamExchange,
} from "./upstream_exchange.ts";
export {
  createUpstreamForwarder,
  type ForwardResult,
  tokenPlacement,
  type UpstreamForwarder,
} from "./upstream_forwarder.ts";
export { type AnswerOptions, answerUpstream } from "./upstream_answer.ts";
export { filterFormBytes, filterQueryString, FormFilter, type FormFilterOptions } from "./form_filter.ts";
export {
  checkMultipartBoundary,
  type MultipartPart,
  MultipartScanner,
  type MultipartScannerOptions,
  stripMultipartTokenParts,
} from "./multipart_scanner.ts";
export {
  forwardRequestHeaders,
  type ForwardRequestHeadersOptions,
  privateCacheControl,
  returnResponseHeaders,
  type ReturnResponseHeadersOptions,
} from "./header_filter.ts";
export {
  authErrorCodeOf,
  peekAuthError,
  type PeekAuthErrorOptions,
  type PeekedBody,
  replayStream,
} from "./auth_error_peek.ts";
export { rewriteRedirect, type RewriteRedirectOptions } from "./redirect_rewrite.ts";
export {
  type BodyFailureHandler,
  createBodyLimitStream,
  createFormFilterStream,
  createMultipartCheckStream,
} from "./body_streams.ts";
export * from "./constants.ts";
