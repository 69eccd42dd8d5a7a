/**
 * Property-based fuzzing of the proxy with fast-check (fixed seed, bounded runs): random targets, query strings,
 * methods, headers and bodies, against a hostile upstream that echoes the URL and body it received. Whatever
 * comes in, the proxy never answers a 5xx other than 502/503/504, never puts our token in a response (body or
 * header) or a log line, and never sends a request upstream for a target or request it refuses.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { isBrokerError } from "../../src/errors.ts";
import { errorResponse } from "../../src/hono/errors.ts";
import { createProxyHandler, type ProxyHandler } from "../../src/proxy/mod.ts";
import type { LogEntry } from "../../src/deps.ts";
import { entry, GIS, IDENTITY, PORTAL, PROXY, proxyConfig, SERVICES } from "./_harness.ts";

/** Our ArcGIS token: the one that must never come back. */
const TOKEN = "AAPTxy+secret/token=value.0123456789abcdef";
/** A token the caller sends (and so knows): it is stripped, and echoing it back leaks nothing. */
const CALLER_TOKEN = "callerToken.0123456789";
const SEED = 20261206;
const RUNS = 400;

/** How the hostile upstream answers one request. */
interface Scenario {
  status: number;
  declareLength: boolean;
  padBytes: number;
  chunkBytes: number;
}

interface World {
  handler: ProxyHandler;
  upstream: string[];
  logs: LogEntry[];
  scenario: Scenario;
}

function world(tokenIn: "header" | "query"): World {
  const w: World = {
    upstream: [],
    logs: [],
    scenario: { status: 200, declareLength: false, padBytes: 0, chunkBytes: 1000 },
  } as unknown as World;
  w.handler = createProxyHandler(
    {
      proxy: proxyConfig([
        entry(`${SERVICES}/`, { tokenIn }),
        entry(`${PORTAL}/`, { tokenIn, methods: ["GET", "POST", "HEAD"] }),
        entry(`${GIS}/server/rest/services/Editable/`, { tokenIn, allowEdits: true }),
      ], { retryMaxBodyBytes: 64 * 1024 }),
    },
    {
      fetch: async (input: URL | RequestInfo, init?: RequestInit) => {
        const url = String(input);
        w.upstream.push(url);
        const sent = init?.body === undefined ? "" : await new Response(init.body).text();
        const { status, declareLength, padBytes, chunkBytes } = w.scenario;
        const text = JSON.stringify({ echo: url, body: sent, pad: "p".repeat(padBytes) });
        const bytes = new TextEncoder().encode(text);
        let offset = 0;
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (offset >= bytes.length) return controller.close();
            controller.enqueue(bytes.slice(offset, offset + chunkBytes));
            offset += chunkBytes;
          },
        });
        const headers: Record<string, string> = {
          "content-type": "application/json",
          "content-disposition": `inline; filename="${url.slice(-80)}"`,
        };
        if (declareLength) headers["content-length"] = String(bytes.length);
        if (status >= 300 && status < 400) headers.location = url;
        const nullBody = status === 204 || status === 304;
        return new Response(nullBody ? null : stream, { status, headers });
      },
      log: (e) => w.logs.push(e),
    },
    { tokens: (_i, profile) => Promise.resolve({ token: TOKEN, expires: Date.now() + 60_000, profile }) },
  );
  return w;
}

const segment = fc.oneof(
  fc.constantFrom(
    "FeatureServer",
    "MapServer",
    "VectorTileServer",
    "GPServer",
    "0",
    "12",
    "query",
    "applyEdits",
    "execute",
    "admin",
    "generateToken",
    "oauth2",
    "tokens",
    "sharing",
    "rest",
    "content",
    "items",
    "0123456789abcdef0123456789abcdef",
    "data",
    "portals",
    "accounts",
    "self",
    "community",
    "update",
    "tile",
    "..",
    ".",
    "",
    "%2f",
    "%2e%2e",
    "%C4%B1",
    "applyEd%C4%B1ts",
    "%61pplyEdits",
    "a;b",
    "x#y",
    "\\",
    "@",
    "Editable",
  ),
  fc.string({ maxLength: 10 }),
);

const chaoticTarget = fc.record({
  origin: fc.constantFrom(
    GIS,
    "https://gis.example.com.evil.com",
    "http://gis.example.com",
    "https://127.0.0.1",
    "https://evil.com",
    "https%3A%2F%2Fgis.example.com",
    "",
  ),
  base: fc.constantFrom("/server/rest/services/", "/portal/sharing/rest/", "/", "/server/"),
  path: fc.array(segment, { maxLength: 7 }).map((s) => s.join("/")),
  query: fc.array(
    fc.tuple(
      fc.constantFrom("f", "F", "token", "TOKEN", "callback", "where", "next", "outFields"),
      fc.oneof(
        fc.constantFrom("json", "html", "pjson", CALLER_TOKEN),
        fc.string({ maxLength: 8 }),
      ),
    ),
    { maxLength: 4 },
  ).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join("&")),
}).map(({ origin, base, path, query }) => `${origin}${base}${path}${query === "" ? "" : `?${query}`}`);

