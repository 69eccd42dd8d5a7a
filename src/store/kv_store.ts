/**
 * The key-value port every cache in the broker goes through, and the key scheme.
 *
 * Values are strings. Expiry is best effort in every backend (Cloudflare KV reads can be ~60 s stale, Deno KV's
 * `expireIn` is lazy), so callers that care store their own expiry inside the value and check it on read: see
 * {@link putJson}/{@link getJson} helpers in `json_value.ts`.
 *
 * @module
 */

/** Options for {@link KvStore.set}. */
export interface KvSetOptions {
  /** Time to live in seconds. Adapters may raise it to their minimum (Cloudflare KV: 60). */
  ttlSeconds: number;
}

/** A minimal key-value store: get, set with a TTL, delete. */
export interface KvStore {
  /** The stored value, or `null` when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Stores `value` under `key` for about `ttlSeconds`. */
  set(key: string, value: string, options: KvSetOptions): Promise<void>;
  /** Removes `key`; absent keys are fine. */
  delete(key: string): Promise<void>;
}

/**
 * A store with a strong, linearizable primitive, for single-use `state` and refresh-token rotation. Deno KV
 * (`atomic().check()`), the memory store and the Durable Object adapter implement it; Cloudflare KV cannot.
 */
export interface AtomicKvStore extends KvStore {
  /** Reads and deletes `key` in one step: of many concurrent callers, exactly one gets the value. */
  take(key: string): Promise<string | null>;
  /**
   * Sets `key` to `value` only if its current value equals `expected` (`null`: absent). Returns whether it wrote.
   */
  compareAndSet(key: string, expected: string | null, value: string, options: KvSetOptions): Promise<boolean>;
}

/**
 * True when `store` offers the atomic operations.
 *
 * @param store Any store.
 * @returns Whether it has `take` and `compareAndSet`.
 */
export function isAtomicKvStore(store: KvStore): store is AtomicKvStore {
  const s = store as Partial<AtomicKvStore>;
  return typeof s.take === "function" && typeof s.compareAndSet === "function";
}

/** The version prefix of every key the broker writes. Bump it when a value's layout changes. */
export const KEY_PREFIX = "atb:v1:";
