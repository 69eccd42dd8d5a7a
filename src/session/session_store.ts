/**
 * Sessions for clients that cannot send an `Authorization` header (`<img>` tiles of Leaflet and OpenLayers).
 *
 * A session is one sealed value (AES-GCM under the broker's keyring, see `src/store/sealer.ts`) that the browser
 * keeps as an `HttpOnly` cookie. It holds the verified identity (issuer, subject, the IdP session id when the
 * token had one, the claims the rules look at) and never a token. It ends no later than the IdP token it was made
 * from, and at most {@link SessionStoreOptions.maxSeconds} after it was made.
 *
 * Ending a session early writes a revocation marker to the shared store, so a copied cookie stops working too:
 * - `DELETE {mount}/session` marks that one session (key: HMAC of its random id);
 * - a back-channel logout marks the user (HMAC of issuer and subject) or the IdP session (issuer and `sid`) with
 *   the time of the logout; every session made before that time is refused.
 * Markers are a deny list rather than an allow list of live sessions: on an eventually consistent store
 * (Cloudflare KV) a new session works at once everywhere, and only a revocation takes up to the store's
 * propagation delay to reach every location. Every marker lives as long as the sessions it can refuse.
 *
 * @module
 */
import * as z from "zod/mini";
import type { LogFn } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { KvStore } from "../store/kv_store.ts";
import type { Sealer } from "../store/sealer.ts";
import type { Identity } from "../types.ts";
import { encodeBase64url } from "../util/bytes.ts";
import {
  DEFAULT_SESSION_MAX_SECONDS,
  ENDED_SESSION_NAMESPACE,
  LOGOUT_JTI_NAMESPACE,
  LOGOUT_NAMESPACE,
  MAX_SESSION_COOKIE_BYTES,
  MIN_STORE_TTL_SECONDS,
  SESSION_SEAL_AAD,
  SESSION_VALUE_VERSION,
  SID_SUBJECT_NAMESPACE,
} from "./constants.ts";

/** Options for {@link createSessionStore}. */
export interface SessionStoreOptions {
  /** Seals the cookie value and derives the marker keys. */
  sealer: Sealer;
  /** Where revocation markers live (the broker's shared store). */
  store: KvStore;
  /** Clock, epoch ms. */
  now: () => number;
  /** Log hook (never given a cookie value or a claim). */
  log: LogFn;
  /** Longest a session lives, seconds. @default 900 */
  maxSeconds?: number;
}

/** An open session. */
export interface Session {
  /** Random id (only its HMAC is ever stored). */
  readonly id: string;
  /** The identity it was made for; `expiresAt` is the session's own end, epoch seconds. */
  readonly identity: Identity;
  /** The IdP session id (`sid` claim) of the token it was made from, if any. */
  readonly sid?: string;
  /** When it was made, epoch ms. */
  readonly issuedAtMs: number;
  /** When it ends, epoch ms. */
  readonly expiresAtMs: number;
}

/** A made session and the cookie value that carries it. */
export interface IssuedSession {
  /** The session. */
  session: Session;
  /** The sealed cookie value. */
  value: string;
}

/** Whom a back-channel logout names: the user (`subject`), the IdP session (`sid`), or both. */
export interface LogoutTarget {
  /** The configured issuer. */
  issuer: string;
  /** The user's `sub`. */
  subject?: string;
  /** The IdP session id. */
  sid?: string;
}

