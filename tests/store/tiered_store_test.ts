import assert from "node:assert/strict";
import { createTieredStore } from "../../src/store/tiered_store.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import { createDenoKvStore } from "../../src/store/deno_kv_store.ts";
import { createCloudflareKvStore } from "../../src/store/cloudflare_kv_store.ts";
import { isAtomicKvStore, type KvStore } from "../../src/store/kv_store.ts";
import { isBrokerError } from "../../src/errors.ts";
import { registerKvContract } from "./kv_contract.ts";
import { openMemoryDenoKv } from "./_deno_kv.ts";
import { openMiniflareKv } from "./_miniflare_kv.ts";

registerKvContract("createTieredStore() of memory over Deno KV", async () => {
  const { kv, close } = await openMemoryDenoKv();
  let clock = Date.now();
  const now = () => clock;
  return {
    store: createTieredStore({
      memory: createMemoryStore({ now }),
      shared: createDenoKvStore(kv, { now }),
      memoryTtlSeconds: 30,
    }),
    advanceClockMs: (ms: number) => {
      clock += ms;
    },
    ttlSlackMs: 30_000,
    dispose: () => Promise.resolve(close()),
  };
}, { atomic: true });

registerKvContract("createTieredStore() of memory over Miniflare's local KV", async () => {
  const { ns, dispose } = await openMiniflareKv();
  return {
    store: createTieredStore({
      memory: createMemoryStore(),
      shared: createCloudflareKvStore(ns, { swallowWriteErrors: false }),
    }),
    dispose,
  };
}, { atomic: false });

/** A store that counts reads, around another one. */
function _counting(inner: KvStore): KvStore & { reads: number } {
  const counted = {
    reads: 0,
    get: (key: string) => {
      counted.reads++;
      return inner.get(key);
    },
    set: inner.set.bind(inner),
    delete: inner.delete.bind(inner),
  };
  return counted;
}

function _fixture(memoryTtlSeconds?: number) {
  let clock = 1_700_000_000_000;
  const now = () => clock;
  const memory = createMemoryStore({ now });
  const sharedInner = createMemoryStore({ now });
  const shared = _counting(sharedInner);
  const tiered = createTieredStore({ memory, shared, memoryTtlSeconds });
  return {
    memory,
    shared,
    sharedInner,
    tiered,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

Deno.test("createTieredStore() serves a memory hit without reading the shared store", async () => {
  const { tiered, shared } = _fixture();
  await tiered.set("k", "v", { ttlSeconds: 300 });
  assert.equal(await tiered.get("k"), "v");
  assert.equal(await tiered.get("k"), "v");
  assert.equal(shared.reads, 0);
});

Deno.test("createTieredStore() keeps a shared hit in memory for memoryTtlSeconds", async () => {
  const { tiered, memory, sharedInner, shared, advance } = _fixture(30);
  await sharedInner.set("k", "v", { ttlSeconds: 300 });
  assert.equal(await tiered.get("k"), "v");
  assert.equal(await memory.get("k"), "v");
  assert.equal(await tiered.get("k"), "v");
  assert.equal(shared.reads, 1);
  advance(30_000);
  assert.equal(await memory.get("k"), null);
  assert.equal(await tiered.get("k"), "v");
  assert.equal(shared.reads, 2);
});

Deno.test("createTieredStore() caps the memory TTL by the TTL it was asked for", async () => {
  const { tiered, memory, sharedInner, advance } = _fixture(30);
  await tiered.set("short", "s", { ttlSeconds: 10 });
  await tiered.set("long", "l", { ttlSeconds: 300 });
  advance(10_000);
  assert.equal(await memory.get("short"), null);
  assert.equal(await memory.get("long"), "l");
  advance(20_000);
  assert.equal(await memory.get("long"), null);
  assert.equal(await sharedInner.get("long"), "l");
});

Deno.test("createTieredStore() serves a read-through value at most memoryTtlSeconds past its shared TTL", async () => {
  const { tiered, sharedInner, advance } = _fixture(30);
  await sharedInner.set("k", "v", { ttlSeconds: 60 });
  advance(59_000);
  assert.equal(await tiered.get("k"), "v"); // read through: memory now holds it for 30 s
  advance(2_000);
  assert.equal(await sharedInner.get("k"), null);
  assert.equal(await tiered.get("k"), "v");
  advance(28_000);
  assert.equal(await tiered.get("k"), null);
});

Deno.test("createTieredStore() deletes from both tiers", async () => {
  const { tiered, memory, sharedInner } = _fixture();
  await tiered.set("k", "v", { ttlSeconds: 300 });
  assert.equal(await sharedInner.get("k"), "v");
  await tiered.delete("k");
  assert.equal(await memory.get("k"), null);
  assert.equal(await sharedInner.get("k"), null);
  assert.equal(await tiered.get("k"), null);
});

Deno.test("createTieredStore() is atomic only over an atomic shared store", () => {
  const memory = createMemoryStore();
  assert.equal(isAtomicKvStore(createTieredStore({ memory, shared: createMemoryStore() })), true);
  const plain: KvStore = {
    get: () => Promise.resolve(null),
    set: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  };
  assert.equal(isAtomicKvStore(createTieredStore({ memory, shared: plain })), false);
});

Deno.test("createTieredStore() runs take() and compareAndSet() on the shared store and drops the memory copy", async () => {
  const memory = createMemoryStore();
  const sharedInner = createMemoryStore();
  const store = createTieredStore({ memory, shared: sharedInner });
  await store.set("k", "v1", { ttlSeconds: 300 });
  // Another isolate changes the shared value; this isolate's memory still holds v1.
  await sharedInner.set("k", "v2", { ttlSeconds: 300 });
  assert.equal(await store.compareAndSet("k", "v1", "v3", { ttlSeconds: 300 }), false);
  assert.equal(await memory.get("k"), null);
  assert.equal(await store.compareAndSet("k", "v2", "v3", { ttlSeconds: 300 }), true);
  assert.equal(await store.get("k"), "v3");
  assert.equal(await store.take("k"), "v3");
  assert.equal(await memory.get("k"), null);
  assert.equal(await store.get("k"), null);
});

Deno.test("createTieredStore() over Cloudflare KV keeps serving from memory when KV writes fail", async () => {
  const failing = {
    get: () => Promise.resolve(null),
    put: () => Promise.reject(new Error("KV PUT failed: 429 Too Many Requests")),
    delete: () => Promise.resolve(),
  };
  let warnings = 0;
  const store = createTieredStore({
    memory: createMemoryStore(),
    shared: createCloudflareKvStore(failing, { log: () => warnings++ }),
  });
  await store.set("k", "v", { ttlSeconds: 300 });
  assert.equal(await store.get("k"), "v");
  assert.equal(warnings, 1);
});

Deno.test("createTieredStore() refuses a memoryTtlSeconds that is not a positive number", () => {
  for (const memoryTtlSeconds of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () => createTieredStore({ memory: createMemoryStore(), shared: createMemoryStore(), memoryTtlSeconds }),
      (e) => isBrokerError(e, "ERR_CONFIG_INVALID"),
    );
  }
});
