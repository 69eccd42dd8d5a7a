/**
 * The tiered store: isolate memory over a shared store (Deno KV, Cloudflare KV). Reads try memory, then the
 * shared store, and keep what they found in memory for a short while; writes and deletes go to both.
 *
 * Memory can serve a value for up to `memoryTtlSeconds` after another isolate changed or deleted it, on top of
 * the shared store's own staleness. Values that must not outlive their validity carry their expiry inside (see
 * `json_value.ts`). When the shared store is atomic, `take` and `compareAndSet` go straight to it and drop the
 * memory copy, so single-use and rotation logic never sees a memory-only answer.
 *
 * @module
 */
import { DEFAULT_TIERED_MEMORY_TTL_SECONDS } from "./constants.ts";
import { BrokerError } from "../errors.ts";
import { type AtomicKvStore, isAtomicKvStore, type KvSetOptions, type KvStore } from "./kv_store.ts";

/** Options for {@link createTieredStore}. */
export interface TieredStoreOptions {
  /** The fast, per-isolate tier (usually `createMemoryStore()`). */
  memory: KvStore;
  /** The shared tier (Deno KV, Cloudflare KV); atomic shared stores make the tiered store atomic. */
  shared: KvStore;
  /** How long a value stays in memory, at most, in seconds; never longer than the TTL it was written with. @default 30 */
  memoryTtlSeconds?: number;
}

class TieredStore implements KvStore {
  readonly #memory: KvStore;
  readonly #shared: KvStore;
  readonly #memoryTtlSeconds: number;

  constructor(memory: KvStore, shared: KvStore, memoryTtlSeconds: number) {
    this.#memory = memory;
    this.#shared = shared;
    this.#memoryTtlSeconds = memoryTtlSeconds;
  }

  async get(key: string): Promise<string | null> {
    const cached = await this.#memory.get(key);
    if (cached !== null) return cached;
    const value = await this.#shared.get(key);
    if (value !== null) await this.#memory.set(key, value, { ttlSeconds: this.#memoryTtlSeconds });
    return value;
  }

  async set(key: string, value: string, options: KvSetOptions): Promise<void> {
    const ttlSeconds = Math.min(this.#memoryTtlSeconds, options.ttlSeconds);
    await Promise.all([this.#memory.set(key, value, { ttlSeconds }), this.#shared.set(key, value, options)]);
  }

  async delete(key: string): Promise<void> {
    await Promise.all([this.#memory.delete(key), this.#shared.delete(key)]);
  }
}

class AtomicTieredStore implements AtomicKvStore {
  readonly #tiers: TieredStore;
  readonly #memory: KvStore;
  readonly #atomic: AtomicKvStore;

  constructor(memory: KvStore, shared: AtomicKvStore, memoryTtlSeconds: number) {
    this.#tiers = new TieredStore(memory, shared, memoryTtlSeconds);
    this.#memory = memory;
    this.#atomic = shared;
  }

  get(key: string): Promise<string | null> {
    return this.#tiers.get(key);
  }

  set(key: string, value: string, options: KvSetOptions): Promise<void> {
    return this.#tiers.set(key, value, options);
  }

  delete(key: string): Promise<void> {
    return this.#tiers.delete(key);
  }

  async take(key: string): Promise<string | null> {
    await this.#memory.delete(key);
    const value = await this.#atomic.take(key);
    await this.#memory.delete(key);
    return value;
  }

  async compareAndSet(
    key: string,
    expected: string | null,
    value: string,
    options: KvSetOptions,
  ): Promise<boolean> {
    await this.#memory.delete(key);
    const written = await this.#atomic.compareAndSet(key, expected, value, options);
    await this.#memory.delete(key);
    return written;
  }
}

/**
 * Creates a tiered store; it is an {@link AtomicKvStore} when `shared` is one.
 *
 * @param options The memory tier, the shared tier and how long memory keeps a value.
 * @returns The store, atomic because `shared` is.
 *
 * @example Isolate memory over a shared KV
 * ```ts
 * import { createMemoryStore, createTieredStore } from "arcgis-token-broker";
 *
 * const store = createTieredStore({ memory: createMemoryStore(), shared: createMemoryStore() });
 * ```
 */
export function createTieredStore(options: TieredStoreOptions & { shared: AtomicKvStore }): AtomicKvStore;
/**
 * Creates a tiered store over a non-atomic shared store.
 *
 * @param options The memory tier, the shared tier and how long memory keeps a value.
 * @returns The store (not atomic).
 */
export function createTieredStore(options: TieredStoreOptions): KvStore;
export function createTieredStore(options: TieredStoreOptions): KvStore {
  const memoryTtlSeconds = options.memoryTtlSeconds ?? DEFAULT_TIERED_MEMORY_TTL_SECONDS;
  if (typeof memoryTtlSeconds !== "number" || !Number.isFinite(memoryTtlSeconds) || memoryTtlSeconds <= 0) {
    throw new BrokerError(
      "ERR_CONFIG_INVALID",
      `Invalid tiered store option "memoryTtlSeconds": expected a positive number, got "${
        String(memoryTtlSeconds)
      }"`,
    );
  }
  const { memory, shared } = options;
  return isAtomicKvStore(shared)
    ? new AtomicTieredStore(memory, shared, memoryTtlSeconds)
    : new TieredStore(memory, shared, memoryTtlSeconds);
}
