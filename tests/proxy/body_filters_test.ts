import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import {
  filterFormBytes,
  filterQueryString,
  FormFilter,
  MultipartScanner,
  stripMultipartTokenParts,
} from "../../src/proxy/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function form(text: string, appendToken?: string): string {
  return dec.decode(filterFormBytes(enc.encode(text), appendToken === undefined ? {} : { appendToken }));
}

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isBrokerError(error)) return error.code;
    throw error;
  }
  return "OK";
}

/** Feeds `text` to a FormFilter one byte at a time. */
function formBytewise(text: string, appendToken?: string): string {
  const filter = new FormFilter(appendToken === undefined ? {} : { appendToken });
  const bytes = enc.encode(text);
  const out: number[] = [];
  for (const b of bytes) out.push(...filter.push(Uint8Array.of(b)));
  out.push(...filter.finish());
  return dec.decode(Uint8Array.from(out));
}

Deno.test("the form filter passes a body without token byte for byte", () => {
  for (
    const body of [
      "f=json&where=1%3D1&outFields=*&returnGeometry=false",
      "a=1&&b=2&",
      "&a=1",
      "geometry=%7B%22xmin%22%3A-180%7D&spatialRel=esriSpatialRelIntersects&x=%E2%9C%93",
      "flag&other=",
      "tokenish=1&mytoken=2&token_=3",
      "",
    ]
  ) {
    assert.equal(form(body), body);
    assert.equal(formBytewise(body), body);
  }
});

Deno.test("the form filter drops every token parameter, parsed not matched as a substring", () => {
  assert.equal(form("token=abc&f=json"), "f=json");
  assert.equal(form("f=json&token=abc"), "f=json");
  assert.equal(form("f=json&TOKEN=abc&where=1"), "f=json&where=1");
  assert.equal(form("f=json&%74oken=abc"), "f=json");
  assert.equal(form("f=json&token&x=1"), "f=json&x=1");
  assert.equal(form("f=json&token=a&token=b"), "f=json");
  assert.equal(formBytewise("f=json&token=abc&where=1"), "f=json&where=1");
  assert.equal(form("where=token%3Dx&f=json"), "where=token%3Dx&f=json", "a value mentioning token stays");
});

Deno.test("the form filter appends the injected token as the last parameter", () => {
  assert.equal(form("f=json&token=client", "server token"), "f=json&token=server%20token");
  assert.equal(form("", "t"), "token=t");
  assert.equal(formBytewise("f=json", "t/+"), "f=json&token=t%2F%2B");
});

Deno.test("the form filter refuses JSONP callback and f=html in any spelling", () => {
  for (
    const body of [
      "callback=x",
      "f=json&Callback=cb",
      "f=html",
      "F=HTML",
      "f=%68tml",
      "f=+html+",
      "a=1&f=html",
    ]
  ) {
    assert.equal(errorCode(() => form(body)), "ERR_TARGET_NOT_ALLOWED", body);
    assert.equal(errorCode(() => formBytewise(body)), "ERR_TARGET_NOT_ALLOWED", body);
  }
  assert.equal(form("f=pjson"), "f=pjson");
  assert.equal(form("f=htmlx"), "f=htmlx");
});

Deno.test("filterQueryString() works on url.search", () => {
  assert.equal(filterQueryString("?f=json&token=x"), "?f=json");
  assert.equal(filterQueryString("?token=x"), "");
  assert.equal(filterQueryString(""), "");
  assert.equal(filterQueryString("?f=json", { appendToken: "t" }), "?f=json&token=t");
  assert.equal(filterQueryString("?%74oken=x&a=1"), "?a=1");
  assert.equal(filterQueryString("?a=1&TOKEN=x&b=%20"), "?a=1&b=%20");
  assert.equal(filterQueryString("?where=token%3D1&outFields=*"), "?where=token%3D1&outFields=*");
  assert.throws(() => filterQueryString("?f=%68tml"));
  assert.throws(() => filterQueryString("?a=1&Callback"));
  assert.equal(filterQueryString("?", { appendToken: "t" }), "?token=t");
});

