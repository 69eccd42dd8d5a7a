/**
 * Unit tests of the token cache with a stub sealer whose operations resolve as microtasks, so that the
 * interleaving of concurrent calls is deterministic.
 */
import assert from "node:assert/strict";
import { BrokerError, isBrokerError } from "../../src/errors.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import type { Sealer } from "../../src/store/sealer.ts";
import { type CachedToken, createTokenCache, type Flights } from "../../src/arcgis/token_cache.ts";
import { upstreamError } from "../../src/arcgis/_errors.ts";

const stubSealer: Sealer = {
  currentKid: "stub",
  seal: (plaintext, aad) => Promise.resolve(`sealed:${aad}:${plaintext}`),
  open: (sealed, aad) =>
    Promise.resolve(sealed.startsWith(`sealed:${aad}:`) ? sealed.slice(`sealed:${aad}:`.length) : null),
  needsReseal: () => false,
  deriveCacheKey: (namespace, fields) => Promise.resolve(`atb:v1:${namespace}:${fields.join("|")}`),
};

function setup() {
  let nowMs = 1_000_000;
  const background: Promise<unknown>[] = [];
  const cache = createTokenCache({
    store: createMemoryStore({ now: () => nowMs }),
    sealer: stubSealer,
    now: () => nowMs,
    safetyMarginSeconds: 120,
    negativeCacheSeconds: 15,
    log: () => {},
    waitUntil: (p) => background.push(p),
  });
  return {
    cache,
    background,
    now: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < 200; i++) await Promise.resolve();
}

function token(name: string, expires: number, extra: Partial<CachedToken> = {}): CachedToken {
  return { token: name, expires, ssl: false, userId: "u", ...extra };
}

Deno.test("callers sharing a flight map share one fetch; separate maps (shareInFlight false) do not", async () => {
  const t = setup();
  const gate = deferred<void>();
  let calls = 0;
  const fetcher = async () => {
    const n = ++calls;
    await gate.promise;
    return token(`t${n}`, t.now() + 3_600_000);
  };
  const shared: Flights = new Map();
  const a = t.cache.obtain("k1", fetcher, { flights: shared });
  const b = t.cache.obtain("k1", fetcher, { flights: shared });
  const c = t.cache.obtain("k2", fetcher, { flights: new Map() });
  const d = t.cache.obtain("k2", fetcher, { flights: new Map() });
  await drainMicrotasks();
  const seen = calls;
  gate.resolve();
  const results = await Promise.all([a, b, c, d]);
  assert.equal(seen, 3, "one fetch for the shared map, one per separate map");
  assert.equal(results[0].token, results[1].token);
  assert.notEqual(results[2].token, results[3].token);
});

Deno.test("a memo returns a token already obtained in the same call without the store", async () => {
  const t = setup();
  let calls = 0;
  const memo = new Map<string, CachedToken>();
  const fetcher = () => Promise.resolve(token(`t${++calls}`, t.now() + 3_600_000));
  await t.cache.obtain("k", fetcher, { flights: new Map(), memo });
  await t.cache.purge("k");
  const again = await t.cache.obtain("k", fetcher, { flights: new Map(), memo });
  assert.equal(again.token, "t1");
  const replaced = await t.cache.obtain("k", fetcher, { flights: new Map(), memo, rejectedToken: "t1" });
  assert.equal(replaced.token, "t2");
  assert.equal(memo.get("k")?.token, "t2");
});

Deno.test("a capped token is not refreshed ahead and satisfies a higher minimum", async () => {
  const t = setup();
  let calls = 0;
  const fetcher = () => Promise.resolve(token(`t${++calls}`, t.now() + 200_000, { capped: true }));
  await t.cache.obtain("k", fetcher, { flights: new Map() });
  const again = await t.cache.obtain("k", fetcher, { flights: new Map(), minRemainingMs: 240_000 });
  assert.equal(again.token, "t1");
  assert.equal(t.background.length, 0);
  t.advance(80_001);
  const next = await t.cache.obtain("k", fetcher, { flights: new Map() });
  assert.equal(next.token, "t2", "below the safety margin even a capped token is replaced");
});

Deno.test("only upstream failures are remembered; other errors pass through uncached", async () => {
  const t = setup();
  let calls = 0;
  await assert.rejects(
    t.cache.obtain("k", () => {
      calls++;
      return Promise.reject(new BrokerError("ERR_LINK_REQUIRED", "link"));
    }, { flights: new Map() }),
    (e) => isBrokerError(e, "ERR_LINK_REQUIRED"),
  );
  await assert.rejects(
    t.cache.obtain("k", () => {
      calls++;
      return Promise.reject(upstreamError("ERR_UPSTREAM_TIMEOUT", "slow"));
    }, { flights: new Map() }),
    (e) => isBrokerError(e, "ERR_UPSTREAM_TIMEOUT") && e.retryAfterSeconds === 15,
  );
  await assert.rejects(
    t.cache.obtain("k", () => {
      calls++;
      return Promise.resolve(token("never", t.now() + 3_600_000));
    }, { flights: new Map() }),
    (e) => isBrokerError(e, "ERR_ARCGIS_UNAVAILABLE"),
  );
  assert.equal(calls, 2);
  await t.cache.purge("k");
  const ok = await t.cache.obtain("k", () => Promise.resolve(token("fresh", t.now() + 3_600_000)), {
    flights: new Map(),
  });
  assert.equal(ok.token, "fresh", "purge() also forgets the failure");
});
