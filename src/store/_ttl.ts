/**
 * TTL normalisation shared by the adapters.
 *
 * @module
 */
import { MIN_TTL_SECONDS } from "./constants.ts";

/**
 * Rounds a TTL up to whole seconds and raises it to `minSeconds`. A TTL that is not a finite number is a bug in
 * the caller, so it throws.
 */
export function normalizeTtlSeconds(ttlSeconds: number, minSeconds: number = MIN_TTL_SECONDS): number {
  if (typeof ttlSeconds !== "number" || !Number.isFinite(ttlSeconds)) {
    throw new RangeError(`Invalid TTL: expected a finite number of seconds, got "${String(ttlSeconds)}"`);
  }
  return Math.max(minSeconds, MIN_TTL_SECONDS, Math.ceil(ttlSeconds));
}
