/**
 * The servers of the HTTP benchmark (`bench/http_bench.ts`), one per process, each on 127.0.0.1 and a free port.
 * Started as `deno run -A bench/http_servers.ts --role=<role> …`; prints one line `{"port":N}` once it listens,
 * and exits on SIGTERM or SIGINT (cleanly, so that `--cpu-prof` writes its profile).
 *
 * - `upstream`: the small fake upstream: a small JSON answer (`…/MapServer?f=json`), a 1 MiB tile
 *   (`…/MapServer/tile/5/10/12`), a streamed export of `bytes=N` bytes (`…/MapServer/export`), just enough
 *   of an ArcGIS portal for the broker's app profile (`oauth2/token`, `generateToken`, the server's `rest/info`),
 *   and the IdP's JWKS (`/idp/jwks`, read from `--jwks-file`). Counts the token and JWKS calls it answers
 *   (`/stats`).
 * - `bare`: a pass-through proxy on the same runtime: `GET /proxy?<url>` → serve, `fetch`, stream back; nothing
 *   else (no checks, no header filtering).
 * - `broker`: the whole broker (`createBroker()` routes on Hono, served with `Deno.serve`) for the upstream, with
 *   an issuer whose JWKS the upstream serves, plus three routes for the fresh-token figures, per algorithm `A`:
 *   `/fresh/none/A` (the same Hono app answering without authentication), `/fresh/raw/A` (a raw
 *   `crypto.subtle.verify` of the bearer's signature with a pre-imported key) and `/fresh/auth/A`
 *   (`broker.authenticate()`). All three answer the same small JSON.
 *
 * @module
 */
import { Hono } from "hono";
import { createBroker } from "../mod.ts";

/** Where the fake upstream's ArcGIS service lives. */
export const SERVICE_PATH = "/server/rest/services/Bench/MapServer";
/** The small JSON answer. */
export const SMALL_PATH = `${SERVICE_PATH}?f=json`;
/** The 1 MiB tile. */
export const TILE_PATH = `${SERVICE_PATH}/tile/5/10/12`;
/** Size of the tile, bytes. */
export const TILE_BYTES = 1024 * 1024;
/** The IdP's audience in the bench tokens. */
export const AUDIENCE = "arcgis-broker";
/** The algorithms of the fresh-token figures. */
export const ALGS = ["RS256", "ES256", "EdDSA"] as const;
/** One of {@link ALGS}. */
export type Alg = typeof ALGS[number];

const STREAM_CHUNK_BYTES = 64 * 1024;

function _arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

function _required(name: string): string {
  const value = _arg(name);
  if (value === undefined) throw new Error(`Missing --${name}`);
  return value;
}

/** The issuer URL the upstream plays for an upstream origin. */
export function issuerOf(upstreamOrigin: string): string {
  return `${upstreamOrigin}/idp`;
}