/** Makes, opens and ends sessions. */
export interface SessionStore {
  /** Longest a session lives, seconds. */
  readonly maxSeconds: number;
  /**
   * Makes a session for a verified identity, ending at the IdP token's `exp` or after `maxSeconds`, whichever is
   * first. Rejects with `ERR_INVALID_REQUEST` when the token has already expired or its claims are too large
   * for a cookie.
   */
  create(identity: Identity): Promise<IssuedSession>;
  /**
   * The session a cookie value carries, or `null` when it does not open, has expired, or was ended (by
   * `DELETE`, or by a logout at the IdP after it was made). A store that cannot be read refuses the session.
   */
  open(value: string): Promise<Session | null>;
  /** Ends one session (it is refused from now on, wherever the cookie is copied). */
  end(session: Session): Promise<void>;
  /**
   * Ends every session of `target` made until now. Resolves to the subject the logout concerns (looked up from
   * the IdP session id when only `sid` was given), or `undefined` when it is unknown.
   */
  logout(target: LogoutTarget): Promise<string | undefined>;
  /**
   * Records the `jti` of a logout token until `untilMs`; resolves to false when it was recorded before (a
   * replay). Best effort on stores without atomic writes.
   */
  useLogoutToken(issuer: string, jti: string, untilMs: number): Promise<boolean>;
}

const _payloadSchema = z.object({
  v: z.literal(SESSION_VALUE_VERSION),
  id: z.string().check(z.minLength(16)),
  iss: z.string(),
  sub: z.string(),
  sid: z.optional(z.string()),
  kind: z.enum(["access", "id"]),
  iat: z.number(),
  exp: z.number(),
  claims: z.record(z.string(), z.unknown()),
});

function _randomId(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(18)));
}

function _deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) _deepFreeze(member);
  }
  return value;
}

class SealedSessionStore implements SessionStore {
  readonly maxSeconds: number;
  readonly #sealer: Sealer;
  readonly #store: KvStore;
  readonly #now: () => number;
  readonly #log: LogFn;

  constructor(options: SessionStoreOptions) {
    const maxSeconds = options.maxSeconds ?? DEFAULT_SESSION_MAX_SECONDS;
    if (!Number.isSafeInteger(maxSeconds) || maxSeconds < 1) {
      throw new BrokerError(
        "ERR_CONFIG_INVALID",
        `Invalid session option "maxSeconds": expected a positive integer, got "${maxSeconds}"`,
      );
    }
    this.maxSeconds = maxSeconds;
    this.#sealer = options.sealer;
    this.#store = options.store;
    this.#now = options.now;
    this.#log = options.log;
  }

