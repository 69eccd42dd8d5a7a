import assert from "node:assert/strict";
import { entry, GIS, PORTAL, rejectsWith, SERVICES, setup } from "./_harness.ts";

const LAYER = `${SERVICES}/Trailheads/FeatureServer/0`;

/** Asserts the target is refused with `code`, the message is generic, and the upstream received nothing. */
async function refused(
  target: string,
  code: string,
  init?: RequestInit,
  h = setup({ allow: [entry(`${SERVICES}/`), entry(`${PORTAL}/`)] }),
): Promise<void> {
  const error = await rejectsWith(() => h.call(target, init));
  assert.equal(error.code, code, target);
  assert.ok(!/https?:|gis\.example|evil|token=/i.test(error.message), `generic message for ${target}`);
  assert.equal(h.fake.requests.length, 0, `upstream received nothing for ${target}`);
  assert.equal(h.tokenCalls.length, 0, `no token fetched for ${target}`);
  for (const log of h.logs) {
    const text = JSON.stringify(log);
    assert.ok(!text.includes("/rest/services/"), "logs carry no raw target URL");
  }
}

const S_CASES: Array<[string, string, string]> = [
  [
    "string-prefix host",
    "https://gis.example.com.evil.com/server/rest/services/X/MapServer",
    "ERR_TARGET_NOT_ALLOWED",
  ],
  [
    "subdomain host",
    "https://evil.gis.example.com/server/rest/services/X/MapServer",
    "ERR_TARGET_NOT_ALLOWED",
  ],
  ["userinfo", "https://gis.example.com@evil.com/server/rest/services/X/MapServer", "ERR_TARGET_MALFORMED"],
  ["userinfo 2", "https://gis.example.com:443@evil.com/server/rest/services/", "ERR_TARGET_MALFORMED"],
  ["IPv4 literal", "https://93.184.216.34/server/rest/services/X", "ERR_TARGET_NOT_ALLOWED"],
  ["decimal IPv4", "https://2130706433/server/rest/services/X", "ERR_TARGET_NOT_ALLOWED"],
  ["hex IPv4", "https://0x7f.1/server/rest/services/X", "ERR_TARGET_NOT_ALLOWED"],
  ["IPv6 literal", "https://[::1]/server/rest/services/X", "ERR_TARGET_NOT_ALLOWED"],
  ["unlisted port", "https://gis.example.com:8443/server/rest/services/X", "ERR_TARGET_NOT_ALLOWED"],
  ["encoded slash", `${SERVICES}/X%2f..%2f..%2fadmin/MapServer`, "ERR_TARGET_MALFORMED"],
  ["encoded backslash", `${SERVICES}/X%5cY/MapServer`, "ERR_TARGET_MALFORMED"],
  ["encoded dot", `${SERVICES}/%2e%2e/%2e%2e/admin`, "ERR_TARGET_MALFORMED"],
  ["encoded percent", `${SERVICES}/X%252fY/MapServer`, "ERR_TARGET_MALFORMED"],
  ["backslash", `${SERVICES}/X\\..\\..\\admin`, "ERR_TARGET_MALFORMED"],
  ["control character", `${SERVICES}/X%00/MapServer`, "ERR_TARGET_MALFORMED"],
  ["dot segments", `${SERVICES}/../../admin/services`, "ERR_TARGET_MALFORMED"],
  ["dot segment escaping the prefix", `${SERVICES}/../../other/x`, "ERR_TARGET_MALFORMED"],
  ["segment-boundary prefix", `${GIS}/server/rest/servicesX/X/MapServer`, "ERR_TARGET_NOT_ALLOWED"],
  ["shorter path", `${GIS}/server/rest`, "ERR_TARGET_NOT_ALLOWED"],
  ["other path", `${GIS}/other/rest/services/X/MapServer`, "ERR_TARGET_NOT_ALLOWED"],
  ["scheme http", "http://gis.example.com/server/rest/services/X/MapServer", "ERR_TARGET_NOT_ALLOWED"],
  ["scheme ftp", "ftp://gis.example.com/server/rest/services/X", "ERR_TARGET_MALFORMED"],
  ["scheme data", "data:text/html,<script>alert(1)</script>", "ERR_TARGET_MALFORMED"],
  ["fragment", `${LAYER}?f=json#x`, "ERR_TARGET_MALFORMED"],
  ["relative target", "/server/rest/services/X/MapServer", "ERR_TARGET_MALFORMED"],
  ["protocol-relative target", "//evil.com/server/rest/services/X", "ERR_TARGET_MALFORMED"],
  ["generateToken", `${PORTAL}/generateToken?f=json`, "ERR_TARGET_NOT_ALLOWED"],
  ["generateToken case", `${PORTAL}/GenerateToken?f=json`, "ERR_TARGET_NOT_ALLOWED"],
  ["generateToken encoded letter", `${PORTAL}/%67enerateToken?f=json`, "ERR_TARGET_NOT_ALLOWED"],
  ["oauth2 token", `${PORTAL}/oauth2/token`, "ERR_TARGET_NOT_ALLOWED"],
  ["oauth2 case", `${PORTAL}/OAUTH2/authorize?client_id=x`, "ERR_TARGET_NOT_ALLOWED"],
  ["community/self", `${PORTAL}/community/self?f=json`, "ERR_TARGET_NOT_ALLOWED"],
  ["community/self case", `${PORTAL}/Community/SELF?f=json`, "ERR_TARGET_NOT_ALLOWED"],
  ["portals/self", `${PORTAL}/portals/self?f=json`, "ERR_TARGET_NOT_ALLOWED"],
  ["admin under services", `${SERVICES}/admin/X`, "ERR_TARGET_NOT_ALLOWED"],
  ["tokens under services", `${SERVICES}/tokens/generateToken`, "ERR_TARGET_NOT_ALLOWED"],
];

