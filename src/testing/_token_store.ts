/**
 * Token and authorization-code bookkeeping of the fake ArcGIS: issue, look up, revoke with cascades (a refresh
 * token's family, a portal token's server tokens).
 *
 * @module
 */
import type { FakeTokenInfo } from "./types.ts";
import { randomString } from "./_util.ts";

/** An authorization code awaiting exchange. */
export interface _AuthCode {
  code: string;
  clientId: string;
  redirectUri: string;
  username: string;
  codeChallenge?: string;
  codeChallengeMethod?: "S256" | "plain";
  refreshMinutes: number;
  expiresMs: number;
  used: boolean;
}

/** Fields given when issuing a token; the store picks the string. */
export type _TokenInit = Omit<FakeTokenInfo, "token" | "revoked">;

/** Holds every token and code the fake issued. */
export class TokenStore {
  #tokens = new Map<string, FakeTokenInfo>();
  #codes = new Map<string, _AuthCode>();

  /** Issues a fresh opaque token. */
  issue(init: _TokenInit): string {
    let token = randomString(32);
    while (this.#tokens.has(token)) token = randomString(32);
    this.#tokens.set(token, { ...init, token, revoked: false });
    return token;
  }

  /** Registers a token with a given string (configured API keys). */
  register(token: string, init: _TokenInit): void {
    this.#tokens.set(token, { ...init, token, revoked: false });
  }

  /** The live record (internal; callers must not leak it). */
  get(token: string): FakeTokenInfo | undefined {
    return this.#tokens.get(token);
  }

  /** Copies of every record. */
  all(): FakeTokenInfo[] {
    return [...this.#tokens.values()].map((info) => ({ ...info }));
  }

  /**
   * Revokes a token. A refresh token takes its whole family (every access token minted from it); every token takes
   * the tokens minted from it (`parent`). Returns false for unknown tokens.
   */
  revoke(token: string): boolean {
    const info = this.#tokens.get(token);
    if (!info) return false;
    const pending: FakeTokenInfo[] = [info];
    const seen = new Set<string>();
    for (let guard = 0; pending.length > 0 && guard < 1_000_000; guard++) {
      const current = pending.pop() as FakeTokenInfo;
      if (seen.has(current.token)) continue;
      seen.add(current.token);
      current.revoked = true;
      for (const other of this.#tokens.values()) {
        if (seen.has(other.token)) continue;
        const sameFamily = current.kind === "refresh" && current.family !== undefined &&
          other.family === current.family;
        if (sameFamily || other.parent === current.token) pending.push(other);
      }
    }
    return true;
  }

  /** Stores a new authorization code. */
  issueCode(init: Omit<_AuthCode, "code" | "used">): string {
    const code = randomString(24);
    this.#codes.set(code, { ...init, code, used: false });
    return code;
  }

  /** The live code record. */
  getCode(code: string): _AuthCode | undefined {
    return this.#codes.get(code);
  }
}
