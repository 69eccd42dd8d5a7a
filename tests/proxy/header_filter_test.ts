import assert from "node:assert/strict";
import { forwardRequestHeaderRecord, returnResponseHeaderRecord } from "../../src/proxy/header_filter.ts";

Deno.test("header filter: request allowlist, Connection-named headers dropped, Range asks for identity", () => {
  const incoming = new Headers({
    accept: "application/json",
    "Accept-Language": "de",
    authorization: "Bearer secret",
    cookie: "a=b",
    connection: "keep-alive, Accept-Language",
    "content-length": "12",
    "content-type": "application/x-www-form-urlencoded",
    range: "bytes=0-9",
    "x-forwarded-for": "10.0.0.1",
  });
  assert.deepEqual(forwardRequestHeaderRecord(incoming), {
    accept: "application/json",
    "content-type": "application/x-www-form-urlencoded",
    range: "bytes=0-9",
    "accept-encoding": "identity",
  });
  assert.equal(forwardRequestHeaderRecord(incoming, { keepContentLength: true })["content-length"], "12");
});

Deno.test("header filter: response allowlist, Connection-named headers dropped, Cache-Control made private", () => {
  const upstream = new Headers({
    "content-type": "application/json",
    "content-length": "7",
    etag: '"e1"',
    vary: "Accept-Encoding",
    connection: "close, ETag",
    "cache-control": "public, max-age=60, s-maxage=600",
    "set-cookie": "s=1",
    "access-control-allow-origin": "*",
    server: "IIS",
  });
  const csp = returnResponseHeaderRecord(new Headers())["content-security-policy"];
  assert.deepEqual(returnResponseHeaderRecord(upstream), {
    "content-type": "application/json",
    "content-length": "7",
    vary: "Accept-Encoding",
    "cache-control": "private, max-age=60",
    "x-content-type-options": "nosniff",
    "content-security-policy": csp,
  });
  assert.equal(
    returnResponseHeaderRecord(upstream, { dropContentLength: true })["content-length"],
    undefined,
  );
  assert.equal(returnResponseHeaderRecord(new Headers())["cache-control"], "private");
  assert.equal(
    returnResponseHeaderRecord(new Headers({ "cache-control": "no-store" }))["cache-control"],
    "no-store",
  );
});
