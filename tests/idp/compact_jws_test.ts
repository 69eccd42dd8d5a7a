import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import { decodeBase64url, encodeBase64url, isCanonicalBase64url } from "../../src/util/bytes.ts";
import { checkCompactJws, checkJwsHeader, decodeJwsPart } from "../../src/idp/compact_jws.ts";
import { b64json } from "./_helpers.ts";

const HEADER = b64json({ alg: "RS256", kid: "k1" });
const PAYLOAD = b64json({ sub: "alice" });
const SIG = "c2lnbmF0dXJl"; // "signature", 12 chars, canonical
const ALGS = new Set(["RS256", "ES256"]);

function rejects(fn: () => unknown, reason?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isBrokerError(error, "ERR_INVALID_TOKEN"), String(error));
    assert.equal(error.message, "Invalid bearer token");
    if (reason !== undefined) assert.match((error.cause as Error).message, reason);
    return true;
  });
}

Deno.test("checkCompactJws() accepts three canonical segments and returns them", () => {
  const parts = checkCompactJws(`${HEADER}.${PAYLOAD}.${SIG}`, 8192);
  assert.deepEqual(parts, {
    header: HEADER,
    payload: PAYLOAD,
    signature: SIG,
    signingInput: `${HEADER}.${PAYLOAD}`,
  });
});

