import assert from "node:assert/strict";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import { isBrokerError } from "../../src/errors.ts";
import { registerKvContract } from "./kv_contract.ts";

registerKvContract("createMemoryStore()", () => {
  let clock = 1_700_000_000_000;
  const store = createMemoryStore({ now: () => clock });
  return Promise.resolve({
    store,
    advanceClockMs: (ms: number) => {
      clock += ms;
    },
    dispose: () => Promise.resolve(),
  });
}, { atomic: true });

Deno.test("createMemoryStore() evicts the least recently used entry beyond maxEntries", async () => {
  const store = createMemoryStore({ maxEntries: 3 });
  await store.set("a", "1", { ttlSeconds: 60 });
  await store.set("b", "2", { ttlSeconds: 60 });
  await store.set("c", "3", { ttlSeconds: 60 });
  assert.equal(await store.get("a"), "1"); // a is now the most recently used
  await store.set("d", "4", { ttlSeconds: 60 });
  assert.equal(await store.get("b"), null);
  assert.equal(await store.get("a"), "1");
  assert.equal(await store.get("c"), "3");
  assert.equal(await store.get("d"), "4");
});

Deno.test("createMemoryStore() never holds more than maxEntries entries", async () => {
  const store = createMemoryStore({ maxEntries: 10 });
  for (let i = 0; i < 100; i++) await store.set(`k${i}`, String(i), { ttlSeconds: 60 });
  let present = 0;
  for (let i = 0; i < 100; i++) if ((await store.get(`k${i}`)) !== null) present++;
  assert.equal(present, 10);
  assert.equal(await store.get("k99"), "99");
});

Deno.test("createMemoryStore() rounds a fractional TTL up to a whole second", async () => {
  let clock = 0;
  const store = createMemoryStore({ now: () => clock });
  await store.set("k", "v", { ttlSeconds: 0.001 });
  clock = 999;
  assert.equal(await store.get("k"), "v");
  clock = 1000;
  assert.equal(await store.get("k"), null);
});

Deno.test("createMemoryStore() refuses a maxEntries that is not a positive integer", () => {
  for (const maxEntries of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => createMemoryStore({ maxEntries }), (e) => isBrokerError(e, "ERR_CONFIG_INVALID"));
  }
});

Deno.test("createMemoryStore() bounds each key namespace on its own: a flood never evicts another's entries", async () => {
  const store = createMemoryStore({ maxEntries: 3 });
  await store.set("atb:v1:link:alice", "refresh-token", { ttlSeconds: 600 });
  for (let i = 0; i < 50; i++) {
    await store.set(`atb:v1:link-state:s${i}`, String(i), { ttlSeconds: 600 });
    await store.set(`atb:v1:token:t${i}`, String(i), { ttlSeconds: 600 });
    await store.set(`host-key-${i}`, String(i), { ttlSeconds: 600 });
  }
  assert.equal(await store.get("atb:v1:link:alice"), "refresh-token");
  // Within a namespace the bound still holds, least recently used first out.
  assert.equal(await store.get("atb:v1:link-state:s46"), null);
  assert.equal(await store.get("atb:v1:link-state:s47"), "47");
  assert.equal(await store.get("atb:v1:token:t46"), null);
  assert.equal(await store.get("host-key-49"), "49");
  // A key under an unknown namespace shares the partition of all other keys.
  await store.set("atb:v1:made-up:x", "x", { ttlSeconds: 600 });
  assert.equal(await store.get("host-key-47"), null);
  for (let i = 0; i < 4; i++) await store.set(`atb:v1:link:u${i}`, String(i), { ttlSeconds: 600 });
  assert.equal(await store.get("atb:v1:link:alice"), null, "only more links evict a link");
});
