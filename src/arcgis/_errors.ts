/**
 * Upstream failures: the {@link BrokerError}s the ArcGIS layer raises when ArcGIS is down, slow or answers
 * something unusable, marked so that the token cache can remember them (negative cache) and never confuse them
 * with a refused link or a bad request. Causes are rest-js error objects built from the ArcGIS error code and
 * message only: never the request parameters, which hold secrets.
 *
 * @module
 */
import { ArcGISAuthError, ArcGISRequestError } from "@esri/arcgis-rest-request";
import { BrokerError } from "../errors.ts";
import { MAX_ERROR_TEXT_CHARS } from "./constants.ts";

/** The codes of upstream failures. */
export type UpstreamErrorCode = "ERR_ARCGIS_BAD_GATEWAY" | "ERR_ARCGIS_UNAVAILABLE" | "ERR_UPSTREAM_TIMEOUT";

/** An ArcGIS error envelope (`{"error":{...}}`), reduced to what the broker reads. */
export interface ArcGISErrorInfo {
  /** `error.code` (498, 499, 400, 403, …), when numeric. */
  code?: number;
  /** `error.error` (OAuth error name such as `invalid_client`), when present. */
  oauthError?: string;
  /** `error.message` or `error.error_description`, shortened. */
  message: string;
  /** HTTP status of the answer (usually 200). */
  httpStatus: number;
}

const _upstream = new WeakSet<BrokerError>();

/** Creates an upstream failure, marked for {@link isUpstreamFailure}. */
export function upstreamError(
  code: UpstreamErrorCode,
  message: string,
  options: { retryAfterSeconds?: number; cause?: unknown } = {},
): BrokerError {
  const error = new BrokerError(code, message, options);
  _upstream.add(error);
  return error;
}

/** True for errors made by {@link upstreamError}. */
export function isUpstreamFailure(error: unknown): error is BrokerError {
  return error instanceof BrokerError && _upstream.has(error);
}

/** A copy of an upstream failure with another `Retry-After`, still marked. */
export function withRetryAfter(error: BrokerError, retryAfterSeconds: number): BrokerError {
  return upstreamError(error.code as UpstreamErrorCode, error.message, {
    retryAfterSeconds: Math.max(retryAfterSeconds, error.retryAfterSeconds ?? 0),
    cause: error.cause,
  });
}

/** Shortens ArcGIS error text for logs and causes. */
export function clipText(text: string): string {
  return text.length > MAX_ERROR_TEXT_CHARS ? `${text.slice(0, MAX_ERROR_TEXT_CHARS)}…` : text;
}

/** A rest-js error object carrying only the ArcGIS code and message (no URL, no parameters). */
export function arcgisCause(info: ArcGISErrorInfo): ArcGISRequestError {
  const code = info.code ?? "UNKNOWN_ERROR_CODE";
  return info.code === 498 || info.code === 499
    ? new ArcGISAuthError(info.message, code)
    : new ArcGISRequestError(info.message, code);
}

/**
 * The upstream failure for an ArcGIS error envelope that the caller has no special meaning for: codes of 500 and
 * up are an outage (503), anything else a refusal the broker cannot fix (502).
 */
export function failureFromEnvelope(info: ArcGISErrorInfo, what: string): BrokerError {
  const code = info.code !== undefined && info.code >= 500
    ? "ERR_ARCGIS_UNAVAILABLE"
    : "ERR_ARCGIS_BAD_GATEWAY";
  return upstreamError(code, `${what}: ArcGIS error ${info.code ?? "without a code"}`, {
    cause: arcgisCause(info),
  });
}
