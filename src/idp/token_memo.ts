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
import { createLru } from "../util/lru.ts";

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

/** Creates a memo holding at most `maxEntries` tokens (0 disables it). */
export function createTokenMemo(maxEntries: number): TokenMemo {
  return createLru<string, MemoEntry>(maxEntries);
}
