/**
 * An in-isolate {@link AtomicKvStore}: a bounded map with TTLs on an injectable clock. It is the first tier of
 * every cache, the default store in tests and the demo, and atomic for free (one isolate, no `await` between a
 * read and its write).
 *
 * @module
 */
import { DEFAULT_MEMORY_MAX_ENTRIES } from "./constants.ts";
import { BrokerError } from "../errors.ts";
import type { AtomicKvStore, KvSetOptions } from "./kv_store.ts";
import { normalizeTtlSeconds } from "./_ttl.ts";

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Current time in epoch milliseconds; expiry is checked against it on every read. @default Date.now */
  now?: () => number;
  /** Entries kept at most; past that the least recently used entry goes first. @default 10000 */
  maxEntries?: number;
}

interface _Entry {
  value: string;
  expiresAtMs: number;
}

class MemoryStore implements AtomicKvStore {
  readonly #now: () => number;
  readonly #maxEntries: number;
  // A Map iterates in insertion order; re-inserting on use keeps the least recently used entry first.
  readonly #entries = new Map<string, _Entry>();

  constructor(now: () => number, maxEntries: number) {
    this.#now = now;
    this.#maxEntries = maxEntries;
  }

  #read(key: string): string | null {
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    this.#entries.delete(key);
    if (this.#now() >= entry.expiresAtMs) return null;
    this.#entries.set(key, entry);
    return entry.value;
  }

  #write(key: string, value: string, options: KvSetOptions): void {
    const ttlSeconds = normalizeTtlSeconds(options.ttlSeconds);
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAtMs: this.#now() + ttlSeconds * 1000 });
    let excess = this.#entries.size - this.#maxEntries;
    for (const oldest of this.#entries.keys()) {
      if (excess <= 0) break;
      this.#entries.delete(oldest);
      excess--;
    }
  }

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.#read(key));
  }

  set(key: string, value: string, options: KvSetOptions): Promise<void> {
    try {
      this.#write(key, value, options);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  delete(key: string): Promise<void> {
    this.#entries.delete(key);
    return Promise.resolve();
  }

  take(key: string): Promise<string | null> {
    const value = this.#read(key);
    this.#entries.delete(key);
    return Promise.resolve(value);
  }

  compareAndSet(
    key: string,
    expected: string | null,
    value: string,
    options: KvSetOptions,
  ): Promise<boolean> {
    try {
      if (this.#read(key) !== expected) return Promise.resolve(false);
      this.#write(key, value, options);
      return Promise.resolve(true);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/**
 * Creates an in-memory {@link AtomicKvStore}. Expiry follows `options.now`, so tests move time instead of
 * sleeping; the store never holds more than `maxEntries` entries.
 *
 * @param options The clock and the entry bound.
 * @returns An empty store.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): AtomicKvStore {
  const maxEntries = options.maxEntries ?? DEFAULT_MEMORY_MAX_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new BrokerError(
      "ERR_CONFIG_INVALID",
      `Invalid memory store option "maxEntries": expected a positive integer, got "${String(maxEntries)}"`,
    );
  }
  return new MemoryStore(options.now ?? Date.now, maxEntries);
}
