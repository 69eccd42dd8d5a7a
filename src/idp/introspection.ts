/**
 * RFC 7662 token introspection for one issuer: opaque access tokens (IdentityServer reference tokens, Okta's org
 * authorization server) are sent to the IdP, which answers whether they are active and with which claims.
 *
 * - Client authentication: `client_secret_basic` (the secret from an environment variable) or `private_key_jwt`
 *   (RFC 7523: an assertion signed with a private JWK from an environment variable, `aud` = the issuer).
 * - Answers are cached in isolate memory, keyed by the SHA-256 of the token (never the token), in a bounded LRU:
 *   an active answer until the token's `exp` (and at most `cacheMaxSeconds` when set), an `active: false`
 *   answer for `inactiveCacheSeconds`. Every hit re-applies the claim checks with the current clock.
 * - Single-flight: concurrent requests with the same token share one call (where promises may cross requests).
 * - `active: false` is 401 (`token_inactive`); an IdP that cannot be reached or answers garbage is 503.
 *
 * @module
 */
import * as jose from "jose";
import type { IssuerConfig } from "../config/schema.ts";
import type { Deps } from "../deps.ts";
import { idpUnavailable, invalidToken } from "./_rejection.ts";
import { discoverEndpoint } from "./discovery.ts";
import { fetchJson } from "./fetch_json.ts";
import { signatureParamsOf } from "./jws_verify.ts";
import { encodeBase64url } from "../util/bytes.ts";

/** Options for {@link createIntrospector}. */
export interface IntrospectorOptions {
  /** Secret values by environment-variable name (the client secret or the private JWK). */
  secrets: Readonly<Record<string, string>>;
  /** The concrete issuer whose discovery names the endpoint, and the `aud` of client assertions. */
  issuer: string;
  /** Let concurrent callers with the same token await one call (not on Workers). @default true */
  shareInFlight?: boolean;
}

/** Asks one issuer's introspection endpoint about tokens. */
export interface Introspector {
  /**
   * The introspection answer for `token` (its claims, `active` removed), from the cache or the IdP. Rejects with
   * `ERR_INVALID_TOKEN` (`token_inactive`) for an inactive token, `ERR_IDP_UNAVAILABLE` when the IdP cannot
   * answer.
   */
  introspect(token: string): Promise<Record<string, unknown>>;
  /** How many answers are cached. */
  readonly size: number;
}

interface _Answer {
  /** The claims of an active token, or `undefined` for an inactive one. */
  claims: Record<string, unknown> | undefined;
  /** The cached answer is void from this instant, epoch ms. */
  untilMs: number;
}

/** Seconds a failed call asks clients to wait. */
const _RETRY_AFTER_SECONDS = 5;

/** Lifetime of a client assertion, seconds. */
const _ASSERTION_TTL_SECONDS = 60;

const _utf8 = new TextEncoder();

/**
 * A compact JWS of `claims` signed with WebCrypto (an ECDSA signature is already the JWS r || s form). jose's
 * signing classes would add their weight to the Workers bundle for this one small assertion.
 */
async function _signJwt(header: Record<string, unknown>, claims: Record<string, unknown>, key: CryptoKey) {
  const input = `${encodeBase64url(_utf8.encode(JSON.stringify(header)))}.${
    encodeBase64url(_utf8.encode(JSON.stringify(claims)))
  }`;
  const params = signatureParamsOf(header.alg as string)!;
  const signature = new Uint8Array(await crypto.subtle.sign(params, key, _utf8.encode(input)));
  return `${input}.${encodeBase64url(signature)}`;
}

const _hex = (bytes: ArrayBuffer): string =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

class IssuerIntrospector implements Introspector {
  readonly #issuer: IssuerConfig;
  readonly #deps: Deps;
  readonly #options: IntrospectorOptions;
  readonly #config: NonNullable<IssuerConfig["introspection"]>;
  readonly #cache = new Map<string, _Answer>();
  readonly #inFlight = new Map<string, Promise<_Answer>>();
  #endpoint: string | undefined;
  #signingKey: Promise<{ key: CryptoKey; alg: string }> | undefined;

  constructor(issuer: IssuerConfig, deps: Deps, options: IntrospectorOptions) {
    if (issuer.introspection === undefined) throw new TypeError("Issuer has no introspection");
    this.#issuer = issuer;
    this.#deps = deps;
    this.#options = options;
    this.#config = issuer.introspection;
  }

  get size(): number {
    return this.#cache.size;
  }

