import assert from "node:assert/strict";
import { rejectsWith, SERVICES, setup } from "./_harness.ts";
import { authErrorCodeOf, peekAuthError } from "../../src/proxy/mod.ts";
import { errorResponse } from "../../src/hono/errors.ts";

const LAYER = `${SERVICES}/Trailheads/FeatureServer/0`;
const TILE = `${SERVICES}/Basemap/MapServer/tile/3/2/1`;
const SPACED_498 =
  ' \r\n {  "error" :\n\t{ "details" : [ ] ,\n  "message" : "Invalid token.",  "code" : 498 } \n} ';

Deno.test("authErrorCodeOf() reads 498/499 nested in error, nothing else", () => {
  assert.equal(authErrorCodeOf(JSON.parse(SPACED_498)), 498);
  assert.equal(authErrorCodeOf({ error: { code: 499 } }), 499);
  assert.equal(authErrorCodeOf({ error: { code: "498" } }), 498);
  assert.equal(authErrorCodeOf({ error: { code: 403 } }), undefined);
  assert.equal(authErrorCodeOf({ code: 498 }), undefined);
  assert.equal(authErrorCodeOf({ features: [], error: null }), undefined);
  assert.equal(authErrorCodeOf([{ error: { code: 498 } }]), undefined);
});

Deno.test("peekAuthError() reads only the first chunk of a non-JSON body and replays it intact", async () => {
  let pulls = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      if (pulls > 10) controller.close();
      else controller.enqueue(new Uint8Array(1000).fill(pulls === 1 ? 0x89 : pulls));
    },
  }, { highWaterMark: 0 });
  const peeked = await peekAuthError(source);
  assert.equal(peeked.authErrorCode, undefined);
  assert.equal(pulls, 1);
  const all = new Uint8Array(await new Response(peeked.stream).arrayBuffer());
  assert.equal(all.length, 10_000);
  assert.equal(all[0], 0x89);
  assert.equal(all[9_999], 10);
});

Deno.test("peekAuthError() finds a spaced 498 split over chunks and stops reading a long JSON body", async () => {
  const enc = new TextEncoder();
  const bytes = enc.encode(SPACED_498);
  const chunks = [bytes.slice(0, 5), bytes.slice(5, 20), bytes.slice(20)];
  const small = await peekAuthError(new Blob(chunks).stream());
  assert.equal(small.authErrorCode, 498);
  assert.equal(new TextDecoder().decode(small.complete), SPACED_498);
  let pulls = 0;
  const long = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulls++;
      controller.enqueue(enc.encode(pulls === 1 ? '{"features":[' : '{"attributes":{"A":1}},'));
      if (pulls > 2000) controller.close();
    },
  }, { highWaterMark: 0 });
  const peeked = await peekAuthError(long, { maxBytes: 1024 });
  assert.equal(peeked.authErrorCode, undefined);
  assert.ok(pulls < 100, `read only the window, pulled ${pulls}`);
  await peeked.stream.cancel();
});

Deno.test("proxy: a 498 inside HTTP 200 with spaces is retried once with a fresh token", async () => {
  const h = setup();
  const first = h.token();
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: { kind: "status", status: 200, body: SPACED_498 },
    times: 1,
  });
  const response = await h.call(`${LAYER}?f=json`);
  assert.equal(response.status, 200);
  assert.equal((await response.json()).type, "Feature Layer");
  assert.equal(h.fake.requests.length, 2);
  assert.equal(h.tokenCalls.length, 2);
  assert.deepEqual(h.tokenCalls[1].options, { forceRefresh: true, rejectedToken: first });
  assert.equal(h.fake.requests[1].xEsriAuthorization, `Bearer ${h.token()}`);
  assert.notEqual(h.token(), first);
});

