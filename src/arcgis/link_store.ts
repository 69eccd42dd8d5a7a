/**
 * Where the `user` mode keeps its state, all sealed with the store key as additional data:
 * - link `state` (10 minutes, single use): who started the link, the PKCE verifier, the return URL;
 * - pending links (5 minutes, single use): the tokens of a finished authorization, until the same identity
 *   completes the link;
 * - links: one ArcGIS refresh token per (profile, issuer, subject);
 * - a rotation lock per link.
 *
 * Per identity, a sealed record of recent link starts and outstanding `state`s bounds what one identity can put
 * in the store: at most `MAX_LINK_STARTS_PER_WINDOW` starts per `LINK_START_WINDOW_SECONDS` (more is
 * `ERR_RATE_LIMITED`), and at most `MAX_OUTSTANDING_LINK_STATES` outstanding `state`s (a new one drops the
 * oldest). On an atomic store the record is updated with compare-and-set; without one, concurrent starts of the
 * same identity can each read the record before the other writes it.
 *
 * Single use and the rotation lock need an {@link AtomicKvStore} (`take`, `compareAndSet`): the `coordinator`
 * (Deno KV, a Durable Object) or the main store when it is atomic. Without one, `take` falls back to get + delete
 * and the lock is skipped: two isolates can then both consume a `state` in the same instant, or both rotate a
 * refresh token (the loser's rotation fails and its caller sees `link_required`). Links live in the coordinator
 * when there is one, so a rotation is seen at once everywhere.
 *
 * @module
 */
import * as z from "zod/mini";
import type { LogFn } from "../deps.ts";
import { type AtomicKvStore, isAtomicKvStore, type KvStore } from "../store/kv_store.ts";
import { getJsonEntry, putJson } from "../store/json_value.ts";
import type { Sealer } from "../store/sealer.ts";
import { KEY_NAMESPACES } from "../store/constants.ts";
import { BrokerError } from "../errors.ts";
import { assertKeyableIdentity } from "./token_keys.ts";
import {
  LINK_START_WINDOW_SECONDS,
  LINK_STARTS_UPDATE_ATTEMPTS,
  LINK_STATE_TTL_SECONDS,
  MAX_LINK_STARTS_PER_WINDOW,
  MAX_OUTSTANDING_LINK_STATES,
  PENDING_LINK_TTL_SECONDS,
  ROTATION_LOCK_NAMESPACE,
  ROTATION_LOCK_TTL_SECONDS,
} from "./constants.ts";
import { randomId } from "./_random.ts";

/** A committed link: the refresh token of one IdP identity. */
export interface LinkRecord {
  /** ArcGIS user name. */
  username: string;
  /** The refresh token. */
  refreshToken: string;
  /** When this refresh token was issued, epoch ms. */
  refreshIssuedAt: number;
  /** When it expires, epoch ms. */
  refreshExpires: number;
  /** When it is due for rotation (T), epoch ms. */
  rotateAt: number;
  /** `ssl` of the tokens. */
  ssl: boolean;
}

/** A link flow between `startLink` and the callback. */
export interface LinkState {
  /** Issuer of the identity that started it. */
  issuer: string;
  /** Subject of that identity. */
  subject: string;
  /** The `user` profile. */
  profile: string;
  /** The PKCE verifier (never leaves the broker). */
  verifier: string;
  /** Allowlisted return URL. */
  returnTo: string;
  /** The identity's `idpUsernameClaim` value, when the profile names one. */
  idpUsername?: string;
}

/** A finished authorization waiting for `completeLink`. */
export interface PendingLink {
  /** Issuer of the identity that started it. */
  issuer: string;
  /** Subject of that identity. */
  subject: string;
  /** The `user` profile. */
  profile: string;
  /** The link to commit. */
  link: LinkRecord;
  /** The access token from the code exchange. */
  accessToken: string;
  /** Its expiry, epoch ms. */
  accessExpires: number;
}

// z.number() refuses Infinity and NaN (zod 4), as `.finite()` did.
const _linkRecord = z.object({
  username: z.string().check(z.minLength(1)),
  refreshToken: z.string().check(z.minLength(1)),
  refreshIssuedAt: z.number(),
  refreshExpires: z.number(),
  rotateAt: z.number(),
  ssl: z.boolean(),
});

const _linkState = z.object({
  issuer: z.string(),
  subject: z.string(),
  profile: z.string(),
  verifier: z.string().check(z.minLength(43)),
  returnTo: z.string(),
  idpUsername: z.optional(z.string()),
});

const _pendingLink = z.object({
  issuer: z.string(),
  subject: z.string(),
  profile: z.string(),
  link: _linkRecord,
  accessToken: z.string().check(z.minLength(1)),
  accessExpires: z.number(),
});

const _linkStarts = z.object({
  starts: z.array(z.number()),
  states: z.array(z.object({ id: z.string(), exp: z.number() })),
});

type _LinkStarts = z.infer<typeof _linkStarts>;

/** A held rotation lock. */
export interface RotationLock {
  /** Releases it. */
  release(): Promise<void>;
}

