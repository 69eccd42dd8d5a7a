/**
 * `/credentials` benchmark, in one run:
 *
 * - requests per second of `GET /arcgis/credentials` on a warm cache (ArcGIS tokens cached in the broker's store)
 *   against the same route of a second broker whose store forgets everything (`get` always misses, `set` is
 *   dropped) and which shares no in-flight fetch, so every request goes to the fake ArcGIS on loopback;
 * - ArcGIS token calls per proxied request once warm (`GET /arcgis/proxy?…` through the same warm broker);
 * - the cold burst: 200 concurrent first requests for one identity on a fresh broker, counted in the fake's
 *   request log (app mode: an empty cache; user mode: a linked identity whose access token is due for refresh).
 *
 * Both brokers are built with `createBroker()` and driven through `app.request()` of a Hono app that mounts
 * `broker.routes()`; the fake ArcGIS is served with `serveFakeArcGIS` on 127.0.0.1 in this process; the IdP is a
 * jose-signed stand-in behind the injected fetch (its JWKS never leaves the process). Every loop is bounded by a
 * request count and a time limit.
 *
 * Run alone: `deno run -A bench/credentials_bench.ts` (prints the result as JSON).
 *
 * @module
 */
import { Hono } from "hono";
import * as jose from "jose";
import { type Broker, createBroker } from "../src/hono/broker.ts";
import type { BrokerConfigInput } from "../src/config/schema.ts";
import type { KvStore } from "../src/store/kv_store.ts";
import { createMemoryStore } from "../src/store/memory_store.ts";
import { type FakeArcGIS, type FakeRequestRecord, serveFakeArcGIS } from "../src/testing/mod.ts";
import { type LoopResult, type LoopSummary, round, runClosedLoop, summarize } from "./_stats.ts";

