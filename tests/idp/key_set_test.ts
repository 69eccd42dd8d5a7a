import assert from "node:assert/strict";
import * as jose from "jose";
import { isOnCurve } from "../../src/idp/_ec_curves.ts";
import { hasRocaFingerprint } from "../../src/idp/_roca.ts";
import { decodeBase64url } from "../../src/util/bytes.ts";
import { bytesToBigInt } from "../../src/idp/_ec_curves.ts";
import {
  buildKeySet,
  carryOverKeys,
  findKey,
  importVerificationKey,
  JwksRejectedError,
  type KeySet,
} from "../../src/idp/key_set.ts";
import { generateSigningKey } from "./_helpers.ts";

const rsa = await generateSigningKey("RS256", "rsa-1");
const ec = await generateSigningKey("ES256", "ec-1");
const ed = await generateSigningKey("EdDSA", "ed-1");
/** A second RSA key pair, with its private JWK, shared by the tests that need one (RSA generation is slow). */
const rsaPair = await jose.generateKeyPair("RS256", { extractable: true });
const rsa2 = {
  publicJwk: { ...(await jose.exportJWK(rsaPair.publicKey)), kid: "rsa-2", alg: "RS256", use: "sig" },
  privateJwk: { ...(await jose.exportJWK(rsaPair.privateKey)), kid: "leaked", alg: "RS256" },
};

function only(keySet: KeySet): string[] {
  return keySet.keys.map((key) => `${key.kid}:${key.alg}`);
}

function skippedReason(keySet: KeySet, kid: string): string | undefined {
  return keySet.skipped.find((skip) => skip.kid === kid)?.reason;
}

Deno.test("buildKeySet() keeps sane RSA, EC and Ed25519 public keys, each bound to one algorithm", () => {
  const keySet = buildKeySet({ keys: [rsa.publicJwk, ec.publicJwk, ed.publicJwk] }, [
    "RS256",
    "ES256",
    "EdDSA",
  ]);
  assert.deepEqual(only(keySet), ["rsa-1:RS256", "ec-1:ES256", "ed-1:EdDSA"]);
  assert.deepEqual(Object.keys(keySet.byKid.get("rsa-1")!.jwk).sort(), ["e", "kty", "n"]);
});

Deno.test("buildKeySet() refuses the whole set when any key has private material", () => {
  assert.throws(() => buildKeySet({ keys: [rsa.publicJwk, rsa2.privateJwk] }, ["RS256"]), JwksRejectedError);
  for (const member of ["d", "p", "q", "dp", "dq", "qi", "oth"]) {
    const jwk = { ...rsa.publicJwk, [member]: "AQAB" };
    assert.throws(() => buildKeySet({ keys: [jwk] }, ["RS256"]), JwksRejectedError, member);
  }
});

Deno.test("buildKeySet() refuses the whole set when it holds a symmetric key", () => {
  const oct = { kty: "oct", kid: "hmac", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", alg: "HS256" };
  assert.throws(() => buildKeySet({ keys: [rsa.publicJwk, oct] }, ["RS256"]), /symmetric/);
});

Deno.test("buildKeySet() refuses things that are not a JWKS, and oversized sets", () => {
  for (const value of [null, [], "keys", { keys: "x" }, {}]) {
    assert.throws(() => buildKeySet(value, ["RS256"]), JwksRejectedError);
  }
  const many = Array.from({ length: 101 }, (_, i) => ({ ...rsa.publicJwk, kid: `k${i}` }));
  assert.throws(() => buildKeySet({ keys: many }, ["RS256"]), /more than 100/);
});

Deno.test("buildKeySet() skips RSA keys under 2048 bits", async () => {
  const small = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const jwk = { ...(await jose.exportJWK(small.publicKey)), kid: "small", alg: "RS256" };
  const keySet = buildKeySet({ keys: [jwk] }, ["RS256"]);
  assert.equal(keySet.keys.length, 0);
  assert.match(skippedReason(keySet, "small")!, /1024 bits is too small/);
  assert.deepEqual(findKey(keySet, "small", "RS256"), { refused: "Key id names an unusable key" });
});

Deno.test("buildKeySet() skips RSA keys with e=1, tiny, even or huge exponents", () => {
  for (
    const [e, label] of [["AQ", "1"], ["Aw", "3"], ["AQAC", "65538"], ["AQAAAAE", "5 bytes"], ["", "empty"]]
  ) {
    const keySet = buildKeySet({ keys: [{ ...rsa.publicJwk, e }] }, ["RS256"]);
    assert.equal(keySet.keys.length, 0, label);
    assert.ok(keySet.refusedKids.has("rsa-1"), label);
  }
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, e: "AQAB" }] }, ["RS256"]).keys.length, 1);
});

