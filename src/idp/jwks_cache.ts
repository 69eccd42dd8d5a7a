/**
 * The key set of one issuer, cached in three tiers: isolate memory, then the shared store (KV, so other isolates
 * and instances skip the IdP), then the network (discovery when no `jwksUri` is configured, then the JWKS).
 *
 * Refetch discipline (checklist W group, and what jose's remote set lacks, B10/B11):
 * - Keys are fresh for `cacheMaxAgeSeconds`. A token whose `kid` is unknown may trigger a refetch, but every
 *   refetch attempt (successful or not) starts a cooldown of `cooldownSeconds`: a storm of random kids or a failing
 *   endpoint cause at most one attempt per cooldown per isolate.
 * - While refetching fails, keys keep verifying for up to `staleMaxAgeSeconds` past their freshness
 *   (stale-if-error). A token that needs a key we cannot get is answered `ERR_IDP_UNAVAILABLE` with
 *   `retryAfterSeconds`, never `ERR_INVALID_TOKEN`.
 * - With `shareInFlight` (Deno, Node), concurrent callers await one attempt. Without it (Workers, where a
 *   promise must not cross requests), only resolved key sets are shared; concurrent callers on a cold isolate
 *   each fetch once, and the cooldown bounds everything after.
 *
 * @module
 */
import type { IssuerConfig } from "../config/schema.ts";
import type { Deps } from "../deps.ts";
import { digestKey } from "../store/keys.ts";
import { getJsonEntry, putJson } from "../store/json_value.ts";
import type { JwksHealth } from "../types.ts";
import { idpUnavailable, invalidToken } from "./_rejection.ts";
import { JWKS_STORE_NAMESPACE } from "./constants.ts";
import { discoverJwksUri } from "./discovery.ts";
import { fetchJson } from "./fetch_json.ts";
import { buildKeySet, carryOverKeys, findKey, type KeySet, type VerificationKey } from "./key_set.ts";

/** Options for {@link createJwksCache}. */
export interface JwksCacheOptions {
  /** Let concurrent callers await one in-flight refetch (not on Workers). @default true */
  shareInFlight?: boolean;
  /** The concrete issuer whose discovery names the JWKS (a template's first tenant). @default issuer.issuer */
  discoveryIssuer?: string;
}

/** A key found for a token, with how long the key set it came from stays fresh. */
export interface KeyLookup {
  /** The key. */
  key: VerificationKey;
  /** When the key set it came from stops being fresh, epoch ms. */
  freshUntilMs: number;
}

/** The cached key set of one issuer. */
export interface JwksCache {
  /**
   * The key for a token's `kid` and `alg`. Rejects with `ERR_INVALID_TOKEN` when the key set is known and has no
   * such usable key, or with `ERR_IDP_UNAVAILABLE` when keys are needed and cannot be fetched.
   */
  getKey(kid: string | undefined, alg: string): Promise<KeyLookup>;
  /** The key, synchronously, when the key set in memory is fresh and has it; else `undefined` (use `getKey`). */
  peekKey(kid: string | undefined, alg: string): KeyLookup | undefined;
  /** Outcome of the last fetch. */
  health(): JwksHealth;
}

interface _Snapshot {
  keySet: KeySet;
  fetchedAtMs: number;
}

interface _StoredJwks {
  fetchedAtMs: number;
  jwks: unknown;
}

const _storedSchema = {
  safeParse(data: unknown): { success: true; data: _StoredJwks } | { success: false } {
    if (typeof data !== "object" || data === null) return { success: false };
    const { fetchedAtMs, jwks } = data as Record<string, unknown>;
    if (typeof fetchedAtMs !== "number" || !Number.isFinite(fetchedAtMs)) return { success: false };
    return { success: true, data: { fetchedAtMs, jwks } };
  },
};

class IssuerJwksCache implements JwksCache {
  readonly #issuer: IssuerConfig;
  readonly #deps: Deps;
  readonly #shareInFlight: boolean;
  readonly #maxAgeMs: number;
  readonly #staleMs: number;
  readonly #cooldownMs: number;
  readonly #discoveryIssuer: string;
  #snapshot: _Snapshot | undefined;
  #jwksUri: { uri: string; atMs: number } | undefined;
  #lastAttemptAtMs = Number.NEGATIVE_INFINITY;
  #lastFetch: JwksHealth["lastFetch"] = "never";
  #lastFetchAtMs: number | undefined;
  #lastFailed = false;
  #inFlight: Promise<boolean> | undefined;
  #lastError: unknown;
  #storeKey: Promise<string> | undefined;

