/**
 * {@link createTokenVerifier}: bearer token → {@link Identity}, for every configured issuer.
 *
 * Order of checks, cheapest and most selective first, so that garbage never costs a fetch or a signature check:
 * 1. shape: string, size cap, compact JWS, canonical base64url (a token in the memo passed them when it was
 *    verified, so its exact text is looked up right after the size cap and answers without them);
 * 2. header: JSON object, allowed `alg`, no `crit`/`b64`/`jku`/`x5u`/`jwk`/`x5c`/JWE members/nested JWT;
 * 3. payload: JSON object whose `iss` equals a configured issuer exactly (peeked, not trusted), `alg` allowed for
 *    that issuer, token kind (access or ID) accepted, `typ` and every claim acceptable;
 * 4. key: from that issuer's JWKS only (memory, KV, network), by `kid`, bound to one algorithm;
 * 5. signature: WebCrypto with that one algorithm, on a key jose imported and checked once.
 * Any failure is `ERR_INVALID_TOKEN` with a generic message, except an IdP that cannot be reached when keys are
 * needed: `ERR_IDP_UNAVAILABLE`.
 *
 * @module
 */
import type { IssuerConfig } from "../config/schema.ts";
import type { Deps } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { Identity, JwksHealth, SignedJwt, TokenVerifier, VerifyOptions } from "../types.ts";
import { invalidToken } from "./_rejection.ts";
import {
  checkClaims,
  checkTimes,
  checkTyp,
  type ClaimsPolicy,
  claimsPolicyOf,
  classifyToken,
  type TokenKind,
} from "./claims.ts";
import { checkCompactJws, checkJwsHeader, decodeJsonObjectSegment } from "./compact_jws.ts";
import { DEFAULT_MAX_TOKEN_BYTES, DEFAULT_MEMO_MAX_ENTRIES } from "./constants.ts";
import { createJwksCache, type JwksCache } from "./jwks_cache.ts";
import { verifySignature } from "./jws_verify.ts";
import { createTokenMemo, type TokenMemo } from "./token_memo.ts";

/** Options for {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** Largest accepted token, bytes (config `validation.maxTokenBytes`). @default 8192 */
  maxTokenBytes?: number;
  /** Verified tokens kept in isolate memory; 0 disables the memo (config `validation.memoMaxEntries`). @default 10000 */
  memoMaxEntries?: number;
  /**
   * Let concurrent requests await one in-flight JWKS fetch. Set `false` on Cloudflare Workers, where a promise
   * must not be handed from one request to another; resolved key sets are shared either way. @default true
   */
  shareInFlight?: boolean;
}

interface _Issuer {
  policy: ClaimsPolicy;
  algorithms: ReadonlySet<string>;
  cache: JwksCache;
}

const _ALL_KINDS: readonly TokenKind[] = ["access", "id"];

function _deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) _deepFreeze(member);
  }
  return value;
}

function _checkCount(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new BrokerError(
      "ERR_CONFIG_INVALID",
      `Invalid token verifier option "${name}": expected an integer of at least ${min}`,
    );
  }
  return value;
}

class IdpTokenVerifier implements TokenVerifier {
  readonly #deps: Deps;
  readonly #issuers: ReadonlyMap<string, _Issuer>;
  readonly #algorithms: ReadonlySet<string>;
  readonly #maxTokenBytes: number;
  readonly #memo: TokenMemo;