function _upstream(jwksFile: string): (request: Request) => Response {
  const small = new TextEncoder().encode(
    JSON.stringify({ currentVersion: 11.3, mapName: "Bench", layers: [], spatialReference: { wkid: 3857 } }),
  );
  const tile = new Uint8Array(TILE_BYTES);
  for (let i = 0; i < tile.length; i++) tile[i] = (i * 31) & 0xff;
  tile.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunk = new Uint8Array(STREAM_CHUNK_BYTES).fill(0x42);
  let tokenCalls = 0;
  let jwksCalls = 0;
  let jwks: string | undefined;
  return function upstream(request: Request): Response {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path === TILE_PATH) {
      return new Response(tile, {
        headers: { "content-type": "image/png", etag: '"t1"', "cache-control": "public, max-age=3600" },
      });
    }
    if (path === SERVICE_PATH) {
      return new Response(small, { headers: { "content-type": "application/json; charset=utf-8" } });
    }
    if (path === `${SERVICE_PATH}/export`) {
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
    if (path === "/idp/jwks") {
      jwksCalls++;
      jwks ??= JSON.stringify(JSON.parse(Deno.readTextFileSync(jwksFile)).jwks);
      return new Response(jwks, { headers: { "content-type": "application/json" } });
    }
    if (path === "/idp/.well-known/openid-configuration") {
      return Response.json({ issuer: `${url.origin}/idp`, jwks_uri: `${url.origin}/idp/jwks` });
    }
    if (path.startsWith("/portal/sharing/rest/oauth2/token")) {
      tokenCalls++;
      return Response.json({ access_token: "bench-app-token-0123456789", expires_in: 7200 });
    }
    if (path === "/portal/sharing/rest/generateToken") {
      tokenCalls++;
      return Response.json({
        token: "bench-server-token-0123456789",
        expires: Date.now() + 7_200_000,
        ssl: false,
      });
    }
    if (path === "/server/rest/info") {
      return Response.json({
        currentVersion: 11.3,
        owningSystemUrl: `${url.origin}/portal`,
        authInfo: {
          isTokenBasedSecurity: true,
          tokenServicesUrl: `${url.origin}/portal/sharing/rest/generateToken`,
        },
      });
    }
    if (path === "/stats") return Response.json({ tokenCalls, jwksCalls });
    return new Response("not found", { status: 404 });
  };
}

function _bare(): (request: Request) => Promise<Response> {
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

/**
 * The floor: the bare pass-through plus only the work that ArcGIS's contract forces on any proxy that injects a
 * token and must not relay a token error (which would open the Maps SDK's sign-in dialog): the token in a header,
 * a timeout on the upstream request, a small body read whole and searched for a 498/499 envelope, and a new
 * response carrying a few filtered headers. No routing, no caller authentication, no allowlist, no token lookup.
 * What it costs over `bare` is what the runtime charges for the contract alone. The timeout is the cheapest kind:
 * one sweep a second over per-second buckets, not a timer per request (a `setTimeout` per request costs more
 * than the rest of the contract).
 */
function _floor(): (request: Request) => Promise<Response> {
  const token = "Bearer bench-server-token-0123456789";
  const envelope = new TextEncoder().encode('"code":49');
  const timeoutSeconds = 30;
  const buckets: Set<AbortController>[] = Array.from({ length: timeoutSeconds + 1 }, () => new Set());
  let current = 0;
  const sweep = setInterval(() => {
    current = (current + 1) % buckets.length;
    // The bucket about to be reused holds the requests started timeoutSeconds ago.
    for (const controller of buckets[current]) controller.abort();
    buckets[current].clear();
  }, 1000);
  Deno.unrefTimer(sweep);
  return async function floor(request: Request): Promise<Response> {
    const target = request.url.slice(request.url.indexOf("?") + 1);
    const controller = new AbortController();
    const bucket = buckets[current];
    bucket.add(controller);
    let upstream: Response;
    try {
      upstream = await fetch(target, {
        method: request.method,
        headers: { accept: request.headers.get("accept") ?? "*/*", "x-esri-authorization": token },
        redirect: "manual",
        signal: controller.signal,
      });
    } finally {
      bucket.delete(controller);
    }
    const length = Number(upstream.headers.get("content-length") ?? "NaN");
    let body: ReadableStream<Uint8Array> | Uint8Array | null = upstream.body;
    if (length <= 8192) {
      const bytes = new Uint8Array(await upstream.arrayBuffer());
      if (_indexOf(bytes, envelope) >= 0) return new Response("token refused", { status: 502 });
      body = bytes;
    }
    const answer = new Response(body as BodyInit | null, { status: upstream.status });
    answer.headers.set("content-type", upstream.headers.get("content-type") ?? "application/octet-stream");
    answer.headers.set("cache-control", "private");
    answer.headers.set("x-content-type-options", "nosniff");
    return answer;
  };
}

function _indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The broker's config for an upstream origin (also the Worker's `BROKER_CONFIG`, with `mountPath`). */
export function brokerConfig(upstreamOrigin: string): Record<string, unknown> {
  return {
    issuers: [{
      issuer: issuerOf(upstreamOrigin),
      audience: AUDIENCE,
      algorithms: [...ALGS],
      jwksUri: `${issuerOf(upstreamOrigin)}/jwks`,
      allowInsecureLoopback: true,
    }],
    arcgis: {
      portalUrl: `${upstreamOrigin}/portal/sharing/rest`,
      servers: [`${upstreamOrigin}/server`],
      allowInsecureLoopback: true,
    },
    profiles: {
      viewer: { mode: "app", clientId: "bench", clientSecretEnv: "BENCH_APP_SECRET", exposeToBrowser: true },
    },
    rules: [{ profile: "viewer" }],
    proxy: { allow: [{ url: `${upstreamOrigin}/server/rest/services/` }] },
    sealing: { keysEnv: "BENCH_SEALING_KEYS" },
  };
}

