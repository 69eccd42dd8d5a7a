/**
 * An in-isolate {@link AtomicKvStore}: bounded maps with TTLs on an injectable clock. It is the first tier of
 * every cache, the default store in tests and the demo, and atomic for free (one isolate, no `await` between a
 * read and its write).
 *
 * The bound applies per key namespace (`atb:v1:<namespace>:…`, one of `KEY_NAMESPACES`; every other key shares
 * one more partition), each a least-recently-used map of its own: pressure in one namespace never evicts another's
 * entries, so a flood of link `state`s or cached tokens cannot push out committed links (refresh tokens).
 *
 * @module
 */
import { DEFAULT_MEMORY_MAX_ENTRIES, KEY_NAMESPACES } from "./constants.ts";
import { BrokerError } from "../errors.ts";
import { createLru, type Lru } from "../util/lru.ts";
import { type AtomicKvStore, KEY_PREFIX, type KvSetOptions } from "./kv_store.ts";
import { normalizeTtlSeconds } from "./_ttl.ts";

/** Options for {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Current time in epoch milliseconds; expiry is checked against it on every read. @default Date.now */
  now?: () => number;
  /**
   * Entries kept at most per key namespace (each of `KEY_NAMESPACES`, and one partition for all other keys); past
   * that the namespace's least recently used entry goes first. @default 10000
   */
  maxEntries?: number;
}

interface _Entry {
  value: string;
  expiresAtMs: number;
}

class MemoryStore implements AtomicKvStore {
  readonly #now: () => number;
  /** One LRU per broker namespace, with the `<namespace>:` text that follows the key prefix. */
  readonly #namespaces: readonly { head: string; entries: Lru<string, _Entry> }[];
  /** The LRU of every other key. */
  readonly #other: Lru<string, _Entry>;

  constructor(now: () => number, maxEntries: number) {
    this.#now = now;
    this.#namespaces = Object.values(KEY_NAMESPACES).map((namespace) => ({
      head: `${namespace}:`,
      entries: createLru(maxEntries),
    }));
    this.#other = createLru(maxEntries);
  }

  /** The LRU of `key`: its namespace's when it is one of the broker's (`atb:v1:<namespace>:…`), else the other. */
  #partition(key: string): Lru<string, _Entry> {
    // Compared in place (no slice): this runs on every read of the hot path.
    if (key.startsWith(KEY_PREFIX)) {
      for (const namespace of this.#namespaces) {
        if (key.startsWith(namespace.head, KEY_PREFIX.length)) return namespace.entries;
      }
    }
    return this.#other;
  }

  #read(key: string): string | null {
    const entries = this.#partition(key);
    const entry = entries.get(key);
    if (entry === undefined) return null;
    if (this.#now() >= entry.expiresAtMs) {
      entries.delete(key);
      return null;
    }
    return entry.value;
  }

  #write(key: string, value: string, options: KvSetOptions): void {
    const ttlSeconds = normalizeTtlSeconds(options.ttlSeconds);
    this.#partition(key).set(key, { value, expiresAtMs: this.#now() + ttlSeconds * 1000 });
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
    this.#partition(key).delete(key);
    return Promise.resolve();
  }

  take(key: string): Promise<string | null> {
    const value = this.#read(key);
    this.#partition(key).delete(key);
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
 * sleeping; the store never holds more than `maxEntries` entries per key namespace.
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
