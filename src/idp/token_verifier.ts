/**
 * {@link createTokenVerifier}: bearer token → {@link Identity}, for every configured issuer.
 *
 * Order of checks, cheapest and most selective first, so that garbage never costs a fetch or a signature check:
 * 1. shape: string, size cap, compact JWS, canonical base64url (a token in the memo passed them when it was
 *    verified, so its exact text is looked up right after the size cap and answers without them);
 * 2. header: JSON object, allowed `alg`, no `crit`/`b64`/`jku`/`x5u`/`jwk`/`x5c`/JWE members/nested JWT;
 * 3. payload: JSON object whose `iss` equals a configured issuer spelling exactly (peeked, not trusted: the
 *    `issuer`, an `issuerAliases` entry, or a `{tenantid}` template expanded over `tenants`), `alg` allowed for
 *    that issuer, token kind (access or ID) accepted, `typ` and every claim acceptable;
 * 4. key: from that issuer's JWKS only (memory, KV, network), by `kid`, bound to one algorithm;
 * 5. signature: WebCrypto with that one algorithm, on a key jose imported and checked once.
 * Tokens that are not JWTs go to the one issuer with RFC 7662 introspection, if any (and with `useFor: "all"`, that
 * issuer's JWTs too). Microsoft Graph tokens (a `nonce` in the header) are refused up front: nobody but Graph can
 * verify them.
 *
 * Any failure is `ERR_INVALID_TOKEN` with a generic message and a stable reason code (`refusal_reason.ts`),
 * except an IdP that cannot be reached when keys or an introspection answer are needed: `ERR_IDP_UNAVAILABLE`.
 *
 * @module
 */
import { expandIssuers, type IssuerConfig, TENANT_PLACEHOLDER } from "../config/schema.ts";
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
  type TokenTimes,
} from "./claims.ts";
import { checkCompactJws, checkJwsHeader, type CompactJwsParts, decodeJwsPart } from "./compact_jws.ts";
import { createLru } from "../util/lru.ts";
import { DEFAULT_MAX_TOKEN_BYTES, DEFAULT_MEMO_MAX_ENTRIES } from "./constants.ts";
import { createIntrospector, type Introspector } from "./introspection.ts";
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
  /** Secret values by environment-variable name, for introspection client authentication. @default {} */
  secrets?: Readonly<Record<string, string>>;
}

/** One issuer entry of the config. */
interface _Issuer {
  policy: ClaimsPolicy;
  algorithms: ReadonlySet<string>;
  cache: JwksCache;
  /** The `[prefix, suffix]` around `{tenantid}` of each templated spelling (to tell an unlisted tenant). */
  templates: ReadonlyArray<readonly [string, string]>;
  introspector: Introspector | undefined;
  /** Introspect this issuer's JWTs too (Okta's org authorization server). */
  introspectAll: boolean;
}

/** One exact `iss` spelling a configured entry accepts. */
interface _Spelling {
  entry: _Issuer;
  /** The identity's issuer: the entry's `issuer`, its template filled with the tenant. */
  identityIssuer: string;
  /** The tenant of a templated spelling. */
  tenant: string | undefined;
}

/** RFC 6750 §2.1 b64token: what an opaque bearer token may look like. */
const _OPAQUE_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const _ALL_KINDS: readonly TokenKind[] = ["access", "id"];

function _deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    // Own keys only (JSON values have no others); no array of values is built for the usual flat payload.
    for (const name in value) {
      if (!Object.hasOwn(value, name)) continue;
      const member = value[name];
      if (typeof member === "object" && member !== null) _deepFreeze(member);
    }
  }
  return value;
}

