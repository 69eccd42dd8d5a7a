import assert from "node:assert/strict";
import { createSealer, parseKeyring } from "../../src/store/sealer.ts";
import { createKeyDeriver } from "../../src/store/keys.ts";
import { isBrokerError } from "../../src/errors.ts";

function _key(fill: number, length = 32): string {
  return btoa(String.fromCharCode(...new Uint8Array(length).fill(fill)));
}

function _keyUrl(length = 32): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const K1 = _key(1);
const K2 = _key(2);
const AAD = "atb:v1:token:abc";
const SECRET = "arcgis-access-token-0123456789abcdef";

/** Replaces the character at `index` with a different base64url character. */
function _flip(text: string, index: number): string {
  const c = text[index] === "A" ? "B" : "A";
  return text.slice(0, index) + c + text.slice(index + 1);
}

Deno.test("seal() then open() with the same aad returns the plaintext", async () => {
  const sealer = createSealer(parseKeyring(`k1:${K1}`));
  for (const plaintext of [SECRET, "", "ünïcødé ✓ 𝄞", "x".repeat(100_000)]) {
    assert.equal(await sealer.open(await sealer.seal(plaintext, AAD), AAD), plaintext);
  }
});

Deno.test("seal() uses a fresh IV: sealing the same plaintext twice gives different values", async () => {
  const sealer = createSealer(parseKeyring(`k1:${K1}`));
  const a = await sealer.seal(SECRET, AAD);
  const b = await sealer.seal(SECRET, AAD);
  assert.notEqual(a, b);
  assert.notEqual(a.split(".")[2], b.split(".")[2]);
  assert.match(a, /^s1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
});

Deno.test("a sealed value contains no substring of the plaintext", async () => {
  const sealer = createSealer(parseKeyring(`k1:${K1}`));
  const sealed = await sealer.seal(SECRET, AAD);
  for (let i = 0; i + 6 <= SECRET.length; i++) assert.ok(!sealed.includes(SECRET.slice(i, i + 6)));
  assert.ok(!sealed.includes(btoa(SECRET).slice(0, 12)));
});

Deno.test("open() returns null for a tampered IV, ciphertext or tag", async () => {
  const sealer = createSealer(parseKeyring(`k1:${K1}`));
  const sealed = await sealer.seal(SECRET, AAD);
  const [version, kid, iv, ciphertext] = sealed.split(".");
  const tampered = [
    [version, kid, _flip(iv, 0), ciphertext].join("."),
    [version, kid, iv, _flip(ciphertext, 0)].join("."),
    [version, kid, iv, _flip(ciphertext, ciphertext.length - 2)].join("."),
    [version, kid, iv, ciphertext.slice(0, -4)].join("."),
    [version, kid, iv, ciphertext + "AAAA"].join("."),
  ];
  for (const value of tampered) assert.equal(await sealer.open(value, AAD), null, value);
});

Deno.test("open() returns null when the aad differs (a value moved to another key)", async () => {
  const sealer = createSealer(parseKeyring(`k1:${K1}`));
  const sealed = await sealer.seal(SECRET, "atb:v1:token:user-a");
  assert.equal(await sealer.open(sealed, "atb:v1:token:user-b"), null);
  assert.equal(await sealer.open(sealed, ""), null);
});

Deno.test("open() returns null for an unknown key id or a relabelled key id", async () => {
  const sealed = await createSealer(parseKeyring(`k1:${K1}`)).seal(SECRET, AAD);
  assert.equal(await createSealer(parseKeyring(`k2:${K2}`)).open(sealed, AAD), null);
  const both = createSealer(parseKeyring(`k2:${K2},k1:${K1}`));
  assert.equal(await both.open(sealed.replace(".k1.", ".k2."), AAD), null);
  assert.equal(await both.open(sealed, AAD), SECRET);
});

Deno.test("open() returns null for garbage, never throws", async () => {
  const sealer = createSealer(parseKeyring(`k1:${K1}`));
  const garbage = [
    "",
    "s1",
    "s1.k1",
    "s1.k1.AAAA.AAAA",
    "s1.k1.AAAAAAAAAAAAAAAA.AAAA",
    "s1.k1.!!!!.????",
    "s2.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "s1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.extra",
    '{"exp":1,"val":"x"}',
  ];
  for (const value of garbage) assert.equal(await sealer.open(value, AAD), null, value);
  assert.equal(await sealer.open(42 as unknown as string, AAD), null);
});

Deno.test("a value sealed under the old key opens after a new key is prepended, and new seals use the new key", async () => {
  const before = createSealer(parseKeyring(`old:${K1}`));
  const sealedOld = await before.seal(SECRET, AAD);
  const after = createSealer(parseKeyring(`new:${K2},old:${K1}`));
  assert.equal(after.currentKid, "new");
  assert.equal(await after.open(sealedOld, AAD), SECRET);
  assert.equal(after.needsReseal(sealedOld), true);
  const sealedNew = await after.seal(SECRET, AAD);
  assert.match(sealedNew, /^s1\.new\./);
  assert.equal(after.needsReseal(sealedNew), false);
  assert.equal(await before.open(sealedNew, AAD), null);
});

Deno.test("parseKeyring() rejects short keys with ERR_CONFIG_INVALID and never prints key material", () => {
  const short = _key(9, 16);
  const cases: [string, RegExp][] = [
    [`k1:${short}`, /entry 1 key is 16 bytes, expected 32/],
    [`k1:${K1},k2:${_key(3, 31)}`, /entry 2 key is 31 bytes, expected 32/],
    [`k1:${_key(3, 33)}`, /33 bytes/],
    ["", /empty/],
    ["   ", /empty/],
    [K1, /entry 1 is not "kid:base64key"/],
    [`k1:${K1},`, /entry 2 is empty/],
    [`bad kid:${K1}`, /entry 1 has an invalid key id/],
    [`:${K1}`, /invalid key id/],
    [`k1:${K1},k1:${K2}`, /entry 2 repeats the key id/],
    [`k1:${K1.slice(0, 20)}!${K1.slice(21)}`, /entry 1 key is not base64/],
    ["k1:", /entry 1 key is 0 bytes/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseKeyring(text), (error) => {
      assert.ok(isBrokerError(error, "ERR_CONFIG_INVALID"));
      assert.match(error.message, message);
      const material = text.split(",").flatMap((entry) => entry.split(":")).filter((part) =>
        part.length >= 8
      );
      for (const part of material) {
        assert.ok(!error.message.includes(part.slice(0, 8)), "message leaks key material");
      }
      return true;
    });
  }
});

Deno.test("parseKeyring() accepts base64 and base64url, padded or not, with whitespace around entries", () => {
  const url = _keyUrl();
  const keyring = parseKeyring(` a:${K1} ,\n b-2:${url}, c_3:${K2.replace(/=+$/, "")}\n`);
  assert.equal(keyring.currentKid, "a");
  assert.deepEqual(keyring.kids, ["a", "b-2", "c_3"]);
});

Deno.test("a keyring shows key ids only, never key material", () => {
  const keyring = parseKeyring(`k1:${K1},k2:${K2}`);
  const shown = JSON.stringify(keyring) + Deno.inspect(keyring, { depth: 10, showHidden: true });
  assert.ok(!shown.includes(K1.slice(0, 10)) && !shown.includes(K2.slice(0, 10)));
  assert.ok(!shown.includes("Uint8Array") && !shown.includes("1, 1, 1"));
  assert.match(shown, /k1/);
});

Deno.test("createSealer() refuses a keyring that parseKeyring() did not make, and an unknown cacheKeyKid", () => {
  assert.throws(
    () => createSealer({ currentKid: "k1", kids: ["k1"] }),
    (e) => isBrokerError(e, "ERR_CONFIG_INVALID"),
  );
  assert.throws(
    () => createSealer(parseKeyring(`k1:${K1}`), { cacheKeyKid: "nope" }),
    (e) => isBrokerError(e, "ERR_CONFIG_INVALID"),
  );
});

Deno.test("deriveCacheKey() is stable across key rotation and depends on the anchor key", async () => {
  const fields = ["profile", "https://idp.example.com", "alice", "https://gis.example.com/server"];
  const ring1 = createSealer(parseKeyring(`old:${K1}`));
  const ring2 = createSealer(parseKeyring(`new:${K2},old:${K1}`));
  const other = createSealer(parseKeyring(`other:${K2}`));
  const a = await ring1.deriveCacheKey("token", fields);
  assert.match(a, /^atb:v1:token:[A-Za-z0-9_-]{43}$/);
  assert.equal(await ring2.deriveCacheKey("token", fields), a);
  assert.notEqual(await other.deriveCacheKey("token", fields), a);
  assert.notEqual(await ring2.deriveCacheKey("token", fields), await ring2.deriveCacheKey("link", fields));
  const pinned = createSealer(parseKeyring(`new:${K2},old:${K1}`), { cacheKeyKid: "new" });
  assert.equal(await pinned.deriveCacheKey("token", fields), await other.deriveCacheKey("token", fields));
  for (const field of fields) assert.ok(!a.includes(field));
});

Deno.test("deriveCacheKey() keys differ from sealing: the HMAC key is not the AES key", async () => {
  // Same bytes, two HKDF labels: a cache key must not equal a plain HMAC under the raw sealing key.
  const raw = new Uint8Array(32).fill(1);
  const hmac = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const direct = await createKeyDeriver(hmac).deriveKey("token", ["x"]);
  const derived = await createSealer(parseKeyring(`k1:${K1}`)).deriveCacheKey("token", ["x"]);
  assert.notEqual(direct, derived);
});
