import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import type { KvStore } from "../../src/store/kv_store.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import { CALLBACK, CLIENT_ID, createHarness, grants, identity, PORTAL, RETURN_URL } from "./_harness.ts";

const alice = identity("alice");
const mallory = identity("mallory", "alice@example.com");

function refreshTokensOf(h: ReturnType<typeof createHarness>, username: string) {
  return h.fake.tokens().filter((t) => t.kind === "refresh" && t.username === username);
}

async function authorize(
  h: ReturnType<typeof createHarness>,
  authorizeUrl: string,
  user: string,
): Promise<URLSearchParams> {
  const answer = await h.fake.fetch(authorizeUrl, {
    headers: { "x-fake-arcgis-user": user },
    redirect: "manual",
  });
  assert.equal(answer.status, 302);
  return new URL(answer.headers.get("location")!).searchParams;
}

Deno.test("startLink() builds an ArcGIS authorize URL with PKCE S256, a state and the refresh-token expiration", async () => {
  const h = createHarness();
  const { authorizeUrl } = await h.links.startLink(alice, ["viewer", "me"]);
  const url = new URL(authorizeUrl);
  assert.equal(`${url.origin}${url.pathname}`, `${PORTAL}/oauth2/authorize`);
  assert.equal(url.searchParams.get("client_id"), CLIENT_ID);
  assert.equal(url.searchParams.get("response_type"), "code");
  assert.equal(url.searchParams.get("redirect_uri"), CALLBACK);
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  assert.match(url.searchParams.get("code_challenge")!, /^[A-Za-z0-9_-]{43}$/);
  assert.match(url.searchParams.get("state")!, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(url.searchParams.get("expiration"), "20160");
  await assert.rejects(
    h.links.startLink(alice, ["viewer"]),
    (e) => isBrokerError(e, "ERR_INSUFFICIENT_SCOPE"),
  );
});

Deno.test("the PKCE verifier only ever goes to the portal's token endpoint", async () => {
  const h = createHarness();
  const { authorizeUrl } = await h.links.startLink(alice, ["me"]);
  const query = await authorize(h, authorizeUrl, "alice");
  const back = await h.links.linkCallback(query);
  const exchange = h.fake.requests.find((r) => r.body.grant_type === "authorization_code")!;
  const verifier = exchange.body.code_verifier;
  assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
  assert.equal(new URL(authorizeUrl).searchParams.get("code_challenge"), challenge);
  assert.ok(!authorizeUrl.includes(verifier) && !back.includes(verifier));
  const carriers = h.fake.requests.filter((r) => JSON.stringify(r).includes(verifier));
  assert.deepEqual(carriers.map((r) => r.endpoint), ["portal:oauth2/token"]);
});

Deno.test("a link is committed by the identity that started it, and the callback returns to the allowlist with a linkId", async () => {
  const h = createHarness();
  const back = await h.callback(alice, "alice");
  const url = new URL(back);
  assert.equal(`${url.origin}${url.pathname}`, RETURN_URL);
  const linkId = url.searchParams.get("linkId")!;
  assert.match(linkId, /^[A-Za-z0-9_-]{43}$/);
  await assert.rejects(h.service.credentials(alice, ["me"]), (e) => isBrokerError(e, "ERR_LINK_REQUIRED"));
  assert.deepEqual(await h.links.completeLink(alice, linkId), { userId: "alice" });
  assert.equal((await h.service.credentials(alice, ["me"])).userId, "alice");
  await assert.rejects(h.links.completeLink(alice, linkId), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
});

Deno.test("state is single use", async () => {
  const h = createHarness();
  const { authorizeUrl } = await h.links.startLink(alice, ["me"]);
  const query = await authorize(h, authorizeUrl, "alice");
  await h.links.linkCallback(query);
  await assert.rejects(h.links.linkCallback(query), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
  assert.equal(grants(h.fake, "authorization_code"), 1);
  const concurrent = createHarness();
  const started = await concurrent.links.startLink(alice, ["me"]);
  const q = await authorize(concurrent, started.authorizeUrl, "alice");
  const results = await Promise.allSettled(
    Array.from({ length: 10 }, () => concurrent.links.linkCallback(q)),
  );
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  assert.equal(grants(concurrent.fake, "authorization_code"), 1);
});

Deno.test("state expires after 10 minutes; the code is then never exchanged", async () => {
  const h = createHarness();
  const { authorizeUrl } = await h.links.startLink(alice, ["me"]);
  const query = await authorize(h, authorizeUrl, "alice");
  h.advance(600_000);
  await assert.rejects(h.links.linkCallback(query), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
  assert.equal(grants(h.fake, "authorization_code"), 0);
  const forged = new URLSearchParams({ code: "x", state: "not-a-state" });
  await assert.rejects(h.links.linkCallback(forged), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
  await assert.rejects(
    h.links.linkCallback(new URLSearchParams({ code: "x" })),
    (e) => isBrokerError(e, "ERR_LINK_INVALID"),
  );
});

Deno.test("a pending link expires after 5 minutes", async () => {
  const h = createHarness();
  const back = await h.callback(alice, "alice");
  h.advance(300_000);
  await assert.rejects(
    h.links.completeLink(alice, new URL(back).searchParams.get("linkId")!),
    (e) => isBrokerError(e, "ERR_LINK_INVALID"),
  );
});

Deno.test("link CSRF: a link completed by another identity is refused and its tokens are revoked", async () => {
  const h = createHarness();
  const back = await h.callback(alice, "alice");
  const linkId = new URL(back).searchParams.get("linkId")!;
  await assert.rejects(h.links.completeLink(mallory, linkId), (e) => {
    assert.ok(isBrokerError(e, "ERR_LINK_INVALID"));
    assert.equal(e.details?.reason, "identity_mismatch");
    return true;
  });
  const [refresh] = refreshTokensOf(h, "alice");
  assert.equal(refresh.revoked, true);
  assert.ok(h.fake.tokens().filter((t) => t.username === "alice").every((t) => t.revoked));
  await assert.rejects(h.links.completeLink(alice, linkId), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
  await assert.rejects(h.service.credentials(mallory, ["me"]), (e) => isBrokerError(e, "ERR_LINK_REQUIRED"));
  await assert.rejects(h.service.credentials(alice, ["me"]), (e) => isBrokerError(e, "ERR_LINK_REQUIRED"));
  const sameSubjectOtherIssuer = identity("alice", "alice@example.com", "https://other-idp.example.com");
  const again = await h.callback(alice, "alice");
  await assert.rejects(
    h.links.completeLink(sameSubjectOtherIssuer, new URL(again).searchParams.get("linkId")!),
    (e) => isBrokerError(e, "ERR_LINK_INVALID"),
  );
});

Deno.test("an ArcGIS user of another organization is refused and its tokens revoked", async () => {
  const h = createHarness();
  const eve = identity("eve");
  await assert.rejects(h.callback(eve, "eve"), (e) => {
    assert.ok(isBrokerError(e, "ERR_LINK_INVALID"));
    assert.equal(e.details?.reason, "org_mismatch");
    return true;
  });
  assert.ok(refreshTokensOf(h, "eve").every((t) => t.revoked));
  assert.equal(refreshTokensOf(h, "eve").length, 1);
});

Deno.test("an ArcGIS user whose idpUsername differs from the identity's claim is refused and revoked", async () => {
  const h = createHarness();
  const bobClaimingAlice = identity("bob", "bob@example.com");
  await assert.rejects(h.callback(bobClaimingAlice, "alice"), (e) => {
    assert.ok(isBrokerError(e, "ERR_LINK_INVALID"));
    assert.equal(e.details?.reason, "identity_mismatch");
    return true;
  });
  assert.ok(refreshTokensOf(h, "alice").every((t) => t.revoked));
  const noClaim = { ...alice, claims: { iss: alice.issuer, sub: alice.subject } };
  await assert.rejects(h.links.startLink(noClaim, ["me"]), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
});

Deno.test("a denied ArcGIS sign-in is refused", async () => {
  const h = createHarness();
  h.fake.setAuthorizeDenied(true);
  await assert.rejects(h.callback(alice, "alice"), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
  assert.equal(grants(h.fake, "authorization_code"), 0);
});

Deno.test("the return URL must be on the allowlist", async () => {
  const h = createHarness();
  for (
    const bad of [
      "https://evil.example.com/",
      "https://app.example.com.evil.com/",
      "https://app.example.com@evil.com/",
      "http://app.example.com/",
      "https://app.example.com:444/",
      "//evil.example.com/",
      "javascript:alert(1)",
      "https://app.example.com\\@evil.com/",
    ]
  ) {
    await assert.rejects(
      h.links.startLink(alice, ["me"], bad),
      (e) => isBrokerError(e, "ERR_INVALID_REQUEST"),
      bad,
    );
  }
  const back = new URL(
    await h.callback(alice, "alice", { returnTo: "https://app.example.com/maps/city?x=1#top" }),
  );
  assert.equal(back.pathname, "/maps/city");
  assert.equal(back.searchParams.get("x"), "1");
  assert.ok(back.searchParams.get("linkId"));
  assert.equal(back.hash, "");
  const { testConfig } = await import("./_harness.ts");
  // A user profile without return URLs is refused when the config is read; a service built around the check
  // still refuses to start a link.
  assert.throws(
    () => testConfig({ link: { returnUrls: [] } }),
    (e) => isBrokerError(e, "ERR_CONFIG_INVALID") && /link\.returnUrls: Required/.test(e.message),
  );
  const noList = createHarness({ config: { ...testConfig(), link: { returnUrls: [] } } });
  await assert.rejects(
    noList.links.startLink(alice, ["me"]),
    (e) => isBrokerError(e, "ERR_NOT_CONFIGURED"),
  );
});

Deno.test("access tokens come from the refresh token once the first one runs out", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  const first = await h.service.credentials(alice, ["me"]);
  h.advance(29 * 60_000);
  const second = await h.service.credentials(alice, ["me"]);
  assert.notEqual(second.credentials[0].token, first.credentials[0].token);
  assert.equal(grants(h.fake, "refresh_token"), 1);
  const info = h.fake.inspectToken(second.credentials[0].token)!;
  assert.equal(info.via, "refresh_token");
  assert.equal(info.username, "alice");
  assert.equal(h.fake.inspectToken(second.credentials[1].token)?.kind, "server");
});

Deno.test("a refresh token revoked in ArcGIS removes the link: the user must link again", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  h.fake.revokeToken(refreshTokensOf(h, "alice")[0].token);
  h.advance(29 * 60_000);
  await assert.rejects(h.service.credentials(alice, ["me"]), (e) => isBrokerError(e, "ERR_LINK_REQUIRED"));
  await assert.rejects(h.service.credentials(alice, ["me"]), (e) => isBrokerError(e, "ERR_LINK_REQUIRED"));
  assert.equal(grants(h.fake, "refresh_token"), 1, "the dead link is not retried");
});

Deno.test("an ArcGIS outage during refresh keeps the link", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  h.advance(29 * 60_000);
  h.fake.injectFailure({ match: "portal:oauth2/token", mode: { kind: "status", status: 503 }, times: 1 });
  await assert.rejects(
    h.service.credentials(alice, ["me"]),
    (e) => isBrokerError(e, "ERR_ARCGIS_UNAVAILABLE"),
  );
  h.advance(15_000);
  assert.equal((await h.service.credentials(alice, ["me"])).userId, "alice");
});

Deno.test("unlink() deletes the link, revokes the refresh token and purges cached tokens", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  const before = await h.service.credentials(alice, ["me"]);
  assert.deepEqual(await h.links.unlink(alice), { unlinked: true });
  assert.equal(refreshTokensOf(h, "alice")[0].revoked, true);
  assert.equal(h.fake.inspectToken(before.credentials[0].token)?.revoked, true);
  await assert.rejects(h.service.credentials(alice, ["me"]), (e) => isBrokerError(e, "ERR_LINK_REQUIRED"));
  assert.deepEqual(await h.links.unlink(alice), { unlinked: false });
  assert.equal(h.count("portal:oauth2/revokeToken"), 1);
});

Deno.test("linking again replaces the link and revokes the previous refresh token", async () => {
  const h = createHarness();
  await h.link(alice, "alice");
  await h.link(alice, "alice");
  const refresh = refreshTokensOf(h, "alice");
  assert.equal(refresh.length, 2);
  assert.deepEqual(refresh.map((t) => t.revoked), [true, false]);
  h.advance(29 * 60_000);
  assert.equal((await h.service.credentials(alice, ["me"])).userId, "alice");
});

Deno.test("without an atomic store the link flow still works (get + delete fallback)", async () => {
  const h = createHarness({
    store: (now) => {
      const inner = createMemoryStore({ now });
      const plain: KvStore = {
        get: (k) => inner.get(k),
        set: (k, v, o) => inner.set(k, v, o),
        delete: (k) => inner.delete(k),
      };
      return plain;
    },
  });
  const { authorizeUrl } = await h.links.startLink(alice, ["me"]);
  const query = await authorize(h, authorizeUrl, "alice");
  const back = await h.links.linkCallback(query);
  await assert.rejects(h.links.linkCallback(query), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
  await h.links.completeLink(alice, new URL(back).searchParams.get("linkId")!);
  assert.equal((await h.service.credentials(alice, ["me"])).userId, "alice");
});

Deno.test("startLink() is rate-limited per identity: the eleventh start in ten minutes is ERR_RATE_LIMITED", async () => {
  const h = createHarness();
  for (let i = 0; i < 10; i++) {
    await h.links.startLink(alice, ["me"]);
    h.advance(1_000);
  }
  await assert.rejects(h.links.startLink(alice, ["me"]), (e) => {
    assert.ok(isBrokerError(e, "ERR_RATE_LIMITED"));
    // The oldest start leaves the window 600 s after it was made, 590 s from now.
    assert.equal(e.retryAfterSeconds, 590);
    return true;
  });
  // Other identities are not affected.
  await h.links.startLink(identity("bob"), ["me"]);
  h.advance(590_000);
  await h.links.startLink(alice, ["me"]);
});

Deno.test("startLink() keeps at most three outstanding states per identity: a new one drops the oldest", async () => {
  const h = createHarness();
  const states: URLSearchParams[] = [];
  for (let i = 0; i < 4; i++) {
    const { authorizeUrl } = await h.links.startLink(alice, ["me"]);
    states.push(await authorize(h, authorizeUrl, "alice"));
    h.advance(1_000);
  }
  await assert.rejects(h.links.linkCallback(states[0]), (e) => isBrokerError(e, "ERR_LINK_INVALID"));
  for (const query of states.slice(1)) {
    assert.ok((await h.links.linkCallback(query)).startsWith(RETURN_URL));
  }
});

Deno.test("a flood of link starts does not evict another user's link from the memory store", async () => {
  const h = createHarness({ store: (now) => createMemoryStore({ now, maxEntries: 8 }) });
  await h.link(alice, "alice");
  for (let i = 0; i < 40; i++) await h.links.startLink(identity(`flood${i}`), ["me"]);
  const answer = await h.service.credentials(alice, ["me"]);
  assert.equal(answer.userId, "alice");
});

Deno.test("identities with a lone UTF-16 surrogate in iss or sub are never keyed", async () => {
  const h = createHarness();
  await h.link(identity("x\uFFFD", "alice@example.com"), "alice");
  const lone = identity("x\uD800", "alice@example.com");
  const invalid = (e: unknown) => isBrokerError(e, "ERR_INVALID_TOKEN");
  await assert.rejects(h.service.credentials(lone, ["me"]), invalid);
  await assert.rejects(h.links.startLink(lone, ["me"]), invalid);
  await assert.rejects(h.links.unlink(lone), invalid);
  const loneIssuer = { ...alice, issuer: "https://idp.example.com/\uDC00" };
  await assert.rejects(h.service.credentials(loneIssuer, ["me"]), invalid);
  await assert.rejects(h.service.tokenForUrl(lone, "me", new URL(`${PORTAL}/portals/self`)), invalid);
});
