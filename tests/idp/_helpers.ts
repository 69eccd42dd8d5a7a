/**
 * Shared fixtures of the IdP tests: issuer configs parsed by the real schema, deps with a fake clock, and a
 * fake IdP that is only a `fetch` function (discovery + JWKS) counting every call.
 */
import * as jose from "jose";
import { type BrokerConfigInput, brokerConfigSchema, type IssuerConfig } from "../../src/config/schema.ts";
import type { Deps, LogEntry } from "../../src/deps.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import type { KvStore } from "../../src/store/kv_store.ts";

/** Start of the fake clock: a fixed instant, epoch ms. */
export const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** The issuer of the fake IdP. */
export const ISSUER = "https://idp.example.com";

/** The audience tokens are made for. */
export const AUDIENCE = "arcgis-broker";

type IssuerInput = BrokerConfigInput["issuers"][number];

/** An issuer entry with defaults applied by the real schema. */
export function issuerConfig(overrides: Partial<IssuerInput> = {}): IssuerConfig {
  return issuerConfigs([{ issuer: ISSUER, audience: AUDIENCE, ...overrides }])[0];
}

/** Several issuer entries parsed by the real schema. */
export function issuerConfigs(issuers: IssuerInput[]): IssuerConfig[] {
  return brokerConfigSchema.parse({
    issuers,
    arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
    profiles: {},
    sealing: { keysEnv: "BROKER_SEALING_KEYS" },
  }).issuers;
}

/** A settable clock. */
export interface Clock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

/** A clock starting at `start`. */
export function createClock(start = T0): Clock {
  let current = start;
  return {
    now: () => current,
    set: (ms) => void (current = ms),
    advance: (ms) => void (current += ms),
  };
}

/** Deps with the test clock, a memory store, a fetch, and collected logs and background tasks. */
export interface TestDeps extends Deps {
  logs: LogEntry[];
  background: Promise<unknown>[];
  /** Waits for every background task (KV writes). */
  settle(): Promise<void>;
}

/** Builds {@link TestDeps}. */
export function testDeps(clock: Clock, fetchFn: typeof fetch, store?: KvStore): TestDeps {
  const logs: LogEntry[] = [];
  const background: Promise<unknown>[] = [];
  return {
    now: clock.now,
    fetch: fetchFn,
    store: store ?? createMemoryStore({ now: clock.now }),
    log: (entry) => void logs.push(entry),
    waitUntil: (promise) => void background.push(promise),
    logs,
    background,
    settle: async () => {
      while (background.length > 0) await background.shift();
    },
  };
}

/** One signing key of the fake IdP. */
export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: jose.JWK;
}

/** Generates a key pair; the public JWK carries `kid`, `alg` and `use`. */
export async function generateSigningKey(
  alg: string,
  kid: string,
  extra: Partial<jose.JWK> = {},
): Promise<SigningKey> {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg, use: "sig", ...extra };
  return { kid, alg, privateKey, publicJwk };
}

/** Claims of a valid access token at {@link T0}. */
export function accessClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(T0 / 1000);
  return {
    iss: ISSUER,
    sub: "alice",
    aud: AUDIENCE,
    iat,
    exp: iat + 300,
    client_id: "spa",
    scope: "openid arcgis",
    ...overrides,
  };
}

/** WebCrypto signing parameters of a JWS algorithm. */
function _signParams(alg: string): AlgorithmIdentifier | RsaPssParams | EcdsaParams {
  if (alg.startsWith("RS")) return { name: "RSASSA-PKCS1-v1_5" };
  if (alg.startsWith("PS")) return { name: "RSA-PSS", saltLength: Number(alg.slice(2)) / 8 } as RsaPssParams;
  if (alg.startsWith("ES")) return { name: "ECDSA", hash: `SHA-${alg === "ES512" ? 512 : alg.slice(2)}` };
  return { name: "Ed25519" };
}

/**
 * Signs `payload` with `key` as a compact JWS, by hand so any header can be forged (header defaults: the key's
 * alg and kid, typ at+jwt; a member set to `undefined` is left out).
 */
export async function signToken(
  key: SigningKey,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  const protectedHeader: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: "at+jwt", ...header };
  const input = `${b64json(protectedHeader)}.${b64json(payload)}`;
  const signature = await crypto.subtle.sign(
    _signParams(key.alg),
    key.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${jose.base64url.encode(new Uint8Array(signature))}`;
}

/** base64url of a JSON value (to hand-craft tokens). */
export function b64json(value: unknown): string {
  return jose.base64url.encode(JSON.stringify(value));
}

/** How the fake IdP answers one request. */
export type FakeResponse = Response | Promise<Response> | "hang";

/** A fake IdP: a `fetch` that serves discovery and a JWKS, and counts calls per path. */
export interface FakeIdp {
  fetch: typeof fetch;
  /** The served JWKS (mutable). */
  jwks: { keys: unknown[] };
  /** Calls per path, e.g. `/jwks`. */
  calls: Map<string, number>;
  /** Every requested URL with its init. */
  requests: Array<{ url: string; init?: RequestInit }>;
  /** Overrides the answer for a path (one per call, or a function). */
  respond: Map<string, (request: { url: string; init?: RequestInit }) => FakeResponse>;
  /** Calls to `/jwks`. */
  jwksCalls(): number;
  /** Calls to discovery. */
  discoveryCalls(): number;
}

/** Creates a {@link FakeIdp} for `issuer`, serving `keys` at `{issuer}/jwks`. */
export function createFakeIdp(keys: unknown[], issuer = ISSUER): FakeIdp {
  const jwks = { keys };
  const calls = new Map<string, number>();
  const requests: FakeIdp["requests"] = [];
  const respond: FakeIdp["respond"] = new Map();
  const origin = new URL(issuer).origin;
  const fetchFn = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    requests.push({ url, init });
    const path = new URL(url).pathname;
    calls.set(path, (calls.get(path) ?? 0) + 1);
    const custom = respond.get(path);
    if (custom !== undefined) {
      const answer = custom({ url, init });
      if (answer === "hang") {
        return new Promise((_resolve, reject) => {
          const signal = init?.signal;
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      }
      return Promise.resolve(answer);
    }
    if (path.endsWith("/.well-known/openid-configuration")) {
      return Promise.resolve(Response.json({ issuer, jwks_uri: `${origin}/jwks` }));
    }
    if (path === "/jwks") return Promise.resolve(Response.json(jwks));
    return Promise.resolve(new Response("not found", { status: 404 }));
  };
  return {
    fetch: fetchFn as typeof fetch,
    jwks,
    calls,
    requests,
    respond,
    jwksCalls: () => calls.get("/jwks") ?? 0,
    discoveryCalls: () =>
      [...calls].filter(([path]) => path.endsWith("/.well-known/openid-configuration")).reduce(
        (n, [, c]) => n + c,
        0,
      ),
  };
}