/** Decoded JOSE headers kept by their base64url text: one issuer's tokens share a handful of headers. */
const _HEADER_MEMO_ENTRIES = 64;

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
  readonly #issuers: readonly _Issuer[];
  readonly #spellings: ReadonlyMap<string, _Spelling>;
  readonly #opaque: _Issuer | undefined;
  readonly #algorithms: ReadonlySet<string>;
  readonly #maxTokenBytes: number;
  readonly #memo: TokenMemo;
  /** Header text → the decoded header (frozen): decoding it again for every fresh token is wasted work. */
  readonly #headers = createLru<string, Record<string, unknown>>(_HEADER_MEMO_ENTRIES);

  constructor(issuers: readonly IssuerConfig[], deps: Deps, options: TokenVerifierOptions) {
    if (issuers.length === 0) {
      throw new BrokerError("ERR_CONFIG_INVALID", "Invalid token verifier: no issuers");
    }
    this.#deps = deps;
    this.#maxTokenBytes = _checkCount("maxTokenBytes", options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES, 1);
    this.#memo = createTokenMemo(
      _checkCount("memoMaxEntries", options.memoMaxEntries ?? DEFAULT_MEMO_MAX_ENTRIES, 0),
    );
    const entries: _Issuer[] = [];
    const spellings = new Map<string, _Spelling>();
    for (const issuer of issuers) {
      const expanded = expandIssuers(issuer);
      // A template's discovery is the first tenant's (Entra serves one per tenant, naming the tenant's issuer).
      const discoveryIssuer = expanded[0]?.[0] ?? issuer.issuer;
      const entry: _Issuer = {
        policy: claimsPolicyOf(issuer),
        algorithms: new Set(issuer.algorithms),
        cache: createJwksCache(issuer, deps, {
          shareInFlight: options.shareInFlight ?? true,
          discoveryIssuer,
        }),
        templates: [issuer.issuer, ...issuer.issuerAliases]
          .filter((spelling) => spelling.includes(TENANT_PLACEHOLDER))
          .map((spelling) => spelling.split(TENANT_PLACEHOLDER) as [string, string]),
        introspector: issuer.introspection === undefined ? undefined : createIntrospector(issuer, deps, {
          secrets: options.secrets ?? {},
          issuer: discoveryIssuer,
          shareInFlight: options.shareInFlight ?? true,
        }),
        introspectAll: issuer.introspection?.useFor === "all",
      };
      entries.push(entry);
      for (const [spelling, tenant] of expanded) {
        if (spellings.has(spelling)) {
          throw new BrokerError(
            "ERR_CONFIG_INVALID",
            `Invalid token verifier: duplicate issuer "${spelling}"`,
          );
        }
        // Identities of different tenants never share an issuer (their subjects may collide): the configured
        // issuer with the tenant filled in, or the tenant's own spelling when only an alias is templated.
        const identityIssuer = tenant === undefined
          ? issuer.issuer
          : issuer.issuer.includes(TENANT_PLACEHOLDER)
          ? issuer.issuer.replace(TENANT_PLACEHOLDER, tenant)
          : spelling;
        spellings.set(spelling, { entry, identityIssuer, tenant });
      }
    }
    const introspecting = entries.filter((entry) => entry.introspector !== undefined);
    if (introspecting.length > 1) {
      throw new BrokerError(
        "ERR_CONFIG_INVALID",
        "Invalid token verifier: only one issuer may use introspection (an opaque token names no issuer)",
      );
    }
    this.#issuers = entries;
    this.#spellings = spellings;
    this.#opaque = introspecting[0];
    this.#algorithms = new Set(issuers.flatMap((issuer) => issuer.algorithms));
  }

  health(): JwksHealth[] {
    return this.#issuers.map((issuer) => issuer.cache.health());
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
      throw invalidToken("malformed", "Unexpected verification failure", error);
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
      const header = checkJwsHeader(this.#headerOf(parts), this.#algorithms);
      const payload = decodeJwsPart(parts, "payload");
      const spelling = this.#spellingOf(payload.iss);
      const issuer = spelling.entry;
      if (!issuer.algorithms.has(header.alg)) {
        throw invalidToken("alg_not_allowed", "Algorithm not allowed for the issuer");
      }
      const { key } = issuer.cache.peekKey(header.kid, header.alg) ??
        await issuer.cache.getKey(header.kid, header.alg);
      await verifySignature(parts, key);
      return { issuer: spelling.identityIssuer, header, payload: _deepFreeze(payload) };
    } catch (error) {
      if (error instanceof BrokerError) throw error;
      throw invalidToken("malformed", "Unexpected verification failure", error);
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
      if (problem !== undefined) throw invalidToken(problem.reason, problem.detail);
      const accept = options?.accept ?? _ALL_KINDS;
      if (!accept.includes(memoized.identity.tokenKind)) throw _kindRefused(memoized.identity.tokenKind);
      return memoized.identity;
    }
    this.#memo.delete(token);
    return undefined;
  }

  async #verify(token: string, options: VerifyOptions | undefined): Promise<Identity> {
    const accept = options?.accept ?? _ALL_KINDS;
    if (
      this.#opaque !== undefined && typeof token === "string" && token.length <= this.#maxTokenBytes &&
      token.split(".").length !== 3 && _OPAQUE_TOKEN.test(token)
    ) {
      return await this.#introspect(token, this.#opaque, accept);
    }
    const parts = checkCompactJws(token, this.#maxTokenBytes);
    const now = this.#deps.now();
    const rawHeader = this.#headerOf(parts);
    // Microsoft Graph access tokens carry a nonce in the header and a signature only Graph can check.
    if ("nonce" in rawHeader) throw invalidToken("graph_token", "Microsoft Graph token (header nonce)");
    const payload = decodeJwsPart(parts, "payload");
    const spelling = this.#spellingOf(payload.iss);
    const issuer = spelling.entry;
    if (issuer.introspectAll) return await this.#introspect(token, issuer, accept);
    const header = checkJwsHeader(rawHeader, this.#algorithms);
    if (!issuer.algorithms.has(header.alg)) {
      throw invalidToken("alg_not_allowed", "Algorithm not allowed for the issuer");
    }
    const kind = classifyToken(header.typ, payload, issuer.policy);
    if (!accept.includes(kind)) throw _kindRefused(kind);
    checkTyp(header.typ, kind, issuer.policy);
    _checkTenant(payload, spelling);
    const times = checkClaims(payload, kind, issuer.policy, now);
    const { key, freshUntilMs } = issuer.cache.peekKey(header.kid, header.alg) ??
      await issuer.cache.getKey(header.kid, header.alg);
    await verifySignature(parts, key);
    const identity = _identity(spelling, payload, kind, times);
    this.#memo.set(token, {
      identity,
      times,
      policy: issuer.policy,
      key,
      notAfterMs: Math.min(times.exp * 1000, freshUntilMs),
    });
    return identity;
  }

  /** The decoded protected header of `parts`, from the header memo when the same text was decoded before. */
  #headerOf(parts: CompactJwsParts): Record<string, unknown> {
    let header = this.#headers.get(parts.header);
    if (header === undefined) {
      header = _deepFreeze(decodeJwsPart(parts, "header"));
      this.#headers.set(parts.header, header);
    }
    return header;
  }

  /** The configured spelling `iss` names; refuses a malformed, unknown or unlisted-tenant issuer. */
  #spellingOf(iss: unknown): _Spelling {
    if (typeof iss === "string" && !iss.isWellFormed()) {
      throw invalidToken("iss_malformed", 'Claim "iss" is malformed');
    }
    const spelling = typeof iss === "string" ? this.#spellings.get(iss) : undefined;
    if (spelling !== undefined) return spelling;
    if (typeof iss === "string") {
      for (const entry of this.#issuers) {
        for (const [prefix, suffix] of entry.templates) {
          if (iss.length > prefix.length + suffix.length && iss.startsWith(prefix) && iss.endsWith(suffix)) {
            throw invalidToken("tenant_not_allowed", "Tenant not in the issuer's tenant allowlist");
          }
        }
      }
    }
    throw invalidToken("iss_unknown", "Unknown issuer");
  }

  /** Verifies a token by introspection at `issuer` (never memoized by token text: its cache keys by hash). */
  async #introspect(token: string, issuer: _Issuer, accept: readonly TokenKind[]): Promise<Identity> {
    if (!accept.includes("access")) throw _kindRefused("access");
    const claims = await issuer.introspector!.introspect(token);
    // An answer without iss is about this issuer; one naming another issuer is refused.
    const spelling = claims.iss === undefined
      ? this.#spellings.get(issuer.policy.issuer) ?? _fallbackSpelling(issuer)
      : this.#spellingOf(claims.iss);
    if (spelling.entry !== issuer) {
      throw invalidToken("introspection_invalid", "Introspection answer names another issuer");
    }
    const type = claims.token_type;
    if (type !== undefined && !(typeof type === "string" && /^(bearer|access_token)$/i.test(type))) {
      throw invalidToken("typ_not_accepted", "Introspection: not a bearer access token");
    }
    _checkTenant(claims, spelling);
    const times = checkClaims(claims, "access", issuer.policy, this.#deps.now());
    return _identity(spelling, claims, "access", times);
  }
}

