import assert from "node:assert/strict";
import { createProxyHandler } from "../../src/proxy/mod.ts";
import { largeExportByteAt, serveFakeArcGIS } from "../../src/testing/mod.ts";
import type { UpstreamToken } from "../../src/types.ts";
import { entry, IDENTITY, proxyConfig, rejectsWith, SERVICES, setup } from "./_harness.ts";

const LAYER = `${SERVICES}/Trailheads/FeatureServer/0`;
const EXPORT = `${SERVICES}/Basemap/MapServer/exportLarge`;
// `exportLarge` is the fake's own streaming endpoint, not an ArcGIS read: the entries that reach it allow edits.
const ALL_OPERATIONS = [entry(`${SERVICES}/`, { allowEdits: true })];

Deno.test("proxy: a slow reader pulls the upstream export at most a few chunks ahead", async () => {
  const h = setup({ allow: ALL_OPERATIONS });
  const chunk = 16 * 1024;
  const response = await h.call(`${EXPORT}?bytes=${200 * chunk}&chunkBytes=${chunk}`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), String(200 * chunk));
  const reader = response.body!.getReader();
  const record = h.fake.streams[0];
  let read = 0;
  for (let i = 0; i < 10; i++) {
    const { value } = await reader.read();
    read += value!.length;
    assert.ok(record.pulledBytes - read <= 3 * chunk, `pulled ${record.pulledBytes} after reading ${read}`);
  }
  assert.ok(record.pulledChunks <= 13, `pulledChunks ${record.pulledChunks}`);
  await reader.cancel();
  assert.equal(record.cancelled, true, "cancelling the reader cancels the upstream body");
  assert.equal(record.done, false);
});

Deno.test("proxy: a streamed export arrives complete and intact", async () => {
  const h = setup({ allow: ALL_OPERATIONS });
  const total = 300_000;
  const response = await h.call(`${EXPORT}?bytes=${total}&chunkBytes=7000`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.equal(bytes.length, total);
  for (const i of [0, 1, 7, 8, 6999, 7000, 123_456, total - 1]) {
    assert.equal(bytes[i], largeExportByteAt(i), `${i}`);
  }
  assert.equal(h.fake.streams[0].done, true);
});

Deno.test("proxy: upstream that never answers times out with 504 and a generic message", async () => {
  const h = setup({ proxy: { fetchTimeoutMs: 5 } });
  h.fake.injectFailure({ match: "FeatureServer/layer", mode: { kind: "hang" } });
  const error = await rejectsWith(() => h.call(`${LAYER}?f=json`));
  assert.equal(error.code, "ERR_UPSTREAM_TIMEOUT");
  assert.ok(!error.message.includes("http"));
  assert.equal(error.cause, undefined);
  assert.equal(h.logs.at(-1)?.msg, "Upstream request timed out");
});

Deno.test("proxy: a network error is a 502 whose message, cause and logs hold no URL or token", async () => {
  let sentToken = "";
  const h = setup({
    fetch: (input) => {
      const url = String(input instanceof Request ? input.url : input);
      sentToken = url;
      return Promise.reject(new TypeError(`error sending request for url (${url}): dns error`));
    },
    allow: [entry(`${SERVICES}/`, { tokenIn: "query" })],
  });
  const error = await rejectsWith(() => h.call(`${LAYER}?f=json`));
  assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
  assert.ok(sentToken.includes(h.token()), "the token was in the URL the fetch saw");
  assert.equal(error.cause, undefined);
  const everything = JSON.stringify({ message: error.message, logs: h.logs });
  assert.ok(!everything.includes(h.token()));
  assert.ok(!everything.includes("/rest/services"));
  assert.ok(!everything.includes("dns error"));
  const log = h.logs.at(-1)!;
  assert.equal(log.targetOrigin, "https://gis.example.com");
  assert.match(String(log.targetHash), /^[0-9a-f]{16}$/);
});

Deno.test("proxy: a client abort before the upstream answers aborts the upstream request", async () => {
  const h = setup();
  h.fake.injectFailure({ match: "FeatureServer/layer", mode: { kind: "hang" } });
  const controller = new AbortController();
  const pending = h.handler.handle(
    new Request(`https://broker.example.com/arcgis/proxy?${LAYER}?f=json`, { signal: controller.signal }),
    { identity: IDENTITY, profiles: ["viewer"] },
  );
  await Promise.resolve();
  controller.abort();
  const error = await rejectsWith(() => pending);
  assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
});

Deno.test("proxy over loopback: streams through Deno.serve, and a client disconnecting mid-stream cancels the upstream", async () => {
  await using upstream = serveFakeArcGIS({ startTimeMs: Date.UTC(2026, 0, 1) });
  const token = upstream.fake.issueToken({ kind: "server", username: "alice", serverRoot: "/server" });
  const services = `${upstream.origin}/server/rest/services`;
  const handler = createProxyHandler(
    { proxy: proxyConfig([entry(`${services}/`, { allowEdits: true })]), allowInsecureLoopback: true },
    { fetch: globalThis.fetch, log: () => {} },
    {
      tokens: (): Promise<UpstreamToken> =>
        Promise.resolve({ token, expires: Date.now() + 3_600_000, profile: "p" }),
    },
  );
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => handler.handle(request, { identity: IDENTITY, profiles: ["p"] }),
  );
  try {
    const proxyUrl = `http://127.0.0.1:${server.addr.port}/arcgis/proxy`;
    // A form POST over real sockets arrives byte for byte.
    const form = "f=json&where=1%3D1&outFields=*&returnGeometry=false";
    const post = await fetch(`${proxyUrl}?${services}/Trailheads/FeatureServer/0/query`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form,
    });
    assert.equal(post.status, 200);
    assert.ok((await post.json()).features.length > 0);
    assert.equal(new TextDecoder().decode(upstream.fake.requests.at(-1)!.rawBody), form);

    // A 200 MB export: read a little, then disconnect.
    const chunk = 64 * 1024;
    const client = new AbortController();
    const response = await fetch(
      `${proxyUrl}?${services}/Basemap/MapServer/exportLarge?bytes=${3200 * chunk}`,
      {
        signal: client.signal,
      },
    );
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    let read = 0;
    while (read < 4 * chunk) {
      const { value, done } = await reader.read();
      if (done) break;
      read += value.length;
    }
    client.abort();
    await reader.closed.catch(() => {});
  } finally {
    await server.shutdown();
    await server.finished;
  }
  await upstream.close();
  const record = upstream.fake.streams[0];
  assert.equal(record.done, false, "the export was not produced to the end");
  assert.equal(record.cancelled, true, "the upstream body was cancelled");
  assert.ok(record.pulledChunks < 3200);
});