Deno.test("checkCompactJws() rejects JWE (five segments), nested dots and missing segments", () => {
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.${SIG}.${SIG}.${SIG}`, 8192), /compact JWS/);
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}`, 8192), /compact JWS/);
  rejects(() => checkCompactJws(`${HEADER}..${SIG}`, 8192), /compact JWS/);
  rejects(() => checkCompactJws(`.${PAYLOAD}.${SIG}`, 8192), /compact JWS/);
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.`, 8192), /compact JWS/);
  rejects(() => checkCompactJws("", 8192), /compact JWS/);
});

Deno.test("checkCompactJws() rejects the JSON serialization", () => {
  const json = JSON.stringify({ protected: HEADER, payload: PAYLOAD, signature: SIG });
  rejects(() => checkCompactJws(json, 8192), /compact JWS/);
  rejects(
    () => checkCompactJws({ protected: HEADER, payload: PAYLOAD, signature: SIG }, 8192),
    /not a string/,
  );
});

Deno.test("checkCompactJws() rejects tokens over the size cap before looking at them", () => {
  const token = `${HEADER}.${"A".repeat(9000)}.${SIG}`;
  rejects(() => checkCompactJws(token, 8192), /larger than 8192/);
  assert.doesNotThrow(() => checkCompactJws(token, 10_000));
});

Deno.test("checkCompactJws() rejects padding, whitespace, standard-alphabet characters and stray bytes", () => {
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.${SIG}==`, 8192));
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.c2ln bmF0dXJl`, 8192));
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.c2ln\nbmF0dXJl`, 8192));
  rejects(() => checkCompactJws(` ${HEADER}.${PAYLOAD}.${SIG}`, 8192));
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.${SIG}\n`, 8192));
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.c2ln+mF0/XJl`, 8192));
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.c2lnbmF0dXJl\u00e9`, 8192));
});

Deno.test("checkCompactJws() rejects non-zero trailing bits and impossible lengths", () => {
  // "YQ" is the canonical spelling of "a"; "YR" decodes to the same byte with non-zero trailing bits.
  assert.deepEqual([...decodeBase64url("YQ")], [0x61]);
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.YR`, 8192), /canonical/);
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.YWF`, 8192), /canonical/);
  rejects(() => checkCompactJws(`${HEADER}.${PAYLOAD}.YWFhY`, 8192), /canonical/);
  assert.doesNotThrow(() => checkCompactJws(`${HEADER}.${PAYLOAD}.YWE`, 8192));
});

Deno.test("base64url helpers round-trip and refuse every non-canonical spelling", () => {
  for (let length = 0; length < 40; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    const text = encodeBase64url(bytes);
    assert.ok(isCanonicalBase64url(text));
    assert.deepEqual([...decodeBase64url(text)], [...bytes]);
  }
  for (const bad of ["YQ==", "YQ=", "Y Q", "YR", "Y", "Y+/a", "YWE\t"]) {
    assert.equal(isCanonicalBase64url(bad), false, bad);
    assert.throws(() => decodeBase64url(bad), TypeError);
  }
});

/** `segment` as the header or the payload of a token, through the shape check and then the decoder. */
function decodePart(segment: string, what: "header" | "payload"): Record<string, unknown> {
  const token = what === "header" ? `${segment}.${PAYLOAD}.c2ln` : `${HEADER}.${segment}.c2ln`;
  return decodeJwsPart(checkCompactJws(token, 8192), what);
}

Deno.test("decodeJwsPart() wants a UTF-8 JSON object", () => {
  assert.deepEqual(decodePart(b64json({ a: 1 }), "header"), { a: 1 });
  for (const value of [[1], "text", 3, null, true]) {
    rejects(() => decodePart(b64json(value), "header"), /not a JSON object/);
  }
  rejects(() => decodePart(encodeBase64url(new TextEncoder().encode("{not json")), "payload"));
  rejects(() => decodePart(encodeBase64url(new Uint8Array([0x7b, 0xff, 0x7d])), "payload"));
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("{}")]);
  rejects(() => decodePart(encodeBase64url(bom), "payload"));
  // UTF-8 claims survive; a segment that is not canonical base64url never reaches the decoder.
  const utf8 = { name: "Zoë Ünal 東京" };
  assert.deepEqual(
    decodePart(encodeBase64url(new TextEncoder().encode(JSON.stringify(utf8))), "payload"),
    utf8,
  );
  rejects(() => decodePart("eyJ+Ijoi/yJ9", "payload"));
  rejects(() => decodePart(`${b64json({ a: 1 })}=`, "payload"));
});

Deno.test("checkJwsHeader() accepts an allowed algorithm with kid and typ", () => {
  const header = checkJwsHeader({ alg: "RS256", kid: "k1", typ: "at+jwt", x5t: "ignored" }, ALGS);
  assert.equal(header.alg, "RS256");
});

Deno.test("checkJwsHeader() refuses none and HS* even when a caller lists them", () => {
  const careless = new Set(["none", "HS256", "RS256"]);
  for (const alg of ["none", "None", "NONE", "HS256", "HS384", "HS512", "hs256"]) {
    rejects(() => checkJwsHeader({ alg }, careless), /not allowed/);
  }
});

Deno.test("checkJwsHeader() refuses an algorithm outside the list, or none at all", () => {
  rejects(() => checkJwsHeader({ alg: "PS256" }, ALGS), /not allowed/);
  rejects(() => checkJwsHeader({ alg: "rs256" }, ALGS), /not allowed/);
  rejects(() => checkJwsHeader({}, ALGS), /no algorithm/);
  rejects(() => checkJwsHeader({ alg: ["RS256"] }, ALGS), /no algorithm/);
});

Deno.test("checkJwsHeader() refuses crit, b64 and every header that points at a key", () => {
  rejects(() => checkJwsHeader({ alg: "RS256", crit: ["exp"] }, ALGS), /crit/);
  rejects(() => checkJwsHeader({ alg: "RS256", crit: [] }, ALGS), /crit/);
  rejects(() => checkJwsHeader({ alg: "RS256", crit: ["b64"], b64: false }, ALGS), /crit/);
  rejects(() => checkJwsHeader({ alg: "RS256", b64: false }, ALGS), /b64/);
  for (const member of ["jku", "x5u", "jwk", "x5c"]) {
    rejects(
      () => checkJwsHeader({ alg: "RS256", [member]: "https://evil.example/keys" }, ALGS),
      new RegExp(member),
    );
  }
});

Deno.test("checkJwsHeader() refuses JWE members and nested JWTs", () => {
  rejects(() => checkJwsHeader({ alg: "RS256", enc: "A256GCM" }, ALGS), /JWE/);
  rejects(() => checkJwsHeader({ alg: "RS256", zip: "DEF" }, ALGS), /JWE/);
  rejects(() => checkJwsHeader({ alg: "RS256", cty: "JWT" }, ALGS), /Nested/);
  rejects(() => checkJwsHeader({ alg: "RS256", cty: "application/jwt" }, ALGS), /Nested/);
});

Deno.test("checkJwsHeader() wants kid and typ as strings", () => {
  rejects(() => checkJwsHeader({ alg: "RS256", kid: 7 }, ALGS), /kid/);
  rejects(() => checkJwsHeader({ alg: "RS256", kid: "" }, ALGS), /kid/);
  rejects(() => checkJwsHeader({ alg: "RS256", kid: "k".repeat(300) }, ALGS), /kid/);
  rejects(() => checkJwsHeader({ alg: "RS256", typ: ["at+jwt"] }, ALGS), /typ/);
});