/** Options for {@link createLinkStore}. */
export interface LinkStoreOptions {
  /** The main store (tiered). */
  store: KvStore;
  /** The atomic store for single use, the rotation lock and links. @default `store` */
  coordinator?: KvStore;
  /** Seals every value. */
  sealer: Sealer;
  /** Clock, epoch ms. */
  now: () => number;
  /** Log hook. */
  log: LogFn;
}

/** The `user` mode's storage. */
export interface LinkStore {
  /** True when single use and the rotation lock are atomic. */
  readonly atomic: boolean;
  /**
   * Stores a new link `state`; resolves to the `state` value. Drops the identity's oldest outstanding `state`s
   * beyond the cap; rejects with `ERR_RATE_LIMITED` (with `retryAfterSeconds`) when the identity started too many
   * links in the window.
   */
  putState(value: LinkState): Promise<string>;
  /** Consumes a `state`: the first caller gets it, later ones (and expired or tampered ones) get null. */
  takeState(state: string): Promise<LinkState | null>;
  /** Stores a pending link; resolves to its `linkId`. */
  putPending(value: PendingLink): Promise<string>;
  /** Consumes a pending link (single use). */
  takePending(linkId: string): Promise<PendingLink | null>;
  /** The link of an identity, or null. */
  getLink(profile: string, issuer: string, subject: string): Promise<LinkRecord | null>;
  /** Stores (replaces) the link of an identity. */
  putLink(profile: string, issuer: string, subject: string, link: LinkRecord): Promise<void>;
  /** Deletes the link of an identity. */
  deleteLink(profile: string, issuer: string, subject: string): Promise<void>;
  /**
   * Takes the rotation lock of an identity's link: a lock, or null when another isolate holds it. Without an
   * atomic store it always succeeds (see the module notes).
   */
  lockRotation(profile: string, issuer: string, subject: string): Promise<RotationLock | null>;
}

class SealedLinkStore implements LinkStore {
  readonly atomic: boolean;
  readonly #coordinator: KvStore;
  readonly #sealer: Sealer;
  readonly #now: () => number;
  readonly #log: LogFn;

  constructor(options: LinkStoreOptions) {
    this.#coordinator = options.coordinator ?? options.store;
    this.atomic = isAtomicKvStore(this.#coordinator);
    this.#sealer = options.sealer;
    this.#now = options.now;
    this.#log = options.log;
  }

  #key(namespace: string, fields: readonly string[]): Promise<string> {
    return this.#sealer.deriveCacheKey(namespace, fields);
  }

