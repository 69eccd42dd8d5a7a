/**
 * Token validation benchmark: on the same tokens, for RS256, ES256 and EdDSA, requests (or verifications) per
 * second of
 * - Hono's `verifyWithJwks` with static keys (a function call), and Hono's `jwk` middleware with static keys
 *   through `app.fetch()`;
 * - a raw `crypto.subtle.verify` of the same signature (imported key, pre-decoded bytes: the pure crypto cost);
 * - our verifier called directly: warm key cache with the memo disabled (every call parses, checks claims and
 *   verifies the signature: the fresh-token cost), and a memo hit;
 * - `authenticate()` of `createBroker()` through `app.fetch()`: memo disabled (fresh-token path) and memo hit.
 *
 * App-level cases call `app.fetch()` with one prebuilt GET `Request`, as a server hands it over: the cost measured
 * is routing plus middleware, not the construction of a `Request` object (a bare route shows that overhead).
 *
 * Run: `deno run -A bench/auth_bench.ts [--duration-ms=1000] [--rounds=5] [--json=out.json]`. Prints a markdown
 * table and the ratios the issue sets targets for: memo hit ≥ 10× `verifyWithJwks`, fresh path ≤ 1.5× raw
 * verify. Wall and process CPU time are both reported; on a shared machine the CPU figures are the steadier.
 *
 * @module
 */
import process from "node:process";
import { Hono } from "hono";
import { jwk } from "hono/jwk";
import { verifyWithJwks } from "hono/utils/jwt/jwt";
import * as jose from "jose";
import { createBroker } from "../mod.ts";
import { createTokenVerifier } from "../src/idp/mod.ts";
import { brokerConfigSchema } from "../src/config/schema.ts";
import { createMemoryStore } from "../src/store/memory_store.ts";
import type { Deps } from "../src/deps.ts";

type Alg = "RS256" | "ES256" | "EdDSA";

const ISSUER = "https://idp.bench.example";
const AUDIENCE = "arcgis-broker";
const ALGS: readonly Alg[] = ["RS256", "ES256", "EdDSA"];

function _arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

const DURATION_MS = Number(_arg("duration-ms") ?? 1000);
const JSON_OUT = _arg("json");

interface Measurement {
  /** Median over the rounds. */
  opsPerSecond: number;
  /** 1e6 / opsPerSecond. */
  meanMicros: number;
  /**
   * Process CPU time (user + system, all threads) per call, median over the rounds: steadier than wall time on a
   * busy machine.
   */
  cpuMicros: number;
  /** Calls made in all rounds. */
  iterations: number;
}

const ROUNDS = Number(_arg("rounds") ?? 5);

/**
 * Runs every case in `cases` for `DURATION_MS / ROUNDS` per round, rotating the order each round, and reports the
 * median rate of each: interleaving keeps a noisy machine from favouring whichever case ran in a quiet moment.
 */
async function compare(cases: Record<string, () => Promise<unknown>>): Promise<Record<string, Measurement>> {
  const names = Object.keys(cases);
  const rates = new Map<string, number[]>(names.map((n) => [n, []]));
  const cpu = new Map<string, number[]>(names.map((n) => [n, []]));
  const counts = new Map<string, number>(names.map((n) => [n, 0]));
  for (const name of names) for (let i = 0; i < 30; i++) await cases[name]();
  const slice = DURATION_MS / ROUNDS;
  for (let round = 0; round < ROUNDS; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) {
      const fn = cases[name];
      let iterations = 0;
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      let elapsed = 0;
      while (elapsed < slice) {
        for (let i = 0; i < 10; i++) await fn();
        iterations += 10;
        elapsed = performance.now() - start;
      }
      rates.get(name)!.push((iterations / elapsed) * 1000);
      const used = process.cpuUsage(cpuStart);
      cpu.get(name)!.push((used.user + used.system) / iterations);
      counts.set(name, counts.get(name)! + iterations);
    }
  }
  const result: Record<string, Measurement> = {};
  for (const name of names) {
    const sorted = rates.get(name)!.sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const cpuSorted = cpu.get(name)!.sort((a, b) => a - b);
    result[name] = {
      opsPerSecond: median,
      meanMicros: 1e6 / median,
      cpuMicros: cpuSorted[Math.floor(cpuSorted.length / 2)],
      iterations: counts.get(name)!,
    };
  }
  return result;
}

function subtleParams(alg: Alg): AlgorithmIdentifier | EcdsaParams {
  if (alg === "RS256") return { name: "RSASSA-PKCS1-v1_5" };
  if (alg === "ES256") return { name: "ECDSA", hash: "SHA-256" };
  return { name: "Ed25519" };
}

