/**
 * The isolate-memory memos of the warm path: opened tokens in the token cache (by cache key and the exact sealed
 * text) and derived cache keys in the token service. They only save work: every answer must stay the one the
 * store and the HMAC would give, purges and the safety margin apply as before, and both are bounded.
 */
import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import { createSealer, parseKeyring, type Sealer } from "../../src/store/sealer.ts";
import type { AtomicKvStore } from "../../src/store/kv_store.ts";
import { type CachedToken, createTokenCache } from "../../src/arcgis/token_cache.ts";
import { createHarness, grants, identity, PORTAL, SECRETS, SERVER } from "./_harness.ts";

const MARGIN_MS = 120_000;

/** A sealer that counts opens and derivations (stub sealing: `sealed:<aad>:<plaintext>`). */
function countingSealer() {
  const counts = { open: 0, derive: 0 };
  const sealer: Sealer = {
    currentKid: "stub",
    seal: (plaintext, aad) => Promise.resolve(`sealed:${aad}:${plaintext}`),
    open: (sealed, aad) => {
      counts.open++;
      return Promise.resolve(
        sealed.startsWith(`sealed:${aad}:`) ? sealed.slice(`sealed:${aad}:`.length) : null,
      );
    },
    needsReseal: () => false,
    deriveCacheKey: (namespace, fields) => {
      counts.derive++;
      return Promise.resolve(`atb:v1:${namespace}:${fields.map((f) => `${f.length}.${f}`).join("|")}`);
    },
  };
  return { sealer, counts };
}