/** The secrets {@link brokerConfig} names. */
export const BENCH_SECRETS: Record<string, string> = {
  BENCH_APP_SECRET: "bench-app-secret",
  BENCH_SEALING_KEYS: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))}`,
};

function _verifyParams(
  alg: Alg,
): { import: RsaHashedImportParams | EcKeyImportParams | Algorithm; verify: Algorithm | EcdsaParams } {
  if (alg === "RS256") {
    return {
      import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      verify: { name: "RSASSA-PKCS1-v1_5" },
    };
  }
  if (alg === "ES256") {
    return { import: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" } };
  }
  return { import: { name: "Ed25519" }, verify: { name: "Ed25519" } };
}

function _base64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function _broker(
  upstreamOrigin: string,
  jwksFile: string,
): Promise<(request: Request) => Response | Promise<Response>> {
  const broker = createBroker(brokerConfig(upstreamOrigin) as never, { secrets: BENCH_SECRETS });
  const app = new Hono();
  app.route("/arcgis", broker.routes());
  const jwks = JSON.parse(await Deno.readTextFile(jwksFile)).jwks
    .keys as (JsonWebKey & { kid: string; alg: Alg })[];
  const encoder = new TextEncoder();
  for (const alg of ALGS) {
    const jwk = jwks.find((k) => k.alg === alg);
    if (jwk === undefined) throw new Error(`No ${alg} key in ${jwksFile}`);
    const params = _verifyParams(alg);
    const { kid: _kid, alg: _alg, use: _use, ...material } = jwk as JsonWebKey & {
      kid: string;
      use?: string;
    };
    const key = await crypto.subtle.importKey("jwk", material, params.import, false, ["verify"]);
    app.get(`/fresh/none/${alg}`, (c) => c.json({ ok: true }));
    app.get(`/fresh/raw/${alg}`, async (c, next) => {
      const token = (c.req.header("authorization") ?? "").slice(7);
      const dot = token.lastIndexOf(".");
      const ok = await crypto.subtle.verify(
        params.verify,
        key,
        _base64urlBytes(token.slice(dot + 1)),
        encoder.encode(token.slice(0, dot)),
      );
      if (!ok) return c.json({ error: "invalid_token" }, 401);
      await next();
    }, (c) => c.json({ ok: true }));
    app.get(`/fresh/auth/${alg}`, broker.authenticate(), (c) => c.json({ ok: true }));
  }
  return (request) => app.fetch(request);
}

async function _main(): Promise<void> {
  const role = _required("role");
  let handler: (request: Request) => Response | Promise<Response>;
  if (role === "upstream") handler = _upstream(_required("jwks-file"));
  else if (role === "bare") handler = _bare();
  else if (role === "floor") handler = _floor();
  else if (role === "broker") handler = await _broker(_required("upstream"), _required("jwks-file"));
  else throw new Error(`Unknown --role=${role}`);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const stop = () => {
    server.shutdown().finally(() => Deno.exit(0));
    setTimeout(() => Deno.exit(0), 2000);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  console.log(JSON.stringify({ port: server.addr.port }));
}

if (import.meta.main) await _main();
