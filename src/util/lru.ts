/**
 * The one bounded least-recently-used map of the broker (verified-token memo, opened-token memo, derived cache
 * keys, the memory store). A `Map` iterates in insertion order, so deleting and re-inserting an entry on use keeps
 * the least recently used entry first, and evicting it is one `keys().next()`: every operation is O(1).
 *
 * @module
 */

/** A map holding at most `maxEntries` entries; past that, the least recently used entry goes first. */
export interface Lru<K, V> {
  /** The value under `key`, marking it recently used. */
  get(key: K): V | undefined;
  /** The value under `key`, leaving its place in the order alone. */
  peek(key: K): V | undefined;
  /** Stores `value` under `key` as the most recently used entry, evicting the least recently used beyond the bound. */
  set(key: K, value: V): void;
  /** Removes `key`; an absent key is fine. */
  delete(key: K): void;
  /** How many entries are held. */
  readonly size: number;
  /** The bound (0: the map holds nothing). */
  readonly maxEntries: number;
}

class MapLru<K, V> implements Lru<K, V> {
  readonly maxEntries: number;
  readonly #entries = new Map<K, V>();
  /** Whether {@link #newest} holds the most recently used key (there is none when empty). */
  #hasNewest = false;
  #newest: K | undefined;

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const entries = this.#entries;
    const value = entries.get(key);
    if (value !== undefined && !(this.#hasNewest && this.#newest === key)) {
      entries.delete(key);
      entries.set(key, value);
      this.#newest = key;
      this.#hasNewest = true;
    }
    return value;
  }

  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.maxEntries === 0) return;
    const entries = this.#entries;
    entries.delete(key);
    entries.set(key, value);
    this.#newest = key;
    this.#hasNewest = true;
    if (entries.size > this.maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.#entries.delete(key);
    if (this.#hasNewest && this.#newest === key) {
      this.#hasNewest = false;
      this.#newest = undefined;
    }
  }
}

/**
 * Creates an {@link Lru} holding at most `maxEntries` entries (0 disables it: nothing is kept).
 *
 * @param maxEntries The bound, a non-negative safe integer.
 * @returns An empty map.
 * @throws {RangeError} When `maxEntries` is not a non-negative safe integer.
 */
export function createLru<K, V>(maxEntries: number): Lru<K, V> {
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 0) {
    throw new RangeError(`Invalid LRU bound "${String(maxEntries)}": expected an integer of at least 0`);
  }
  return new MapLru<K, V>(maxEntries);
}
