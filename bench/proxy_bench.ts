/**
 * Proxy benchmark, on loopback, in one run. Three servers each run in their own worker thread (own isolate and event
 * loop), the load generator in the main thread:
 *
 * - (a) `direct`: a minimal upstream (`Deno.serve`): a small JSON answer and a 1 MiB tile;
 * - (b) `bare`: a pass-through proxy on the same runtime (serve, `fetch`, stream back; no auth, no checks);
 * - (c) `ours`: `createProxyHandler` served with `Deno.serve` (allowlist, header hygiene, token injection, peek),
 *   with a token function that returns a cached token (what the token service does once warm);
 * - (d) `broker`: the whole broker (`createBroker`, Hono routes, `authenticate()` with an ES256 IdP token whose JWKS
 *   is served in process, the token service with its cache warm) served with `Deno.serve`. The upstream also plays
 *   the portal for it (`oauth2/token`, `rest/info`, `generateToken`), and counts those token calls.
 *
 * Rounds are interleaved (a, b, c, d, a, b, c, d, …) with 16 requests in flight (throughput, p50/p99 under load),
 * plus a quarter as many one at a time (`serialP50Ms`: the latency a single request pays), bounded by request
 * counts. Then
 * 200 MB are streamed through (b), (c) and (d) while the process RSS is sampled. Prints one JSON object (and
 * writes it to `--json=<file>` when given).
 *
 * Run: `deno run -A bench/proxy_bench.ts [--rounds=3] [--small=2000] [--tiles=150] [--stream-mb=200] [--json=f]`
 *
 * @module
 */
import { Hono } from "hono";
import * as jose from "jose";
import { createBroker } from "../src/hono/broker.ts";
import { createProxyHandler } from "../src/proxy/mod.ts";
import type { UpstreamToken } from "../src/types.ts";

type Role = "upstream" | "bare" | "ours" | "broker";
type Variant = "direct" | "bare" | "ours" | "broker";

interface StartMessage {
  role: Role;
  upstreamPort?: number;
}

const TILE_BYTES = 1024 * 1024;
const STREAM_CHUNK_BYTES = 64 * 1024;
const SERVICE_PATH = "/server/rest/services/Bench/MapServer";
const SMALL_PATH = `${SERVICE_PATH}?f=json`;
const TILE_PATH = `${SERVICE_PATH}/tile/5/10/12`;
const CONCURRENCY = 16;
const IDP = "https://idp.bench.example";

// ---------------------------------------------------------------------------------------------------------------
// Worker side: the three servers.

let _upstreamTokenCalls = 0;

function _upstreamHandler(): (request: Request) => Response {
  const small = new TextEncoder().encode(
    JSON.stringify({ currentVersion: 11.3, mapName: "Bench", layers: [], spatialReference: { wkid: 3857 } }),
  );
  const tile = new Uint8Array(TILE_BYTES);
  for (let i = 0; i < tile.length; i++) tile[i] = (i * 31) & 0xff;
  tile.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunk = new Uint8Array(STREAM_CHUNK_BYTES).fill(0x42);
  chunk[0] = 0x89;
  return function upstream(request: Request): Response {
    const url = new URL(request.url);
    // Just enough of a portal for the broker's token service (app profile, federated server).
    if (url.pathname.startsWith("/portal/sharing/rest/oauth2/token")) {
      _upstreamTokenCalls++;
      return Response.json({ access_token: "bench-app-token-0123456789", expires_in: 7200 });
    }
    if (url.pathname === "/portal/sharing/rest/generateToken") {
      _upstreamTokenCalls++;
      return Response.json({
        token: "bench-server-token-0123456789",
        expires: Date.now() + 7_200_000,
        ssl: false,
      });
    }
    if (url.pathname === "/server/rest/info") {
      return Response.json({
        currentVersion: 11.3,
        owningSystemUrl: `${url.origin}/portal`,
        authInfo: {
          isTokenBasedSecurity: true,
          tokenServicesUrl: `${url.origin}/portal/sharing/rest/generateToken`,
        },
      });
    }
    if (url.pathname === TILE_PATH) {
      return new Response(tile, {
        headers: { "content-type": "image/png", etag: '"t1"', "cache-control": "public, max-age=3600" },
      });
    }
    if (url.pathname === `${SERVICE_PATH}/export`) {
      const total = Number(url.searchParams.get("bytes"));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= total) {
            controller.close();
            return;
          }
          const size = Math.min(STREAM_CHUNK_BYTES, total - sent);
          controller.enqueue(chunk.slice(0, size));
          sent += size;
        },
      }, { highWaterMark: 0 });
      return new Response(body, {
        headers: { "content-type": "image/png", "content-length": String(total) },
      });
    }
    return new Response(small, { headers: { "content-type": "application/json; charset=utf-8" } });
  };
}

