import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import type { KvStore } from "../../src/store/kv_store.ts";
import {
  API_KEY,
  CLIENT_SECRET,
  createHarness,
  grants,
  identity,
  ORG_ID,
  PORTAL,
  recordingStore,
  SECRETS,
  SERVER,
  testConfig,
} from "./_harness.ts";

const alice = identity("alice");
const bob = identity("bob");
const PORTAL_URL = new URL(`${PORTAL}/portals/self`);
const SERVICE_URL = new URL(`${SERVER}/rest/services/Trailheads/FeatureServer/0/query`);
const MARGIN_MS = 120_000;

Deno.test("a cached token serves every request of its lifetime: one ArcGIS token call, not one per request", async () => {
  const h = createHarness();
  const first = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  for (let i = 0; i < 20; i++) {
    const again = await h.service.tokenForUrl(identity(`user${i}`), "viewer", PORTAL_URL);
    assert.equal(again.token, first.token);
  }
  assert.equal(grants(h.fake, "client_credentials"), 1);
  for (let i = 0; i < 5; i++) await h.service.credentials(alice, ["viewerWeb"]);
  assert.equal(grants(h.fake, "client_credentials"), 2, "the browser token is a separate entry");
  assert.equal(h.count((r) => r.endpoint === "portal:generateToken"), 1);
});

Deno.test("a token is reused only while more than the safety margin is left", async () => {
  const h = createHarness();
  const first = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  h.advance(first.expires - h.now() - MARGIN_MS - 1);
  assert.equal((await h.service.tokenForUrl(alice, "viewer", PORTAL_URL)).token, first.token);
  h.advance(1);
  const second = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  assert.notEqual(second.token, first.token);
  assert.ok(second.expires - h.now() > MARGIN_MS);
  assert.equal(grants(h.fake, "client_credentials"), 2);
});

Deno.test("a token is refreshed in the background once less than two safety margins are left", async () => {
  const h = createHarness();
  const first = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  h.advance(first.expires - h.now() - 2 * MARGIN_MS + 1000);
  const served = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  assert.equal(served.token, first.token, "the still-valid token is served at once");
  assert.equal(h.background.length, 1);
  await h.settle();
  assert.equal(grants(h.fake, "client_credentials"), 2);
  const next = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  assert.notEqual(next.token, first.token);
  assert.equal(grants(h.fake, "client_credentials"), 2);
});

Deno.test("two identities never receive each other's token, under concurrency", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  await h.link(bob, "bob");
  h.advance(29 * 60_000); // the seeded tokens are past the margin: every call below needs a refresh
  const calls = [];
  for (let i = 0; i < 50; i++) {
    calls.push(h.service.credentials(alice, ["me"]).then((r) => ["alice", r] as const));
    calls.push(h.service.credentials(bob, ["me"]).then((r) => ["bob", r] as const));
  }
  const results = await Promise.all(calls);
  const seen = new Map<string, Set<string>>([["alice", new Set()], ["bob", new Set()]]);
  for (const [who, answer] of results) {
    assert.equal(answer.userId, who);
    for (const credential of answer.credentials) {
      assert.equal(h.fake.inspectToken(credential.token)?.username, who);
      seen.get(who)!.add(credential.token);
    }
  }
  for (const token of seen.get("alice")!) assert.ok(!seen.get("bob")!.has(token));
  assert.equal(grants(h.fake, "refresh_token"), 2, "one refresh per identity");
});

Deno.test("a cold burst of 200 concurrent first requests for one identity makes exactly one token call", async () => {
  const h = createHarness();
  const answers = await Promise.all(
    Array.from({ length: 200 }, () => h.service.credentials(alice, ["viewerWeb"])),
  );
  assert.equal(grants(h.fake, "client_credentials"), 1);
  assert.equal(h.count((r) => r.endpoint === "portal:generateToken"), 1);
  assert.equal(h.count("server:info"), 1);
  assert.equal(new Set(answers.map((a) => a.credentials[0].token)).size, 1);

  const u = createHarness();
  await u.link(alice, "alice");
  await u.service.purge(alice, "me");
  await Promise.all(Array.from({ length: 200 }, () => u.service.credentials(alice, ["me"])));
  assert.equal(grants(u.fake, "refresh_token"), 1);
});