  constructor(issuer: IssuerConfig, deps: Deps, options: JwksCacheOptions) {
    this.#issuer = issuer;
    this.#deps = deps;
    this.#shareInFlight = options.shareInFlight ?? true;
    this.#maxAgeMs = issuer.jwks.cacheMaxAgeSeconds * 1000;
    this.#staleMs = issuer.jwks.staleMaxAgeSeconds * 1000;
    this.#cooldownMs = issuer.jwks.cooldownSeconds * 1000;
    this.#discoveryIssuer = options.discoveryIssuer ?? issuer.issuer;
  }

  health(): JwksHealth {
    const health: JwksHealth = {
      issuer: this.#issuer.issuer,
      lastFetch: this.#lastFetch,
      keys: this.#snapshot?.keySet.keys.length ?? 0,
    };
    if (this.#lastFetchAtMs !== undefined) health.lastFetchAt = this.#lastFetchAtMs;
    return health;
  }

  peekKey(kid: string | undefined, alg: string): KeyLookup | undefined {
    const snapshot = this.#snapshot;
    if (snapshot === undefined || this.#deps.now() >= snapshot.fetchedAtMs + this.#maxAgeMs) return undefined;
    const found = findKey(snapshot.keySet, kid, alg);
    return "found" in found ? this.#result(found.found, snapshot) : undefined;
  }

  async getKey(kid: string | undefined, alg: string): Promise<KeyLookup> {
    let now = this.#deps.now();
    let snapshot = this.#snapshot;
    if (snapshot !== undefined && now < snapshot.fetchedAtMs + this.#maxAgeMs) {
      const found = findKey(snapshot.keySet, kid, alg);
      if ("found" in found) return this.#result(found.found, snapshot);
      if ("refused" in found) throw invalidToken("key_unusable", found.refused);
      // An unknown kid on a fresh set: maybe the IdP rotated. Refetch, unless the cooldown says no.
      let ok: boolean | undefined;
      if (this.#mayAttempt(now)) ok = await this.#refresh(kid);
      else if (this.#inFlight !== undefined) ok = await this.#inFlight;
      if (ok === undefined) {
        if (this.#lastFailed) throw this.#unavailable(now, "Unknown key id while the IdP is failing");
        throw invalidToken("kid_unknown", "Unknown key id");
      }
      now = this.#deps.now();
      snapshot = this.#snapshot;
      if (snapshot !== undefined) {
        const again = findKey(snapshot.keySet, kid, alg);
        if ("found" in again) return this.#result(again.found, snapshot);
        if ("refused" in again) throw invalidToken("key_unusable", again.refused);
      }
      if (!ok) throw this.#unavailable(now, "Unknown key id and the JWKS cannot be fetched");
      throw invalidToken("kid_unknown", "Unknown key id");
    }
    // No key set, or a stale one.
    let ok = false;
    if (this.#mayAttempt(now) || (snapshot === undefined && !this.#shareInFlight && !this.#lastFailed)) {
      ok = await this.#refresh(kid);
    } else if (this.#inFlight !== undefined) {
      ok = await this.#inFlight;
    }
    now = this.#deps.now();
    snapshot = this.#snapshot;
    if (snapshot === undefined) throw this.#unavailable(now, "No JWKS");
    const fresh = now < snapshot.fetchedAtMs + this.#maxAgeMs;
    if (!fresh && now >= snapshot.fetchedAtMs + this.#maxAgeMs + this.#staleMs) {
      throw this.#unavailable(now, "JWKS too stale to use");
    }
    const found = findKey(snapshot.keySet, kid, alg);
    if ("found" in found) return this.#result(found.found, snapshot);
    if ("refused" in found) throw invalidToken("key_unusable", found.refused);
    if (fresh && ok) throw invalidToken("kid_unknown", "Unknown key id");
    throw this.#unavailable(now, "Unknown key id and the JWKS cannot be refreshed");
  }

  #result(key: VerificationKey, snapshot: _Snapshot): KeyLookup {
    return { key, freshUntilMs: snapshot.fetchedAtMs + this.#maxAgeMs };
  }

  #mayAttempt(now: number): boolean {
    return now - this.#lastAttemptAtMs >= this.#cooldownMs;
  }

  #unavailable(now: number, reason: string): Error {
    const retryAfterMs = Math.max(0, this.#lastAttemptAtMs + this.#cooldownMs - now);
    return idpUnavailable(reason, retryAfterMs / 1000, this.#lastError);
  }

  /** One refetch attempt, shared with concurrent callers when allowed. Resolves to whether it succeeded. */
  #refresh(kid: string | undefined): Promise<boolean> {
    if (this.#shareInFlight && this.#inFlight !== undefined) return this.#inFlight;
    this.#lastAttemptAtMs = this.#deps.now();
    const attempt = this.#attempt(kid);
    if (this.#shareInFlight) {
      this.#inFlight = attempt;
      attempt.finally(() => {
        if (this.#inFlight === attempt) this.#inFlight = undefined;
      });
    }
    return attempt;
  }

  async #attempt(kid: string | undefined): Promise<boolean> {
    try {
      if (await this.#adoptFromStore(kid)) return true;
      const jwksUri = await this.#resolveJwksUri();
      const jwks = await fetchJson(this.#deps.fetch, jwksUri, {
        timeoutMs: this.#issuer.jwks.fetchTimeoutMs,
        maxBodyBytes: this.#issuer.jwks.maxBodyBytes,
        allowInsecureLoopback: this.#issuer.allowInsecureLoopback,
        what: "JWKS",
      });
      const fetchedAtMs = this.#deps.now();
      this.#adopt(buildKeySet(jwks, this.#issuer.algorithms), fetchedAtMs);
      this.#recordOutcome(true, fetchedAtMs);
      this.#writeStore({ fetchedAtMs, jwks });
      return true;
    } catch (error) {
      // Rediscover on the next attempt: the jwks_uri may be what changed.
      if (this.#issuer.jwksUri === undefined) this.#jwksUri = undefined;
      this.#lastError = error;
      this.#recordOutcome(false, this.#deps.now());
      this.#deps.log({
        level: "warn",
        msg: "Cannot refresh JWKS",
        issuer: this.#issuer.issuer,
        reason: error instanceof Error ? error.message : "unknown",
      });
      return false;
    }
  }

  #recordOutcome(ok: boolean, atMs: number): void {
    this.#lastFetch = ok ? "ok" : "error";
    this.#lastFetchAtMs = atMs;
    this.#lastFailed = !ok;
    if (ok) this.#lastError = undefined;
  }

  #adopt(keySet: KeySet, fetchedAtMs: number): void {
    this.#snapshot = { keySet: carryOverKeys(this.#snapshot?.keySet, keySet), fetchedAtMs };
  }

  async #resolveJwksUri(): Promise<string> {
    if (this.#issuer.jwksUri !== undefined) return this.#issuer.jwksUri;
    const now = this.#deps.now();
    if (this.#jwksUri !== undefined && now < this.#jwksUri.atMs + this.#maxAgeMs) return this.#jwksUri.uri;
    const uri = await discoverJwksUri(this.#deps.fetch, this.#discoveryIssuer, {
      timeoutMs: this.#issuer.jwks.fetchTimeoutMs,
      maxBodyBytes: this.#issuer.jwks.maxBodyBytes,
      allowInsecureLoopback: this.#issuer.allowInsecureLoopback,
    });
    this.#jwksUri = { uri, atMs: now };
    return uri;
  }

  #key(): Promise<string> {
    this.#storeKey ??= digestKey(JWKS_STORE_NAMESPACE, [this.#issuer.issuer]);
    return this.#storeKey;
  }

  /**
   * Adopts the shared store's key set when it is fresh and newer than ours (another isolate fetched it). Returns
   * true when that makes a network fetch unnecessary: the set is fresh and, if a `kid` is wanted, knows it.
   */
  async #adoptFromStore(kid: string | undefined): Promise<boolean> {
    let stored: _StoredJwks | null = null;
    try {
      const entry = await getJsonEntry(this.#deps.store, await this.#key(), {
        now: this.#deps.now,
        schema: _storedSchema,
      });
      stored = entry?.value ?? null;
    } catch (error) {
      this.#deps.log({ level: "warn", msg: "Cannot read cached JWKS", reason: String(error).slice(0, 200) });
    }
    if (stored === null) return false;
    const now = this.#deps.now();
    if (now >= stored.fetchedAtMs + this.#maxAgeMs) return false;
    if (this.#snapshot !== undefined && stored.fetchedAtMs <= this.#snapshot.fetchedAtMs) return false;
    let keySet: KeySet;
    try {
      keySet = buildKeySet(stored.jwks, this.#issuer.algorithms);
    } catch {
      return false;
    }
    if (kid !== undefined && !keySet.byKid.has(kid) && !keySet.refusedKids.has(kid)) return false;
    this.#adopt(keySet, stored.fetchedAtMs);
    this.#recordOutcome(true, now);
    return true;
  }

  #writeStore(value: _StoredJwks): void {
    const write = (async () => {
      await putJson(this.#deps.store, await this.#key(), value, {
        expiresAt: value.fetchedAtMs + this.#maxAgeMs + this.#staleMs,
        now: this.#deps.now,
      });
    })().catch((error) => {
      this.#deps.log({ level: "warn", msg: "Cannot store JWKS", reason: String(error).slice(0, 200) });
    });
    this.#deps.waitUntil(write);
  }
}

/** Creates the key cache of one issuer. */
export function createJwksCache(issuer: IssuerConfig, deps: Deps, options: JwksCacheOptions = {}): JwksCache {
  return new IssuerJwksCache(issuer, deps, options);
}
