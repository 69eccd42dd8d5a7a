/**
 * The Cloudflare Workers KV adapter, typed against a structural slice of `KVNamespace` so that importing it
 * needs no Workers types.
 *
 * Workers KV is eventually consistent (a read elsewhere can be about 60 s stale), takes one write per second per
 * key, and refuses an `expirationTtl` below 60 s. So this store is not atomic, raises short TTLs to 60 s, and by
 * default treats a failed write (a 429, a quota, a network blip) as non-fatal: it logs and resolves, and the
 * caller's isolate memory carries on. Reads still reject on failure.
 *
 * @module
 */
import { CLOUDFLARE_KV_MIN_TTL_SECONDS, LOG_ERROR_MAX_CHARS } from "./constants.ts";
import type { LogFn } from "../log.ts";
import type { KvSetOptions, KvStore } from "./kv_store.ts";
import { normalizeTtlSeconds } from "./_ttl.ts";

/** The part of Cloudflare's `KVNamespace` the adapter uses; a real binding satisfies it. */
export interface CloudflareKvNamespaceLike {
  /** Reads a value as text; `null` when absent. */
  get(key: string, type: "text"): Promise<string | null>;
  /** Writes a value; `expirationTtl` is in whole seconds, at least 60. */
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<unknown>;
  /** Deletes a key. */
  delete(key: string): Promise<unknown>;
}

/** Options for {@link createCloudflareKvStore}. */
export interface CloudflareKvStoreOptions {
  /** Receives a `warn` entry for every swallowed write failure (never the value). @default no logging */
  log?: LogFn;
  /**
   * When true, a failed `set` or `delete` is logged and resolves instead of rejecting, so a KV 429 never fails a
   * user's request. Set it to false where the caller must know that a write landed.
   * @default true
   */
  swallowWriteErrors?: boolean;
  /** TTLs below this are raised to it, in seconds; Cloudflare refuses less than 60. @default 60 */
  minTtlSeconds?: number;
}

function _errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > LOG_ERROR_MAX_CHARS ? `${text.slice(0, LOG_ERROR_MAX_CHARS)}…` : text;
}

class CloudflareKvStore implements KvStore {
  readonly #ns: CloudflareKvNamespaceLike;
  readonly #log: LogFn | undefined;
  readonly #swallow: boolean;
  readonly #minTtlSeconds: number;

  constructor(ns: CloudflareKvNamespaceLike, options: CloudflareKvStoreOptions) {
    this.#ns = ns;
    this.#log = options.log;
    this.#swallow = options.swallowWriteErrors ?? true;
    this.#minTtlSeconds = Math.max(
      options.minTtlSeconds ?? CLOUDFLARE_KV_MIN_TTL_SECONDS,
      CLOUDFLARE_KV_MIN_TTL_SECONDS,
    );
  }

  async #write(op: "set" | "delete", key: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      if (!this.#swallow) throw error;
      this.#log?.({
        level: "warn",
        msg: `Cannot ${op} Cloudflare KV key: write failed`,
        key,
        error: _errorText(error),
      });
    }
  }

  async get(key: string): Promise<string | null> {
    return await this.#ns.get(key, "text");
  }

  async set(key: string, value: string, options: KvSetOptions): Promise<void> {
    const expirationTtl = normalizeTtlSeconds(options.ttlSeconds, this.#minTtlSeconds);
    await this.#write("set", key, () => this.#ns.put(key, value, { expirationTtl }));
  }

  async delete(key: string): Promise<void> {
    await this.#write("delete", key, () => this.#ns.delete(key));
  }
}

/**
 * Creates a {@link KvStore} over a Workers KV namespace binding (`env.BROKER_KV`). It has no `take` or
 * `compareAndSet`: Workers KV cannot provide them.
 *
 * @param namespace The KV namespace binding.
 * @param options The log hook, and whether write failures are logged instead of thrown (by default a KV 429
 * never fails a request).
 * @returns The store.
 */
export function createCloudflareKvStore(
  ns: CloudflareKvNamespaceLike,
  options: CloudflareKvStoreOptions = {},
): KvStore {
  return new CloudflareKvStore(ns, options);
}