Deno.test("buildKeySet() skips keys with non-canonical members and even moduli", () => {
  const padded = { ...rsa.publicJwk, n: `${rsa.publicJwk.n}=` };
  assert.equal(buildKeySet({ keys: [padded] }, ["RS256"]).keys.length, 0);
  const n = decodeBase64url(rsa.publicJwk.n!);
  n[n.length - 1] &= 0xfe;
  const even = { ...rsa.publicJwk, n: jose.base64url.encode(n) };
  assert.match(skippedReason(buildKeySet({ keys: [even] }, ["RS256"]), "rsa-1")!, /even/);
});

Deno.test("buildKeySet() skips EC keys off their curve or on another curve than stated", () => {
  const y = decodeBase64url(ec.publicJwk.y!);
  y[5] ^= 1;
  const offCurve = { ...ec.publicJwk, y: jose.base64url.encode(y) };
  assert.match(skippedReason(buildKeySet({ keys: [offCurve] }, ["ES256"]), "ec-1")!, /not on P-256/);
  const wrongCurve = { ...ec.publicJwk, crv: "P-384" };
  assert.equal(buildKeySet({ keys: [wrongCurve] }, ["ES256", "ES384"]).keys.length, 0);
  const unknownCurve = { ...ec.publicJwk, crv: "secp256k1" };
  assert.equal(buildKeySet({ keys: [unknownCurve] }, ["ES256"]).keys.length, 0);
  const es384OnP256 = { ...ec.publicJwk, alg: "ES384" };
  assert.match(skippedReason(buildKeySet({ keys: [es384OnP256] }, ["ES384"]), "ec-1")!, /does not fit/);
});

Deno.test("isOnCurve() accepts generated points on P-256, P-384 and P-521 and rejects tampered ones", async () => {
  for (const [alg, crv] of [["ES256", "P-256"], ["ES384", "P-384"], ["ES512", "P-521"]]) {
    const key = await generateSigningKey(alg, crv);
    const x = decodeBase64url(key.publicJwk.x!);
    const y = decodeBase64url(key.publicJwk.y!);
    assert.ok(isOnCurve(crv, x, y), crv);
    y[y.length - 1] ^= 1;
    assert.equal(isOnCurve(crv, x, y), false, crv);
    assert.equal(isOnCurve("P-256", x.subarray(1), y), false);
  }
});

Deno.test("buildKeySet() skips Ed25519 keys of the wrong length and other OKP curves", () => {
  const short = { ...ed.publicJwk, x: ed.publicJwk.x!.slice(0, 40) };
  assert.equal(buildKeySet({ keys: [short] }, ["EdDSA"]).keys.length, 0);
  const x25519 = { ...ed.publicJwk, crv: "X25519" };
  assert.equal(buildKeySet({ keys: [x25519] }, ["EdDSA"]).keys.length, 0);
});

Deno.test("buildKeySet() honours use and key_ops", () => {
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, use: "enc" }] }, ["RS256"]).keys.length, 0);
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, key_ops: ["encrypt"] }] }, ["RS256"]).keys.length, 0);
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, key_ops: "verify" }] }, ["RS256"]).keys.length, 0);
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, key_ops: ["verify"] }] }, ["RS256"]).keys.length, 1);
  const { use: _use, ...noUse } = rsa.publicJwk;
  assert.equal(buildKeySet({ keys: [noUse] }, ["RS256"]).keys.length, 1);
});

