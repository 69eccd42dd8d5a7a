import assert from "node:assert/strict";
import {
  applyCoordinatorOp,
  BrokerCoordinator,
  createDurableObjectStore,
  type DurableObjectNamespaceLike,
  type DurableObjectStorageLike,
  parseCoordinatorOp,
} from "../../src/cloudflare/durable_object_coordinator.ts";

function fakeStorage(): DurableObjectStorageLike & { data: Map<string, unknown>; alarm: number | null } {
  const data = new Map<string, unknown>();
  return {
    data,
    alarm: null,
    get: (key) => Promise.resolve(structuredClone(data.get(key))),
    put(key, value) {
      data.set(key, structuredClone(value));
      return Promise.resolve();
    },
    delete: (key) => Promise.resolve(data.delete(key)),
    deleteAll() {
      data.clear();
      return Promise.resolve();
    },
    setAlarm(time) {
      this.alarm = time;
      return Promise.resolve();
    },
  };
}

/** A namespace that, like the runtime, runs one request at a time per object. */
function fakeNamespace(): DurableObjectNamespaceLike & { objects: Map<string, BrokerCoordinator> } {
  const objects = new Map<string, BrokerCoordinator>();
  const queues = new Map<string, Promise<unknown>>();
  return {
    objects,
    idFromName: (name) => `id:${name}`,
    get(id) {
      const name = String(id);
      if (!objects.has(name)) objects.set(name, new BrokerCoordinator({ storage: fakeStorage() }));
      const object = objects.get(name) as BrokerCoordinator;
      return {
        fetch(request: Request): Promise<Response> {
          const run = (queues.get(name) ?? Promise.resolve()).then(() => object.fetch(request));
          queues.set(name, run.catch(() => {}));
          return run;
        },
      };
    },
  };
}

Deno.test("applyCoordinatorOp() stores, reads, expires and deletes one entry", async () => {
  const storage = fakeStorage();
  const t0 = 1_700_000_000_000;
  assert.deepEqual(
    await applyCoordinatorOp(storage, { op: "set", key: "k", value: "v", ttlSeconds: 60 }, t0),
    {
      ok: true,
    },
  );
  assert.equal(storage.alarm, t0 + 60_000);
  assert.deepEqual(await applyCoordinatorOp(storage, { op: "get", key: "k" }, t0 + 59_999), { value: "v" });
  assert.deepEqual(await applyCoordinatorOp(storage, { op: "get", key: "k" }, t0 + 60_000), { value: null });
  await applyCoordinatorOp(storage, { op: "set", key: "k", value: "w", ttlSeconds: 60 }, t0);
  assert.deepEqual(await applyCoordinatorOp(storage, { op: "delete", key: "k" }, t0), { ok: true });
  assert.deepEqual(await applyCoordinatorOp(storage, { op: "get", key: "k" }, t0), { value: null });
});

Deno.test("applyCoordinatorOp() never answers for another key stored in the same object", async () => {
  const storage = fakeStorage();
  await applyCoordinatorOp(storage, { op: "set", key: "a", value: "secret-a", ttlSeconds: 60 }, 0);
  assert.deepEqual(await applyCoordinatorOp(storage, { op: "get", key: "b" }, 1), { value: null });
  assert.deepEqual(await applyCoordinatorOp(storage, { op: "take", key: "b" }, 1), { value: null });
});

Deno.test("applyCoordinatorOp() compareAndSet writes only when the current value matches", async () => {
  const storage = fakeStorage();
  const cas = (expected: string | null, value: string, now = 0) =>
    applyCoordinatorOp(storage, { op: "cas", key: "k", expected, value, ttlSeconds: 60 }, now);
  assert.deepEqual(await cas("x", "1"), { ok: false });
  assert.deepEqual(await cas(null, "1"), { ok: true });
  assert.deepEqual(await cas(null, "2"), { ok: false });
  assert.deepEqual(await cas("1", "2"), { ok: true });
  // An expired entry counts as absent.
  assert.deepEqual(await cas(null, "3", 61_000), { ok: true });
});

Deno.test("parseCoordinatorOp() refuses malformed operations", () => {
  assert.equal(parseCoordinatorOp(null), null);
  assert.equal(parseCoordinatorOp({ op: "get" }), null);
  assert.equal(parseCoordinatorOp({ op: "drop", key: "k" }), null);
  assert.equal(parseCoordinatorOp({ op: "set", key: "k", value: 1, ttlSeconds: 60 }), null);
  assert.equal(parseCoordinatorOp({ op: "set", key: "k", value: "v", ttlSeconds: "60" }), null);
  assert.equal(parseCoordinatorOp({ op: "cas", key: "k", value: "v", ttlSeconds: 60 }), null);
  assert.deepEqual(parseCoordinatorOp({ op: "set", key: "k", value: "v", ttlSeconds: 0.2 }), {
    op: "set",
    key: "k",
    value: "v",
    ttlSeconds: 1,
  });
});

Deno.test("BrokerCoordinator answers only POST with a valid operation", async () => {
  const object = new BrokerCoordinator({ storage: fakeStorage() });
  assert.equal((await object.fetch(new Request("https://c/op"))).status, 405);
  const bad = await object.fetch(new Request("https://c/op", { method: "POST", body: "{not json" }));
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});

Deno.test("createDurableObjectStore() routes each key to its own object and implements AtomicKvStore", async () => {
  const namespace = fakeNamespace();
  const store = createDurableObjectStore(namespace, { namePrefix: "t:" });
  await store.set("atb:v1:link-state:a", "A", { ttlSeconds: 600 });
  await store.set("atb:v1:link-state:b", "B", { ttlSeconds: 600 });
  assert.deepEqual([...namespace.objects.keys()].sort(), [
    "id:t:atb:v1:link-state:a",
    "id:t:atb:v1:link-state:b",
  ]);
  assert.equal(await store.get("atb:v1:link-state:a"), "A");
  assert.equal(await store.compareAndSet("atb:v1:link-state:a", "B", "C", { ttlSeconds: 60 }), false);
  assert.equal(await store.compareAndSet("atb:v1:link-state:a", "A", "C", { ttlSeconds: 60 }), true);
  assert.equal(await store.get("atb:v1:link-state:a"), "C");
  await store.delete("atb:v1:link-state:b");
  assert.equal(await store.get("atb:v1:link-state:b"), null);
});

Deno.test("createDurableObjectStore() take() hands a value to exactly one of many concurrent callers", async () => {
  const store = createDurableObjectStore(fakeNamespace());
  await store.set("state", "once", { ttlSeconds: 600 });
  const results = await Promise.all(Array.from({ length: 20 }, () => store.take("state")));
  assert.deepEqual(results.filter((r) => r !== null), ["once"]);
  assert.equal(await store.get("state"), null);
});