  constructor(issuers: readonly IssuerConfig[], deps: Deps, options: TokenVerifierOptions) {
    if (issuers.length === 0) {
      throw new BrokerError("ERR_CONFIG_INVALID", "Invalid token verifier: no issuers");
    }
    this.#deps = deps;
    this.#maxTokenBytes = _checkCount("maxTokenBytes", options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES, 1);
    this.#memo = createTokenMemo(
      _checkCount("memoMaxEntries", options.memoMaxEntries ?? DEFAULT_MEMO_MAX_ENTRIES, 0),
    );
    const byIssuer = new Map<string, _Issuer>();
    for (const issuer of issuers) {
      if (byIssuer.has(issuer.issuer)) {
        throw new BrokerError(
          "ERR_CONFIG_INVALID",
          `Invalid token verifier: duplicate issuer "${issuer.issuer}"`,
        );
      }
      byIssuer.set(issuer.issuer, {
        policy: claimsPolicyOf(issuer),
        algorithms: new Set(issuer.algorithms),
        cache: createJwksCache(issuer, deps, { shareInFlight: options.shareInFlight ?? true }),
      });
    }
    this.#issuers = byIssuer;
    this.#algorithms = new Set(issuers.flatMap((issuer) => issuer.algorithms));
  }

  health(): JwksHealth[] {
    return [...this.#issuers.values()].map((issuer) => issuer.cache.health());
  }

  verify(token: string, options?: VerifyOptions): Promise<Identity> {
    try {
      // A memo hit answers without an async frame of its own (the common case: one token, many requests).
      const remembered = this.#remembered(token, options);
      if (remembered !== undefined) return Promise.resolve(remembered);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#verify(token, options).catch((error) => {
      // Whatever a malformed token manages to trip over is still a bad token, never a 500.
      if (error instanceof BrokerError) throw error;
      throw invalidToken("Unexpected verification failure", error);
    });
  }

  /**
   * The JWS layer alone, for other JWTs the configured issuers sign (back-channel logout tokens): shape, header,
   * `iss` among the configured issuers, algorithm allowed for it, key from its cached JWKS, signature. No claim
   * is checked beyond `iss`; the caller checks the rest.
   */
  async verifySignedJwt(token: string): Promise<SignedJwt> {
    try {
      const parts = checkCompactJws(token, this.#maxTokenBytes);
      const header = checkJwsHeader(decodeJsonObjectSegment(parts.header, "header"), this.#algorithms);
      const payload = decodeJsonObjectSegment(parts.payload, "payload");
      const issuer = typeof payload.iss === "string" ? this.#issuers.get(payload.iss) : undefined;
      if (issuer === undefined) throw invalidToken("Unknown issuer");
      if (!issuer.algorithms.has(header.alg)) throw invalidToken("Algorithm not allowed for the issuer");
      const { key } = issuer.cache.peekKey(header.kid, header.alg) ??
        await issuer.cache.getKey(header.kid, header.alg);
      await verifySignature(parts, key);
      return { issuer: issuer.policy.issuer, header, payload: _deepFreeze(payload) };
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      throw invalidToken("Unexpected verification failure", error);
    }
  }

  /**
   * The identity of a token verified before, its time checks applied again, or undefined. Only tokens that passed
   * {@link checkCompactJws} under the same size cap are in the memo, so a hit needs no shape check: the same text
   * passes the same checks. Throws `ERR_INVALID_TOKEN` when the remembered token no longer passes.
   */
  #remembered(token: string, options: VerifyOptions | undefined): Identity | undefined {
    if (typeof token !== "string" || token.length > this.#maxTokenBytes) return undefined;
    const memoized = this.#memo.get(token);
    if (memoized === undefined) return undefined;
    const now = this.#deps.now();
    if (!memoized.key.retired && now < memoized.notAfterMs) {
      const problem = checkTimes(memoized.times, memoized.policy, now);
      if (problem !== undefined) throw invalidToken(problem);
      const accept = options?.accept ?? _ALL_KINDS;
      if (!accept.includes(memoized.identity.tokenKind)) throw invalidToken("Token kind not accepted");
      return memoized.identity;
    }
    this.#memo.delete(token);
    return undefined;
  }

  async #verify(token: string, options: VerifyOptions | undefined): Promise<Identity> {
    const accept = options?.accept ?? _ALL_KINDS;
    const parts = checkCompactJws(token, this.#maxTokenBytes);
    const now = this.#deps.now();
    const header = checkJwsHeader(decodeJsonObjectSegment(parts.header, "header"), this.#algorithms);
    const payload = decodeJsonObjectSegment(parts.payload, "payload");
    const issuer = typeof payload.iss === "string" ? this.#issuers.get(payload.iss) : undefined;
    if (issuer === undefined) throw invalidToken("Unknown issuer");
    if (!issuer.algorithms.has(header.alg)) throw invalidToken("Algorithm not allowed for the issuer");
    const kind = classifyToken(header.typ, payload, issuer.policy);
    if (!accept.includes(kind)) throw invalidToken("Token kind not accepted");
    checkTyp(header.typ, kind, issuer.policy);
    const times = checkClaims(payload, kind, issuer.policy, now);
    const { key, freshUntilMs } = issuer.cache.peekKey(header.kid, header.alg) ??
      await issuer.cache.getKey(header.kid, header.alg);
    await verifySignature(parts, key);
    const identity: Identity = Object.freeze({
      issuer: issuer.policy.issuer,
      subject: payload.sub as string,
      claims: _deepFreeze(payload),
      tokenKind: kind,
      expiresAt: times.exp,
    });
    this.#memo.set(token, {
      identity,
      times,
      policy: issuer.policy,
      key,
      notAfterMs: Math.min(times.exp * 1000, freshUntilMs),
    });
    return identity;
  }
}

/**
 * Creates the {@link TokenVerifier} for `issuers` (validated config entries). `deps.fetch` reaches the IdPs,
 * `deps.store` shares key sets across isolates, `deps.now` is the clock of every time check.
 */
export function createTokenVerifier(
  issuers: readonly IssuerConfig[],
  deps: Deps,
  options: TokenVerifierOptions = {},
): TokenVerifier {
  return new IdpTokenVerifier(issuers, deps, options);
}
