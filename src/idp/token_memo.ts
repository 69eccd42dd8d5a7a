/**
 * The verified-token memo: a bounded LRU in isolate memory, keyed by the token text, so a map that fires a hundred
 * requests with one token pays for one signature check. Only tokens that passed the format and canonical-encoding
 * check reach it (one spelling per token), and an entry never outlives the token's `exp` nor the freshness of the
 * key set that verified it; the caller re-applies the time checks on every hit.
 *
 * @module
 */
import type { Identity } from "../types.ts";
import type { ClaimsPolicy, TokenTimes } from "./claims.ts";
import type { VerificationKey } from "./key_set.ts";

/** One verified token. */
export interface MemoEntry {
  /** What `verify()` returned. */
  identity: Identity;
  /** Its time claims, re-checked on every hit. */
  times: TokenTimes;
  /** The policy of its issuer. */
  policy: ClaimsPolicy;
  /** The key that verified it; a retired key voids the entry. */
  key: VerificationKey;
  /** The entry is void from this instant, epoch ms. */
  notAfterMs: number;
}

/** A bounded least-recently-used map from token text to {@link MemoEntry}. */
export interface TokenMemo {
  /** The entry for `token`, marking it recently used. */
  get(token: string): MemoEntry | undefined;
  /** Stores an entry, evicting the least recently used beyond the bound. */
  set(token: string, entry: MemoEntry): void;
  /** Removes an entry. */
  delete(token: string): void;
  /** How many entries are held. */
  readonly size: number;
}

class LruTokenMemo implements TokenMemo {
  readonly #maxEntries: number;
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used entry first.
  readonly #entries = new Map<string, MemoEntry>();

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(token: string): MemoEntry | undefined {
    const entry = this.#entries.get(token);
    if (entry !== undefined) {
      this.#entries.delete(token);
      this.#entries.set(token, entry);
    }
    return entry;
  }

  set(token: string, entry: MemoEntry): void {
    if (this.#maxEntries === 0) return;
    this.#entries.delete(token);
    this.#entries.set(token, entry);
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }

  delete(token: string): void {
    this.#entries.delete(token);
  }
}

/** Creates a memo holding at most `maxEntries` tokens (0 disables it). */
export function createTokenMemo(maxEntries: number): TokenMemo {
  return new LruTokenMemo(maxEntries);
}