Deno.test("buildKeySet() binds a key without alg to the one configured algorithm of its type", () => {
  const { alg: _a, ...rsaNoAlg } = rsa.publicJwk;
  const { alg: _b, ...ecNoAlg } = ec.publicJwk;
  const { alg: _c, ...edNoAlg } = ed.publicJwk;
  const keySet = buildKeySet({ keys: [rsaNoAlg, ecNoAlg, edNoAlg] }, ["PS256", "ES256", "EdDSA"]);
  assert.deepEqual(only(keySet), ["rsa-1:PS256", "ec-1:ES256", "ed-1:EdDSA"]);
  // A PS256-bound key never verifies RS256 (RFC 8725 §3.1, jose B5).
  assert.deepEqual(findKey(keySet, "rsa-1", "RS256"), { refused: "Key algorithm mismatch" });
  // Nothing configured for the key type: skipped.
  assert.equal(buildKeySet({ keys: [ecNoAlg] }, ["RS256"]).keys.length, 0);
});

Deno.test("buildKeySet() skips keys whose alg is not configured", () => {
  const keySet = buildKeySet({ keys: [{ ...rsa.publicJwk, alg: "RS384" }] }, ["RS256"]);
  assert.equal(keySet.keys.length, 0);
  assert.match(skippedReason(keySet, "rsa-1")!, /not configured/);
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, alg: "HS256" }] }, ["RS256"]).keys.length, 0);
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, alg: "none" }] }, ["RS256"]).keys.length, 0);
});

Deno.test("buildKeySet() refuses every key of a duplicated kid", () => {
  const other = { ...rsa2.publicJwk, kid: "rsa-1" };
  const keySet = buildKeySet({ keys: [rsa.publicJwk, other, ec.publicJwk] }, ["RS256", "ES256"]);
  assert.deepEqual(only(keySet), ["ec-1:ES256"]);
  assert.deepEqual(findKey(keySet, "rsa-1", "RS256"), { refused: "Key id names an unusable key" });
});

Deno.test("buildKeySet() skips keys with a kid that is not a usable string", () => {
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, kid: 5 }] }, ["RS256"]).keys.length, 0);
  assert.equal(buildKeySet({ keys: [{ ...rsa.publicJwk, kid: "" }] }, ["RS256"]).keys.length, 0);
});

Deno.test("findKey() serves a token without kid only from an unambiguous set", () => {
  const second = rsa2;
  const one = buildKeySet({ keys: [rsa.publicJwk, ec.publicJwk] }, ["RS256", "ES256"]);
  assert.equal((findKey(one, undefined, "RS256") as { found: { kid: string } }).found.kid, "rsa-1");
  const two = buildKeySet({ keys: [rsa.publicJwk, second.publicJwk] }, ["RS256"]);
  assert.deepEqual(findKey(two, undefined, "RS256"), { refused: "Token without kid is ambiguous" });
  assert.deepEqual(findKey(two, "nope", "RS256"), { unknown: true });
});

Deno.test("the ROCA fingerprint flags Wycheproof's ROCA key and not generated keys", async () => {
  const vectors = JSON.parse(
    await Deno.readTextFile(
      new URL("../vectors/wycheproof/json_web_key_test.json", import.meta.url),
    ),
  );
  const group = vectors.testGroups.find((g: { comment: string }) => g.comment === "jws_rsa_roca_key");
  const n = bytesToBigInt(decodeBase64url(group.private.keys[0].n));
  assert.equal(hasRocaFingerprint(n), true);
  for (const key of [rsa, rsa2]) {
    assert.equal(hasRocaFingerprint(bytesToBigInt(decodeBase64url(key.publicJwk.n!))), false);
  }
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicRoca } = group.private.keys[0];
  assert.match(buildKeySet({ keys: [publicRoca] }, ["RS256"]).skipped[0].reason, /ROCA/);
});

Deno.test("carryOverKeys() keeps imported keys that did not change and retires the rest", async () => {
  const second = rsa2;
  const first = buildKeySet({ keys: [rsa.publicJwk, ec.publicJwk] }, ["RS256", "ES256"]);
  const imported = await importVerificationKey(first.byKid.get("rsa-1")!);
  const next = carryOverKeys(
    first,
    buildKeySet({ keys: [rsa.publicJwk, second.publicJwk] }, ["RS256", "ES256"]),
  );
  assert.equal(next.byKid.get("rsa-1")!.cryptoKey, imported);
  assert.equal(next.byKid.get("rsa-1")!.retired, false);
  assert.equal(first.byKid.get("ec-1")!.retired, true);
  assert.equal(next.byKid.get("rsa-2")!.retired, false);
});