function multipart(boundary: string, parts: Array<[string, string, string?]>): Uint8Array {
  let text = "";
  for (const [name, value, filename] of parts) {
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"`;
    text += filename === undefined
      ? "\r\n\r\n"
      : `; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    text += `${value}\r\n`;
  }
  return enc.encode(`${text}--${boundary}--\r\n`);
}

Deno.test("stripMultipartTokenParts() returns the same bytes when there is no token part", () => {
  const body = multipart("XyZ", [["f", "json"], ["file", "\u0000\u0001binary--XyZ", "a.bin"]]);
  assert.equal(stripMultipartTokenParts(body, "XyZ"), body);
});

Deno.test("stripMultipartTokenParts() cuts token parts wherever they are", () => {
  const boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
  const withToken = multipart(boundary, [["token", "abc"], ["f", "json"], ["Token", "x"], ["where", "1=1"]]);
  const without = multipart(boundary, [["f", "json"], ["where", "1=1"]]);
  assert.equal(dec.decode(stripMultipartTokenParts(withToken, boundary)), dec.decode(without));
  const last = multipart(boundary, [["f", "json"], ["token", "abc"]]);
  assert.equal(
    dec.decode(stripMultipartTokenParts(last, boundary)),
    dec.decode(multipart(boundary, [["f", "json"]])),
  );
});

Deno.test("the multipart scanner refuses callback and f=html parts, also split across chunks", () => {
  const boundary = "b0undary";
  for (
    const parts of [[["callback", "x"]], [["f", "html"]], [["F", " HTML "]]] as Array<Array<[string, string]>>
  ) {
    const body = multipart(boundary, [["a", "1"], ...parts]);
    assert.equal(errorCode(() => stripMultipartTokenParts(body, boundary)), "ERR_TARGET_NOT_ALLOWED");
    const scanner = new MultipartScanner({ boundary });
    assert.equal(
      errorCode(() => {
        for (const b of body) scanner.push(Uint8Array.of(b));
        scanner.finish();
      }),
      "ERR_TARGET_NOT_ALLOWED",
    );
  }
});

Deno.test("the multipart scanner in refuse mode refuses a token part; records parts otherwise", () => {
  const boundary = "b";
  const body = multipart(boundary, [["f", "json"], ["token", "abc"]]);
  const refusing = new MultipartScanner({ boundary, tokenParts: "refuse" });
  assert.equal(errorCode(() => refusing.push(body)), "ERR_TARGET_NOT_ALLOWED");
  const recording = new MultipartScanner({ boundary });
  for (let i = 0; i < body.length; i += 3) recording.push(body.subarray(i, i + 3));
  recording.finish();
  assert.deepEqual(recording.parts.map((p) => p.name), ["f", "token"]);
});

Deno.test("the multipart scanner refuses malformed bodies", () => {
  const boundary = "b";
  const cases = [
    enc.encode('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'), // no closing delimiter
    enc.encode("--b\r\nContent-Type: text/plain\r\n\r\n1\r\n--b--"), // no disposition
    enc.encode('--b\r\nContent-Disposition: attachment; name="a"\r\n\r\n1\r\n--b--'),
    enc.encode("--b\r\nContent-Disposition: form-data; name*=utf-8''token\r\n\r\n1\r\n--b--"),
    enc.encode("--b\r\n\r\n1\r\n--b--"),
  ];
  for (const body of cases) {
    assert.equal(errorCode(() => stripMultipartTokenParts(body, boundary)), "ERR_INVALID_REQUEST");
  }
  assert.equal(errorCode(() => new MultipartScanner({ boundary: "" })), "ERR_INVALID_REQUEST");
  assert.equal(errorCode(() => new MultipartScanner({ boundary: "x".repeat(71) })), "ERR_INVALID_REQUEST");
});