Deno.test("proxy: a second 498 is a 502 (never relayed to open the SDK's sign-in), with no further retry", async () => {
  const h = setup();
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: { kind: "status", status: 200, body: SPACED_498 },
    times: 5,
  });
  const error = await rejectsWith(() => h.call(`${LAYER}?f=json`));
  assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
  assert.ok(!/498|invalid token/i.test(error.message));
  assert.equal(h.fake.requests.length, 2);
  assert.equal(h.tokenCalls.length, 2);
  assert.ok(
    h.logs.some((l) => l.msg === "Upstream refused the token" && l.arcgisCode === 498 && l.attempt === 1),
  );
});

Deno.test("proxy: a 498 for a token the refresh floor keeps is a 502 with no second upstream request", async () => {
  const h = setup({ keepRejected: true });
  const first = h.token();
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: { kind: "status", status: 200, body: SPACED_498 },
    times: 1,
  });
  const error = await rejectsWith(() => h.call(`${LAYER}?f=json`));
  assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
  assert.equal(h.fake.requests.length, 1);
  assert.equal(h.tokenCalls.length, 2);
  assert.deepEqual(h.tokenCalls[1].options, { forceRefresh: true, rejectedToken: first });
  assert.ok(h.logs.some((l) => l.msg === "Upstream refused a token too young to replace; not retried"));
});

Deno.test("proxy: an HTTP 499 on a request that cannot be replayed is a 502 at once", async () => {
  const h = setup({ fake: { statusMirrorsErrorCode: true } });
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: { kind: "arcgisError", code: 499, message: "x" },
  });
  const error = await rejectsWith(() =>
    h.call(`${LAYER}?f=json`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })
  );
  assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
  assert.equal(h.tokenCalls.length, 1);
});

Deno.test("proxy: upstream 5xx of any type is a generic 502, an upstream 504 a 504, no upstream text relayed", async () => {
  for (
    const [status, contentType, code] of [
      [500, "application/json", "ERR_ARCGIS_BAD_GATEWAY"],
      [503, "text/plain", "ERR_ARCGIS_BAD_GATEWAY"],
      [502, "text/html", "ERR_ARCGIS_BAD_GATEWAY"],
      [504, "application/json", "ERR_UPSTREAM_TIMEOUT"],
    ] as const
  ) {
    const h = setup();
    h.fake.injectFailure({
      match: "FeatureServer/layer",
      mode: {
        kind: "status",
        status,
        body: '{"error":{"code":500,"message":"db-host-9 failed"}}',
        contentType,
      },
    });
    const error = await rejectsWith(() => h.call(`${LAYER}?f=json`));
    assert.equal(error.code, code, `${status}`);
    assert.ok(!error.message.includes("db-host"), "no upstream text");
    assert.ok(!JSON.stringify(h.logs).includes("db-host"), "no upstream text in the log either");
  }
});

Deno.test("proxy: a revoked token (the fake's own 498) is refreshed and the request succeeds", async () => {
  const h = setup();
  h.fake.revokeToken(h.token());
  const response = await h.call(`${LAYER}/query?f=json&where=1%3D1&returnCountOnly=true`);
  assert.equal(response.status, 200);
  assert.equal(typeof (await response.json()).count, "number");
  assert.equal(h.fake.requests[0].errorCode, 498);
  assert.equal(h.fake.requests.length, 2);
});

Deno.test("proxy: HTTP 499 (status mirrors error code) is retried once", async () => {
  const h = setup({ fake: { statusMirrorsErrorCode: true } });
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: { kind: "arcgisError", code: 499, message: "x" },
    times: 1,
  });
  const response = await h.call(`${LAYER}?f=json`);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  assert.equal(h.fake.requests[0].status, 499);
  assert.equal(h.tokenCalls.length, 2);
});

Deno.test("proxy: a JSON 498 on a tile (image) request is detected and retried", async () => {
  const h = setup();
  h.fake.injectFailure({
    match: "MapServer/tile",
    mode: { kind: "status", status: 200, body: SPACED_498, contentType: "image/png" },
    times: 1,
  });
  const response = await h.call(TILE);
  assert.equal(response.status, 200);
  const bytes = new Uint8Array(await response.arrayBuffer());
  assert.equal(bytes[0], 0x89, "a PNG this time");
  assert.equal(h.tokenCalls.length, 2);
});