Deno.test("with shareInFlight false, one call fetches each token once and resolved tokens are shared through the store", async () => {
  const h = createHarness({ service: { shareInFlight: false } });
  await h.service.credentials(alice, ["viewerWeb"]);
  assert.equal(
    grants(h.fake, "client_credentials"),
    1,
    "portal and server credentials share the portal token",
  );
  // (That concurrent calls do not share a flight is asserted deterministically in token_cache_test.ts.)
  await h.service.credentials(bob, ["viewerWeb"]);
  assert.equal(grants(h.fake, "client_credentials"), 1, "resolved values are shared through the store");
  const noStore: KvStore = {
    get: () => Promise.resolve(null),
    set: () => Promise.resolve(),
    delete: () => Promise.resolve(),
  };
  const forgetful = createHarness({ service: { shareInFlight: false }, store: () => noStore });
  await forgetful.service.credentials(alice, ["viewerWeb"]);
  assert.equal(
    grants(forgetful.fake, "client_credentials"),
    1,
    "one call fetches each token once, store or not",
  );
  const portal = await forgetful.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  const again = await forgetful.service.tokenForUrl(alice, "viewer", SERVICE_URL, {
    rejectedToken: portal.token,
  });
  assert.notEqual(again.token, portal.token);
});

Deno.test("raw stored values contain no token, refresh token, verifier or secret", async () => {
  let store: ReturnType<typeof recordingStore> | undefined;
  const h = createHarness({
    store: (now) => {
      store = recordingStore(createMemoryStore({ now }));
      return store;
    },
  });
  const back = await h.callback(alice, "alice");
  await h.links.completeLink(alice, new URL(back).searchParams.get("linkId")!);
  await h.service.credentials(alice, ["me"]);
  await h.service.credentials(alice, ["viewerWeb"]);
  await h.service.tokenForUrl(alice, "legacy", SERVICE_URL);
  await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  const secrets = [
    ...h.fake.tokens().map((t) => t.token),
    ...Object.values(SECRETS),
    CLIENT_SECRET,
    API_KEY,
  ];
  const verifiers = h.fake.requests.map((r) => r.body.code_verifier).filter((v) => v !== undefined);
  assert.equal(verifiers.length, 1);
  assert.ok(store!.writes.size >= 6);
  for (const [key, value] of store!.writes) {
    assert.match(key, /^atb:v1:[a-z-]+:[A-Za-z0-9_-]+$/);
    for (const secret of [...secrets, ...verifiers]) {
      assert.ok(!value.includes(secret!), "a stored value holds a secret");
      assert.ok(!key.includes(secret!), "a key holds a secret");
    }
    assert.ok(!key.includes("alice") && !value.includes("alice"));
  }
});

Deno.test("a tampered or swapped store value is a miss, never an error", async () => {
  let store: ReturnType<typeof recordingStore> | undefined;
  const h = createHarness({
    store: (now) => {
      store = recordingStore(createMemoryStore({ now }));
      return store;
    },
  });
  const a = await h.service.tokenForUrl(alice, "legacy", PORTAL_URL);
  const tokenKeys = [...store!.writes.keys()].filter((k) => k.startsWith("atb:v1:token:"));
  assert.equal(tokenKeys.length, 1);
  const [key] = tokenKeys;
  const sealed = store!.writes.get(key)!;
  const flipped = sealed.slice(0, -3) + (sealed.at(-3) === "A" ? "B" : "A") + sealed.slice(-2);
  await store!.set(key, flipped, { ttlSeconds: 600 });
  const afterTamper = await h.service.tokenForUrl(alice, "legacy", PORTAL_URL);
  assert.notEqual(afterTamper.token, a.token);
  await store!.set(key, "not even sealed", { ttlSeconds: 600 });
  const afterGarbage = await h.service.tokenForUrl(alice, "legacy", PORTAL_URL);
  assert.notEqual(afterGarbage.token, afterTamper.token);

  // Swap: put the app token's sealed value under the account token's key.
  await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  const appKey = [...store!.writes.keys()].find((k) => k.startsWith("atb:v1:token:") && k !== key)!;
  const appValue = await store!.get(appKey);
  await store!.set(key, appValue!, { ttlSeconds: 600 });
  const afterSwap = await h.service.tokenForUrl(alice, "legacy", PORTAL_URL);
  assert.equal(h.fake.inspectToken(afterSwap.token)?.username, "carol");
  assert.equal(h.count((r) => r.endpoint === "portal:generateToken" && r.body.username === "carol"), 4);
});

