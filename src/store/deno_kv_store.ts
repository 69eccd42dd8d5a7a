/**
 * The Deno KV adapter. It is typed against a structural slice of `Deno.Kv`, so importing it needs no Deno types
 * and no `Deno.*` global: the host opens the database (`await Deno.openKv()`) and passes it in.
 *
 * Each value is stored as `{ v: <string>, x: <expiry, epoch ms> }` with `expireIn` set as well: Deno KV deletes
 * expired entries lazily, so the adapter checks `x` on every read against the injected clock. `take` and
 * `compareAndSet` run as `atomic().check()` transactions on the entry's versionstamp, which makes them
 * linearizable across isolates and instances.
 *
 * @module
 */
import { DENO_KV_KEY_ROOT, DENO_KV_TAKE_MAX_ATTEMPTS } from "./constants.ts";
import { type AtomicKvStore, KEY_PREFIX, type KvSetOptions } from "./kv_store.ts";
import { normalizeTtlSeconds } from "./_ttl.ts";

/** A Deno KV key as this adapter writes it: a list of strings. */
export type DenoKvKeyLike = readonly string[];

/** The part of `Deno.KvEntryMaybe` the adapter reads. */
export interface DenoKvEntryLike {
  /** The stored value; `null` when absent. */
  value: unknown;
  /** The entry's versionstamp; `null` when absent. */
  versionstamp: string | null;
}

/** The part of `Deno.AtomicCheck` the adapter sends. */
export interface DenoKvCheckLike {
  /** The key to check. */
  key: DenoKvKeyLike;
  /** The versionstamp the key must still have; `null`: the key must be absent. */
  versionstamp: string | null;
}

/** The part of `Deno.AtomicOperation` the adapter uses. */
export interface DenoKvAtomicLike {
  /** Adds versionstamp checks. */
  check(...checks: DenoKvCheckLike[]): DenoKvAtomicLike;
  /** Adds a write. */
  set(key: DenoKvKeyLike, value: unknown, options?: { expireIn?: number }): DenoKvAtomicLike;
  /** Adds a delete. */
  delete(key: DenoKvKeyLike): DenoKvAtomicLike;
  /** Commits; `ok` is false when a check failed. */
  commit(): Promise<{ ok: boolean }>;
}

/** The part of `Deno.Kv` the adapter uses; a real `Deno.Kv` satisfies it. */
export interface DenoKvLike {
  /** Reads one entry (strong consistency by default). */
  get(key: DenoKvKeyLike): Promise<DenoKvEntryLike>;
  /** Writes one entry; `expireIn` is in milliseconds. */
  set(key: DenoKvKeyLike, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  /** Deletes one entry. */
  delete(key: DenoKvKeyLike): Promise<void>;
  /** Starts an atomic operation. */
  atomic(): DenoKvAtomicLike;
}

/** Options for {@link createDenoKvStore}. */
export interface DenoKvStoreOptions {
  /** Current time in epoch milliseconds; the expiry stored in each value is checked against it. @default Date.now */
  now?: () => number;
}

/** The value the adapter stores in Deno KV. */
interface _Stored {
  /** The caller's value. */
  v: string;
  /** Expiry, epoch milliseconds. */
  x: number;
}

// "atb:v1:" → ["atb", "v1"]
const _PREFIX_PARTS: readonly string[] = KEY_PREFIX.slice(0, -1).split(":");

/**
 * Maps a store key to a Deno KV key. Keys of the broker's scheme, `atb:v1:<namespace>:<rest>`, become
 * `["atb", "v1", <namespace>, <rest>]` so an operator can list or purge one namespace with `kv.list({ prefix })`;
 * any other key becomes `["atb", <key>]`. The two shapes differ in length, so the mapping is one-to-one.
 */
export function denoKvKeyFor(key: string): DenoKvKeyLike {
  if (key.startsWith(KEY_PREFIX)) {
    const rest = key.slice(KEY_PREFIX.length);
    const colon = rest.indexOf(":");
    if (colon > 0) {
      return [..._PREFIX_PARTS, rest.slice(0, colon), rest.slice(colon + 1)];
    }
  }
  return [DENO_KV_KEY_ROOT, key];
}

function _unwrap(value: unknown): _Stored | null {
  if (typeof value !== "object" || value === null) return null;
  const { v, x } = value as Partial<_Stored>;
  if (typeof v !== "string" || typeof x !== "number" || !Number.isFinite(x)) return null;
  return { v, x };
}

class DenoKvStore implements AtomicKvStore {
  readonly #kv: DenoKvLike;
  readonly #now: () => number;

