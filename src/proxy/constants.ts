/**
 * Defaults and fixed lists of the proxy. The lists are policy: no configuration can shorten them.
 *
 * @module
 */

/** Request headers forwarded to the upstream (lower case); everything else is dropped. */
export const FORWARDED_REQUEST_HEADERS: readonly string[] = [
  "accept",
  "accept-language",
  "content-type",
  "range",
  "if-range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
];

/** Response headers passed back to the client (lower case); everything else is dropped. */
export const RETURNED_RESPONSE_HEADERS: readonly string[] = [
  "content-type",
  "content-length",
  "content-range",
  "accept-ranges",
  "etag",
  "last-modified",
  "content-disposition",
  "content-language",
  "retry-after",
  "vary",
];

/** `Cache-Control` directives kept from the upstream (besides `max-age` and `no-store`). */
export const KEPT_CACHE_DIRECTIVES: readonly string[] = [
  "no-cache",
  "must-revalidate",
  "no-transform",
  "immutable",
];

/** Sent on every proxied response: the proxied content can never run as a document of the broker's origin. */
export const PROXIED_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox";

/**
 * How long the proxy waits for the upstream before it starts watching the caller's request signal (a caller that
 * has gone away by then aborts the upstream request). Reading the signal is costly on Deno.serve, and an exchange
 * that ends sooner does not need it.
 */
export const CLIENT_ABORT_WATCH_DELAY_MS = 50;

/** How much of a JSON-looking response body is read to look for an ArcGIS 498/499 error envelope. */
export const AUTH_ERROR_PEEK_BYTES = 8 * 1024;

/** Longest form parameter name inspected; longer names cannot be `token`, `callback` or `f`. */
export const FORM_NAME_MAX_BYTES = 256;

/** Longest `f` value inspected (the check looks for `html`). */
export const FORM_F_VALUE_MAX_BYTES = 64;

/** Largest header block of one multipart part. */
export const MULTIPART_HEADER_MAX_BYTES = 16 * 1024;

/** `Retry-After` sent with a 429 from the per-identity rate limit. */
export const DEFAULT_RATE_LIMIT_RETRY_AFTER_SECONDS = 60;

/**
 * Longest proxy target (everything after the proxy path's `?`), in characters; longer ones are answered 414. The
 * Maps SDK switches to POST well below this (its `request.maxUrlLength` is 2,000).
 */
export const MAX_TARGET_CHARS = 8192;

/** Length of the hex target hash put in log entries. */
export const LOG_HASH_HEX_CHARS = 16;
