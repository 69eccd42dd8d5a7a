import assert from "node:assert/strict";
import { z } from "zod";
import { getJson, getJsonEntry, putJson, ttlSecondsUntil } from "../../src/store/json_value.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import type { KvSetOptions, KvStore } from "../../src/store/kv_store.ts";
import { createSealer, parseKeyring } from "../../src/store/sealer.ts";

const T0 = 1_700_000_000_000;
const now = () => T0;

function _recording(): KvStore & { ttls: number[] } {
  const inner = createMemoryStore({ now });
  const ttls: number[] = [];
  return {
    ttls,
    get: (key) => inner.get(key),
    set: (key: string, value: string, options: KvSetOptions) => {
      ttls.push(options.ttlSeconds);
      return inner.set(key, value, options);
    },
    delete: (key) => inner.delete(key),
  };
}

Deno.test("putJson() passes ceil((expiresAt - now) / 1000), at least 1, as the store TTL", async () => {
  const store = _recording();
  await putJson(store, "a", 1, { expiresAt: T0 + 120_000, now });
  await putJson(store, "b", 1, { expiresAt: T0 + 120_001, now });
  await putJson(store, "c", 1, { expiresAt: T0 + 1, now });
  assert.deepEqual(store.ttls, [120, 121, 1]);
  assert.equal(ttlSecondsUntil(T0 + 500, T0), 1);
});

Deno.test("putJson() does not write a value that has already expired", async () => {
  const store = _recording();
  await putJson(store, "a", 1, { expiresAt: T0, now });
  await putJson(store, "b", 1, { expiresAt: T0 - 1, now });
  assert.deepEqual(store.ttls, []);
  assert.equal(await store.get("a"), null);
});

Deno.test("putJson() stores {exp, val} and refuses values that are not JSON", async () => {
  const store = createMemoryStore({ now });
  await putJson(store, "k", { a: [1, "two"] }, { expiresAt: T0 + 5_000, now });
  assert.equal(await store.get("k"), `{"exp":${T0 + 5_000},"val":{"a":[1,"two"]}}`);
  await assert.rejects(putJson(store, "u", undefined, { expiresAt: T0 + 5_000, now }), TypeError);
  await assert.rejects(putJson(store, "f", () => 1, { expiresAt: T0 + 5_000, now }), TypeError);
  await assert.rejects(putJson(store, "n", 1, { expiresAt: Number.NaN, now }), RangeError);
});

Deno.test("getJson() checks values with a zod schema and treats a mismatch as a miss", async () => {
  const store = createMemoryStore({ now });
  const schema = z.object({ token: z.string(), expires: z.number() });
  await putJson(store, "good", { token: "t", expires: 5 }, { expiresAt: T0 + 5_000, now });
  await putJson(store, "bad", { token: 5 }, { expiresAt: T0 + 5_000, now });
  const good = await getJson(store, "good", { now, schema });
  assert.deepEqual(good, { token: "t", expires: 5 });
  assert.equal(good?.token, "t"); // typed as the schema's output
  assert.equal(await getJson(store, "bad", { now, schema }), null);
  const entry = await getJsonEntry(store, "good", { now, schema });
  assert.equal(entry?.expiresAt, T0 + 5_000);
});

Deno.test("getJson() treats a schema that throws as a miss", async () => {
  const store = createMemoryStore({ now });
  await putJson(store, "k", 1, { expiresAt: T0 + 5_000, now });
  const schema = {
    safeParse(): { success: true; data: number } {
      throw new Error("boom");
    },
  };
  assert.equal(await getJson(store, "k", { now, schema }), null);
});

Deno.test("sealed values: a clear read, a read under other keys, and a clear value read as sealed are misses", async () => {
  const store = createMemoryStore({ now });
  const sealer = createSealer(parseKeyring(`a:${btoa("a".repeat(32))}`));
  const otherSealer = createSealer(parseKeyring(`a:${btoa("b".repeat(32))}`));
  await putJson(store, "sealed", { token: "secret-token" }, { expiresAt: T0 + 5_000, now, sealer });
  await putJson(store, "clear", { token: "x" }, { expiresAt: T0 + 5_000, now });
  assert.deepEqual(await getJson(store, "sealed", { now, sealer }), { token: "secret-token" });
  assert.equal(await getJson(store, "sealed", { now }), null);
  assert.equal(await getJson(store, "sealed", { now, sealer: otherSealer }), null);
  assert.equal(await getJson(store, "clear", { now, sealer }), null);
  assert.ok(!(await store.get("sealed"))!.includes("secret-token"));
});

Deno.test("a sealed value's expiry is inside the seal: it cannot be extended by editing the stored text", async () => {
  const store = createMemoryStore({ now });
  const sealer = createSealer(parseKeyring(`a:${btoa("a".repeat(32))}`));
  await putJson(store, "k", "v", { expiresAt: T0 + 5_000, now, sealer });
  assert.equal(await getJson(store, "k", { now: () => T0 + 5_000, sealer }), null);
  const raw = (await store.get("k"))!;
  assert.ok(!raw.includes(String(T0 + 5_000)));
});
