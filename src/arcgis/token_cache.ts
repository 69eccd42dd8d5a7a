/**
 * The ArcGIS token cache: sealed values in the shared store (the tiered store in production), keyed by an HMAC
 * over length-prefixed fields, with the expiry inside the value. A token is reused only while more than the
 * safety margin is left, refreshed in the background once less than two margins are left, and fetched by one
 * caller at a time per key (single flight). A failed fetch is never cached as a success; it is remembered for
 * `negativeCacheSeconds` so ArcGIS is not hammered while it is down.
 *
 * Opening a sealed value (AES-GCM, then JSON and schema checks) is most of the cost of a warm read, so the cache
 * remembers, per key and in isolate memory only, the token it last opened together with the exact sealed text it
 * came from. A read still asks the store every time; only when the store returns that same sealed text is the
 * remembered token used instead of opening it again, so the store stays the only source of truth (a purge, an
 * overwrite, a tampered or moved value elsewhere is seen exactly as before). A remembered token is dropped on
 * purge and on write, and no longer used once no more than the safety margin is left or its stored expiry has
 * passed; the memo is bounded (least recently used first out). Store values stay sealed.
 *
 * @module
 */
import * as z from "zod/mini";
import type { LogFn } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { KvStore } from "../store/kv_store.ts";
import { getJsonEntry, putJson } from "../store/json_value.ts";
import type { Sealer } from "../store/sealer.ts";
import { DEFAULT_MEMORY_MAX_ENTRIES, KEY_NAMESPACES } from "../store/constants.ts";
import { createLru, type Lru } from "../util/lru.ts";
import { isUpstreamFailure, withRetryAfter } from "./_errors.ts";
import { REFRESH_AHEAD_SAFETY_MARGINS } from "./constants.ts";

/** A token as the cache keeps it. */
export interface CachedToken {
  /** The ArcGIS token. */
  token: string;
  /** Expiry as handed out (possibly capped before a refresh-token rotation), epoch ms. */
  expires: number;
  /** Whether the token must only travel over https. */
  ssl: boolean;
  /** ArcGIS user name (profile name for app and API-key tokens). */
  userId: string;
  /** Referer the token is bound to. */
  referer?: string;
  /** True when `expires` was capped (rotation ahead): refreshing early would not give a longer token. */
  capped?: boolean;
  /** When the broker obtained it, epoch ms (stamped by the cache on write; absent in older stored values). */
  issuedAt?: number;
}

const _cachedTokenSchema = z.object({
  token: z.string().check(z.minLength(1)),
  // z.number() refuses Infinity and NaN (zod 4), as `.finite()` did.
  expires: z.number(),
  ssl: z.boolean(),
  userId: z.string(),
  referer: z.optional(z.string()),
  capped: z.optional(z.boolean()),
  issuedAt: z.optional(z.number()),
});

const _negativeSchema = z.object({ code: z.string() });

/** In-flight fetches by cache key. */
export type Flights = Map<string, Promise<CachedToken>>;

/** Options for one {@link TokenCache.obtain}. */
export interface ObtainOptions {
  /** Where concurrent fetches of the same key meet (per isolate, or per call). */
  flights: Flights;
  /**
   * Tokens already obtained in this call, by key: reused without reading the store again (so one call fetches
   * each token at most once even when the store keeps nothing, e.g. after a KV write failure).
   */
  memo?: Map<string, CachedToken>;
  /** Skip the cached value and fetch a new one. */
  forceRefresh?: boolean;
  /** A token upstream refused: if it is the cached one, it is purged first. */
  rejectedToken?: string;
  /**
   * With `forceRefresh` or `rejectedToken`: a token to be replaced that the broker obtained less than this long
   * ago is kept and returned instead (the forced-refresh floor: a forged 498 cannot mint a token per request).
   * @default 0
   */
  refreshFloorMs?: number;
  /**
   * Reuse the cached token only while more than this is left (never less than the safety margin), unless it is
   * `capped`. Used when a token is needed to mint another one that should not be short-lived.
   */
  minRemainingMs?: number;
}

/** Options for {@link createTokenCache}. */
export interface TokenCacheOptions {
  /** The shared store. */
  store: KvStore;
  /** Seals every value (additional data: its key). */
  sealer: Sealer;
  /** Clock, epoch ms. */
  now: () => number;
  /** A cached token is reused only while more than this is left. */
  safetyMarginSeconds: number;
  /** How long a failed fetch is remembered. */
  negativeCacheSeconds: number;
  /** Log hook. */
  log: LogFn;
  /** Keeps background refreshes alive. */
  waitUntil: (promise: Promise<unknown>) => void;
  /**
   * Opened tokens remembered in isolate memory (with the sealed text they came from) so that reading the same
   * stored value again skips AES-GCM; 0 disables. @default 10000
   */
  openedMaxEntries?: number;
}