  constructor(kv: DenoKvLike, now: () => number) {
    this.#kv = kv;
    this.#now = now;
  }

  #live(entry: DenoKvEntryLike): string | null {
    if (entry.versionstamp === null) return null;
    const stored = _unwrap(entry.value);
    if (stored === null || this.#now() >= stored.x) return null;
    return stored.v;
  }

  #wrap(value: string, options: KvSetOptions): { stored: _Stored; expireInMs: number } {
    const expireInMs = normalizeTtlSeconds(options.ttlSeconds) * 1000;
    return { stored: { v: value, x: this.#now() + expireInMs }, expireInMs };
  }

  async get(key: string): Promise<string | null> {
    return this.#live(await this.#kv.get(denoKvKeyFor(key)));
  }

  async set(key: string, value: string, options: KvSetOptions): Promise<void> {
    const { stored, expireInMs } = this.#wrap(value, options);
    await this.#kv.set(denoKvKeyFor(key), stored, { expireIn: expireInMs });
  }

  async delete(key: string): Promise<void> {
    await this.#kv.delete(denoKvKeyFor(key));
  }

  async take(key: string): Promise<string | null> {
    const kvKey = denoKvKeyFor(key);
    for (let attempt = 0; attempt < DENO_KV_TAKE_MAX_ATTEMPTS; attempt++) {
      const entry = await this.#kv.get(kvKey);
      if (entry.versionstamp === null) return null;
      const value = this.#live(entry);
      const result = await this.#kv.atomic().check({ key: kvKey, versionstamp: entry.versionstamp }).delete(
        kvKey,
      )
        .commit();
      if (result.ok) return value;
      // Someone else changed or took the entry between our read and our commit: read again.
    }
    // Still contended after every attempt: report a miss, which fails closed for single-use values.
    return null;
  }

  async compareAndSet(
    key: string,
    expected: string | null,
    value: string,
    options: KvSetOptions,
  ): Promise<boolean> {
    const kvKey = denoKvKeyFor(key);
    const entry = await this.#kv.get(kvKey);
    if (this.#live(entry) !== expected) return false;
    const { stored, expireInMs } = this.#wrap(value, options);
    const result = await this.#kv.atomic()
      .check({ key: kvKey, versionstamp: entry.versionstamp })
      .set(kvKey, stored, { expireIn: expireInMs })
      .commit();
    return result.ok;
  }
}

/**
 * Creates an {@link AtomicKvStore} over a Deno KV database (`await Deno.openKv()`; `":memory:"` in tests). The
 * caller owns the database and closes it.
 *
 * @param kv The open database.
 * @param options The clock used for the expiry stored inside each value.
 * @returns The store.
 *
 * @example Isolate memory over Deno KV
 * ```ts
 * import { createMemoryStore, createTieredStore } from "arcgis-token-broker";
 * import { createDenoKvStore } from "arcgis-token-broker/deno";
 *
 * const kv = await Deno.openKv();
 * const store = createTieredStore({ memory: createMemoryStore(), shared: createDenoKvStore(kv) });
 * ```
 */
export function createDenoKvStore(kv: DenoKvLike, options: DenoKvStoreOptions = {}): AtomicKvStore {
  return new DenoKvStore(kv, options.now ?? Date.now);
}
