import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import { checkTargetUrl, parseProxyTarget } from "../../src/proxy/mod.ts";

const PROXY = "https://broker.example/arcgis/proxy";
const SVC = "https://services.arcgis.com/ORG123/arcgis/rest/services/Trailheads/FeatureServer";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isBrokerError(error)) {
      assert.ok(!error.message.includes("http"), "messages never contain the URL");
      return error.code;
    }
    throw error;
  }
  return "OK";
}

Deno.test("parseProxyTarget() takes everything after the first ? as the target, keeping its own query", () => {
  const { url, proxyPath } = parseProxyTarget(`${PROXY}?${SVC}/0/query?f=json&where=1%3D1&outFields=*`);
  assert.equal(url.href, `${SVC}/0/query?f=json&where=1%3D1&outFields=*`);
  assert.equal(proxyPath, "/arcgis/proxy");
});

Deno.test("parseProxyTarget() decodes a target encoded as a whole exactly once", () => {
  const encoded = encodeURIComponent(`${SVC}/0/query?f=json&where=name%3D'a'`);
  const { url } = parseProxyTarget(`${PROXY}?${encoded}`);
  assert.equal(url.pathname, "/ORG123/arcgis/rest/services/Trailheads/FeatureServer/0/query");
  assert.equal(url.searchParams.get("where"), "name='a'");
  // Double encoding is refused: after one decoding it is still encoded.
  assert.equal(
    code(() => parseProxyTarget(`${PROXY}?${encodeURIComponent(encoded)}`)),
    "ERR_TARGET_MALFORMED",
  );
  // An encoded target hiding an encoded separator is refused after the single decoding.
  const sneaky = encodeURIComponent("https://services.arcgis.com/ORG123/a%2fb");
  assert.equal(code(() => parseProxyTarget(`${PROXY}?${sneaky}`)), "ERR_TARGET_MALFORMED");
});

Deno.test("parseProxyTarget() refuses a missing or empty target", () => {
  assert.equal(code(() => parseProxyTarget(PROXY)), "ERR_TARGET_MALFORMED");
  assert.equal(code(() => parseProxyTarget(`${PROXY}?`)), "ERR_TARGET_MALFORMED");
});

const MALFORMED: Array<[string, string]> = [
  ["userinfo", "https://services.arcgis.com@evil.com/ORG123/"],
  ["userinfo with password", "https://u:p@services.arcgis.com/ORG123/"],
  ["scheme ftp", "ftp://services.arcgis.com/ORG123/"],
  ["scheme javascript", "javascript:alert(1)"],
  ["scheme file", "file:///etc/passwd"],
  ["no slashes", "https:services.arcgis.com/ORG123/"],
  ["encoded slash", "https://services.arcgis.com/ORG123/a%2fb"],
  ["encoded slash upper", "https://services.arcgis.com/ORG123/a%2Fb"],
  ["encoded backslash", "https://services.arcgis.com/ORG123/a%5cb"],
  ["encoded dot", "https://services.arcgis.com/ORG123/%2e%2e/x"],
  ["encoded dot upper", "https://services.arcgis.com/ORG123/%2E/x"],
  ["encoded percent", "https://services.arcgis.com/ORG123/%252f"],
  ["encoded control", "https://services.arcgis.com/ORG123/a%00b"],
  ["bad escape", "https://services.arcgis.com/ORG123/a%zz"],
  ["backslash", "https://services.arcgis.com\\@evil.com/ORG123/"],
  ["backslash in path", "https://services.arcgis.com/ORG123\\..\\admin"],
  ["tab", "https://services.arcgis.com/ORG\t123/"],
  ["newline", "https://services.arcgis.com/ORG123/\nx"],
  ["control char", "https://services.arcgis.com/ORG123/\u0001"],
  ["space", "https://services.arcgis.com/ORG 123/"],
  ["dot segment", "https://services.arcgis.com/ORG123/../OTHER/"],
  ["single dot segment", "https://services.arcgis.com/ORG123/./x"],
  ["trailing dot segment", "https://services.arcgis.com/ORG123/.."],
  ["fragment", "https://services.arcgis.com/ORG123/x#frag"],
  ["fragment in query", "https://services.arcgis.com/ORG123/x?f=json#frag"],
  ["path parameter", "https://services.arcgis.com/ORG123/admin;x/"],
  ["encoded host", "https://services%2earcgis.com/ORG123/"],
  ["empty host", "https:///ORG123/"],
  ["extra slashes", "https:////evil.com/ORG123/"],
  ["non-ascii host", "https://servicés.arcgis.com/ORG123/"],
];

for (const [name, raw] of MALFORMED) {
  Deno.test(`checkTargetUrl() refuses a malformed target (${name}) with 400`, () => {
    assert.equal(code(() => checkTargetUrl(raw)), "ERR_TARGET_MALFORMED");
  });
}

const NOT_ALLOWED: Array<[string, string]> = [
  ["IPv4 literal", "https://10.0.0.1/arcgis/"],
  ["decimal IPv4", "https://2130706433/arcgis/"],
  ["hex IPv4", "https://0x7f.1/arcgis/"],
  ["octal IPv4", "https://0177.0.0.1/arcgis/"],
  ["IPv6 literal", "https://[::1]/arcgis/"],
  ["IPv4-mapped IPv6", "https://[::ffff:127.0.0.1]/arcgis/"],
  ["plain http", "http://services.arcgis.com/ORG123/"],
];

for (const [name, raw] of NOT_ALLOWED) {
  Deno.test(`checkTargetUrl() refuses a target no config may allow (${name}) with 403`, () => {
    assert.equal(code(() => checkTargetUrl(raw)), "ERR_TARGET_NOT_ALLOWED");
  });
}

Deno.test("checkTargetUrl() allows loopback IP and http targets only with allowInsecureLoopback", () => {
  assert.equal(code(() => checkTargetUrl("http://127.0.0.1:8080/server/")), "ERR_TARGET_NOT_ALLOWED");
  const url = checkTargetUrl("http://127.0.0.1:8080/server/", { allowInsecureLoopback: true });
  assert.equal(url.host, "127.0.0.1:8080");
  // Not loopback: still refused.
  assert.equal(
    code(() => checkTargetUrl("http://10.0.0.1/server/", { allowInsecureLoopback: true })),
    "ERR_TARGET_NOT_ALLOWED",
  );
  assert.equal(
    code(() => checkTargetUrl("https://2130706433/server/", { allowInsecureLoopback: false })),
    "ERR_TARGET_NOT_ALLOWED",
  );
});

Deno.test("checkTargetUrl() normalizes case of scheme and host and the default port", () => {
  const url = checkTargetUrl(
    "HTTPS://SERVICES.arcgis.com:443/ORG123/arcgis/rest/services/X/FeatureServer?f=json",
  );
  assert.equal(url.href, "https://services.arcgis.com/ORG123/arcgis/rest/services/X/FeatureServer?f=json");
});

Deno.test("checkTargetUrl() keeps ordinary percent-encoding in the path and anything encoded in the query", () => {
  const url = checkTargetUrl("https://h.example/a%20b/c?where=x%2Fy%25z&geometry=%7B%22x%22%3A1%7D");
  assert.equal(url.pathname, "/a%20b/c");
  assert.equal(url.searchParams.get("where"), "x/y%z");
});
