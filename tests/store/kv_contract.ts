/**
 * The one contract suite every `KvStore` adapter passes. A test file calls {@link registerKvContract} with a
 * setup function; the suite runs as one `Deno.test` with a step per property, so an adapter that is slow to start
 * (Miniflare) starts once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type AtomicKvStore, isAtomicKvStore, type KvStore } from "../../src/store/kv_store.ts";
import { getJson, getJsonEntry, putJson } from "../../src/store/json_value.ts";
import { createSealer, parseKeyring } from "../../src/store/sealer.ts";

/** What a setup function hands the contract suite. */
export interface KvContractFixture {
  /** The store under test. */
  store: KvStore;
  /**
   * Moves the store's injected clock forward; given only for stores whose expiry follows an injected clock.
   * The suite then checks TTL expiry directly.
   */
  advanceClockMs?: (ms: number) => void;
  /**
   * How long past its TTL the store may still return a value, in milliseconds (the tiered store: a value read
   * through from the shared tier stays in memory for `memoryTtlSeconds`). @default 0
   */
  ttlSlackMs?: number;
  /** Releases everything the setup opened. */
  dispose(): Promise<void>;
}

/** Options for {@link registerKvContract}. */
export interface KvContractOptions {
  /** The store must be atomic (`take`, `compareAndSet`); the atomic contract runs too. */
  atomic: boolean;
}

const CONCURRENT_TAKERS = 20;
const TEST_KEYRING = parseKeyring(
  `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(7)))}`,
);

/** Registers the KvStore contract (and, for atomic stores, the atomic contract) for one adapter. */
export function registerKvContract(
  name: string,
  setup: () => Promise<KvContractFixture>,
  options: KvContractOptions,
): void {
  Deno.test(`${name} satisfies the KvStore contract`, async (t) => {
    const fixture = await setup();
    const { store } = fixture;
    let n = 0;
    // Fresh keys per step, in the broker's key scheme.
    const key = (label: string): string => `atb:v1:contract:${label}-${++n}-${crypto.randomUUID()}`;
    try {
      await t.step("get() returns null for a key that was never set", async () => {
        assert.equal(await store.get(key("missing")), null);
      });

      await t.step("set() then get() returns the value", async () => {
        const k = key("roundtrip");
        await store.set(k, "hello", { ttlSeconds: 300 });
        assert.equal(await store.get(k), "hello");
      });

      await t.step("set() overwrites an existing value", async () => {
        const k = key("overwrite");
        await store.set(k, "first", { ttlSeconds: 300 });
        await store.set(k, "second", { ttlSeconds: 300 });
        assert.equal(await store.get(k), "second");
      });

      await t.step("delete() removes the value and leaves other keys alone", async () => {
        const a = key("delete-a");
        const b = key("delete-b");
        await store.set(a, "a", { ttlSeconds: 300 });
        await store.set(b, "b", { ttlSeconds: 300 });
        await store.delete(a);
        assert.equal(await store.get(a), null);
        assert.equal(await store.get(b), "b");
      });

      await t.step("delete() of a missing key resolves", async () => {
        await store.delete(key("delete-missing"));
        assert.equal(await store.get(key("still-missing")), null);
      });

      await t.step("values round-trip exactly: unicode, quotes, separators and 16 KiB", async () => {
        const values = [
          "ünïcødé ✓ 𝄞 \u0000 nul",
          '{"a":"b\\"c"} , : .',
          "x".repeat(16 * 1024),
        ];
        for (const value of values) {
          const k = key("values");
          await store.set(k, value, { ttlSeconds: 300 });
          assert.equal(await store.get(k), value);
        }
      });

      await t.step("keys that share a prefix are distinct", async () => {
        const base = key("prefix");
        await store.set(base, "short", { ttlSeconds: 300 });
        await store.set(`${base}:more`, "long", { ttlSeconds: 300 });
        assert.equal(await store.get(base), "short");
        assert.equal(await store.get(`${base}:more`), "long");
      });

      await t.step("set() accepts a TTL below the backend's minimum and a fractional one", async () => {
        const k = key("short-ttl");
        await store.set(k, "v", { ttlSeconds: 0.2 });
        await store.set(k, "w", { ttlSeconds: 1 });
        assert.equal(await store.get(k), "w");
      });

      await t.step("set() rejects a TTL that is not a finite number", async () => {
        await assert.rejects(store.set(key("nan"), "v", { ttlSeconds: Number.NaN }), RangeError);
      });

      if (fixture.advanceClockMs !== undefined) {
        const advance = fixture.advanceClockMs;
        const slackMs = fixture.ttlSlackMs ?? 0;
        await t.step("a value expires after its TTL on the injected clock", async () => {
          const k = key("ttl");
          await store.set(k, "v", { ttlSeconds: 60 });
          advance(59_000);
          assert.equal(await store.get(k), "v");
          advance(1_001 + slackMs);
          assert.equal(await store.get(k), null);
        });
      }

      // Expiry inside the value: what real backends rely on, since their own expiry is best effort.
      await t.step("getJson() returns the value before its expiry and null after", async () => {
        const k = key("json");
        const t0 = Date.now();
        await putJson(store, k, { token: "abc", n: 1 }, { expiresAt: t0 + 120_000, now: () => t0 });
        assert.deepEqual(await getJson(store, k, { now: () => t0 + 119_999 }), { token: "abc", n: 1 });
        assert.deepEqual(await getJsonEntry(store, k, { now: () => t0 }), {
          value: { token: "abc", n: 1 },
          expiresAt: t0 + 120_000,
        });
        assert.equal(await getJson(store, k, { now: () => t0 + 120_000 }), null);
      });

      await t.step("getJson() treats garbage, truncated and schema-failing values as a miss", async () => {
        const t0 = Date.now();
        const now = () => t0;
        const garbage = ["not json", '{"exp":', "[]", "null", '{"val":1}', '{"exp":"soon","val":1}'];
        for (const raw of garbage) {
          const k = key("garbage");
          await store.set(k, raw, { ttlSeconds: 300 });
          assert.equal(await getJson(store, k, { now }), null, raw);
        }
        const k = key("schema");
        await putJson(store, k, { n: "not a number" }, { expiresAt: t0 + 60_000, now });
        const schema = {
          safeParse: (data: unknown) =>
            typeof data === "object" && data !== null && typeof (data as { n?: unknown }).n === "number"
              ? { success: true as const, data: data as { n: number } }
              : { success: false as const },
        };
        assert.equal(await getJson(store, k, { now, schema }), null);
      });

      await t.step(
        "sealed JSON round-trips, hides the plaintext and does not open under another key",
        async () => {
          const sealer = createSealer(TEST_KEYRING);
          const t0 = Date.now();
          const now = () => t0;
          const k = key("sealed");
          const secret = "arcgis-token-SECRET-1234567890";
          await putJson(store, k, { token: secret }, { expiresAt: t0 + 60_000, now, sealer });
          const raw = await store.get(k);
          assert.ok(raw !== null && !raw.includes(secret) && !raw.includes("token"));
          assert.deepEqual(await getJson(store, k, { now, sealer }), { token: secret });
          const moved = key("moved");
          await store.set(moved, raw, { ttlSeconds: 300 });
          assert.equal(await getJson(store, moved, { now, sealer }), null);
        },
      );

      if (options.atomic) {
        assert.ok(isAtomicKvStore(store), `${name} must offer take() and compareAndSet()`);
        await _atomicSteps(t, store, key, fixture.advanceClockMs);
      } else {
        await t.step("the store is not atomic", () => {
          assert.equal(isAtomicKvStore(store), false);
        });
      }
    } finally {
      await fixture.dispose();
    }
  });
}

