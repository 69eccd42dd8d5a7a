/**
 * One error family for the whole broker. Every failure the core raises is a {@link BrokerError} with a `code`;
 * `src/hono/errors.ts` maps each code to exactly one HTTP response. Messages follow the house style (sentence
 * case, no final period, values quoted) and never contain a token, a secret or a raw target URL.
 *
 * @module
 */

/** The codes a {@link BrokerError} can carry. */
export type BrokerErrorCode =
  /** No bearer credentials at all (RFC 6750 §3.1: 401 with the realm only). */
  | "ERR_NO_CREDENTIALS"
  /** Malformed request: bad `Authorization` header, bad form, missing parameter (400 `invalid_request`). */
  | "ERR_INVALID_REQUEST"
  /** The bearer or subject token is not acceptable, whatever the reason (401 `invalid_token`). */
  | "ERR_INVALID_TOKEN"
  /** The identity is valid but no rule or allowlist entry admits it (403 `insufficient_scope`). */
  | "ERR_INSUFFICIENT_SCOPE"
  /** A `user` profile applies but the identity has not linked an ArcGIS account yet (403 `link_required`). */
  | "ERR_LINK_REQUIRED"
  /** A link flow step failed: unknown, expired or reused `state`/`linkId`, identity mismatch (400). */
  | "ERR_LINK_INVALID"
  /** The IdP (discovery or JWKS) cannot be reached and no usable cached key exists (503 + Retry-After). */
  | "ERR_IDP_UNAVAILABLE"
  /** ArcGIS refused or failed to issue a token, or answered garbage (502). */
  | "ERR_ARCGIS_BAD_GATEWAY"
  /** ArcGIS cannot be reached or is in a negative-cache window (503 + Retry-After). */
  | "ERR_ARCGIS_UNAVAILABLE"
  /** An upstream call timed out (504). */
  | "ERR_UPSTREAM_TIMEOUT"
  /** Proxy target not on the allowlist, on the deny list, or an operation the entry forbids (403). */
  | "ERR_TARGET_NOT_ALLOWED"
  /** Proxy target malformed: not a URL, userinfo, encoded separators, control characters (400). */
  | "ERR_TARGET_MALFORMED"
  /** Proxy target longer than the proxy's documented cap (414). */
  | "ERR_TARGET_TOO_LONG"
  /** HTTP method not allowed for the target (405). */
  | "ERR_METHOD_NOT_ALLOWED"
  /** Request body over the configured limit (413). */
  | "ERR_BODY_TOO_LARGE"
  /** Per-identity rate limit hit (429 + Retry-After). */
  | "ERR_RATE_LIMITED"
  /** RFC 8693: `resource` names no configured ArcGIS server (400 `invalid_target`). */
  | "ERR_INVALID_TARGET"
  /** RFC 6749: wrong `grant_type` (400 `unsupported_grant_type`). */
  | "ERR_UNSUPPORTED_GRANT_TYPE"
  /** The configuration is invalid (raised at startup, never per request). */
  | "ERR_CONFIG_INVALID"
  /** A route that needs a part of the config which is not configured (404). */
  | "ERR_NOT_CONFIGURED";

/** Options for {@link BrokerError}. */
export interface BrokerErrorOptions {
  /** The underlying error, kept for the log hook only; never sent to clients. */
  cause?: unknown;
  /** Seconds a client should wait before retrying (503/429). */
  retryAfterSeconds?: number;
  /** Extra, non-secret fields for the client body (e.g. `{ link: "/arcgis/link" }` for `link_required`). */
  details?: Record<string, string>;
  /**
   * A client-facing `error_description` replacing the generic one, e.g. naming the request parameter at fault
   * (RFC 6749 §5.2). Never a value from the request, a token or a secret.
   */
  description?: string;
  /**
   * The stable, secret-free refusal reason code (`aud_mismatch`, `expired`, `no_rule`, …; see
   * `src/idp/refusal_reason.ts`). Always logged; in `error_description` only with `errors.exposeReasons`.
   */
  reason?: string;
}

/** The broker's error: a `code` from {@link BrokerErrorCode}, a generic message, and the cause for logs. */
export class BrokerError extends Error {
  /** What went wrong, as a stable code. */
  readonly code: BrokerErrorCode;
  /** Seconds to wait before retrying, for 503 and 429 answers. */
  readonly retryAfterSeconds?: number;
  /** Extra non-secret fields for the client body. */
  readonly details?: Record<string, string>;
  /** A client-facing description replacing the generic one (names a parameter; never echoes a value). */
  readonly description?: string;
  /** The stable, secret-free refusal reason code, when the error is a refusal. */
  readonly reason?: string;

  /**
   * Creates the error.
   *
   * @param code The stable code the HTTP answer is chosen by.
   * @param message A generic, secret-free message (sentence case, no final period).
   * @param options The cause (for logs only), `Retry-After` seconds and extra non-secret body fields.
   */
  constructor(code: BrokerErrorCode, message: string, options: BrokerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BrokerError";
    this.code = code;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    if (options.details !== undefined) this.details = options.details;
    if (options.description !== undefined) this.description = options.description;
    if (options.reason !== undefined) this.reason = options.reason;
  }
}

/**
 * True when `value` is a {@link BrokerError}, optionally with the given code.
 *
 * @param value Anything caught.
 * @param code When given, only an error with this code matches.
 * @returns Whether `value` is such an error.
 */
export function isBrokerError(value: unknown, code?: BrokerErrorCode): value is BrokerError {
  return value instanceof BrokerError && (code === undefined || value.code === code);
}