for (const [name, target, code] of S_CASES) {
  Deno.test(`proxy refuses ${name} and the upstream receives nothing`, async () => {
    await refused(target, code);
  });
}

Deno.test("proxy refuses everything with an empty allowlist", async () => {
  const h = setup({ allow: [] });
  await refused(`${LAYER}?f=json`, "ERR_TARGET_NOT_ALLOWED", undefined, h);
});

Deno.test("proxy refuses a POST generateToken with serverUrl (it would mint a token for the browser)", async () => {
  await refused(`${PORTAL}/generateToken`, "ERR_TARGET_NOT_ALLOWED", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `f=json&serverUrl=${encodeURIComponent(`${GIS}/server`)}&token=x`,
  });
});

Deno.test("proxy refuses deny-listed paths whatever the allowlist says, even an entry on them", async () => {
  const h = setup({
    allow: [
      entry(`${PORTAL}/generateToken`),
      entry(`${GIS}/server/admin/`),
      entry(`${PORTAL}/community/self`),
    ],
  });
  await refused(`${PORTAL}/generateToken`, "ERR_TARGET_NOT_ALLOWED", undefined, h);
  await refused(`${GIS}/server/admin/services`, "ERR_TARGET_NOT_ALLOWED", undefined, h);
  await refused(`${PORTAL}/community/self`, "ERR_TARGET_NOT_ALLOWED", undefined, h);
});

Deno.test("proxy refuses edit operations on a read-only entry, also as a last segment under a layer", async () => {
  for (
    const path of [
      "Trailheads/FeatureServer/applyEdits",
      "Trailheads/FeatureServer/0/applyEdits",
      "Trailheads/FeatureServer/0/addFeatures",
      "Trailheads/FeatureServer/0/updateFeatures",
      "Trailheads/FeatureServer/0/DeleteFeatures",
      "Trailheads/FeatureServer/0/1/addAttachment",
      "Trailheads/FeatureServer/0/calculate",
      "Trailheads/FeatureServer/0/append",
    ]
  ) {
    await refused(`${SERVICES}/${path}`, "ERR_TARGET_NOT_ALLOWED", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "f=json&features=%5B%5D",
    });
  }
});

Deno.test("proxy refuses methods the entry does not name with 405", async () => {
  for (const method of ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
    await refused(`${LAYER}?f=json`, "ERR_METHOD_NOT_ALLOWED", { method });
  }
  const getOnly = setup({ allow: [entry(`${SERVICES}/`, { methods: ["GET"] })] });
  await refused(`${LAYER}/query`, "ERR_METHOD_NOT_ALLOWED", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "f=json",
  }, getOnly);
});