  #markerTtlSeconds(): number {
    return Math.max(MIN_STORE_TTL_SECONDS, this.maxSeconds + MIN_STORE_TTL_SECONDS);
  }

  #userKey(issuer: string, subject: string): Promise<string> {
    return this.#sealer.deriveCacheKey(LOGOUT_NAMESPACE, ["sub", issuer, subject]);
  }

  #sidKey(issuer: string, sid: string): Promise<string> {
    return this.#sealer.deriveCacheKey(LOGOUT_NAMESPACE, ["sid", issuer, sid]);
  }

  async create(identity: Identity): Promise<IssuedSession> {
    const now = this.#now();
    const expiresAtMs = Math.min(identity.expiresAt * 1000, now + this.maxSeconds * 1000);
    if (!(expiresAtMs > now)) throw new BrokerError("ERR_INVALID_REQUEST", "The token has expired");
    const sid = typeof identity.claims.sid === "string" && identity.claims.sid !== ""
      ? identity.claims.sid
      : undefined;
    const id = _randomId();
    const payload: z.infer<typeof _payloadSchema> = {
      v: SESSION_VALUE_VERSION,
      id,
      iss: identity.issuer,
      sub: identity.subject,
      ...(sid === undefined ? {} : { sid }),
      kind: identity.tokenKind,
      iat: now,
      exp: expiresAtMs,
      claims: { ...identity.claims },
    };
    const value = await this.#sealer.seal(JSON.stringify(payload), SESSION_SEAL_AAD);
    if (value.length > MAX_SESSION_COOKIE_BYTES) {
      this.#log({
        level: "warn",
        msg: "Cannot make a session: the token's claims are too large for a cookie",
      });
      throw new BrokerError("ERR_INVALID_REQUEST", "The token's claims are too large for a session cookie");
    }
    if (sid !== undefined) {
      // A logout token may name only the IdP session: remember whose it is, to purge that user's tokens.
      try {
        await this.#store.set(
          await this.#sealer.deriveCacheKey(SID_SUBJECT_NAMESPACE, [identity.issuer, sid]),
          identity.subject,
          { ttlSeconds: this.#markerTtlSeconds() },
        );
      } catch {
        this.#log({ level: "warn", msg: "Cannot remember the IdP session of a new session" });
      }
    }
    return { session: this.#session(payload), value };
  }

  #session(payload: z.infer<typeof _payloadSchema>): Session {
    const identity: Identity = Object.freeze({
      issuer: payload.iss,
      subject: payload.sub,
      claims: _deepFreeze(payload.claims),
      tokenKind: payload.kind,
      expiresAt: Math.floor(payload.exp / 1000),
    });
    return Object.freeze({
      id: payload.id,
      identity,
      ...(payload.sid === undefined ? {} : { sid: payload.sid }),
      issuedAtMs: payload.iat,
      expiresAtMs: payload.exp,
    });
  }

  async open(value: string): Promise<Session | null> {
    if (typeof value !== "string" || value.length > MAX_SESSION_COOKIE_BYTES) return null;
    const text = await this.#sealer.open(value, SESSION_SEAL_AAD);
    if (text === null) return null;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return null;
    }
    const checked = _payloadSchema.safeParse(parsed);
    if (!checked.success) return null;
    const payload = checked.data;
    if (!(this.#now() < payload.exp)) return null;
    try {
      const keys = [
        this.#sealer.deriveCacheKey(ENDED_SESSION_NAMESPACE, [payload.id]),
        this.#userKey(payload.iss, payload.sub),
        ...(payload.sid === undefined ? [] : [this.#sidKey(payload.iss, payload.sid)]),
      ];
      const [ended, ...logouts] = await Promise.all(
        keys.map(async (key) => await this.#store.get(await key)),
      );
      if (ended !== null) return null;
      for (const marker of logouts) {
        if (marker !== null && !(Number(marker) < payload.iat)) return null;
      }
    } catch {
      this.#log({ level: "warn", msg: "Cannot read session revocations: the session is refused" });
      return null;
    }
    return this.#session(payload);
  }

  async end(session: Session): Promise<void> {
    const remainingSeconds = Math.ceil((session.expiresAtMs - this.#now()) / 1000);
    if (remainingSeconds <= 0) return;
    await this.#store.set(
      await this.#sealer.deriveCacheKey(ENDED_SESSION_NAMESPACE, [session.id]),
      "1",
      { ttlSeconds: Math.max(MIN_STORE_TTL_SECONDS, remainingSeconds) },
    );
  }

  async logout(target: LogoutTarget): Promise<string | undefined> {
    const at = String(this.#now());
    const ttlSeconds = this.#markerTtlSeconds();
    let subject = target.subject;
    if (target.sid !== undefined) {
      await this.#store.set(await this.#sidKey(target.issuer, target.sid), at, { ttlSeconds });
      if (subject === undefined) {
        subject = await this.#store.get(
          await this.#sealer.deriveCacheKey(SID_SUBJECT_NAMESPACE, [target.issuer, target.sid]),
        ) ?? undefined;
      }
    }
    if (target.subject !== undefined) {
      await this.#store.set(await this.#userKey(target.issuer, target.subject), at, { ttlSeconds });
    }
    return subject;
  }

  async useLogoutToken(issuer: string, jti: string, untilMs: number): Promise<boolean> {
    const key = await this.#sealer.deriveCacheKey(LOGOUT_JTI_NAMESPACE, [issuer, jti]);
    if (await this.#store.get(key) !== null) return false;
    const ttlSeconds = Math.max(MIN_STORE_TTL_SECONDS, Math.ceil((untilMs - this.#now()) / 1000));
    await this.#store.set(key, "1", { ttlSeconds });
    return true;
  }
}

/** Creates a {@link SessionStore}. Nothing is read or written until the first call. */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  return new SealedSessionStore(options);
}