  async #take(key: string): Promise<string | null> {
    const store = this.#coordinator;
    if (isAtomicKvStore(store)) return await store.take(key);
    // Not atomic: two isolates can both read before either deletes (see the module notes).
    const value = await store.get(key);
    if (value !== null) await store.delete(key);
    return value;
  }

  async #open<T>(key: string, sealed: string | null, schema: z.ZodMiniType<T>): Promise<T | null> {
    if (sealed === null) return null;
    // Read through a one-entry store so that json_value's checks (expiry, seal, schema) apply to the taken value.
    const entry = await getJsonEntry(
      {
        get: () => Promise.resolve(sealed),
        set: () => Promise.resolve(),
        delete: () => Promise.resolve(),
      },
      key,
      { now: this.#now, sealer: this.#sealer, schema },
    );
    return entry === null ? null : entry.value;
  }

  async putState(value: LinkState): Promise<string> {
    assertKeyableIdentity(value.issuer, value.subject);
    const state = randomId();
    const stateExpiresAt = this.#now() + LINK_STATE_TTL_SECONDS * 1000;
    await this.#recordStart(value.issuer, value.subject, state, stateExpiresAt);
    const key = await this.#key(KEY_NAMESPACES.linkState, [state]);
    await putJson(this.#coordinator, key, value, {
      expiresAt: stateExpiresAt,
      now: this.#now,
      sealer: this.#sealer,
    });
    return state;
  }

  /**
   * Adds a start to the identity's record: refuses one over the rate limit, and deletes the `state`s that fall
   * out of the cap.
   */
  async #recordStart(issuer: string, subject: string, state: string, stateExpiresAt: number): Promise<void> {
    const key = await this.#key(KEY_NAMESPACES.linkStarts, [issuer, subject]);
    const store = this.#coordinator;
    const windowMs = LINK_START_WINDOW_SECONDS * 1000;
    for (let attempt = 0; attempt < LINK_STARTS_UPDATE_ATTEMPTS; attempt++) {
      const raw = await store.get(key);
      const nowMs = this.#now();
      const record: _LinkStarts = (await this.#open(key, raw, _linkStarts)) ?? { starts: [], states: [] };
      const starts = record.starts.filter((at) => at > nowMs - windowMs && at <= nowMs);
      if (starts.length >= MAX_LINK_STARTS_PER_WINDOW) {
        this.#log({ level: "warn", msg: "Link start refused: too many link starts by one identity" });
        throw new BrokerError("ERR_RATE_LIMITED", "Too many link starts: retry later", {
          retryAfterSeconds: Math.max(1, Math.ceil((Math.min(...starts) + windowMs - nowMs) / 1000)),
        });
      }
      const live = record.states.filter((s) => s.exp > nowMs).sort((a, b) => a.exp - b.exp);
      const dropped = live.slice(0, Math.max(0, live.length - (MAX_OUTSTANDING_LINK_STATES - 1)));
      const kept = live.slice(dropped.length);
      const next: _LinkStarts = {
        starts: [...starts, nowMs],
        states: [...kept, { id: state, exp: stateExpiresAt }],
      };
      const expiresAt = Math.max(nowMs + windowMs, stateExpiresAt);
      let written: boolean;
      try {
        written = await this.#writeRecord(key, raw, next, expiresAt);
      } catch (error) {
        // A KV 429 (one write per second per key) or an outage: the start cannot be counted, so it is refused.
        this.#log({
          level: "warn",
          msg: "Cannot record a link start",
          error: String((error as Error)?.name),
        });
        throw new BrokerError("ERR_RATE_LIMITED", "Cannot record the link start: retry later", {
          cause: error,
          retryAfterSeconds: 1,
        });
      }
      if (!written) continue;
      await Promise.all(dropped.map(async (s) => {
        await store.delete(await this.#key(KEY_NAMESPACES.linkState, [s.id]));
      }));
      return;
    }
    throw new BrokerError("ERR_RATE_LIMITED", "Concurrent link starts: retry later", {
      retryAfterSeconds: 1,
    });
  }

  /** Writes the record: compare-and-set against `expected` on an atomic store, a plain write otherwise. */
  async #writeRecord(
    key: string,
    expected: string | null,
    record: _LinkStarts,
    expiresAt: number,
  ): Promise<boolean> {
    const store = this.#coordinator;
    if (!isAtomicKvStore(store)) {
      await putJson(store, key, record, { expiresAt, now: this.#now, sealer: this.#sealer });
      return true;
    }
    let won = false;
    const once: KvStore = {
      get: (k) => store.get(k),
      set: async (k, v, o) => {
        won = await store.compareAndSet(k, expected, v, o);
      },
      delete: (k) => store.delete(k),
    };
    await putJson(once, key, record, { expiresAt, now: this.#now, sealer: this.#sealer });
    return won;
  }

  async takeState(state: string): Promise<LinkState | null> {
    const key = await this.#key(KEY_NAMESPACES.linkState, [state]);
    return await this.#open(key, await this.#take(key), _linkState);
  }

  async putPending(value: PendingLink): Promise<string> {
    const linkId = randomId();
    const key = await this.#key(KEY_NAMESPACES.pendingLink, [linkId]);
    await putJson(this.#coordinator, key, value, {
      expiresAt: this.#now() + PENDING_LINK_TTL_SECONDS * 1000,
      now: this.#now,
      sealer: this.#sealer,
    });
    return linkId;
  }

  async takePending(linkId: string): Promise<PendingLink | null> {
    const key = await this.#key(KEY_NAMESPACES.pendingLink, [linkId]);
    return await this.#open(key, await this.#take(key), _pendingLink);
  }

  #linkKey(profile: string, issuer: string, subject: string): Promise<string> {
    assertKeyableIdentity(issuer, subject);
    return this.#key(KEY_NAMESPACES.link, [profile, issuer, subject]);
  }

  async getLink(profile: string, issuer: string, subject: string): Promise<LinkRecord | null> {
    const key = await this.#linkKey(profile, issuer, subject);
    try {
      const entry = await getJsonEntry(this.#coordinator, key, {
        now: this.#now,
        sealer: this.#sealer,
        schema: _linkRecord,
      });
      return entry === null ? null : entry.value;
    } catch (error) {
      this.#log({ level: "warn", msg: "Cannot read a link", error: String((error as Error)?.name) });
      throw error;
    }
  }

  async putLink(profile: string, issuer: string, subject: string, link: LinkRecord): Promise<void> {
    const key = await this.#linkKey(profile, issuer, subject);
    await putJson(this.#coordinator, key, link, {
      expiresAt: link.refreshExpires,
      now: this.#now,
      sealer: this.#sealer,
    });
  }

  async deleteLink(profile: string, issuer: string, subject: string): Promise<void> {
    await this.#coordinator.delete(await this.#linkKey(profile, issuer, subject));
  }

  async lockRotation(profile: string, issuer: string, subject: string): Promise<RotationLock | null> {
    const store = this.#coordinator;
    if (!isAtomicKvStore(store)) return { release: () => Promise.resolve() };
    const key = await this.#key(ROTATION_LOCK_NAMESPACE, [profile, issuer, subject]);
    const owner = randomId();
    const atomic: AtomicKvStore = store;
    const won = await atomic.compareAndSet(key, null, owner, { ttlSeconds: ROTATION_LOCK_TTL_SECONDS });
    if (!won) return null;
    return {
      release: async () => {
        try {
          await atomic.delete(key);
        } catch {
          // The lock expires on its own.
        }
      },
    };
  }
}

/** Creates the {@link LinkStore}. */
export function createLinkStore(options: LinkStoreOptions): LinkStore {
  return new SealedLinkStore(options);
}