function setup(options: { openedMaxEntries?: number } = {}) {
  let nowMs = 1_000_000;
  const { sealer, counts } = countingSealer();
  const store: AtomicKvStore = createMemoryStore({ now: () => nowMs });
  const cache = createTokenCache({
    store,
    sealer,
    now: () => nowMs,
    safetyMarginSeconds: MARGIN_MS / 1000,
    negativeCacheSeconds: 15,
    log: () => {},
    waitUntil: () => {},
    ...options,
  });
  let fetches = 0;
  const fetcher = (name = "t") => () => Promise.resolve(token(`${name}${++fetches}`, nowMs + 3_600_000));
  return {
    cache,
    store,
    counts,
    fetcher,
    fetches: () => fetches,
    now: () => nowMs,
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

function token(name: string, expires: number): CachedToken {
  return { token: name, expires, ssl: false, userId: "u" };
}

Deno.test("a warm read opens the stored value once; later reads of the same sealed text skip the open", async () => {
  const t = setup();
  const first = await t.cache.obtain("k", t.fetcher(), { flights: new Map() });
  for (let i = 0; i < 5; i++) {
    assert.equal((await t.cache.obtain("k", t.fetcher(), { flights: new Map() })).token, first.token);
    assert.equal((await t.cache.peek("k"))?.token, first.token);
  }
  assert.equal(t.fetches(), 1);
  assert.equal(t.counts.open, 1, "one open for ten reads of one stored value");
});

Deno.test("the store stays the source of truth: another value, a tampered one or none is seen at once", async () => {
  const t = setup();
  const first = await t.cache.obtain("k", t.fetcher(), { flights: new Map() });
  await t.cache.obtain("k", t.fetcher(), { flights: new Map() });
  // Another isolate writes a newer token under the same key.
  await t.store.set(
    "k",
    `sealed:k:${JSON.stringify({ exp: t.now() + 3_600_000, val: token("other", t.now() + 3_600_000) })}`,
    {
      ttlSeconds: 3600,
    },
  );
  assert.equal((await t.cache.obtain("k", t.fetcher(), { flights: new Map() })).token, "other");
  // A value that does not open (tampered, or moved from another key) is a miss, never the remembered token.
  await t.store.set("k", (await t.store.get("k"))!.replace("sealed:k:", "sealed:j:"), { ttlSeconds: 3600 });
  const afterTamper = await t.cache.obtain("k", t.fetcher(), { flights: new Map() });
  assert.notEqual(afterTamper.token, "other");
  assert.notEqual(afterTamper.token, first.token);
  // Deleted elsewhere: a miss, then a fetch.
  await t.store.delete("k");
  assert.equal(await t.cache.peek("k"), null);
  const afterDelete = await t.cache.obtain("k", t.fetcher(), { flights: new Map() });
  assert.notEqual(afterDelete.token, afterTamper.token);
  assert.equal(t.fetches(), 3);
});

Deno.test("a 498 purge, forceRefresh and purge() drop the remembered token, not only the stored one", async () => {
  for (const how of ["rejectedToken", "forceRefresh", "purge"] as const) {
    const t = setup();
    const first = await t.cache.obtain("k", t.fetcher(), { flights: new Map() });
    const sealed = (await t.store.get("k"))!;
    await t.cache.peek("k");
    const opens = t.counts.open;
    if (how === "purge") await t.cache.purge("k");
    else {
      const options = how === "rejectedToken" ? { rejectedToken: first.token } : { forceRefresh: true };
      const fresh = await t.cache.obtain("k", t.fetcher(), { flights: new Map(), ...options });
      assert.notEqual(fresh.token, first.token, how);
    }
    // Put the very sealed text back: were the old token still remembered, it would be served without an open.
    await t.store.set("k", sealed, { ttlSeconds: 3600 });
    assert.equal((await t.cache.peek("k"))?.token, first.token, how);
    assert.ok(t.counts.open > opens, `${how}: the value had to be opened again`);
  }
});

Deno.test("the safety margin and the stored expiry are applied again on every remembered hit", async () => {
  const t = setup();
  const first = await t.cache.obtain("k", t.fetcher(), { flights: new Map() });
  t.advance(first.expires - t.now() - MARGIN_MS - 1);
  assert.equal((await t.cache.obtain("k", t.fetcher(), { flights: new Map() })).token, first.token);
  assert.equal((await t.cache.peek("k"))?.token, first.token);
  t.advance(1);
  assert.equal(await t.cache.peek("k"), null, "no more than the margin left: not usable");
  const next = await t.cache.obtain("k", t.fetcher(), { flights: new Map() });
  assert.notEqual(next.token, first.token);
  assert.equal(t.fetches(), 2);

  // A token written with an expiry already within the margin is never served from memory.
  const s = setup();
  await s.cache.put("short", token("short", s.now() + MARGIN_MS + 10));
  assert.equal((await s.cache.peek("short"))?.token, "short");
  s.advance(10);
  assert.equal(await s.cache.peek("short"), null);
});

Deno.test("two keys (two identities) never share a remembered token", async () => {
  const t = setup();
  const alice = await t.cache.obtain("alice", t.fetcher("a"), { flights: new Map() });
  const bob = await t.cache.obtain("bob", t.fetcher("b"), { flights: new Map() });
  for (let i = 0; i < 3; i++) {
    assert.equal((await t.cache.obtain("alice", t.fetcher("x"), { flights: new Map() })).token, alice.token);
    assert.equal((await t.cache.obtain("bob", t.fetcher("x"), { flights: new Map() })).token, bob.token);
  }
  // Bob's sealed value copied under Alice's key does not open there (other additional data): a miss.
  await t.store.set("alice", (await t.store.get("bob"))!, { ttlSeconds: 3600 });
  const again = await t.cache.obtain("alice", t.fetcher("a"), { flights: new Map() });
  assert.notEqual(again.token, bob.token);
  assert.equal(t.fetches(), 3);
});

Deno.test("the opened-token memo is bounded: the least recently used entry is opened again", async () => {
  const t = setup({ openedMaxEntries: 2 });
  for (const key of ["a", "b", "c"]) await t.cache.obtain(key, t.fetcher(key), { flights: new Map() });
  for (const key of ["a", "b", "c"]) await t.cache.peek(key);
  const opens = t.counts.open;
  await t.cache.peek("c");
  await t.cache.peek("b");
  assert.equal(t.counts.open, opens, "the two most recent are remembered");
  await t.cache.peek("a");
  assert.equal(t.counts.open, opens + 1, "the third was evicted");
  const off = setup({ openedMaxEntries: 0 });
  await off.cache.obtain("k", off.fetcher(), { flights: new Map() });
  await off.cache.peek("k");
  await off.cache.peek("k");
  assert.equal(off.counts.open, 2, "0 disables the memo");
  assert.throws(() => setup({ openedMaxEntries: -1 }), (e) => isBrokerError(e, "ERR_CONFIG_INVALID"));
});

const SERVICE_URL = new URL(`${SERVER}/rest/services/Trailheads/FeatureServer/0/query`);
const PORTAL_URL = new URL(`${PORTAL}/portals/self`);

Deno.test("derived cache keys are remembered per identity and target, never shared between identities", async () => {
  const { sealer, counts } = countingSealer();
  const h = createHarness({ service: { sealer } });
  const alice = identity("alice");
  const bob = identity("bob");
  await h.link(alice, "alice");
  await h.link(bob, "bob");
  const derivesAfterLink = counts.derive;
  const a = await h.service.tokenForUrl(alice, "me", SERVICE_URL);
  const b = await h.service.tokenForUrl(bob, "me", SERVICE_URL);
  const derives = counts.derive;
  assert.ok(derives > derivesAfterLink);
  for (let i = 0; i < 5; i++) {
    assert.equal((await h.service.tokenForUrl(alice, "me", SERVICE_URL)).token, a.token);
    assert.equal((await h.service.tokenForUrl(bob, "me", SERVICE_URL)).token, b.token);
  }
  assert.equal(counts.derive, derives, "warm requests derive no key");
  assert.notEqual(a.token, b.token);
  assert.equal(h.fake.inspectToken(a.token)?.username, "alice");
  assert.equal(h.fake.inspectToken(b.token)?.username, "bob");
  // Same subject at another issuer: another identity, another key.
  await assert.rejects(
    h.service.tokenForUrl(
      identity("alice", "alice@example.com", "https://other-idp.example.com"),
      "me",
      SERVICE_URL,
    ),
    (e) => isBrokerError(e, "ERR_LINK_REQUIRED"),
  );
  assert.ok(counts.derive > derives);
});

Deno.test("remembered cache keys are the keys the HMAC gives: services with and without the memo share one cache", async () => {
  let nowMs = 1_750_000_000_000;
  const store = createMemoryStore({ now: () => nowMs });
  const sealer = createSealer(parseKeyring(SECRETS.BROKER_KEYS));
  const memo = createHarness({ service: { sealer }, store: () => store });
  const plain = createHarness({ service: { sealer, keyMemoMaxEntries: 0 }, store: () => store });
  nowMs = memo.now();
  const alice = identity("alice");
  const first = await memo.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  await memo.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  assert.equal((await plain.service.tokenForUrl(alice, "viewer", SERVICE_URL)).token, first.token);
  assert.equal(grants(plain.fake, "client_credentials"), 0, "found in the shared store under the same key");
  await plain.service.purge(alice, "viewer");
  const next = await memo.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  assert.notEqual(next.token, first.token, "a purge through the other service is seen");
});

Deno.test("the derived-key memo is bounded", async () => {
  const { sealer, counts } = countingSealer();
  const h = createHarness({ service: { sealer, keyMemoMaxEntries: 1 } });
  const alice = identity("alice");
  await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  const afterPortal = counts.derive;
  await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  assert.equal(counts.derive, afterPortal, "the one remembered key");
  // A cold server token derives the server key, then the portal key for the portal token it is made from: the
  // one remembered key is the portal's.
  await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  const afterServer = counts.derive;
  await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  assert.equal(counts.derive, afterServer + 1, "the server key was evicted");
  await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  assert.equal(counts.derive, afterServer + 1, "and is remembered again");
  assert.equal(grants(h.fake, "client_credentials"), 1);
  assert.throws(
    () => createHarness({ service: { keyMemoMaxEntries: 1.5 } }),
    (e) => isBrokerError(e, "ERR_CONFIG_INVALID"),
  );
});