/** The token cache. */
export interface TokenCache {
  /**
   * The token under `key`: the cached one while it has more than the safety margin left, else the result of
   * `fetcher` (one fetch per key at a time in `options.flights`). Rejects with `ERR_ARCGIS_UNAVAILABLE` while a
   * failure of this key is remembered.
   */
  obtain(key: string, fetcher: () => Promise<CachedToken>, options: ObtainOptions): Promise<CachedToken>;
  /** The usable cached token under `key` (more than the safety margin left), or null. */
  peek(key: string): Promise<CachedToken | null>;
  /** Stores `token` under `key` (a store failure is logged, not thrown). */
  put(key: string, token: CachedToken): Promise<void>;
  /** Removes the cached token under `key` and its remembered failure. */
  purge(key: string): Promise<void>;
}

/** A token opened from `sealed`, the exact text the store held. */
interface _Opened {
  sealed: string;
  token: CachedToken;
  /** The expiry stored with the value, epoch ms. */
  expiresAt: number;
}

/** A store holding one value, so that `getJsonEntry` opens text already read. */
function _oneValue(value: string): KvStore {
  const refuse = () => Promise.reject(new TypeError("Read-only"));
  return { get: () => Promise.resolve(value), set: refuse, delete: refuse };
}

class SealedTokenCache implements TokenCache {
  readonly #store: KvStore;
  readonly #sealer: Sealer;
  readonly #now: () => number;
  readonly #marginMs: number;
  readonly #refreshAheadMs: number;
  readonly #negativeSeconds: number;
  readonly #log: LogFn;
  readonly #waitUntil: (promise: Promise<unknown>) => void;
  /** Opened tokens by cache key, each with the sealed text it came from. */
  readonly #opened: Lru<string, _Opened>;

  constructor(options: TokenCacheOptions) {
    this.#store = options.store;
    this.#sealer = options.sealer;
    this.#now = options.now;
    this.#marginMs = options.safetyMarginSeconds * 1000;
    this.#refreshAheadMs = this.#marginMs * REFRESH_AHEAD_SAFETY_MARGINS;
    this.#negativeSeconds = options.negativeCacheSeconds;
    this.#log = options.log;
    this.#waitUntil = options.waitUntil;
    const openedMaxEntries = options.openedMaxEntries ?? DEFAULT_MEMORY_MAX_ENTRIES;
    if (!Number.isSafeInteger(openedMaxEntries) || openedMaxEntries < 0) {
      throw new BrokerError(
        "ERR_CONFIG_INVALID",
        `Invalid token cache option "openedMaxEntries": expected an integer of at least 0`,
      );
    }
    this.#opened = createLru(openedMaxEntries);
  }

  async #read(key: string): Promise<CachedToken | null> {
    try {
      const stored = await this.#store.get(key);
      if (stored === null) {
        this.#opened.delete(key);
        return null;
      }
      const nowMs = this.#now();
      let known = this.#opened.get(key);
      if (known !== undefined && known.sealed !== stored) {
        this.#opened.delete(key);
        known = undefined;
      }
      if (known !== undefined) {
        // The very text this cache opened before: the same plaintext, without opening it again. Only while the
        // stored expiry has not passed and more than the margin is left; after that, the normal path decides.
        if (known.expiresAt > nowMs && known.token.expires - nowMs > this.#marginMs) return known.token;
        this.#opened.delete(key);
      }
      const entry = await getJsonEntry(_oneValue(stored), key, {
        now: this.#now,
        sealer: this.#sealer,
        schema: _cachedTokenSchema,
      });
      if (entry === null) {
        this.#opened.delete(key);
        return null;
      }
      const token = Object.freeze(entry.value);
      if (token.expires - this.#now() > this.#marginMs) {
        this.#opened.set(key, { sealed: stored, token, expiresAt: entry.expiresAt });
      }
      return token;
    } catch (error) {
      this.#log({ level: "warn", msg: "Cannot read the token cache", error: String((error as Error)?.name) });
      return null;
    }
  }