Deno.test("proxy: a small form POST is replayed byte for byte after a 498", async () => {
  const h = setup();
  h.fake.injectFailure({
    match: "FeatureServer/query",
    mode: { kind: "status", status: 200, body: SPACED_498 },
    times: 1,
  });
  const form = "f=json&where=1%3D1&outFields=*";
  const response = await h.call(`${LAYER}/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `${form}&token=client`,
  });
  assert.equal(response.status, 200);
  assert.ok((await response.json()).features.length > 0);
  assert.equal(h.fake.requests.length, 2);
  assert.equal(new TextDecoder().decode(h.fake.requests[1].rawBody), form);
});

Deno.test("proxy: multipart and large bodies are not replayed; the 498 is a 502", async () => {
  for (
    const init of [
      {
        headers: { "content-type": "multipart/form-data; boundary=b" },
        body: '--b\r\nContent-Disposition: form-data; name="f"\r\n\r\njson\r\n--b--\r\n',
      },
      {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `f=json&where=1%3D1&pad=${"z".repeat(70 * 1024)}`,
      },
      { headers: { "content-type": "application/json" }, body: '{"f":"json"}' },
    ]
  ) {
    const h = setup();
    h.fake.injectFailure({
      match: "FeatureServer/query",
      mode: { kind: "status", status: 200, body: SPACED_498 },
    });
    const error = await rejectsWith(() => h.call(`${LAYER}/query`, { method: "POST", ...init }));
    assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
    assert.equal(h.fake.requests.length, 1, init.headers["content-type"]);
    assert.equal(h.tokenCalls.length, 1);
  }
});

Deno.test("proxy: a token echoed in a small JSON answer is redacted", async () => {
  const h = setup();
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: { kind: "status", status: 400, body: `{"error":{"code":400,"message":"bad token ${h.token()}"}}` },
  });
  const response = await h.call(`${LAYER}?f=json`);
  assert.equal(response.status, 400);
  const text = await response.text();
  assert.ok(!text.includes(h.token()));
  assert.match(text, /\[redacted\]/);
  assert.equal(response.headers.get("content-length"), null);
});

Deno.test("proxy: an HTML 5xx page from upstream becomes a generic 502", async () => {
  const h = setup();
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: {
      kind: "status",
      status: 500,
      body: "<html>intranet-host-17 failed</html>",
      contentType: "text/html",
    },
  });
  const error = await rejectsWith(() => h.call(`${LAYER}?f=json`));
  assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
  assert.ok(!error.message.includes("intranet"));
});

Deno.test("proxy: the token source is called once per request when the upstream is happy", async () => {
  const h = setup();
  for (let i = 0; i < 5; i++) {
    const response = await h.call(`${LAYER}?f=json`);
    await response.body?.cancel();
  }
  assert.equal(h.tokenCalls.length, 5);
  assert.ok(h.tokenCalls.every((call) => call.options.forceRefresh === undefined));
});

Deno.test("proxy: an upstream 401 challenge becomes a 502, never the broker's own 401", async () => {
  const h = setup();
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: { kind: "status", status: 401, headers: { "WWW-Authenticate": "Negotiate" } },
  });
  const error = await rejectsWith(() => h.call(`${LAYER}?f=json`));
  assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
  assert.equal(h.tokenCalls.length, 1);
});

Deno.test("proxy: the 502 for a surviving 498 has a body the Maps SDK does not read as an auth error", async () => {
  const h = setup();
  h.fake.injectFailure({
    match: "FeatureServer/layer",
    mode: { kind: "status", status: 498, body: SPACED_498 },
    times: 5,
  });
  const response = errorResponse(await rejectsWith(() => h.call(`${LAYER}?f=json`)));
  assert.equal(response.status, 502);
  const text = await response.text();
  const body = JSON.parse(text);
  // The SDK prompts on HTTP 498/499 or a JSON `error.code` of 498/499: neither is here.
  assert.equal(typeof body.error, "string");
  assert.equal(authErrorCodeOf(body), undefined);
  assert.ok(!/498|499|token/i.test(text), text);
});
