import assert from "node:assert/strict";
import {
  type CloudflareKvNamespaceLike,
  createCloudflareKvStore,
} from "../../src/store/cloudflare_kv_store.ts";
import type { LogEntry } from "../../src/deps.ts";
import { registerKvContract } from "./kv_contract.ts";
import { openMiniflareKv } from "./_miniflare_kv.ts";

registerKvContract("createCloudflareKvStore() over Miniflare's local KV", async () => {
  const { ns, dispose } = await openMiniflareKv();
  return { store: createCloudflareKvStore(ns, { swallowWriteErrors: false }), dispose };
}, { atomic: false });

/** Wraps a namespace to record `put` options and to fail writes on demand. */
function _instrumented(ns: CloudflareKvNamespaceLike): {
  ns: CloudflareKvNamespaceLike;
  puts: { key: string; expirationTtl: number | undefined }[];
  failWrites: (on: boolean) => void;
} {
  const puts: { key: string; expirationTtl: number | undefined }[] = [];
  let fail = false;
  return {
    puts,
    failWrites: (on) => {
      fail = on;
    },
    ns: {
      get: (key, type) => ns.get(key, type),
      put: (key, value, options) => {
        puts.push({ key, expirationTtl: options?.expirationTtl });
        if (fail) return Promise.reject(new Error("KV PUT failed: 429 Too Many Requests"));
        return ns.put(key, value, options);
      },
      delete: (
        key,
      ) => (fail ? Promise.reject(new Error("KV DELETE failed: 429 Too Many Requests")) : ns.delete(key)),
    },
  };
}

Deno.test("createCloudflareKvStore() against Miniflare: TTL clamping and write failures", async (t) => {
  const { ns: real, dispose } = await openMiniflareKv();
  try {
    await t.step("raises TTLs below 60 s to 60 and rounds fractional TTLs up", async () => {
      const { ns, puts } = _instrumented(real);
      const store = createCloudflareKvStore(ns);
      await store.set("atb:v1:t:a", "a", { ttlSeconds: 1 });
      await store.set("atb:v1:t:b", "b", { ttlSeconds: 120.2 });
      assert.deepEqual(puts.map((p) => p.expirationTtl), [60, 121]);
      assert.equal(await store.get("atb:v1:t:a"), "a");
    });

    await t.step(
      "a failed write resolves by default, logs without the value, and keeps the old value",
      async () => {
        const { ns, failWrites } = _instrumented(real);
        const logs: LogEntry[] = [];
        const store = createCloudflareKvStore(ns, { log: (entry) => logs.push(entry) });
        await store.set("atb:v1:t:c", "old", { ttlSeconds: 60 });
        failWrites(true);
        await store.set("atb:v1:t:c", "SECRET-VALUE", { ttlSeconds: 60 });
        await store.delete("atb:v1:t:c");
        failWrites(false);
        assert.equal(await store.get("atb:v1:t:c"), "old");
        assert.equal(logs.length, 2);
        assert.deepEqual(logs.map((l) => [l.level, l.key]), [["warn", "atb:v1:t:c"], ["warn", "atb:v1:t:c"]]);
        assert.ok(logs.every((l) => !JSON.stringify(l).includes("SECRET-VALUE")));
        assert.match(String(logs[0].error), /429/);
      },
    );

    await t.step("a failed write rejects when swallowWriteErrors is false", async () => {
      const { ns, failWrites } = _instrumented(real);
      const store = createCloudflareKvStore(ns, { swallowWriteErrors: false });
      failWrites(true);
      await assert.rejects(store.set("atb:v1:t:d", "v", { ttlSeconds: 60 }), /429/);
      await assert.rejects(store.delete("atb:v1:t:d"), /429/);
    });

    await t.step("the real KV refuses a TTL below 60 s, which is why the adapter clamps", async () => {
      await assert.rejects(real.put("atb:v1:t:e", "v", { expirationTtl: 10 }));
    });
  } finally {
    await dispose();
  }
});