function _bareHandler(): (request: Request) => Promise<Response> {
  return async function bare(request: Request): Promise<Response> {
    const target = request.url.slice(request.url.indexOf("?") + 1);
    const upstream = await fetch(target, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  };
}

function _oursHandler(
  upstreamPort: number,
): { handle: (request: Request) => Promise<Response>; calls: () => number } {
  let calls = 0;
  const cached: UpstreamToken = {
    token: "bench-token-0123456789abcdef",
    expires: Date.now() + 3_600_000,
    profile: "p",
  };
  const handler = createProxyHandler(
    {
      proxy: {
        allow: [{
          url: `http://127.0.0.1:${upstreamPort}/server/rest/services/`,
          methods: ["GET", "POST"],
          tokenIn: "header",
          allowEdits: false,
        }],
        maxBodyBytes: 10 * 1024 * 1024,
        retryMaxBodyBytes: 64 * 1024,
        fetchTimeoutMs: 30_000,
      },
      allowInsecureLoopback: true,
    },
    { fetch: globalThis.fetch, log: () => {} },
    {
      tokens: () => {
        calls++;
        return Promise.resolve(cached);
      },
    },
  );
  const identity = {
    issuer: "https://idp.example.com",
    subject: "bench",
    claims: {},
    tokenKind: "access",
    expiresAt: 0,
  };
  return {
    handle: (request) => handler.handle(request, { identity: identity as never, profiles: ["p"] }),
    calls: () => calls,
  };
}

async function _brokerHandler(
  upstreamPort: number,
): Promise<{ handle: (request: Request) => Response | Promise<Response>; bearer: string }> {
  const { privateKey, publicKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const jwks = { keys: [{ ...(await jose.exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] };
  const iat = Math.floor(Date.now() / 1000);
  const bearer = await new jose.SignJWT({ scope: "openid arcgis" })
    .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
    .setIssuer(IDP)
    .setAudience("arcgis-broker")
    .setSubject("bench-user")
    .setIssuedAt(iat)
    .setExpirationTime(iat + 3600)
    .sign(privateKey);
  const origin = `http://127.0.0.1:${upstreamPort}`;
  const routerFetch: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== IDP) return globalThis.fetch(input, init);
    if (url.pathname === "/.well-known/openid-configuration") {
      return Promise.resolve(Response.json({ issuer: IDP, jwks_uri: `${IDP}/jwks` }));
    }
    return Promise.resolve(
      url.pathname === "/jwks" ? Response.json(jwks) : new Response("", { status: 404 }),
    );
  };
  const broker = createBroker({
    issuers: [{ issuer: IDP, audience: "arcgis-broker", algorithms: ["ES256"] }],
    arcgis: {
      portalUrl: `${origin}/portal/sharing/rest`,
      servers: [`${origin}/server`],
      allowInsecureLoopback: true,
    },
    profiles: { viewer: { mode: "app", clientId: "bench", clientSecretEnv: "BENCH_APP_SECRET" } },
    rules: [{ profile: "viewer" }],
    proxy: { allow: [{ url: `${origin}/server/rest/services/` }] },
    sealing: { keysEnv: "BENCH_SEALING_KEYS" },
  }, {
    fetch: routerFetch,
    log: () => {},
    secrets: {
      BENCH_APP_SECRET: "bench-app-secret",
      BENCH_SEALING_KEYS: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))}`,
    },
  });
  const app = new Hono();
  app.route("/arcgis", broker.routes());
  return { handle: (request) => app.fetch(request), bearer };
}

function _runWorker(): void {
  const scope = globalThis as unknown as {
    onmessage: ((event: MessageEvent) => void) | null;
    postMessage(message: unknown): void;
  };
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let ours: ReturnType<typeof _oursHandler> | undefined;
  scope.onmessage = async (event: MessageEvent) => {
    const message = event.data as StartMessage | { stop: true } | { stats: true };
    if ("stop" in message) {
      await server?.shutdown();
      scope.postMessage({ stopped: true });
      return;
    }
    if ("stats" in message) {
      scope.postMessage({ tokenCalls: ours?.calls() ?? 0, upstreamTokenCalls: _upstreamTokenCalls });
      return;
    }
    let handler: (request: Request) => Response | Promise<Response>;
    let bearer: string | undefined;
    if (message.role === "upstream") handler = _upstreamHandler();
    else if (message.role === "bare") handler = _bareHandler();
    else if (message.role === "ours") {
      ours = _oursHandler(message.upstreamPort!);
      handler = ours.handle;
    } else {
      const built = await _brokerHandler(message.upstreamPort!);
      handler = built.handle;
      bearer = built.bearer;
    }
    server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => handler(request));
    scope.postMessage({ port: (server.addr as Deno.NetAddr).port, bearer });
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Main side: the load generator.

interface ServerThread {
  worker: Worker;
  port: number;
  bearer?: string;
  request<T>(message: unknown): Promise<T>;
}

async function _startThread(message: StartMessage): Promise<ServerThread> {
  const worker = new Worker(import.meta.url, { type: "module" });
  const request = <T>(msg: unknown): Promise<T> =>
    new Promise<T>((resolve) => {
      worker.addEventListener("message", (event) => resolve(event.data as T), { once: true });
      worker.postMessage(msg);
    });
  const { port, bearer } = await request<{ port: number; bearer?: string }>(message);
  return { worker, port, request, ...(bearer !== undefined ? { bearer } : {}) };
}

function _percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface LoadResult {
  requests: number;
  seconds: number;
  latenciesMs: number[];
  bytes: number;
}

async function _load(
  url: string,
  count: number,
  expectBytes: number,
  headers?: HeadersInit,
  concurrency = CONCURRENCY,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  let bytes = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      next++;
      const t0 = performance.now();
      const response = await fetch(url, headers === undefined ? undefined : { headers });
      const body = new Uint8Array(await response.arrayBuffer());
      latenciesMs.push(performance.now() - t0);
      if (response.status !== 200 || body.length !== expectBytes) {
        throw new Error(`Unexpected answer: status ${response.status}, ${body.length} bytes`);
      }
      bytes += body.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { requests: count, seconds: (performance.now() - started) / 1000, latenciesMs, bytes };
}

function _summary(results: LoadResult[], serial: LoadResult[]) {
  const serialLatencies = serial.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const seconds = results.reduce((n, r) => n + r.seconds, 0);
  const bytes = results.reduce((n, r) => n + r.bytes, 0);
  return {
    requests,
    throughputRps: Math.round(requests / seconds),
    mbPerSecond: Math.round(bytes / seconds / 1e6),
    p50Ms: Number(_percentile(latencies, 50).toFixed(3)),
    p99Ms: Number(_percentile(latencies, 99).toFixed(3)),
    serialP50Ms: Number(_percentile(serialLatencies, 50).toFixed(3)),
    serialP99Ms: Number(_percentile(serialLatencies, 99).toFixed(3)),
  };
}

async function _streamMemory(url: string, totalBytes: number, headers?: HeadersInit) {
  const samples: number[] = [];
  const sample = () => samples.push(Deno.memoryUsage().rss);
  sample();
  const timer = setInterval(sample, 20);
  const started = performance.now();
  let received = 0;
  try {
    const response = await fetch(url, headers === undefined ? undefined : { headers });
    for await (const chunk of response.body!) {
      received += chunk.length;
      if (received % (8 * 1024 * 1024) < chunk.length) sample();
    }
  } finally {
    clearInterval(timer);
  }
  sample();
  if (received !== totalBytes) throw new Error(`Stream ended early: ${received} of ${totalBytes} bytes`);
  const mb = (n: number) => Number((n / (1024 * 1024)).toFixed(1));
  return {
    streamedMB: mb(received),
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    rssMinMB: mb(Math.min(...samples)),
    rssMaxMB: mb(Math.max(...samples)),
    rssMaxMinusMinMB: mb(Math.max(...samples) - Math.min(...samples)),
    samples: samples.length,
  };
}

function _arg(name: string, fallback: number): number {
  const found = Deno.args.find((a) => a.startsWith(`--${name}=`));
  const value = found === undefined ? fallback : Number(found.slice(name.length + 3));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`Bad --${name}`);
  return value;
}

async function _main(): Promise<void> {
  const rounds = _arg("rounds", 3);
  const smallCount = _arg("small", 2000);
  const tileCount = _arg("tiles", 150);
  const streamMB = _arg("stream-mb", 200);

  const upstream = await _startThread({ role: "upstream" });
  const bare = await _startThread({ role: "bare" });
  const ours = await _startThread({ role: "ours", upstreamPort: upstream.port });
  const brokerThread = await _startThread({ role: "broker", upstreamPort: upstream.port });
  const threads = [upstream, bare, ours, brokerThread];
  const headersOf: Record<Variant, HeadersInit | undefined> = {
    direct: undefined,
    bare: undefined,
    ours: undefined,
    broker: { authorization: `Bearer ${brokerThread.bearer}` },
  };
  try {
    const direct = `http://127.0.0.1:${upstream.port}`;
    const urls = (path: string): Record<Variant, string> => ({
      direct: `${direct}${path}`,
      bare: `http://127.0.0.1:${bare.port}/proxy?${direct}${path}`,
      ours: `http://127.0.0.1:${ours.port}/arcgis/proxy?${direct}${path}`,
      broker: `http://127.0.0.1:${brokerThread.port}/arcgis/proxy?${direct}${path}`,
    });
    const small = urls(SMALL_PATH);
    const tile = urls(TILE_PATH);
    const smallBytes = (await (await fetch(small.direct)).arrayBuffer()).byteLength;
    const variants: Variant[] = ["direct", "bare", "ours", "broker"];

    // Warm-up (connections, JIT), not recorded.
    for (const v of variants) {
      await _load(small[v], 200, smallBytes, headersOf[v]);
      await _load(tile[v], 16, TILE_BYTES, headersOf[v]);
    }
    const tokenCallsBefore = (await ours.request<{ tokenCalls: number }>({ stats: true })).tokenCalls;
    const upstreamTokenCallsBefore =
      (await upstream.request<{ upstreamTokenCalls: number }>({ stats: true })).upstreamTokenCalls;

    const results: Record<"small" | "tile", Record<Variant, LoadResult[]>> = {
      small: { direct: [], bare: [], ours: [], broker: [] },
      tile: { direct: [], bare: [], ours: [], broker: [] },
    };
    const serial: Record<"small" | "tile", Record<Variant, LoadResult[]>> = {
      small: { direct: [], bare: [], ours: [], broker: [] },
      tile: { direct: [], bare: [], ours: [], broker: [] },
    };
    const serialSmall = Math.max(50, Math.round(smallCount / 4));
    const serialTiles = Math.max(10, Math.round(tileCount / 4));
    for (let round = 0; round < rounds; round++) {
      for (const v of variants) {
        results.small[v].push(await _load(small[v], smallCount, smallBytes, headersOf[v]));
      }
      for (const v of variants) {
        serial.small[v].push(await _load(small[v], serialSmall, smallBytes, headersOf[v], 1));
      }
      for (const v of variants) {
        results.tile[v].push(await _load(tile[v], tileCount, TILE_BYTES, headersOf[v]));
      }
      for (const v of variants) {
        serial.tile[v].push(await _load(tile[v], serialTiles, TILE_BYTES, headersOf[v], 1));
      }
    }
    const tokenCallsAfter = (await ours.request<{ tokenCalls: number }>({ stats: true })).tokenCalls;
    const upstreamTokenCallsAfter =
      (await upstream.request<{ upstreamTokenCalls: number }>({ stats: true })).upstreamTokenCalls;

    const report: Record<string, unknown> = {
      runtime: `deno ${Deno.version.deno}`,
      cpus: navigator.hardwareConcurrency,
      concurrency: CONCURRENCY,
      rounds,
      oursIs: "createProxyHandler served with Deno.serve (no IdP check), cached token",
      brokerIs:
        "createBroker() routes on Hono served with Deno.serve: IdP ES256 bearer verified, warm token cache",
    };
    for (const kind of ["small", "tile"] as const) {
      const s = Object.fromEntries(
        variants.map((v) => [v, _summary(results[kind][v], serial[kind][v])]),
      ) as Record<
        Variant,
        ReturnType<typeof _summary>
      >;
      report[kind] = {
        ...s,
        oursOverBareThroughput: Number((s.ours.throughputRps / s.bare.throughputRps).toFixed(3)),
        oursOverDirectThroughput: Number((s.ours.throughputRps / s.direct.throughputRps).toFixed(3)),
        bareOverDirectThroughput: Number((s.bare.throughputRps / s.direct.throughputRps).toFixed(3)),
        oursMinusBareP50Ms: Number((s.ours.p50Ms - s.bare.p50Ms).toFixed(3)),
        oursMinusBareP99Ms: Number((s.ours.p99Ms - s.bare.p99Ms).toFixed(3)),
        oursMinusBareSerialP50Ms: Number((s.ours.serialP50Ms - s.bare.serialP50Ms).toFixed(3)),
        brokerMinusBareSerialP50Ms: Number((s.broker.serialP50Ms - s.bare.serialP50Ms).toFixed(3)),
        brokerOverBareThroughput: Number((s.broker.throughputRps / s.bare.throughputRps).toFixed(3)),
        brokerOverDirectThroughput: Number((s.broker.throughputRps / s.direct.throughputRps).toFixed(3)),
        brokerMinusBareP50Ms: Number((s.broker.p50Ms - s.bare.p50Ms).toFixed(3)),
        brokerMinusBareP99Ms: Number((s.broker.p99Ms - s.bare.p99Ms).toFixed(3)),
      };
    }
    const measured = rounds * (smallCount + tileCount + serialSmall + serialTiles);
    report.tokenFunctionCallsPerRequest = Number(
      ((tokenCallsAfter - tokenCallsBefore) / measured).toFixed(3),
    );
    report.brokerArcgisTokenCallsPerRequest = Number(
      ((upstreamTokenCallsAfter - upstreamTokenCallsBefore) / measured).toFixed(3),
    );

    const streamBytes = streamMB * 1024 * 1024;
    const streamPath = `${SERVICE_PATH}/export?bytes=${streamBytes}`;
    const streamUrls = urls(streamPath);
    // Warm every path once (allocator high-water marks), then measure.
    const warmBytes = 32 * 1024 * 1024;
    const warmUrls = urls(`${SERVICE_PATH}/export?bytes=${warmBytes}`);
    for (const v of ["bare", "ours", "broker"] as const) {
      await _streamMemory(warmUrls[v], warmBytes, headersOf[v]);
    }
    report.stream = {
      bare: await _streamMemory(streamUrls.bare, streamBytes),
      ours: await _streamMemory(streamUrls.ours, streamBytes),
      broker: await _streamMemory(streamUrls.broker, streamBytes, headersOf.broker),
    };
    const text = JSON.stringify(report, null, 2);
    console.log(text);
    const jsonFile = Deno.args.find((a) => a.startsWith("--json="))?.slice("--json=".length);
    if (jsonFile !== undefined) await Deno.writeTextFile(jsonFile, text);
  } finally {
    for (const thread of threads) {
      await thread.request({ stop: true });
      thread.worker.terminate();
    }
  }
}

if ("WorkerGlobalScope" in globalThis) _runWorker();
else if (import.meta.main) await _main();