const IDP = "https://idp.bench.example";
const BROKER = "http://127.0.0.1:8787";
const CALLBACK = `${BROKER}/arcgis/link/callback`;
const RETURN_URL = "http://127.0.0.1:8080/app/";
const CLIENT_ID = "bench-app";
const CLIENT_SECRET = "bench-app-secret-value";
const SECRETS: Record<string, string> = {
  BROKER_SEALING_KEYS: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(7)))}`,
  ARCGIS_APP_SECRET: CLIENT_SECRET,
};
/** The user access tokens of the fake live 30 min; 29 min later less than the safety margin is left. */
const USER_TOKEN_DUE_MS = 29 * 60_000;

/** Options of {@link runCredentialsBench}; the defaults keep the run near 15 s on 2 cores. */
export interface CredentialsBenchOptions {
  /** Interleaved rounds per concurrency level. @default 3 */
  rounds?: number;
  /** Requests in flight, one measurement per level. @default [1, 16] */
  concurrencyLevels?: readonly number[];
  /** Per round and variant: at most this many requests… @default 5000 */
  maxRequestsPerRound?: number;
  /** …and at most this long, ms. @default 1000 */
  maxMsPerRound?: number;
  /** Concurrent first requests of the cold burst. @default 200 */
  burst?: number;
}

/** One concurrency level of the throughput comparison. */
export interface CredentialsLevel {
  /** Requests in flight. */
  concurrency: number;
  /** Warm cache. */
  warm: LoopSummary;
  /** Cache disabled. */
  noCache: LoopSummary;
  /** warm.rps / noCache.rps. */
  warmOverNoCache: number;
  /** Requests the fake ArcGIS received per warm `/credentials` request (0 when the cache answers). */
  warmArcgisCallsPerRequest: number;
  /** Requests the fake ArcGIS received per uncached `/credentials` request. */
  noCacheArcgisCallsPerRequest: number;
}

/** One cold burst. */
export interface ColdBurst {
  /** What was burst. */
  scenario: string;
  /** Concurrent requests. */
  requests: number;
  /** Requests answered 200. */
  ok: number;
  /** ArcGIS token calls by kind, from the fake's request log. */
  tokenCalls: Record<string, number>;
  /** Distinct portal tokens handed out (1 when every request got the same one). */
  distinctPortalTokens: number;
  /** Every token kind was fetched exactly once and every request succeeded. */
  pass: boolean;
}

/** Proxied requests through the warm broker, counted in the fake's request log. */
export interface ProxyWarm {
  /** Proxied requests sent (after a warm-up that fetched the proxy token). */
  requests: number;
  /** Requests answered 200. */
  ok: number;
  /** Requests the fake's service endpoints received. */
  serviceRequests: number;
  /** ArcGIS token calls (oauth2/token, generateToken) during those requests. */
  arcgisTokenCalls: number;
  /** arcgisTokenCalls / requests. */
  tokenCallsPerRequest: number;
  /** Throughput, for information (the proxy bench measures the proxy itself). */
  rps: number;
}

/** Everything {@link runCredentialsBench} measured. */
export interface CredentialsBenchResult {
  /** How the run was set up, in words. */
  setup: string;
  /** Throughput per concurrency level. */
  levels: CredentialsLevel[];
  /** IdP (discovery/JWKS) fetches during the measured rounds, both brokers. */
  idpFetchesDuringMeasurement: number;
  /** Proxied requests once warm: no ArcGIS token call. */
  proxyWarm: ProxyWarm;
  /** Cold bursts. */
  coldBursts: ColdBurst[];
}

interface Idp {
  fetches: number;
  sign(sub: string, nowMs: number, claims?: Record<string, unknown>): Promise<string>;
  jwks: { keys: jose.JWK[] };
}

async function _createIdp(): Promise<Idp> {
  const { privateKey, publicKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: "b1", alg: "ES256", use: "sig" };
  return {
    fetches: 0,
    jwks: { keys: [jwk] },
    async sign(sub, nowMs, claims = {}) {
      const iat = Math.floor(nowMs / 1000);
      return await new jose.SignJWT({ scope: "openid arcgis", email: `${sub}@example.com`, ...claims })
        .setProtectedHeader({ alg: "ES256", kid: "b1", typ: "at+jwt" })
        .setIssuer(IDP)
        .setAudience("arcgis-broker")
        .setSubject(sub)
        .setIssuedAt(iat)
        .setExpirationTime(iat + 3600)
        .sign(privateKey);
    },
  };
}

/** The broker's outbound fetch: the IdP stand-in in process, everything else over the network (loopback). */
function _routerFetch(idp: Idp): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== IDP) return globalThis.fetch(input, init);
    idp.fetches++;
    const body = url.pathname === "/.well-known/openid-configuration"
      ? { issuer: IDP, jwks_uri: `${IDP}/jwks` }
      : url.pathname === "/jwks"
      ? idp.jwks
      : null;
    return Promise.resolve(body === null ? new Response("not found", { status: 404 }) : Response.json(body));
  };
}

function _config(origin: string): BrokerConfigInput {
  const server = `${origin}/server`;
  return {
    issuers: [{ issuer: IDP, audience: "arcgis-broker", algorithms: ["ES256"], requiredScopes: ["arcgis"] }],
    arcgis: {
      portalUrl: `${origin}/portal/sharing/rest`,
      servers: [server],
      allowInsecureLoopback: true,
    },
    profiles: {
      me: { mode: "user", clientId: CLIENT_ID, redirectUri: CALLBACK, idpUsernameClaim: "email" },
      viewer: {
        mode: "app",
        clientId: CLIENT_ID,
        clientSecretEnv: "ARCGIS_APP_SECRET",
        exposeToBrowser: true,
      },
    },
    rules: [
      { claim: "groups", includes: "gis-users", profile: "me" },
      { claim: "groups", includes: "viewers", profile: "viewer" },
    ],
    proxy: { allow: [{ url: `${server}/rest/services/` }] },
    link: { returnUrls: [RETURN_URL] },
    sealing: { keysEnv: "BROKER_SEALING_KEYS" },
  };
}

/** A store that keeps nothing: the cache is disabled and every token comes from ArcGIS. */
function _forgetfulStore(): KvStore {
  return {
    get: () => Promise.resolve(null),
    set: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  };
}

interface Mounted {
  broker: Broker;
  app: Hono;
}

function _mount(
  origin: string,
  idp: Idp,
  now: () => number,
  options: { store: KvStore; shareInFlight: boolean },
): Mounted {
  const broker = createBroker(_config(origin), {
    now,
    fetch: _routerFetch(idp),
    store: options.store,
    log: () => {},
    secrets: SECRETS,
    shareInFlight: options.shareInFlight,
  });
  const app = new Hono();
  app.route("/arcgis", broker.routes());
  return { broker, app };
}

async function _credentials(app: Hono, bearer: string): Promise<Response> {
  return await app.request(`${BROKER}/arcgis/credentials`, {
    headers: { authorization: `Bearer ${bearer}` },
  });
}

function _credentialsRequest(app: Hono, bearer: string): () => Promise<void> {
  return async () => {
    const res = await _credentials(app, bearer);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`/credentials answered ${res.status}: ${text.slice(0, 200)}`);
  };
}

const _isTokenCall = (r: FakeRequestRecord): boolean =>
  r.endpoint === "portal:oauth2/token" || r.endpoint === "portal:generateToken" ||
  r.endpoint === "server:generateToken";

function _tokenCalls(fake: FakeArcGIS): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const r of fake.requests) {
    if (!_isTokenCall(r) && r.endpoint !== "server:info") continue;
    const kind = r.endpoint === "portal:oauth2/token"
      ? `oauth2/token ${r.body.grant_type ?? "?"}`
      : r.endpoint;
    calls[kind] = (calls[kind] ?? 0) + 1;
  }
  return calls;
}

async function _burst(
  scenario: string,
  app: Hono,
  fake: FakeArcGIS,
  bearer: string,
  count: number,
): Promise<ColdBurst> {
  fake.reset();
  const answers = await Promise.all(Array.from({ length: count }, async () => {
    const res = await _credentials(app, bearer);
    return {
      status: res.status,
      body: await res.json() as { credentials?: { server: string; token: string }[] },
    };
  }));
  const ok = answers.filter((a) => a.status === 200);
  const portalTokens = new Set(
    ok.map((a) => a.body.credentials?.find((c) => c.server.endsWith("/sharing/rest"))?.token ?? ""),
  );
  const tokenCalls = _tokenCalls(fake);
  const mints = Object.entries(tokenCalls).filter(([kind]) => kind !== "server:info");
  return {
    scenario,
    requests: count,
    ok: ok.length,
    tokenCalls,
    distinctPortalTokens: portalTokens.size,
    pass: ok.length === count && mints.length > 0 && mints.every(([, n]) => n === 1) &&
      portalTokens.size === 1,
  };
}

/** Links `bearer`'s identity to the fake's ArcGIS user `user` over HTTP (the browser's redirects followed by hand). */
async function _link(app: Hono, fake: FakeArcGIS, bearer: string, user: string): Promise<void> {
  const headers = { authorization: `Bearer ${bearer}`, "content-type": "application/json" };
  const start = await app.request(`${BROKER}/arcgis/link`, {
    method: "POST",
    headers,
    body: JSON.stringify({ returnTo: RETURN_URL }),
  });
  if (start.status !== 200) throw new Error(`/link answered ${start.status}`);
  const { authorizeUrl } = await start.json() as { authorizeUrl: string };
  const authorize = await fake.fetch(authorizeUrl, {
    headers: { "x-fake-arcgis-user": user },
    redirect: "manual",
  });
  await authorize.body?.cancel();
  const callback = authorize.headers.get("location");
  if (authorize.status !== 302 || callback === null) {
    throw new Error(`authorize answered ${authorize.status}`);
  }
  const back = await app.request(callback);
  await back.body?.cancel();
  const location = back.headers.get("location");
  if (back.status !== 303 || location === null) throw new Error(`callback answered ${back.status}`);
  const complete = await app.request(`${BROKER}/arcgis/link/complete`, {
    method: "POST",
    headers,
    body: JSON.stringify({ linkId: new URL(location).searchParams.get("linkId") }),
  });
  await complete.body?.cancel();
  if (complete.status !== 200) throw new Error(`/link/complete answered ${complete.status}`);
}

/** Runs the `/credentials` benchmark (throughput warm vs uncached, then the cold bursts). */
export async function runCredentialsBench(
  options: CredentialsBenchOptions = {},
): Promise<CredentialsBenchResult> {
  const rounds = options.rounds ?? 3;
  const levels = options.concurrencyLevels ?? [1, 16];
  const maxRequests = options.maxRequestsPerRound ?? 5000;
  const maxMs = options.maxMsPerRound ?? 1000;
  const burst = options.burst ?? 200;

  let skewMs = 0;
  const now = (): number => Date.now() + skewMs;
  const idp = await _createIdp();
  await using served = serveFakeArcGIS({
    now,
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [CALLBACK] }],
  });
  const fake = served.fake;

  // Throughput: the app-mode profile (a user-mode link lives in the store, which the uncached broker forgets).
  const viewer = await idp.sign("vera", now(), { groups: ["viewers"] });
  const warm = _mount(served.origin, idp, now, { store: createMemoryStore({ now }), shareInFlight: true });
  const noCache = _mount(served.origin, idp, now, { store: _forgetfulStore(), shareInFlight: false });
  const variants = { warm: warm.app, noCache: noCache.app } as const;
  for (const app of Object.values(variants)) {
    await runClosedLoop({
      concurrency: 4,
      maxRequests: 200,
      maxMs: 2000,
      request: _credentialsRequest(app, viewer),
    });
  }
  const idpBefore = idp.fetches;
  const results: CredentialsLevel[] = [];
  for (const concurrency of levels) {
    const runs: Record<keyof typeof variants, LoopResult[]> = { warm: [], noCache: [] };
    const arcgisCalls = { warm: 0, noCache: 0 };
    for (let round = 0; round < rounds; round++) {
      for (const name of ["warm", "noCache"] as const) {
        fake.reset();
        const run = await runClosedLoop({
          concurrency,
          maxRequests: name === "warm" ? maxRequests : Math.ceil(maxRequests / 5),
          maxMs,
          request: _credentialsRequest(variants[name], viewer),
        });
        arcgisCalls[name] += fake.requests.length;
        runs[name].push(run);
      }
    }
    const w = summarize(runs.warm);
    const n = summarize(runs.noCache);
    results.push({
      concurrency,
      warm: w,
      noCache: n,
      warmOverNoCache: round(w.rps / n.rps, 1),
      warmArcgisCallsPerRequest: round(arcgisCalls.warm / w.requests, 3),
      noCacheArcgisCallsPerRequest: round(arcgisCalls.noCache / n.requests, 3),
    });
  }
  const idpFetchesDuringMeasurement = idp.fetches - idpBefore;

  // Proxied requests once warm: the proxy token is cached after the warm-up, so ArcGIS sees only service calls.
  const target = `${served.origin}/server/rest/services/Trailheads/FeatureServer/0?f=json`;
  let proxiedOk = 0;
  const proxied = async (): Promise<void> => {
    const res = await warm.app.request(`${BROKER}/arcgis/proxy?${target}`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    await res.arrayBuffer();
    if (res.status === 200) proxiedOk++;
  };
  await runClosedLoop({ concurrency: 4, maxRequests: 50, maxMs: 2000, request: proxied });
  fake.reset();
  proxiedOk = 0;
  const proxyRun = await runClosedLoop({ concurrency: 8, maxRequests: 1000, maxMs: 2000, request: proxied });
  const proxyTokenCalls = fake.count(_isTokenCall);
  const proxyWarm: ProxyWarm = {
    requests: proxyRun.requests,
    ok: proxiedOk,
    serviceRequests: fake.count((r) => r.service !== undefined),
    arcgisTokenCalls: proxyTokenCalls,
    tokenCallsPerRequest: round(proxyTokenCalls / proxyRun.requests, 3),
    rps: summarize([proxyRun]).rps,
  };

  // Cold bursts, each on a fresh broker (a fresh isolate's caches) with a fresh memory store.
  const coldBursts: ColdBurst[] = [];
  const coldApp = _mount(served.origin, idp, now, { store: createMemoryStore({ now }), shareInFlight: true });
  const carol = await idp.sign("carol", now(), { groups: ["viewers"] });
  coldBursts.push(
    await _burst(
      "app mode, empty cache: 200 × GET /credentials, one IdP token",
      coldApp.app,
      fake,
      carol,
      burst,
    ),
  );
  const coldUser = _mount(served.origin, idp, now, {
    store: createMemoryStore({ now }),
    shareInFlight: true,
  });
  const alice = await idp.sign("alice", now(), { groups: ["gis-users"] });
  await _link(coldUser.app, fake, alice, "alice");
  const first = await _credentials(coldUser.app, alice);
  await first.body?.cancel();
  skewMs += USER_TOKEN_DUE_MS; // the cached user token is now inside the safety margin: a refresh is due
  coldBursts.push(
    await _burst(
      "user mode, linked, access token due: 200 × GET /credentials, one IdP token",
      coldUser.app,
      fake,
      alice,
      burst,
    ),
  );

  return {
    setup: [
      "createBroker() + app.route('/arcgis', broker.routes()), requests through app.request() (no client socket).",
      `Fake ArcGIS served with serveFakeArcGIS on ${served.origin} in the same process and thread as the broker.`,
      "Profile 'viewer' (app mode, exposeToBrowser): /credentials answers the portal and one federated server.",
      "Warm: memory store, tokens cached after warm-up, the same IdP token each request (verified-token memo hit).",
      "No cache: a store whose get always misses and whose set is dropped, shareInFlight false, so every request",
      "fetches its tokens from the fake ArcGIS over loopback (no JWKS refetch: the verifier's memory tier holds it).",
      `Rounds interleaved (warm, no cache) × ${rounds} per concurrency level; each round ≤ ${maxMs} ms.`,
    ].join(" "),
    levels: results,
    idpFetchesDuringMeasurement,
    proxyWarm,
    coldBursts,
  };
}

if (import.meta.main) console.log(JSON.stringify(await runCredentialsBench(), null, 2));
