/**
 * Every regular expression and parser applied to request data runs in linear time: each is timed on a 64k-character
 * input against 64 runs on a 1k one (the same number of characters). A linear check gives a ratio near 1, a
 * quadratic one near 64; the bound (8) is generous and no wall-clock limit is asserted.
 */
import { ok } from "node:assert/strict";
import { classifyTarget, createArcGISUrls } from "../../src/config/arcgis_urls.ts";
import { bearerTokenOf } from "../../src/hono/authenticate.ts";
import { checkCompactJws } from "../../src/idp/compact_jws.ts";
import { _parseMediaType } from "../../src/proxy/_media_type.ts";
import { filterQueryString, parseProxyTarget, stripMultipartTokenParts } from "../../src/proxy/mod.ts";
import { classifyOperation } from "../../src/proxy/read_operations.ts";

const SMALL = 1024;
const LARGE = 64 * 1024;
const RUNS = LARGE / SMALL;

/** Best-of-five time of one run on the large input over the time of RUNS runs on the small one. */
function ratio(run: (input: string) => void, input: (length: number) => string): number {
  const small = input(SMALL);
  const large = input(LARGE);
  let bestSmall = Infinity;
  let bestLarge = Infinity;
  for (let round = 0; round < 5; round++) {
    let start = performance.now();
    for (let i = 0; i < RUNS; i++) run(small);
    bestSmall = Math.min(bestSmall, performance.now() - start);
    start = performance.now();
    run(large);
    bestLarge = Math.min(bestLarge, performance.now() - start);
  }
  return bestLarge / Math.max(bestSmall, 0.001);
}

function quietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // refusals are fine: only the time spent matters here
  }
}

function assertLinear(name: string, run: (input: string) => void, input: (length: number) => string): void {
  const measured = ratio(run, input);
  ok(measured < 8, `${name}: a 64x longer input took ${measured.toFixed(1)}x as long as 64 short ones`);
}

const urls = createArcGISUrls({
  portalUrl: "https://gis.example.com/portal/sharing/rest",
  servers: ["https://gis.example.com/server"],
});

Deno.test("classifyTarget() is linear on a path of many slashes (the trailing-slash regex was quadratic)", () => {
  assertLinear(
    "classifyTarget",
    (path) =>
      void classifyTarget(urls, new URL(`https://gis.example.com${path}`), { allowInsecureLoopback: false }),
    (n) => `/server/rest/services/${"/".repeat(n)}x`,
  );
});

Deno.test("parseProxyTarget() is linear on long targets that fail to parse late", () => {
  const proxy = "https://broker.example.com/arcgis/proxy?";
  assertLinear(
    "parseProxyTarget (authority run)",
    (t) => quietly(() => parseProxyTarget(proxy + t)),
    (n) => `https://${"a".repeat(n)}?\n`,
  );
  assertLinear(
    "parseProxyTarget (slashes)",
    (t) => quietly(() => parseProxyTarget(proxy + t)),
    (n) => `https://gis.example.com${"/".repeat(n)}`,
  );
  assertLinear(
    "parseProxyTarget (percent)",
    (t) => quietly(() => parseProxyTarget(proxy + t)),
    (n) => `https://gis.example.com/${"%4".repeat(n / 3)}`,
  );
});

Deno.test("classifyOperation() is linear in the number of segments", () => {
  assertLinear(
    "classifyOperation",
    (path) => void classifyOperation(path.split("/")),
    (n) => `/arcgis/rest/services/${"a/".repeat(n / 2)}FeatureServer/0/query`.toLowerCase(),
  );
});

Deno.test("the query and form filter is linear on long query strings", () => {
  assertLinear(
    "filterQueryString",
    (q) => quietly(() => filterQueryString(q)),
    (n) => `?${"a=%2".repeat(n / 4)}`,
  );
  assertLinear(
    "filterQueryString (names)",
    (q) => quietly(() => filterQueryString(q)),
    (n) => `?${"t".repeat(n)}`,
  );
});

Deno.test("the Content-Type parser is linear on long parameters", () => {
  assertLinear("media type (no =)", (v) => void _parseMediaType(v), (n) => `text/plain; ${"a".repeat(n)}`);
  assertLinear(
    "media type (spaces)",
    (v) => void _parseMediaType(v),
    (n) => `text/plain; a=${" ".repeat(n)}x`,
  );
  assertLinear(
    "media type (quotes)",
    (v) => void _parseMediaType(v),
    (n) => `text/plain; a="${"\\a".repeat(n / 2)}`,
  );
});

Deno.test("the multipart scanner is linear on long part headers", () => {
  const encoder = new TextEncoder();
  assertLinear(
    "multipart",
    (body) => quietly(() => stripMultipartTokenParts(encoder.encode(body), "b")),
    (n) => `--b\r\nContent-Disposition: form-data; ${"x".repeat(n)}\r\n\r\nv\r\n--b--\r\n`,
  );
});

Deno.test("the bearer and compact JWS checks are linear on long tokens", () => {
  assertLinear("bearer", (h) => quietly(() => bearerTokenOf(h)), (n) => `Bearer ${"a".repeat(n)}!`);
  assertLinear(
    "compact JWS",
    (t) => quietly(() => checkCompactJws(t, LARGE * 2)),
    (n) => `${"a".repeat(n)}.b.c!`,
  );
});
