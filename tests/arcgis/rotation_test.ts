import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import type { CredentialsResponse } from "../../src/types.ts";
import { createHarness, grants, identity, START_MS } from "./_harness.ts";

const alice = identity("alice");
const MARGIN_MS = 120_000;
const DAY_MS = 86_400_000;
// Refresh tokens live 14 days (20160 minutes); rotation is due one day before expiry.
const T = START_MS + 13 * DAY_MS;

Deno.test("rotation: exchange_refresh_token when less than the margin is left, and no access token of the old family expires after T - margin", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  const [oldRefresh] = h.fake.tokens().filter((t) => t.kind === "refresh");
  h.advance(T - 3 * 3_600_000 - h.now());
  const handedOut: Array<{ token: string; expires: number; at: number }> = [];
  let rotatedAt: number | undefined;
  for (let minute = 0; minute < 4 * 60; minute++) {
    let answer: CredentialsResponse;
    try {
      answer = await h.service.credentials(alice, ["me"]);
    } catch (error) {
      assert.fail(`credentials failed at minute ${minute}: ${String(error)}`);
    }
    await h.settle();
    const exchanges = grants(h.fake, "exchange_refresh_token");
    if (exchanges === 1 && rotatedAt === undefined) {
      rotatedAt = h.now();
      // Every token handed out before the rotation had at most the safety margin left.
      for (const previous of handedOut) {
        assert.ok(
          previous.expires - rotatedAt <= MARGIN_MS,
          "a token with more than the margin left was killed",
        );
      }
    }
    for (const c of answer.credentials) {
      const info = h.fake.inspectToken(c.token)!;
      assert.equal(info.revoked, false, "a handed-out token is valid when handed out");
      assert.ok(c.expires - h.now() > 0);
      if (rotatedAt === undefined) {
        assert.ok(c.expires <= T - MARGIN_MS, "an old-family token expires after T - margin");
        handedOut.push({ token: c.token, expires: c.expires, at: h.now() });
      }
    }
    h.advance(60_000);
  }
  assert.ok(rotatedAt !== undefined, "the refresh token was rotated");
  assert.ok(rotatedAt >= T - 2 * MARGIN_MS && rotatedAt <= T, "rotated around T");
  assert.equal(grants(h.fake, "exchange_refresh_token"), 1, "exactly one rotation");
  assert.equal(h.fake.inspectToken(oldRefresh.token)?.revoked, true, "the old family is invalid");
  assert.ok(handedOut.every((t) => h.fake.inspectToken(t.token)?.revoked || t.expires <= h.now()));
  const refreshTokens = h.fake.tokens().filter((t) => t.kind === "refresh");
  assert.equal(refreshTokens.length, 2);
  assert.equal(refreshTokens[1].revoked, false);
  // The new family serves for days without another rotation.
  h.advance(5 * DAY_MS);
  const later = await h.service.credentials(alice, ["me"]);
  assert.equal(h.fake.inspectToken(later.credentials[0].token)?.family, refreshTokens[1].family);
  assert.equal(grants(h.fake, "exchange_refresh_token"), 1);
});

Deno.test("rotation: two isolates sharing one atomic store rotate once", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  const { createArcGISServices } = await import("../../src/arcgis/mod.ts");
  const { SECRETS } = await import("./_harness.ts");
  const { tokens: other } = createArcGISServices(h.config, {
    now: h.now,
    fetch: (input, init) => h.fake.fetch(input as Request, init),
    store: h.store,
    log: () => {},
    waitUntil: () => {},
  }, { secrets: SECRETS });
  h.advance(T - MARGIN_MS - h.now());
  const results = await Promise.allSettled([
    h.service.credentials(alice, ["me"]),
    other.credentials(alice, ["me"]),
  ]);
  assert.equal(grants(h.fake, "exchange_refresh_token"), 1);
  for (const result of results) {
    if (result.status === "rejected") {
      assert.ok(isBrokerError(result.reason, "ERR_ARCGIS_UNAVAILABLE"));
      assert.ok((result.reason.retryAfterSeconds ?? 0) > 0);
    }
  }
  assert.ok(results.some((r) => r.status === "fulfilled"));
  await h.service.purge(alice, "me");
  const after = await other.credentials(alice, ["me"]);
  assert.equal(h.fake.inspectToken(after.credentials[0].token)?.revoked, false);
  assert.equal(grants(h.fake, "exchange_refresh_token"), 1);
});

Deno.test("rotation: a failed exchange keeps the old refresh token while it is valid", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  h.advance(T - MARGIN_MS - h.now());
  h.fake.injectFailure({
    match: (r) => r.endpoint === "portal:oauth2/token" && r.body.grant_type === "exchange_refresh_token",
    mode: { kind: "status", status: 503 },
    times: 1,
  });
  await assert.rejects(
    h.service.credentials(alice, ["me"]),
    (e) => isBrokerError(e, "ERR_ARCGIS_UNAVAILABLE"),
  );
  h.advance(15_000);
  const answer = await h.service.credentials(alice, ["me"]);
  assert.equal(answer.userId, "alice");
  assert.equal(grants(h.fake, "exchange_refresh_token"), 2);
});

Deno.test("rotation: a refresh token rotated elsewhere (another isolate) is picked up, not treated as dead", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  const { createArcGISServices } = await import("../../src/arcgis/mod.ts");
  const { SECRETS } = await import("./_harness.ts");
  const { tokens: other } = createArcGISServices(h.config, {
    now: h.now,
    fetch: (input, init) => h.fake.fetch(input as Request, init),
    store: h.store,
    log: () => {},
    waitUntil: () => {},
  }, { secrets: SECRETS });
  // Isolate A caches a token; isolate B rotates; A's cached token dies with the old family.
  const a = await h.service.tokenForUrl(
    alice,
    "me",
    new URL("https://gis.example.com/portal/sharing/rest/portals/self"),
  );
  h.advance(T - MARGIN_MS - h.now());
  await other.credentials(alice, ["me"]);
  assert.equal(h.fake.inspectToken(a.token)?.revoked, true);
  const fresh = await h.service.tokenForUrl(
    alice,
    "me",
    new URL("https://gis.example.com/portal/sharing/rest/portals/self"),
    { forceRefresh: true, rejectedToken: a.token },
  );
  assert.equal(h.fake.inspectToken(fresh.token)?.revoked, false);
  assert.equal(grants(h.fake, "exchange_refresh_token"), 1);
});