async function _atomicSteps(
  t: Deno.TestContext,
  store: AtomicKvStore,
  key: (label: string) => string,
  advanceClockMs: ((ms: number) => void) | undefined,
): Promise<void> {
  await t.step("take() returns the value once and removes it", async () => {
    const k = key("take");
    await store.set(k, "once", { ttlSeconds: 300 });
    assert.equal(await store.take(k), "once");
    assert.equal(await store.take(k), null);
    assert.equal(await store.get(k), null);
  });

  await t.step("take() of a missing key returns null", async () => {
    assert.equal(await store.take(key("take-missing")), null);
  });

  await t.step(
    `take() hands the value to exactly one of ${CONCURRENT_TAKERS} concurrent takers`,
    async () => {
      const k = key("take-race");
      await store.set(k, "prize", { ttlSeconds: 300 });
      const results = await Promise.all(Array.from({ length: CONCURRENT_TAKERS }, () => store.take(k)));
      assert.deepEqual(results.filter((r) => r !== null), ["prize"]);
      assert.equal(await store.get(k), null);
    },
  );

  await t.step("compareAndSet() with expected null writes only when the key is absent", async () => {
    const k = key("cas-absent");
    assert.equal(await store.compareAndSet(k, null, "first", { ttlSeconds: 300 }), true);
    assert.equal(await store.compareAndSet(k, null, "second", { ttlSeconds: 300 }), false);
    assert.equal(await store.get(k), "first");
  });

  await t.step("compareAndSet() writes only when the current value equals the expected one", async () => {
    const k = key("cas-value");
    await store.set(k, "v1", { ttlSeconds: 300 });
    assert.equal(await store.compareAndSet(k, "other", "v2", { ttlSeconds: 300 }), false);
    assert.equal(await store.get(k), "v1");
    assert.equal(await store.compareAndSet(k, "v1", "v2", { ttlSeconds: 300 }), true);
    assert.equal(await store.get(k), "v2");
  });

  await t.step(
    `compareAndSet() lets exactly one of ${CONCURRENT_TAKERS} concurrent writers win`,
    async () => {
      const k = key("cas-race");
      await store.set(k, "start", { ttlSeconds: 300 });
      const results = await Promise.all(
        Array.from(
          { length: CONCURRENT_TAKERS },
          (_, i) => store.compareAndSet(k, "start", `w${i}`, { ttlSeconds: 300 }),
        ),
      );
      const winners = results.flatMap((won, i) => (won ? [`w${i}`] : []));
      assert.equal(winners.length, 1);
      assert.equal(await store.get(k), winners[0]);
    },
  );

  if (advanceClockMs !== undefined) {
    await t.step("take() and compareAndSet() treat an expired value as absent", async () => {
      const a = key("take-expired");
      const b = key("cas-expired");
      await store.set(a, "old", { ttlSeconds: 60 });
      await store.set(b, "old", { ttlSeconds: 60 });
      advanceClockMs(61_000);
      assert.equal(await store.take(a), null);
      assert.equal(await store.compareAndSet(b, "old", "new", { ttlSeconds: 60 }), false);
      assert.equal(await store.compareAndSet(b, null, "new", { ttlSeconds: 60 }), true);
      assert.equal(await store.get(b), "new");
    });
  }
}