Deno.test("a failed token call is not cached as a success and is remembered for negativeCacheSeconds", async () => {
  const h = createHarness();
  h.fake.injectFailure({ match: "portal:oauth2/token", mode: { kind: "status", status: 503 }, times: 1 });
  await assert.rejects(h.service.tokenForUrl(alice, "viewer", PORTAL_URL), (e) => {
    assert.ok(isBrokerError(e, "ERR_ARCGIS_UNAVAILABLE"));
    assert.ok((e.retryAfterSeconds ?? 0) >= 15);
    return true;
  });
  assert.equal(h.count("portal:oauth2/token"), 1);
  h.advance(10_000);
  await assert.rejects(h.service.tokenForUrl(alice, "viewer", PORTAL_URL), (e) => {
    assert.ok(isBrokerError(e, "ERR_ARCGIS_UNAVAILABLE"));
    assert.equal(e.retryAfterSeconds, 5);
    return true;
  });
  assert.equal(h.count("portal:oauth2/token"), 1, "ArcGIS is not called again inside the window");
  h.advance(5_000);
  const ok = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  assert.equal(h.fake.inspectToken(ok.token)?.kind, "app");
});

Deno.test("ArcGIS outages map to 502/503/504 codes with Retry-After, never to an invalid token", async (t) => {
  const cases: Array<
    [string, Parameters<ReturnType<typeof createHarness>["fake"]["injectFailure"]>[0]["mode"], string]
  > = [
    ["HTTP 503", { kind: "status", status: 503 }, "ERR_ARCGIS_UNAVAILABLE"],
    [
      "HTTP 502 without JSON",
      { kind: "status", status: 502, body: "<html>", contentType: "text/html" },
      "ERR_ARCGIS_UNAVAILABLE",
    ],
    [
      "HTTP 500",
      { kind: "status", status: 500, body: "oops", contentType: "text/plain" },
      "ERR_ARCGIS_BAD_GATEWAY",
    ],
    [
      "an error body with code 500",
      { kind: "arcgisError", code: 500, message: "Unable to process" },
      "ERR_ARCGIS_UNAVAILABLE",
    ],
    ["a garbage body", { kind: "garbage" }, "ERR_ARCGIS_BAD_GATEWAY"],
    [
      "an invalid_client body",
      { kind: "arcgisError", code: 400, message: "Invalid client_id" },
      "ERR_ARCGIS_BAD_GATEWAY",
    ],
    ["a 498 body", { kind: "arcgisError", code: 498, message: "Invalid token." }, "ERR_ARCGIS_BAD_GATEWAY"],
  ];
  for (const [name, mode, code] of cases) {
    await t.step(name, async () => {
      const h = createHarness();
      h.fake.injectFailure({ match: "portal:oauth2/token", mode });
      await assert.rejects(h.service.credentials(alice, ["viewerWeb"]), (e) => {
        assert.ok(isBrokerError(e), String(e));
        assert.equal(e.code, code);
        assert.ok((e.retryAfterSeconds ?? 0) > 0);
        assert.ok(!JSON.stringify(e.message).includes(CLIENT_SECRET));
        return true;
      });
    });
  }
  await t.step("a redirect", async () => {
    const h = createHarness();
    h.fake.addRedirect({
      path: "/portal/sharing/rest/oauth2/token",
      location: "https://evil.example.com/steal",
    });
    await assert.rejects(
      h.service.credentials(alice, ["viewerWeb"]),
      (e) => isBrokerError(e, "ERR_ARCGIS_BAD_GATEWAY"),
    );
    assert.equal(h.fetchCalls, 1, "the redirect is not followed");
  });
  await t.step("a network error", async () => {
    const h = createHarness({
      wrapFetch: () => () =>
        Promise.reject(new TypeError("error sending request for url (https://x/?token=SECRET)")),
    });
    await assert.rejects(h.service.credentials(alice, ["viewerWeb"]), (e) => {
      assert.ok(isBrokerError(e, "ERR_ARCGIS_UNAVAILABLE"));
      assert.ok(!String(e.message).includes("SECRET") && !String(e.cause ?? "").includes("SECRET"));
      return true;
    });
    assert.ok(h.logs.every((l) => !JSON.stringify(l).includes("SECRET")));
  });
  await t.step("a timeout", async () => {
    const h = createHarness({
      config: (await import("./_harness.ts")).testConfig({
        arcgis: { portalUrl: PORTAL, servers: [SERVER], fetchTimeoutMs: 1 },
      }),
    });
    h.fake.injectFailure({ match: "portal:oauth2/token", mode: { kind: "hang" } });
    await assert.rejects(
      h.service.credentials(alice, ["viewerWeb"]),
      (e) => isBrokerError(e, "ERR_UPSTREAM_TIMEOUT"),
    );
  });
});

