/**
 * Defaults of the browser helper.
 *
 * @module
 */

/**
 * Re-register this long before the earliest expiry, in milliseconds. Keep it at least the broker's
 * `cache.safetyMarginSeconds` (default 120 s): the broker then always answers with a fresh token, and a
 * refresh-token rotation never invalidates a token the page still uses.
 */
export const DEFAULT_REFRESH_MARGIN_MS = 120_000;

/** Never re-fetch sooner than this after a success, in milliseconds (guards against a refresh loop). */
export const DEFAULT_MIN_REFRESH_DELAY_MS = 10_000;

/** Retry delay after a failure without `Retry-After`, in milliseconds. */
export const DEFAULT_RETRY_DELAY_MS = 30_000;

/** Longest delay before the next attempt, in milliseconds (timers this long stay well within setTimeout's range). */
export const MAX_DELAY_MS = 6 * 3_600_000;

/** The query parameter the broker's link callback puts on the return URL. */
export const LINK_ID_PARAM = "linkId";