/** The refusal of a token whose kind the caller does not accept. */
function _kindRefused(kind: TokenKind): BrokerError {
  return kind === "id"
    ? invalidToken(
      "id_token_as_bearer",
      "Token kind not accepted: an ID token where an access token is required",
    )
    : invalidToken(
      "access_token_not_accepted",
      "Token kind not accepted: an access token where an ID token is required",
    );
}

function _fallbackSpelling(entry: _Issuer): _Spelling {
  return { entry, identityIssuer: entry.policy.issuer, tenant: undefined };
}

/** A templated issuer's token naming its tenant in `tid` (Entra) must name the tenant of its `iss`. */
function _checkTenant(payload: Record<string, unknown>, spelling: _Spelling): void {
  if (spelling.tenant !== undefined && payload.tid !== undefined && payload.tid !== spelling.tenant) {
    throw invalidToken("tenant_not_allowed", 'Claim "tid" does not match the issuer\'s tenant');
  }
}

function _identity(
  spelling: _Spelling,
  payload: Record<string, unknown>,
  kind: TokenKind,
  times: TokenTimes,
): Identity {
  const identity: Identity = {
    issuer: spelling.identityIssuer,
    subject: payload.sub as string,
    claims: _deepFreeze(payload),
    tokenKind: kind,
    expiresAt: times.exp,
  };
  if (spelling.identityIssuer !== spelling.entry.policy.issuer) {
    identity.configuredIssuer = spelling.entry.policy.issuer;
  }
  if (spelling.tenant !== undefined) identity.tenant = spelling.tenant;
  return Object.freeze(identity);
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
