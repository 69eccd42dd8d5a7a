/**
 * The two ways token validation fails, as {@link BrokerError}s. Clients only ever see the generic messages; the
 * stable reason code goes to `reason` (logged; exposed only when the operator says so) and the detail (never the
 * token) to `cause` for the log hook.
 *
 * @module
 */
import { BrokerError } from "../errors.ts";
import { IDP_UNAVAILABLE_MESSAGE, INVALID_TOKEN_MESSAGE } from "./constants.ts";
import type { RefusalReason } from "./refusal_reason.ts";

/** `ERR_INVALID_TOKEN` with the reason code and `detail` as the cause. */
export function invalidToken(reason: RefusalReason, detail: string, cause?: unknown): BrokerError {
  const error = cause === undefined ? new Error(detail) : new Error(detail, { cause });
  return new BrokerError("ERR_INVALID_TOKEN", INVALID_TOKEN_MESSAGE, { cause: error, reason });
}

/** `ERR_IDP_UNAVAILABLE` (503 with `Retry-After`) with `detail` as the cause. */
export function idpUnavailable(detail: string, retryAfterSeconds: number, cause?: unknown): BrokerError {
  const error = cause === undefined ? new Error(detail) : new Error(detail, { cause });
  return new BrokerError("ERR_IDP_UNAVAILABLE", IDP_UNAVAILABLE_MESSAGE, {
    cause: error,
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)),
    reason: "idp_unavailable",
  });
}