Deno.test("an oversized ArcGIS answer is refused", async () => {
  const h = createHarness();
  h.fake.injectFailure({
    match: "portal:oauth2/token",
    mode: {
      kind: "status",
      status: 200,
      body: JSON.stringify({ access_token: "x".repeat(300_000), expires_in: 60 }),
    },
  });
  await assert.rejects(
    h.service.tokenForUrl(alice, "viewer", PORTAL_URL),
    (e) => isBrokerError(e, "ERR_ARCGIS_BAD_GATEWAY"),
  );
});

Deno.test("a token ArcGIS reported invalid (498) is purged so the next request gets a fresh one", async () => {
  const h = createHarness();
  const first = await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  h.fake.revokeToken(first.token);
  const stale = await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  assert.equal(stale.token, first.token, "without a report the cached token is still used");
  // Past the forced-refresh floor (60 s by default), a report replaces the token.
  h.advance(h.config.arcgis.forcedRefreshFloorSeconds * 1000);
  const fresh = await h.service.tokenForUrl(alice, "viewer", SERVICE_URL, {
    forceRefresh: true,
    rejectedToken: first.token,
  });
  assert.notEqual(fresh.token, first.token);
  assert.equal(h.fake.inspectToken(fresh.token)?.revoked, false);
  const next = await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  assert.equal(next.token, fresh.token);
  // A late report about a token already replaced does not purge the new one.
  const late = await h.service.tokenForUrl(alice, "viewer", SERVICE_URL, {
    forceRefresh: true,
    rejectedToken: first.token,
  });
  assert.equal(late.token, fresh.token);
  assert.equal(h.count((r) => r.endpoint === "portal:generateToken"), 2);
});

Deno.test("a server token whose portal token died is rebuilt from a fresh portal token", async () => {
  const h = createHarness();
  const portal = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  h.fake.revokeToken(portal.token); // kills the portal token and every server token minted from it
  const server = await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  assert.equal(h.fake.inspectToken(server.token)?.revoked, false);
  assert.equal(grants(h.fake, "client_credentials"), 2);
  const refreshedPortal = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  assert.notEqual(refreshedPortal.token, portal.token);
});

Deno.test("a store that fails writes never fails the request", async () => {
  const failing: KvStore = {
    get: () => Promise.resolve(null),
    set: () => Promise.reject(new Error("KV 429")),
    delete: () => Promise.resolve(),
  };
  const h = createHarness({ store: () => failing });
  const token = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  assert.equal(h.fake.inspectToken(token.token)?.kind, "app");
  assert.ok(h.logs.some((l) => l.msg === "Cannot write the token cache"));
});

Deno.test("a token younger than arcgis.forcedRefreshFloorSeconds is not replaced because of a 498", async () => {
  const h = createHarness();
  assert.equal(h.config.arcgis.forcedRefreshFloorSeconds, 60);
  const first = await h.service.tokenForUrl(alice, "viewer", SERVICE_URL);
  const minted = h.count((r) => r.endpoint === "portal:generateToken");
  // A forged {"error":{"code":498}} on every request: the young token is kept, nothing is minted.
  for (let i = 0; i < 20; i++) {
    assert.equal(await h.service.replaceRejected(alice, "viewer", SERVICE_URL, first.token), null);
    const again = await h.service.tokenForUrl(alice, "viewer", SERVICE_URL, {
      forceRefresh: true,
      rejectedToken: first.token,
    });
    assert.equal(again.token, first.token);
    h.advance(2_000);
  }
  assert.equal(h.count((r) => r.endpoint === "portal:generateToken"), minted);
  assert.ok(h.logs.some((l) => String(l.msg).includes("forcedRefreshFloorSeconds")));
  // Once the token is older than the floor, one report replaces it; the new token is young again.
  h.advance(20_000);
  const second = await h.service.replaceRejected(alice, "viewer", SERVICE_URL, first.token);
  assert.ok(second !== null && second.token !== first.token);
  assert.equal(await h.service.replaceRejected(alice, "viewer", SERVICE_URL, second.token), null);
  assert.equal(h.count((r) => r.endpoint === "portal:generateToken"), minted + 1);
});

Deno.test("forcedRefreshFloorSeconds: 0 replaces a refused token at once", async () => {
  const h = createHarness({
    config: testConfig({
      arcgis: { portalUrl: PORTAL, orgId: ORG_ID, servers: [SERVER], forcedRefreshFloorSeconds: 0 },
    }),
  });
  const first = await h.service.tokenForUrl(alice, "viewer", PORTAL_URL);
  const second = await h.service.replaceRejected(alice, "viewer", PORTAL_URL, first.token);
  assert.ok(second !== null && second.token !== first.token);
});
