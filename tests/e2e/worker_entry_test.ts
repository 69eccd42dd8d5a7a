/**
 * The Workers entry's `fetch` called directly (in Deno): it fails closed without its config or KV binding, and
 * serves the broker once both are there. The full flow under workerd is `workers_test.ts`.
 *
 * @module
 */
import assert from "node:assert/strict";
import worker from "../../examples/workers/worker.ts";
import { e2eConfig, SEALING_ENV, sealingKeyring, startUpstreams } from "./_harness.ts";
import { STACK_LINE, startupCases, workingConfig } from "./_startup_cases.ts";

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

/** Calls the entry as the Workers runtime would, with what it writes to the console. */
async function fetchLogged(
  env: Record<string, unknown>,
): Promise<{ response: Response; body: string; lines: string[] }> {
  const lines: string[] = [];
  const original = { error: console.error, log: console.log, warn: console.warn };
  console.error = console.log = console.warn = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    const response = await worker.fetch(new Request("https://broker.example/arcgis/health"), env, ctx);
    return { response, body: await response.text(), lines };
  } finally {
    Object.assign(console, original);
  }
}

for (const broken of startupCases()) {
  Deno.test(`the Workers entry refuses ${broken.name}: a 503 for clients, the field and its fix in the log`, async () => {
    const { response, body, lines } = await fetchLogged({ ...broken.env, BROKER_KV: memoryKv() });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "60");
    assert.deepEqual(JSON.parse(body), {
      error: "temporarily_unavailable",
      error_description: "The broker is not configured",
    });
    assert.equal(lines.length, 1, lines.join("\n"));
    const entry = JSON.parse(lines[0]);
    assert.equal(entry.level, "error");
    assert.match(entry.msg, /^Refusing to serve: Invalid broker config: /);
    for (const pattern of broken.expect) {
      assert.match(
        entry.issues.map((i: { path: string; message: string; fix?: string }) =>
          `${i.path}: ${i.message}${i.fix === undefined ? "" : `\nfix: ${i.fix}`}`
        ).join("\n"),
        pattern,
      );
    }
    assert.doesNotMatch(lines[0], STACK_LINE);
    assert.doesNotMatch(lines[0], /\\n\s+at /);
    if (broken.secret !== undefined) assert.ok(!lines[0].includes(broken.secret), "a secret was logged");
  });
}

Deno.test("the Workers entry without its KV binding names the binding and the config's own problems", async () => {
  const { response, lines } = await fetchLogged({
    BROKER_CONFIG: JSON.stringify({ ...workingConfig(), link: {} }),
    [SEALING_ENV]: sealingKeyring(),
  });
  assert.equal(response.status, 503);
  const entry = JSON.parse(lines[0]);
  assert.deepEqual(entry.issues.map((i: { path: string }) => i.path), ["link.returnUrls", "BROKER_KV"]);
  assert.match(entry.issues[1].fix, /\[\[kv_namespaces\]\] binding = "BROKER_KV"/);
});