const query = fc.array(
  fc.tuple(
    fc.constantFrom("f", "token", "callback", "where", "next", "outFields"),
    fc.oneof(
      fc.constantFrom("json", "pjson", "html", CALLER_TOKEN, "1%3D1"),
      fc.string({ maxLength: 6 }),
    ),
  ),
  { maxLength: 3 },
).map((pairs) => pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&"));

/** Targets an app would send: allowed prefixes, real service shapes, reads and writes. */
const plausibleTarget = fc.record({
  prefix: fc.constantFrom(
    `${SERVICES}/Trailheads`,
    `${SERVICES}/Editable/Roads`,
    `${PORTAL}/content/items/0123456789abcdef0123456789abcdef`,
  ),
  marker: fc.constantFrom("FeatureServer", "MapServer", "ImageServer", ""),
  rest: fc.constantFrom(
    "",
    "/0",
    "/0/query",
    "/query",
    "/0/applyEdits",
    "/tile/1/2/3",
    "/data",
    "/update",
    "/0/12/attachments/3",
  ),
  query,
}).map(({ prefix, marker, rest, query }) =>
  `${prefix}${marker === "" ? "" : `/${marker}`}${rest}${query === "" ? "" : `?${query}`}`
);

const target = fc.oneof({ arbitrary: plausibleTarget, weight: 4 }, { arbitrary: chaoticTarget, weight: 1 });

const request = fc.record({
  target,
  method: fc.constantFrom(
    "GET",
    "GET",
    "GET",
    "GET",
    "POST",
    "POST",
    "POST",
    "HEAD",
    "PUT",
    "DELETE",
    "PATCH",
    "OPTIONS",
  ),
  contentType: fc.option(
    fc.constantFrom(
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=b",
      "multipart/form-data",
      "application/json",
      "text/plain",
      "garbage",
    ),
    { nil: undefined },
  ),
  contentLength: fc.option(fc.constantFrom("0", "5", "abc", "-1", "99999999999"), { nil: undefined }),
  body: fc.option(
    fc.oneof(
      fc.string({ maxLength: 120 }),
      fc.constantFrom(
        `f=json&token=${CALLER_TOKEN}`,
        "callback=x&f=json",
        '--b\r\nContent-Disposition: form-data; name="token"\r\n\r\nx\r\n--b--\r\n',
      ),
    ),
    { nil: undefined },
  ),
  extra: fc.constantFrom({}, { authorization: `Bearer ${CALLER_TOKEN}` }, {
    cookie: "a=b",
    "x-forwarded-for": "1.2.3.4",
  }, {
    connection: "x-esri-authorization",
  }),
  queryTokenEntry: fc.boolean(),
  scenario: fc.record({
    status: fc.constantFrom(
      200,
      200,
      200,
      204,
      206,
      301,
      302,
      304,
      400,
      401,
      403,
      404,
      498,
      499,
      500,
      502,
      503,
      504,
    ),
    declareLength: fc.boolean(),
    padBytes: fc.constantFrom(0, 100, 9000, 40_000),
    chunkBytes: fc.constantFrom(5, 1000, 65_536),
  }),
});

const REFUSALS = new Set([
  "ERR_TARGET_NOT_ALLOWED",
  "ERR_TARGET_MALFORMED",
  "ERR_TARGET_TOO_LONG",
  "ERR_METHOD_NOT_ALLOWED",
  "ERR_INSUFFICIENT_SCOPE",
  "ERR_INVALID_REQUEST",
  "ERR_BODY_TOO_LARGE",
]);

function assertNoToken(text: string, where: string): void {
  for (const form of [TOKEN, encodeURIComponent(TOKEN)]) {
    assert.ok(!text.includes(form), `${where} holds the token: ${text.slice(0, 300)}`);
  }
}

Deno.test("fuzz: random requests through the proxy never leak the token, never 500, never reach upstream when refused", async () => {
  const worlds = { header: world("header"), query: world("query") };
  let answered = 0;
  let refused = 0;
  const codes: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const w = r.queryTokenEntry ? worlds.query : worlds.header;
      w.upstream.length = 0;
      w.logs.length = 0;
      w.scenario = r.scenario;
      const headers = new Headers(r.extra as Record<string, string>);
      if (r.contentType !== undefined) headers.set("content-type", r.contentType);
      if (r.contentLength !== undefined) headers.set("content-length", r.contentLength);
      const hasBody = r.body !== undefined && r.method !== "GET" && r.method !== "HEAD";
      let incoming: Request;
      try {
        incoming = new Request(`${PROXY}?${r.target}`, {
          method: r.method,
          headers,
          ...(hasBody ? { body: r.body } : {}),
        });
      } catch {
        return; // not a request a runtime would hand us
      }
      let response: Response;
      try {
        response = await w.handler.handle(incoming, { identity: IDENTITY, profiles: ["viewer"] });
        answered++;
      } catch (error) {
        assert.ok(isBrokerError(error), `only BrokerErrors escape, got ${String(error)}`);
        codes[error.code] = (codes[error.code] ?? 0) + 1;
        if (REFUSALS.has(error.code)) {
          refused++;
          assert.equal(w.upstream.length, 0, `refused with ${error.code} after an upstream request`);
        }
        response = errorResponse(error);
      }
      const status = response.status;
      assert.ok(status < 500 || status === 502 || status === 503 || status === 504, `status ${status}`);
      const text = r.method === "HEAD" ? "" : await response.text();
      assertNoToken(text, "the body");
      for (const [name, value] of response.headers) assertNoToken(value, `header ${name}`);
      assertNoToken(JSON.stringify(w.logs), "a log line");
      for (const url of w.upstream) {
        assert.ok(
          url.startsWith(`${SERVICES}/`) || url.startsWith(`${PORTAL}/`),
          "upstream only on the allowlist",
        );
      }
    }),
    { seed: SEED, numRuns: RUNS },
  );
  assert.ok(
    answered > 20 && refused > 20,
    `both answers (${answered}) and refusals (${refused}) were exercised ${
      JSON.stringify((globalThis as unknown as { codes: Record<string, number> }).codes)
    }`,
  );
});
