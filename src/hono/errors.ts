/**
 * The one exhaustive mapping from {@link BrokerErrorCode} to an HTTP answer. RFC 6750 on the bearer side, RFC 8693
 * / RFC 6749 §5.2 on `/token`, 5xx with `Retry-After` for outages. Bodies are JSON, generic, and never echo the
 * request URL, a token or a secret.
 *
 * @module
 */
import { type BrokerError, type BrokerErrorCode, isBrokerError } from "../errors.ts";
import type { LogFn } from "../deps.ts";

/** The realm announced in `WWW-Authenticate`. */
export const REALM = "arcgis-token-broker";

interface Mapping {
  status: number;
  error: string;
  description: string;
  /** RFC 6750 error code for `WWW-Authenticate`, or `null` for "realm only". */
  bearer?: string | null;
}

const BEARER_MAPPINGS: Record<BrokerErrorCode, Mapping> = {
  ERR_NO_CREDENTIALS: {
    status: 401,
    error: "unauthorized",
    description: "Bearer token required",
    bearer: null,
  },
  ERR_INVALID_REQUEST: {
    status: 400,
    error: "invalid_request",
    description: "The request is malformed",
    bearer: "invalid_request",
  },
  ERR_INVALID_TOKEN: {
    status: 401,
    error: "invalid_token",
    description: "The access token is invalid",
    bearer: "invalid_token",
  },
  ERR_INSUFFICIENT_SCOPE: {
    status: 403,
    error: "insufficient_scope",
    description: "No ArcGIS access is configured for this identity",
    bearer: "insufficient_scope",
  },
  ERR_LINK_REQUIRED: { status: 403, error: "link_required", description: "Link an ArcGIS account first" },
  ERR_LINK_INVALID: {
    status: 400,
    error: "invalid_link",
    description: "The link request is invalid or expired",
  },
  ERR_IDP_UNAVAILABLE: {
    status: 503,
    error: "temporarily_unavailable",
    description: "The identity provider cannot be reached",
  },
  ERR_ARCGIS_BAD_GATEWAY: { status: 502, error: "bad_gateway", description: "ArcGIS answered with an error" },
  ERR_ARCGIS_UNAVAILABLE: {
    status: 503,
    error: "temporarily_unavailable",
    description: "ArcGIS cannot be reached",
  },
  ERR_UPSTREAM_TIMEOUT: {
    status: 504,
    error: "gateway_timeout",
    description: "The upstream did not answer in time",
  },
  ERR_TARGET_NOT_ALLOWED: { status: 403, error: "forbidden", description: "The target is not allowed" },
  ERR_TARGET_MALFORMED: { status: 400, error: "invalid_request", description: "The target URL is malformed" },
  ERR_TARGET_TOO_LONG: { status: 414, error: "uri_too_long", description: "The target URL is too long" },
  ERR_METHOD_NOT_ALLOWED: { status: 405, error: "method_not_allowed", description: "Method not allowed" },
  ERR_BODY_TOO_LARGE: {
    status: 413,
    error: "payload_too_large",
    description: "The request body is too large",
  },
  ERR_RATE_LIMITED: { status: 429, error: "rate_limited", description: "Too many requests" },
  ERR_INVALID_TARGET: { status: 400, error: "invalid_target", description: "Unknown resource" },
  ERR_UNSUPPORTED_GRANT_TYPE: {
    status: 400,
    error: "unsupported_grant_type",
    description: "Unsupported grant_type",
  },
  ERR_CONFIG_INVALID: {
    status: 503,
    error: "temporarily_unavailable",
    description: "The broker is not configured",
  },
  ERR_NOT_CONFIGURED: { status: 404, error: "not_found", description: "Not configured" },
};

/** RFC 8693 / RFC 6749 §5.2 answers on `/token`: an invalid subject token is a 400 `invalid_request`. */
const TOKEN_ENDPOINT_OVERRIDES: Partial<Record<BrokerErrorCode, Mapping>> = {
  ERR_NO_CREDENTIALS: { status: 400, error: "invalid_request", description: "subject_token is required" },
  ERR_INVALID_TOKEN: { status: 400, error: "invalid_request", description: "The subject token is invalid" },
  ERR_INSUFFICIENT_SCOPE: {
    status: 400,
    error: "invalid_target",
    description: "No ArcGIS access is configured for this identity",
  },
  // RFC 6749 §5.2 has no code for it: the grant (the identity) cannot be used yet; the link route is in `link`.
  ERR_LINK_REQUIRED: { status: 400, error: "invalid_grant", description: "Link an ArcGIS account first" },
};

/** Which error dialect a route speaks. */
export type ErrorDialect = "bearer" | "token-endpoint";

/** Base headers of every JSON error. */
export function jsonHeaders(extra: Record<string, string> = {}): Headers {
  return new Headers({
    "content-type": "application/json; charset=utf-8",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    ...extra,
  });
}

/** Turns any thrown value into the answer for it; unknown errors become a generic 500 and are logged. */
export function errorResponse(
  error: unknown,
  options: { dialect?: ErrorDialect; log?: LogFn; exposeReasons?: boolean } = {},
): Response {
  if (!isBrokerError(error)) {
    options.log?.({
      level: "error",
      msg: "Unexpected error",
      errorName: error instanceof Error ? error.name : typeof error,
    });
    return new Response(JSON.stringify({ error: "server_error", error_description: "Internal error" }), {
      status: 500,
      headers: jsonHeaders(),
    });
  }
  const base = (options.dialect === "token-endpoint" ? TOKEN_ENDPOINT_OVERRIDES[error.code] : undefined) ??
    BEARER_MAPPINGS[error.code];
  const mapping = error.description === undefined ? base : { ...base, description: error.description };
  logBrokerError(error, mapping.status, options.log);
  // The reason code is stable and secret-free; it reaches the client only when the operator switched that on.
  const description = options.exposeReasons === true && error.reason !== undefined
    ? `${mapping.description} (reason: ${error.reason})`
    : mapping.description;
  const headers = jsonHeaders();
  if (options.dialect !== "token-endpoint" && mapping.bearer !== undefined) {
    headers.set(
      "www-authenticate",
      mapping.bearer === null
        ? `Bearer realm="${REALM}"`
        // RFC 6750 §3 allows no `"` or `\` in error_description.
        : `Bearer realm="${REALM}", error="${mapping.bearer}", error_description="${
          description.replace(/["\\]/g, "")
        }"`,
    );
  }
  if (error.retryAfterSeconds !== undefined) {
    headers.set("retry-after", String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
  }
  const body: Record<string, string> = mapping.bearer === null && options.dialect !== "token-endpoint"
    ? { error_description: description }
    : { error: mapping.error, error_description: description };
  for (const [key, value] of Object.entries(error.details ?? {})) {
    if (!(key in body)) body[key] = value;
  }
  return new Response(JSON.stringify(body), { status: mapping.status, headers });
}

function logBrokerError(error: BrokerError, status: number, log: LogFn | undefined): void {
  if (log === undefined) return;
  // Only the code, the status and the (house-style, secret-free) message; the cause's own text may carry
  // upstream bodies or request parameters, so only its class name goes to the log.
  const cause = (error as { cause?: unknown }).cause;
  log({
    level: status >= 500 ? "warn" : "info",
    msg: error.message,
    code: error.code,
    status,
    ...(error.reason === undefined ? {} : { reason: error.reason }),
    ...(cause instanceof Error ? { cause: cause.name } : {}),
  });
}
