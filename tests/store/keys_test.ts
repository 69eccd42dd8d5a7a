import assert from "node:assert/strict";
import { createKeyDeriver, digestKey } from "../../src/store/keys.ts";
import { isBrokerError } from "../../src/errors.ts";

const SECRET = new Uint8Array(32).map((_, i) => i);

Deno.test("deriveKey() never collides when a field boundary moves (length prefixes)", async () => {
  const deriver = createKeyDeriver(SECRET);
  const lists = [
    ["https://a", "bc"],
    ["https://ab", "c"],
    ["https://abc"],
    ["https://abc", ""],
    ["", "https://abc"],
    ["https://a", "b", "c"],
    [],
    [""],
  ];
  const keys = await Promise.all(lists.map((fields) => deriver.deriveKey("token", fields)));
  assert.equal(new Set(keys).size, lists.length);
});

Deno.test("deriveKey() is stable for the same secret and inputs and changes with the secret", async () => {
  const fields = ["me", "https://idp.example.com", "alice"];
  const a = await createKeyDeriver(SECRET).deriveKey("link", fields);
  const b = await createKeyDeriver(new Uint8Array(SECRET)).deriveKey("link", fields);
  const c = await createKeyDeriver(new Uint8Array(32).fill(9)).deriveKey("link", fields);
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.notEqual(a, await createKeyDeriver(SECRET).deriveKey("token", fields));
});

Deno.test("deriveKey() gives atb:v1:<namespace>:<43 base64url chars> and contains none of its inputs", async () => {
  const fields = ["profile-x", "https://idp.example.com/tenant", "subject-12345"];
  const key = await createKeyDeriver(SECRET).deriveKey("pending-link", fields);
  assert.match(key, /^atb:v1:pending-link:[A-Za-z0-9_-]{43}$/);
  for (const field of fields) assert.ok(!key.includes(field));
  assert.ok(!key.includes("idp.example"));
});

Deno.test("createKeyDeriver() accepts an HMAC SHA-256 CryptoKey with the same result as its raw bytes", async () => {
  const cryptoKey = await crypto.subtle.importKey("raw", SECRET, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  assert.equal(
    await createKeyDeriver(cryptoKey).deriveKey("token", ["a"]),
    await createKeyDeriver(SECRET).deriveKey("token", ["a"]),
  );
});

Deno.test("createKeyDeriver() refuses a short secret and a key that is not an HMAC SHA-256 signing key", async () => {
  assert.throws(() => createKeyDeriver(new Uint8Array(16)), (e) => isBrokerError(e, "ERR_CONFIG_INVALID"));
  const aes = await crypto.subtle.importKey("raw", SECRET, "AES-GCM", false, ["encrypt"]);
  assert.throws(() => createKeyDeriver(aes), (e) => isBrokerError(e, "ERR_CONFIG_INVALID"));
  const sha1 = await crypto.subtle.importKey("raw", SECRET, { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  assert.throws(() => createKeyDeriver(sha1), (e) => isBrokerError(e, "ERR_CONFIG_INVALID"));
});

Deno.test("deriveKey() and digestKey() refuse a namespace outside [a-z][a-z0-9-]*", async () => {
  const deriver = createKeyDeriver(SECRET);
  for (const namespace of ["", "Token", "to:ken", "a".repeat(33), "-x"]) {
    await assert.rejects(deriver.deriveKey(namespace, ["a"]), TypeError);
    await assert.rejects(digestKey(namespace, ["a"]), TypeError);
  }
});

Deno.test("digestKey() is stable, length-prefixed and hides its inputs", async () => {
  const a = await digestKey("jwks", ["https://idp.example.com"]);
  assert.equal(a, await digestKey("jwks", ["https://idp.example.com"]));
  assert.match(a, /^atb:v1:jwks:[A-Za-z0-9_-]{43}$/);
  assert.ok(!a.includes("idp.example.com"));
  assert.notEqual(await digestKey("jwks", ["https://a", "bc"]), await digestKey("jwks", ["https://ab", "c"]));
  assert.notEqual(a, await digestKey("discovery", ["https://idp.example.com"]));
  assert.notEqual(a, await createKeyDeriver(SECRET).deriveKey("jwks", ["https://idp.example.com"]));
});