function fakeJwksFetch(keys: jose.JWK[]): typeof fetch {
  return ((input: string | URL | Request) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (new URL(url).pathname === "/jwks") return Promise.resolve(Response.json({ keys }));
    return Promise.resolve(new Response("not found", { status: 404 }));
  }) as typeof fetch;
}

function brokerConfig(alg: Alg, memoMaxEntries: number) {
  return {
    issuers: [{ issuer: ISSUER, audience: AUDIENCE, algorithms: [alg], jwksUri: `${ISSUER}/jwks` }],
    arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
    profiles: {},
    sealing: { keysEnv: "BENCH_SEALING_KEYS" },
    validation: { memoMaxEntries },
  };
}

const SEALING_KEYS = `k1:${jose.base64url.encode(crypto.getRandomValues(new Uint8Array(32)))}`;

interface AlgResult {
  alg: Alg;
  tokenBytes: number;
  cases: Record<string, Measurement>;
}

async function benchAlg(alg: Alg): Promise<AlgResult> {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const publicJwk: jose.JWK = { ...(await jose.exportJWK(publicKey)), kid: `${alg}-1`, alg, use: "sig" };
  const now = Math.floor(Date.now() / 1000);
  const token = await new jose.SignJWT({
    sub: "alice",
    client_id: "spa",
    scope: "openid arcgis",
    groups: ["gis-viewers", "gis-editors"],
    preferred_username: "alice",
  })
    .setProtectedHeader({ alg, kid: publicJwk.kid, typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(privateKey);
  const [h, p, s] = token.split(".");
  const data = new TextEncoder().encode(`${h}.${p}`);
  const signature = Uint8Array.from(jose.base64url.decode(s));
  const params = subtleParams(alg);
  const cases: Record<string, () => Promise<unknown>> = {};

  // (a) Hono
  const honoOptions = {
    keys: [
      publicJwk as Parameters<typeof verifyWithJwks>[1]["keys"] extends (infer K)[] | undefined ? K : never,
    ],
    allowedAlgorithms: [alg],
    verification: { iss: ISSUER, aud: AUDIENCE },
  } as Parameters<typeof verifyWithJwks>[1];
  await verifyWithJwks(token, honoOptions);
  cases.honoVerifyWithJwks = () => verifyWithJwks(token, honoOptions);
  const honoApp = new Hono();
  honoApp.get(
    "/me",
    jwk({ keys: honoOptions.keys!, alg: [alg], verification: { iss: ISSUER, aud: AUDIENCE } }),
    (c) => c.text("ok"),
  );
  const request = new Request("http://localhost/me", { headers: { authorization: `Bearer ${token}` } });
  const honoRes = await honoApp.fetch(request);
  if (honoRes.status !== 200) throw new Error(`hono/jwk refused the token: ${honoRes.status}`);
  cases.honoJwkMiddleware = async () => {
    const res = await honoApp.fetch(request);
    await res.body?.cancel();
  };
  const bareApp = new Hono();
  bareApp.get("/me", (c) => c.text("ok"));
  cases.honoNoAuth = async () => {
    const res = await bareApp.fetch(request);
    await res.body?.cancel();
  };

  // (b) raw WebCrypto
  if (!(await crypto.subtle.verify(params, publicKey, signature, data))) throw new Error("Raw verify failed");
  // The verifiers import the published JWK; so does the baseline (a generated key can verify at another speed).
  const imported = await jose.importJWK(publicJwk, alg);
  if (!(imported instanceof CryptoKey)) throw new Error("Expected a public CryptoKey");
  const importedKey = imported;
  cases.rawSubtleVerify = () => crypto.subtle.verify(params, importedKey, signature, data);

  // (c), (d) our verifier, directly
  const deps = (): Deps => ({
    now: Date.now,
    fetch: fakeJwksFetch([publicJwk]),
    store: createMemoryStore(),
    log: () => {},
    waitUntil: (promise) => void promise.catch(() => {}),
  });
  const issuers = brokerConfigSchema.parse(brokerConfig(alg, 0)).issuers;
  const fresh = createTokenVerifier(issuers, deps(), { memoMaxEntries: 0 });
  const memo = createTokenVerifier(issuers, deps());
  await fresh.verify(token);
  await memo.verify(token);
  cases.verifierFresh = () => fresh.verify(token);
  cases.verifierMemoHit = () => memo.verify(token);

  // (e) authenticate() through app.fetch()
  for (const [name, memoMaxEntries] of [["authenticateFresh", 0], ["authenticateMemoHit", 10_000]] as const) {
    const d = deps();
    const broker = createBroker(brokerConfig(alg, memoMaxEntries), {
      ...d,
      secrets: { BENCH_SEALING_KEYS: SEALING_KEYS },
    });
    const app = new Hono();
    app.get("/me", broker.authenticate(), (c) => c.text("ok"));
    const first = await app.fetch(request);
    if (first.status !== 200) throw new Error(`authenticate() refused the token: ${first.status}`);
    cases[name] = async () => {
      const res = await app.fetch(request);
      await res.body?.cancel();
    };
  }
  return { alg, tokenBytes: token.length, cases: await compare(cases) };
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);
}

const results: AlgResult[] = [];
for (const alg of ALGS) results.push(await benchAlg(alg));

const rows = [
  ["honoVerifyWithJwks", "Hono `verifyWithJwks` (static keys)"],
  ["honoJwkMiddleware", "Hono `jwk` middleware (static keys), `app.fetch()`"],
  ["honoNoAuth", "Hono `app.fetch()` without auth (routing overhead only)"],
  ["rawSubtleVerify", "raw `crypto.subtle.verify`"],
  ["verifierFresh", "our verifier, warm keys, memo off (fresh token)"],
  ["verifierMemoHit", "our verifier, memo hit"],
  ["authenticateFresh", "`authenticate()`, `app.fetch()`, memo off (fresh token)"],
  ["authenticateMemoHit", "`authenticate()`, `app.fetch()`, memo hit (repeated token)"],
] as const;

const lines: string[] = [];
lines.push(
  `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, ${Deno.build.os}/${Deno.build.arch}; ` +
    `${DURATION_MS} ms per case in ${ROUNDS} interleaved rounds (median rate); sequential calls; ` +
    `load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}.`,
);
lines.push("");
lines.push(`| case | ${ALGS.map((a) => `${a} ops/s (wall µs/op; CPU µs/op)`).join(" | ")} |`);
lines.push(`|---|${ALGS.map(() => "---:").join("|")}|`);
for (const [key, label] of rows) {
  const cells = results.map((r) => {
    const m = r.cases[key];
    return `${fmt(m.opsPerSecond)} (${fmt(m.meanMicros)}; ${fmt(m.cpuMicros)})`;
  });
  lines.push(`| ${label} | ${cells.join(" | ")} |`);
}
lines.push("");
lines.push(`| ratio (target) | ${ALGS.join(" | ")} |`);
lines.push(`|---|${ALGS.map(() => "---:").join("|")}|`);
const ratios = {
  "`authenticate()` memo hit ÷ `verifyWithJwks` (≥ 10×)": (r: AlgResult) =>
    r.cases.authenticateMemoHit.opsPerSecond / r.cases.honoVerifyWithJwks.opsPerSecond,
  "`authenticate()` memo hit ÷ Hono `jwk` middleware (≥ 10×)": (r: AlgResult) =>
    r.cases.authenticateMemoHit.opsPerSecond / r.cases.honoJwkMiddleware.opsPerSecond,
  "verifier memo hit ÷ `verifyWithJwks`": (r: AlgResult) =>
    r.cases.verifierMemoHit.opsPerSecond / r.cases.honoVerifyWithJwks.opsPerSecond,
  "`authenticate()` fresh cost ÷ raw verify cost (≤ 1.5×)": (r: AlgResult) =>
    r.cases.authenticateFresh.meanMicros / r.cases.rawSubtleVerify.meanMicros,
  "verifier fresh cost ÷ raw verify cost (≤ 1.5×)": (r: AlgResult) =>
    r.cases.verifierFresh.meanMicros / r.cases.rawSubtleVerify.meanMicros,
  "`authenticate()` fresh CPU ÷ raw verify CPU": (r: AlgResult) =>
    r.cases.authenticateFresh.cpuMicros / r.cases.rawSubtleVerify.cpuMicros,
  "verifier fresh CPU ÷ raw verify CPU": (r: AlgResult) =>
    r.cases.verifierFresh.cpuMicros / r.cases.rawSubtleVerify.cpuMicros,
};
const ratioValues: Record<string, Record<string, number>> = {};
for (const [label, fn] of Object.entries(ratios)) {
  ratioValues[label] = Object.fromEntries(results.map((r) => [r.alg, fn(r)]));
  lines.push(`| ${label} | ${results.map((r) => `${fn(r).toFixed(2)}×`).join(" | ")} |`);
}
console.log(lines.join("\n"));
const json = {
  runtime: { deno: Deno.version.deno, v8: Deno.version.v8, os: Deno.build.os, arch: Deno.build.arch },
  durationMs: DURATION_MS,
  rounds: ROUNDS,
  results,
  ratios: ratioValues,
};
if (JSON_OUT !== undefined) await Deno.writeTextFile(JSON_OUT, `${JSON.stringify(json, null, 2)}\n`);
