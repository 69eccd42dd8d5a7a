import assert from "node:assert/strict";
import { createDenoKvStore, denoKvKeyFor } from "../../src/store/deno_kv_store.ts";
import { registerKvContract } from "./kv_contract.ts";
import { openMemoryDenoKv } from "./_deno_kv.ts";

registerKvContract('createDenoKvStore() over Deno.openKv(":memory:")', async () => {
  const { kv, close } = await openMemoryDenoKv();
  // Deno KV's own expireIn is real time and lazy; the expiry stored in each value follows this clock.
  let clock = Date.now();
  return {
    store: createDenoKvStore(kv, { now: () => clock }),
    advanceClockMs: (ms: number) => {
      clock += ms;
    },
    dispose: () => Promise.resolve(close()),
  };
}, { atomic: true });

Deno.test("denoKvKeyFor() splits broker keys by namespace and keeps other keys whole", () => {
  assert.deepEqual(denoKvKeyFor("atb:v1:token:abc:def"), ["atb", "v1", "token", "abc:def"]);
  assert.deepEqual(denoKvKeyFor("other"), ["atb", "other"]);
  assert.deepEqual(denoKvKeyFor("atb:v1:plain"), ["atb", "atb:v1:plain"]);
});

Deno.test("createDenoKvStore() writes under the split key with expireIn and the expiry inside", async () => {
  const { kv, close } = await openMemoryDenoKv();
  try {
    const clock = 1_700_000_000_000;
    const store = createDenoKvStore(kv, { now: () => clock });
    await store.set("atb:v1:jwks:xyz", "v", { ttlSeconds: 90 });
    const entry = await kv.get(["atb", "v1", "jwks", "xyz"]);
    assert.deepEqual(entry.value, { v: "v", x: clock + 90_000 });
  } finally {
    close();
  }
});

Deno.test("createDenoKvStore() treats a value of another shape as a miss", async () => {
  const { kv, close } = await openMemoryDenoKv();
  try {
    const store = createDenoKvStore(kv);
    await kv.set(denoKvKeyFor("atb:v1:x:1"), "a bare string");
    await kv.set(denoKvKeyFor("atb:v1:x:2"), { v: 1, x: Date.now() + 60_000 });
    assert.equal(await store.get("atb:v1:x:1"), null);
    assert.equal(await store.get("atb:v1:x:2"), null);
    // A foreign value still counts as present for take(): it is removed, and reported as a miss.
    assert.equal(await store.take("atb:v1:x:1"), null);
    assert.equal((await kv.get(denoKvKeyFor("atb:v1:x:1"))).versionstamp, null);
  } finally {
    close();
  }
});