  async introspect(token: string): Promise<Record<string, unknown>> {
    const key = _hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
    const now = this.#deps.now();
    let answer = this.#cache.get(key);
    if (answer !== undefined && now >= answer.untilMs) {
      this.#cache.delete(key);
      answer = undefined;
    }
    if (answer === undefined) {
      const pending = this.#inFlight.get(key);
      if (pending !== undefined) answer = await pending;
      else {
        const call = this.#call(token);
        if (this.#options.shareInFlight ?? true) {
          this.#inFlight.set(key, call);
          call.then(() => this.#inFlight.delete(key), () => this.#inFlight.delete(key));
        }
        answer = await call;
        this.#remember(key, answer);
      }
    } else {
      // Mark as recently used.
      this.#cache.delete(key);
      this.#cache.set(key, answer);
    }
    if (answer.claims === undefined) {
      throw invalidToken("token_inactive", "Introspection: token is not active");
    }
    return answer.claims;
  }

  #remember(key: string, answer: _Answer): void {
    if (this.#config.cacheMaxEntries === 0) return;
    this.#cache.delete(key);
    this.#cache.set(key, answer);
    while (this.#cache.size > this.#config.cacheMaxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done) break;
      this.#cache.delete(oldest.value);
    }
  }

  async #call(token: string): Promise<_Answer> {
    const fetchOptions = {
      timeoutMs: this.#config.fetchTimeoutMs,
      maxBodyBytes: this.#issuer.jwks.maxBodyBytes,
      allowInsecureLoopback: this.#issuer.allowInsecureLoopback,
    };
    let body: unknown;
    try {
      const endpoint = await this.#resolveEndpoint(fetchOptions);
      const form = new URLSearchParams({ token, token_type_hint: "access_token" });
      const headers: Record<string, string> = {};
      await this.#authenticate(form, headers);
      body = await fetchJson(this.#deps.fetch, endpoint, {
        ...fetchOptions,
        what: "introspection",
        form: { body: form, headers },
      });
    } catch (error) {
      this.#endpoint = this.#config.endpoint;
      this.#deps.log({
        level: "warn",
        msg: "Cannot introspect a token",
        issuer: this.#issuer.issuer,
        reason: error instanceof Error ? error.message.slice(0, 200) : "unknown",
      });
      throw idpUnavailable("Introspection failed", _RETRY_AFTER_SECONDS, error);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw idpUnavailable("Introspection answer is not a JSON object", _RETRY_AFTER_SECONDS);
    }
    const { active, ...claims } = body as Record<string, unknown>;
    const now = this.#deps.now();
    if (active !== true) {
      return { claims: undefined, untilMs: now + this.#config.inactiveCacheSeconds * 1000 };
    }
    const exp = typeof claims.exp === "number" && Number.isFinite(claims.exp) ? claims.exp * 1000 : now;
    const cap = this.#config.cacheMaxSeconds;
    return { claims, untilMs: cap === undefined ? exp : Math.min(exp, now + cap * 1000) };
  }

  async #resolveEndpoint(
    options: { timeoutMs: number; maxBodyBytes: number; allowInsecureLoopback: boolean },
  ) {
    this.#endpoint ??= this.#config.endpoint ??
      await discoverEndpoint(this.#deps.fetch, this.#options.issuer, "introspection_endpoint", options);
    return this.#endpoint;
  }

  async #authenticate(form: URLSearchParams, headers: Record<string, string>): Promise<void> {
    const { clientId, clientSecretEnv } = this.#config;
    if (clientSecretEnv !== undefined) {
      const secret = this.#secret(clientSecretEnv);
      // RFC 6749 §2.3.1: both parts form-urlencoded before Basic encoding.
      const encode = (value: string) => encodeURIComponent(value).replaceAll("%20", "+");
      headers.authorization = `Basic ${btoa(`${encode(clientId)}:${encode(secret)}`)}`;
      return;
    }
    const { key, alg } = await (this.#signingKey ??= this.#importKey());
    const iat = Math.floor(this.#deps.now() / 1000);
    // RFC 7523 §3: iss and sub are the client, aud the authorization server (its issuer identifier).
    const assertion = await _signJwt({ alg, typ: "JWT" }, {
      iss: clientId,
      sub: clientId,
      aud: this.#options.issuer,
      jti: crypto.randomUUID(),
      iat,
      exp: iat + _ASSERTION_TTL_SECONDS,
    }, key);
    form.set("client_id", clientId);
    form.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    form.set("client_assertion", assertion);
  }

  #secret(name: string): string {
    const value = this.#options.secrets[name];
    if (typeof value !== "string" || value === "") {
      throw new Error(`Missing secret: set the environment variable "${name}"`);
    }
    return value;
  }

  async #importKey(): Promise<{ key: CryptoKey; alg: string }> {
    const name = this.#config.privateKeyEnv!;
    try {
      const jwk = JSON.parse(this.#secret(name)) as jose.JWK;
      if (typeof jwk.alg !== "string" || jwk.alg.startsWith("HS") || jwk.alg === "none") {
        throw new Error("no asymmetric alg");
      }
      if (signatureParamsOf(jwk.alg) === undefined) throw new Error("unsupported alg");
      const key = await jose.importJWK(jwk, jwk.alg);
      if (!(key instanceof CryptoKey) || key.type !== "private") throw new Error("not a private key");
      return { key, alg: jwk.alg };
    } catch (error) {
      throw new Error(`Secret "${name}" is not a private JWK with an asymmetric "alg"`, { cause: error });
    }
  }
}

/** Creates the introspection client of `issuer` (which must have an `introspection` section). */
export function createIntrospector(
  issuer: IssuerConfig,
  deps: Deps,
  options: IntrospectorOptions,
): Introspector {
  return new IssuerIntrospector(issuer, deps, options);
}
