import assert from "node:assert/strict";
import { entry, GIS, PROXY, rejectsWith, SERVICES, setup } from "./_harness.ts";

const LAYER = `${SERVICES}/Trailheads/FeatureServer/0`;
const TILE = `${SERVICES}/Basemap/MapServer/tile/3/2/1`;

Deno.test("proxy: GET layer metadata reaches ArcGIS with the token in X-Esri-Authorization only", async () => {
  const h = setup();
  const response = await h.call(`${LAYER}?f=json`, {
    headers: { authorization: "Bearer idp-token-must-stay-here" },
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.type, "Feature Layer");
  assert.equal(h.fake.requests.length, 1);
  const seen = h.fake.requests[0];
  assert.equal(seen.xEsriAuthorization, `Bearer ${h.token()}`);
  assert.equal(seen.tokenSource, "x-esri-authorization");
  assert.equal(seen.query.token, undefined);
  assert.equal(seen.authorization, undefined, "the IdP bearer never reaches ArcGIS");
  assert.equal(h.tokenCalls.length, 1);
  assert.equal(h.tokenCalls[0].profile, "viewer");
});

Deno.test("proxy: GET query with encoded parameters arrives decoded as sent by the Maps SDK", async () => {
  const h = setup();
  const query = "f=json&cacheHint=true&maxRecordCountFactor=4&resultOffset=0&resultRecordCount=2000" +
    "&where=1%3D1&orderByFields=OBJECTID%20ASC&outFields=*&outSR=4326&spatialRel=esriSpatialRelIntersects";
  const response = await h.call(`${LAYER}/query?${query}`);
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.ok(Array.isArray(body.features) && body.features.length > 0);
  const seen = h.fake.requests[0];
  assert.equal(seen.query.where, "1=1");
  assert.equal(seen.query.orderByFields, "OBJECTID ASC");
  assert.equal(seen.url, `${LAYER}/query?${query}`);
});

Deno.test("proxy: a target encoded as a whole is decoded once and forwarded", async () => {
  const h = setup();
  const response = await h.call(encodeURIComponent(`${LAYER}/query?f=json&where=1%3D1&returnCountOnly=true`));
  assert.equal(response.status, 200);
  assert.equal(typeof (await response.json()).count, "number");
  assert.equal(h.fake.requests[0].query.where, "1=1");
});

Deno.test("proxy: POST form (long query) arrives byte for byte, the client token stripped from the body", async () => {
  const h = setup();
  const ids = Array.from({ length: 400 }, (_, i) => i + 1).join("%2C");
  const form =
    `f=json&objectIds=${ids}&outFields=*&returnGeometry=false&spatialRel=esriSpatialRelIntersects` +
    `&where=1%3D1`;
  const response = await h.call(`${LAYER}/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `${form}&token=client-supplied-token`,
  });
  assert.equal(response.status, 200);
  assert.ok((await response.json()).features.length > 0);
  const seen = h.fake.requests[0];
  assert.equal(seen.bodyKind, "form");
  assert.equal(new TextDecoder().decode(seen.rawBody), form);
  assert.equal(seen.body.token, undefined);
  assert.equal(seen.tokenSource, "x-esri-authorization");
});

Deno.test("proxy: POST form without a client token arrives byte for byte", async () => {
  const h = setup();
  const form = "f=json&where=NAME%20LIKE%20%27A%25%27&outFields=*&geometry=%7B%22x%22%3A1%7D";
  const response = await h.call(`${LAYER}/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=UTF-8" },
    body: form,
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(new TextDecoder().decode(h.fake.requests[0].rawBody), form);
});

Deno.test("proxy: tokenIn query puts the token in the URL for GET and in the form body for POST", async () => {
  const h = setup({ allow: [entry(`${SERVICES}/`, { tokenIn: "query" })] });
  const get = await h.call(`${LAYER}?f=json&token=client`);
  assert.equal(get.status, 200);
  await get.body?.cancel();
  assert.equal(h.fake.requests[0].query.token, h.token());
  assert.equal(h.fake.requests[0].tokenSource, "query");
  assert.equal(h.fake.requests[0].xEsriAuthorization, undefined);
  const post = await h.call(`${LAYER}/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "f=json&where=1%3D1&token=client",
  });
  assert.equal(post.status, 200);
  await post.body?.cancel();
  const seen = h.fake.requests[1];
  assert.equal(seen.tokenSource, "form");
  assert.equal(
    new TextDecoder().decode(seen.rawBody),
    `f=json&where=1%3D1&token=${encodeURIComponent(h.token())}`,
  );
  assert.equal(seen.query.token, undefined);
});

function multipartBody(
  boundary: string,
  parts: Array<{ name: string; value: Uint8Array; filename?: string }>,
) {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    head += part.filename === undefined
      ? "\r\n\r\n"
      : `; filename="${part.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    chunks.push(enc.encode(head), part.value, enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

function binary(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
}

Deno.test("proxy: small multipart POST with binary arrives byte for byte", async () => {
  const h = setup();
  const boundary = "----WebKitFormBoundaryq1w2e3r4";
  const body = multipartBody(boundary, [
    { name: "f", value: new TextEncoder().encode("json") },
    { name: "where", value: new TextEncoder().encode("1=1") },
    { name: "attachment", value: binary(5000), filename: "photo.bin" },
  ]);
  const response = await h.call(`${LAYER}/query`, {
    method: "POST",
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    body,
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const seen = h.fake.requests[0];
  assert.equal(seen.bodyKind, "multipart");
  assert.deepEqual(seen.rawBody, body);
  assert.equal(seen.files.attachment.size, 5000);
});

Deno.test("proxy: large multipart POST is streamed unchanged and arrives byte for byte", async () => {
  const h = setup({ proxy: { retryMaxBodyBytes: 1024 } });
  const boundary = "XbOuNdArYx";
  const body = multipartBody(boundary, [
    { name: "f", value: new TextEncoder().encode("json") },
    { name: "file", value: binary(300_000), filename: "big.bin" },
  ]);
  const response = await h.call(`${LAYER}/query`, {
    method: "POST",
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    body: new Blob([body.slice()]).stream(),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const seen = h.fake.requests[0];
  assert.equal(seen.bodyBytes, body.length);
  assert.deepEqual(seen.rawBody, body);
});

Deno.test("proxy: small multipart POST has a client token part cut out", async () => {
  const h = setup();
  const boundary = "b0";
  const enc = new TextEncoder();
  const body = multipartBody(boundary, [
    { name: "token", value: enc.encode("client") },
    { name: "f", value: enc.encode("json") },
  ]);
  const response = await h.call(`${LAYER}/query`, {
    method: "POST",
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    body,
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const seen = h.fake.requests[0];
  assert.equal(seen.body.token, undefined);
  assert.equal(seen.body.f, "json");
  assert.equal(seen.tokenSource, "x-esri-authorization");
});

Deno.test("proxy: large streamed form body is filtered on the fly (token stripped, bytes otherwise kept)", async () => {
  const h = setup({ proxy: { retryMaxBodyBytes: 100 } });
  const big = "x".repeat(20_000);
  const form = `f=json&where=1%3D1&text=${big}`;
  const response = await h.call(`${LAYER}/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new Blob([`token=client&${form}`]).stream(),
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(new TextDecoder().decode(h.fake.requests[0].rawBody), form);
});

Deno.test("proxy: tile GET passes Range (206, Content-Range) and If-None-Match (304, ETag)", async () => {
  const h = setup();
  const full = await h.call(TILE);
  assert.equal(full.status, 200);
  const etag = full.headers.get("etag");
  const fullBytes = new Uint8Array(await full.arrayBuffer());
  assert.ok(etag !== null && fullBytes.length > 100);
  assert.equal(full.headers.get("content-type"), "image/png");
  assert.equal(full.headers.get("content-length"), String(fullBytes.length));
  assert.equal(full.headers.get("accept-ranges"), "bytes");
  assert.ok(full.headers.get("last-modified"));

  const partial = await h.call(TILE, { headers: { range: "bytes=0-99" } });
  assert.equal(partial.status, 206);
  assert.equal(partial.headers.get("content-range"), `bytes 0-99/${fullBytes.length}`);
  assert.deepEqual(new Uint8Array(await partial.arrayBuffer()), fullBytes.slice(0, 100));
  assert.equal(h.fake.requests[1].headers["range"], "bytes=0-99");

  const notModified = await h.call(TILE, { headers: { "if-none-match": etag } });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.get("etag"), etag);
  assert.equal(notModified.body, null);
});

Deno.test("proxy: caller credentials, forwarding and Connection-named headers are not forwarded", async () => {
  const h = setup();
  const response = await h.call(`${LAYER}?f=json`, {
    headers: {
      authorization: "Bearer idp",
      cookie: "session=abc",
      "proxy-authorization": "Basic eA==",
      "x-forwarded-for": "10.0.0.1",
      "x-forwarded-host": "evil.example",
      forwarded: "for=10.0.0.1",
      "x-real-ip": "10.0.0.1",
      "cf-connecting-ip": "10.0.0.1",
      "true-client-ip": "10.0.0.1",
      via: "1.1 somewhere",
      origin: "https://app.example.com",
      referer: "https://app.example.com/private/page",
      connection: "keep-alive, accept-language",
      "keep-alive": "timeout=5",
      "accept-language": "de",
      "x-esri-authorization": "Bearer client-supplied",
      accept: "application/json",
    },
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const headers = h.fake.requests[0].headers;
  for (
    const name of [
      "authorization",
      "cookie",
      "proxy-authorization",
      "x-forwarded-for",
      "x-forwarded-host",
      "forwarded",
      "x-real-ip",
      "cf-connecting-ip",
      "true-client-ip",
      "via",
      "origin",
      "referer",
      "keep-alive",
      "accept-language",
    ]
  ) {
    assert.equal(headers[name], undefined, name);
  }
  assert.equal(headers["x-esri-authorization"], `Bearer ${h.token()}`, "the client's own header is replaced");
  assert.equal(headers["accept"], "application/json");
});

Deno.test("proxy: the bound Referer is sent for referer-bound tokens", async () => {
  const h = setup({ referer: "https://app.example.com/" });
  const response = await h.call(`${LAYER}?f=json`, { headers: { referer: "https://other.example/" } });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).type, "Feature Layer", "the fake accepts the referer-bound token");
  assert.equal(h.fake.requests[0].referer, "https://app.example.com/");
});

Deno.test("proxy: upstream Set-Cookie, WWW-Authenticate and Access-Control-* are dropped", async () => {
  const h = setup({ fake: { leakyHeaders: true } });
  const response = await h.call(`${LAYER}?f=json`, { headers: { origin: "https://app.example.com" } });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(h.fake.requests[0].origin, undefined);
  for (const [name] of response.headers) {
    assert.ok(!/^(set-cookie|www-authenticate|access-control-)/.test(name), name);
  }
  const tile = await h.call(TILE);
  await tile.body?.cancel();
  assert.equal(tile.headers.get("set-cookie"), null);
  assert.equal(tile.headers.get("access-control-allow-origin"), null);
});

Deno.test("proxy: responses are Cache-Control private (public and s-maxage dropped, max-age kept), nosniff", async () => {
  const h = setup({ fake: { tileCacheControl: "public, s-maxage=600, max-age=86400" } });
  const tile = await h.call(TILE);
  await tile.body?.cancel();
  assert.equal(tile.headers.get("cache-control"), "private, max-age=86400");
  assert.equal(tile.headers.get("x-content-type-options"), "nosniff");
  assert.match(tile.headers.get("content-security-policy") ?? "", /sandbox/);
  const json = await h.call(`${LAYER}?f=json`);
  await json.body?.cancel();
  assert.match(json.headers.get("cache-control") ?? "", /^private|no-store/);
  const strict = setup({ fake: { tileCacheControl: "no-store" } });
  const tile2 = await strict.call(TILE);
  await tile2.body?.cancel();
  assert.equal(tile2.headers.get("cache-control"), "no-store");
});

Deno.test("proxy: upstream redirect inside the allowlist is rewritten to the proxy form, never followed", async () => {
  const h = setup();
  h.fake.addRedirect({
    path: "/server/rest/services/Old/FeatureServer/0",
    location: "/server/rest/services/Trailheads/FeatureServer/0",
    appendQuery: true,
    status: 301,
  });
  const response = await h.call(`${SERVICES}/Old/FeatureServer/0?f=json`);
  assert.equal(response.status, 301);
  assert.equal(response.headers.get("location"), `/arcgis/proxy?${LAYER}?f=json`);
  assert.equal(h.fake.requests.length, 1, "the redirect was not followed");
  assert.equal(new URL(PROXY).pathname, "/arcgis/proxy");
});

Deno.test("proxy: a redirect Location carrying our token (tokenIn query) loses it in the rewrite", async () => {
  const h = setup({ allow: [entry(`${SERVICES}/`, { tokenIn: "query" })] });
  h.fake.addRedirect({
    path: "/server/rest/services/Old/FeatureServer/0",
    location: "/server/rest/services/Trailheads/FeatureServer/0",
    appendQuery: true,
  });
  const response = await h.call(`${SERVICES}/Old/FeatureServer/0?f=json`);
  assert.equal(response.status, 302);
  const location = response.headers.get("location") ?? "";
  assert.equal(location, `/arcgis/proxy?${LAYER}?f=json`);
  assert.ok(!location.includes(h.token()));
});

Deno.test("proxy: upstream redirect outside the allowlist or to a denied path is a 502", async () => {
  for (
    const location of [
      "https://evil.example.com/steal",
      `${GIS}/other/rest/services/X/MapServer`,
      "http://gis.example.com/server/rest/services/Trailheads/FeatureServer/0",
      `${GIS}/server/admin/services`,
      "https://127.0.0.1/server/rest/services/X",
    ]
  ) {
    const h = setup();
    h.fake.addRedirect({ path: "/server/rest/services/Old/FeatureServer/0", location, status: 307 });
    const error = await rejectsWith(() => h.call(`${SERVICES}/Old/FeatureServer/0?f=json`));
    assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY", location);
    assert.ok(!error.message.includes("evil") && !error.message.includes("http"));
    assert.equal(h.fake.requests.length, 1, "never followed");
  }
});

Deno.test("proxy: an entry's profile narrows the caller's profiles; the first profile is the default", async () => {
  const h = setup({
    allow: [entry(`${SERVICES}/Trailheads/`, { profile: "editor" }), entry(`${SERVICES}/`)],
  });
  const ok = await h.call(`${LAYER}?f=json`, undefined, ["viewer", "editor"]);
  await ok.body?.cancel();
  assert.equal(h.tokenCalls[0].profile, "editor");
  const other = await h.call(`${SERVICES}/PublicTrailheads/FeatureServer/0?f=json`, undefined, [
    "viewer",
    "editor",
  ]);
  await other.body?.cancel();
  assert.equal(h.tokenCalls[1].profile, "viewer");
  const refused = await rejectsWith(() => h.call(`${LAYER}?f=json`, undefined, ["viewer"]));
  assert.equal(refused.code, "ERR_INSUFFICIENT_SCOPE");
  const none = await rejectsWith(() =>
    h.call(`${SERVICES}/PublicTrailheads/FeatureServer/0?f=json`, undefined, [])
  );
  assert.equal(none.code, "ERR_INSUFFICIENT_SCOPE");
  assert.equal(h.fake.requests.length, 2);
  assert.equal(h.tokenCalls.length, 2);
});

Deno.test("proxy: edits pass on an entry that allows them", async () => {
  const h = setup({ allow: [entry(`${SERVICES}/`, { allowEdits: true })] });
  const response = await h.call(`${SERVICES}/EditorTrailheads/FeatureServer/0/addFeatures`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `f=json&features=${encodeURIComponent(JSON.stringify([{ attributes: { NAME: "x" } }]))}`,
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(h.fake.count("FeatureServer/addFeatures"), 1);
  assert.equal(h.fake.edits.length, 1);
});

Deno.test("proxy: rate limit keyed by a hash of issuer and subject answers 429 before any upstream call", async () => {
  const keys: string[] = [];
  let allow = true;
  const h = setup({
    rateLimit: (key) => {
      keys.push(key);
      return Promise.resolve(allow);
    },
  });
  const ok = await h.call(`${LAYER}?f=json`);
  await ok.body?.cancel();
  allow = false;
  const error = await rejectsWith(() => h.call(`${LAYER}?f=json`));
  assert.equal(error.code, "ERR_RATE_LIMITED");
  assert.equal(error.retryAfterSeconds, 60);
  assert.equal(h.fake.requests.length, 1);
  assert.match(keys[0], /^[0-9a-f]{64}$/);
  assert.equal(keys[0], keys[1]);
  assert.ok(!keys[0].includes("user-1"));
});

Deno.test("proxy: HEAD passes on an entry that names it, answered without a body", async () => {
  const h = setup({ allow: [entry(`${SERVICES}/`, { methods: ["GET", "HEAD"] })] });
  const response = await h.call(TILE, { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(response.body, null);
  assert.equal(response.headers.get("content-type"), "image/png");
  assert.equal(h.fake.requests[0].method, "HEAD");
});