Deno.test("proxy refuses JSONP callback and f=html in the query", async () => {
  for (
    const query of ["f=json&callback=steal", "f=pjson&CALLBACK=x", "f=html", "f=HTML&where=1%3D1", "f=%68tml"]
  ) {
    await refused(`${LAYER}?${query}`, "ERR_TARGET_NOT_ALLOWED");
  }
});

Deno.test("proxy refuses JSONP callback and f=html in a form body", async () => {
  for (const body of ["f=json&callback=steal", "where=1%3D1&f=html"]) {
    await refused(`${LAYER}/query`, "ERR_TARGET_NOT_ALLOWED", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
  }
});

Deno.test("proxy refuses JSONP callback and f=html in a multipart body", async () => {
  for (const [name, value] of [["callback", "x"], ["f", "html"]]) {
    const body = `--b\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n--b--\r\n`;
    await refused(`${LAYER}/query`, "ERR_TARGET_NOT_ALLOWED", {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=b" },
      body,
    });
  }
});

Deno.test("proxy refuses malformed multipart and bodies without a Content-Type with 400", async () => {
  await refused(`${LAYER}/query`, "ERR_INVALID_REQUEST", {
    method: "POST",
    headers: { "content-type": "multipart/form-data; boundary=b" },
    body: '--b\r\nContent-Disposition: form-data; name="f"\r\n\r\njson',
  });
  await refused(`${LAYER}/query`, "ERR_INVALID_REQUEST", {
    method: "POST",
    headers: { "content-type": "multipart/form-data" },
    body: "x",
  });
  const h = setup();
  const error = await rejectsWith(() =>
    h.handler.handle(
      new Request(`https://broker.example.com/arcgis/proxy?${LAYER}/query`, {
        method: "POST",
        body: new Uint8Array([1, 2, 3]),
      }),
      {
        identity: { issuer: "i", subject: "s", claims: {}, tokenKind: "access", expiresAt: 0 },
        profiles: ["p"],
      },
    )
  );
  // Deno sets no Content-Type for a byte body: refused before anything is sent.
  assert.equal(error.code, "ERR_INVALID_REQUEST");
  assert.equal(h.fake.requests.length, 0);
});

Deno.test("proxy refuses a Content-Length over maxBodyBytes with 413 before anything is sent", async () => {
  const h = setup({ proxy: { maxBodyBytes: 1000 } });
  await refused(`${LAYER}/query`, "ERR_BODY_TOO_LARGE", {
    method: "POST",
    headers: { "content-type": "application/octet-stream", "content-length": "5000" },
    body: new Uint8Array(5000),
  }, h);
});

Deno.test("proxy answers 413 when a streamed body without Content-Length grows past maxBodyBytes", async () => {
  for (const contentType of ["application/octet-stream", "application/x-www-form-urlencoded"]) {
    const h = setup({ proxy: { maxBodyBytes: 10_000, retryMaxBodyBytes: 100 } });
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        if (pulled > 50) controller.close();
        else controller.enqueue(new Uint8Array(1000).fill(0x61));
      },
    });
    const error = await rejectsWith(() =>
      h.call(`${LAYER}/query`, { method: "POST", headers: { "content-type": contentType }, body })
    );
    assert.equal(error.code, "ERR_BODY_TOO_LARGE", contentType);
    assert.ok(pulled < 50, "the body was not read to the end");
  }
});

Deno.test("proxy refuses a large streamed multipart body carrying a token part", async () => {
  const h = setup({ proxy: { retryMaxBodyBytes: 100 } });
  const filler = "y".repeat(5000);
  const body = `--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n${filler}\r\n` +
    `--b\r\nContent-Disposition: form-data; name="token"\r\n\r\nclient\r\n--b--\r\n`;
  const error = await rejectsWith(() =>
    h.call(`${LAYER}/query`, {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=b" },
      body: new Blob([body]).stream(),
    })
  );
  assert.equal(error.code, "ERR_TARGET_NOT_ALLOWED");
  for (const record of h.fake.requests) assert.equal(record.body.token, undefined);
});
