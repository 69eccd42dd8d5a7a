/**
 * The two ways token validation fails, as {@link BrokerError}s. Clients only ever see the generic messages; the
 * reason (never the token) is kept in `cause` for the log hook.
 *
 * @module
 */
import { BrokerError } from "../errors.ts";
import { IDP_UNAVAILABLE_MESSAGE, INVALID_TOKEN_MESSAGE } from "./constants.ts";

/** `ERR_INVALID_TOKEN` with `reason` as the cause. */
export function invalidToken(reason: string, cause?: unknown): BrokerError {
  const detail = cause === undefined ? new Error(reason) : new Error(reason, { cause });
  return new BrokerError("ERR_INVALID_TOKEN", INVALID_TOKEN_MESSAGE, { cause: detail });
}

/** `ERR_IDP_UNAVAILABLE` (503 with `Retry-After`) with `reason` as the cause. */
export function idpUnavailable(reason: string, retryAfterSeconds: number, cause?: unknown): BrokerError {
  const detail = cause === undefined ? new Error(reason) : new Error(reason, { cause });
  return new BrokerError("ERR_IDP_UNAVAILABLE", IDP_UNAVAILABLE_MESSAGE, {
    cause: detail,
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)),
  });
}
