/**
 * The Workers entry's `fetch` called directly (in Deno): it fails closed without its config or KV binding, and
 * serves the broker once both are there. The full flow under workerd is `workers_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import worker from "../../examples/workers/worker.ts";
import { e2eConfig, SEALING_ENV, sealingKeyring, startUpstreams } from "./_harness.ts";

function memoryKv(): {
  get(k: string): Promise<string | null>;
  put(k: string, v: string): Promise<void>;
  delete(k: string): Promise<void>;
} {
  const data = new Map<string, string>();
  return {
    get: (key) => Promise.resolve(data.get(key) ?? null),
    put: (key, value) => Promise.resolve(void data.set(key, value)),
    delete: (key) => Promise.resolve(void data.delete(key)),
  };
}

const ctx = { waitUntil: (promise: Promise<unknown>) => void promise.catch(() => {}) };

Deno.test("the Workers entry answers 503 without BROKER_CONFIG, naming nothing secret", async () => {
  const secret = sealingKeyring();
  const response = await worker.fetch(new Request("https://broker.example/arcgis/health"), {
    [SEALING_ENV]: secret,
  }, ctx);
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("cache-control"), "no-store");
  const body = await response.text();
  assert.equal(JSON.parse(body).error, "temporarily_unavailable");
  assert.ok(!body.includes(secret));
});

Deno.test("the Workers entry answers 503 without the BROKER_KV binding, then serves once it is bound", async () => {
  const up = await startUpstreams({ callbackUrl: "https://broker.example/arcgis/link/callback" });
  try {
    const env = {
      BROKER_CONFIG: JSON.stringify(e2eConfig(up, "https://broker.example")),
      [SEALING_ENV]: sealingKeyring(),
    };
    const unbound = await worker.fetch(new Request("https://broker.example/arcgis/health"), env, ctx);
    await unbound.body?.cancel();
    assert.equal(unbound.status, 503);
    const bound = await worker.fetch(new Request("https://broker.example/arcgis/health"), {
      ...env,
      BROKER_KV: memoryKv(),
    }, ctx);
    assert.equal(bound.status, 200);
    assert.deepEqual(await bound.json(), { ok: true });
    const elsewhere = await worker.fetch(new Request("https://broker.example/other"), {
      ...env,
      BROKER_KV: memoryKv(),
    }, ctx);
    await elsewhere.body?.cancel();
    assert.equal(elsewhere.status, 404);
  } finally {
    await up.close();
  }
});