  #usable(token: CachedToken | null, minRemainingMs: number): token is CachedToken {
    if (token === null) return false;
    const remaining = token.expires - this.#now();
    return remaining > this.#marginMs && (remaining > minRemainingMs || token.capped === true);
  }

  /** True when `token` was obtained less than `floorMs` ago: too young to be replaced by force. */
  #young(token: CachedToken, floorMs: number | undefined): boolean {
    if (floorMs === undefined || floorMs <= 0 || token.issuedAt === undefined) return false;
    const ageMs = this.#now() - token.issuedAt;
    return ageMs >= 0 && ageMs < floorMs;
  }

  async peek(key: string): Promise<CachedToken | null> {
    const token = await this.#read(key);
    return this.#usable(token, this.#marginMs) ? token : null;
  }

  async #negativeKey(key: string): Promise<string> {
    return await this.#sealer.deriveCacheKey(KEY_NAMESPACES.negative, [key]);
  }

  async #checkNegative(key: string): Promise<void> {
    let entry;
    try {
      entry = await getJsonEntry(this.#store, await this.#negativeKey(key), {
        now: this.#now,
        schema: _negativeSchema,
      });
    } catch {
      return;
    }
    if (entry === null) return;
    const retryAfterSeconds = Math.max(1, Math.ceil((entry.expiresAt - this.#now()) / 1000));
    throw new BrokerError("ERR_ARCGIS_UNAVAILABLE", "ArcGIS token service is unavailable: retry later", {
      retryAfterSeconds,
    });
  }

  async #remember(key: string, error: BrokerError): Promise<void> {
    try {
      await putJson(this.#store, await this.#negativeKey(key), { code: error.code }, {
        expiresAt: this.#now() + this.#negativeSeconds * 1000,
        now: this.#now,
      });
    } catch {
      this.#log({ level: "warn", msg: "Cannot write the negative cache" });
    }
  }

  /** `token` with the time the broker obtained it. */
  #stamped(token: CachedToken): CachedToken {
    return token.issuedAt === undefined ? { ...token, issuedAt: this.#now() } : token;
  }

  async #write(key: string, token: CachedToken): Promise<void> {
    this.#opened.delete(key);
    try {
      await putJson(this.#store, key, token, {
        expiresAt: token.expires,
        now: this.#now,
        sealer: this.#sealer,
      });
    } catch (error) {
      // A store write failure (a KV 429) never fails the request: the token is still good.
      this.#log({
        level: "warn",
        msg: "Cannot write the token cache",
        error: String((error as Error)?.name),
      });
    }
  }

  async #fetch(
    key: string,
    fetcher: () => Promise<CachedToken>,
    reread: boolean,
    minRemainingMs: number,
  ): Promise<CachedToken> {
    if (reread) {
      const again = await this.#read(key);
      if (this.#usable(again, minRemainingMs)) return again;
    }
    await this.#checkNegative(key);
    let token: CachedToken;
    try {
      token = await fetcher();
    } catch (error) {
      if (isUpstreamFailure(error)) {
        await this.#remember(key, error);
        throw withRetryAfter(error, this.#negativeSeconds);
      }
      throw error;
    }
    token = this.#stamped(token);
    await this.#write(key, token);
    return token;
  }

  #flight(
    key: string,
    flights: Flights,
    fetcher: () => Promise<CachedToken>,
    reread: boolean,
    minRemainingMs: number,
  ): Promise<CachedToken> {
    const existing = flights.get(key);
    if (existing !== undefined) return existing;
    const flight = this.#fetch(key, fetcher, reread, minRemainingMs).finally(() => {
      if (flights.get(key) === flight) flights.delete(key);
    });
    flights.set(key, flight);
    return flight;
  }

  async obtain(
    key: string,
    fetcher: () => Promise<CachedToken>,
    options: ObtainOptions,
  ): Promise<CachedToken> {
    const token = await this.#obtain(key, fetcher, options);
    options.memo?.set(key, token);
    return token;
  }

  async #obtain(
    key: string,
    fetcher: () => Promise<CachedToken>,
    options: ObtainOptions,
  ): Promise<CachedToken> {
    const { flights, memo } = options;
    const minMs = Math.max(this.#marginMs, options.minRemainingMs ?? 0);
    const memoed = memo?.get(key) ?? null;
    const forced = options.forceRefresh === true || options.rejectedToken !== undefined;
    if (forced) {
      if (memoed !== null) {
        if (options.rejectedToken === undefined || memoed.token === options.rejectedToken) {
          if (this.#young(memoed, options.refreshFloorMs)) return memoed;
          memo!.delete(key);
        } else if (this.#usable(memoed, minMs)) return memoed;
      }
    } else if (this.#usable(memoed, minMs)) {
      return memoed;
    }
    if (forced) {
      const cached = await this.#read(key);
      const refused = cached !== null &&
        (options.rejectedToken === undefined || cached.token === options.rejectedToken);
      if (refused && this.#young(cached, options.refreshFloorMs)) return cached;
      if (refused) await this.#purgeToken(key);
      if (cached !== null && !refused && this.#usable(cached, minMs)) return cached;
      return await this.#flight(key, flights, fetcher, false, minMs);
    }
    // Read first (a background refresh in flight must not delay a usable token); a miss joins the flight, and
    // a new flight reads again, so a fetch that finished in between is not repeated.
    const cached = await this.#read(key);
    if (this.#usable(cached, minMs)) {
      if (
        cached.capped !== true && cached.expires - this.#now() <= this.#refreshAheadMs && !flights.has(key)
      ) {
        const background = this.#flight(key, flights, fetcher, true, this.#refreshAheadMs);
        this.#waitUntil(background.catch(() => {}));
      }
      return cached;
    }
    return await this.#flight(key, flights, fetcher, true, minMs);
  }

  async put(key: string, token: CachedToken): Promise<void> {
    await this.#write(key, this.#stamped(token));
  }

  async #purgeToken(key: string): Promise<void> {
    this.#opened.delete(key);
    try {
      await this.#store.delete(key);
    } catch {
      this.#log({ level: "warn", msg: "Cannot purge the token cache" });
    }
  }

  async purge(key: string): Promise<void> {
    await this.#purgeToken(key);
    try {
      await this.#store.delete(await this.#negativeKey(key));
    } catch {
      // Best effort: a remembered failure expires on its own.
    }
  }
}

/** Creates a {@link TokenCache}. */
export function createTokenCache(options: TokenCacheOptions): TokenCache {
  return new SealedTokenCache(options);
}
