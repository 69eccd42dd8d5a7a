import assert from "node:assert/strict";
import { BROKER, createBrokerHarness, RETURN_URL, SERVER, SERVICE } from "./_broker_harness.ts";

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("createBroker() wires validation, rules, the token service and the proxy end to end", async () => {
  const h = await createBrokerHarness();
  const viewer = await h.token("vera", { groups: ["viewers"] });
  const res = await h.app.request(`${BROKER}/arcgis/credentials`, { headers: auth(viewer) });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  const servers = body.credentials.map((c: { server: string }) => c.server).sort();
  assert.deepEqual(servers, [`${SERVER}/rest/services`, "http://127.0.0.1:8702/portal/sharing/rest"].sort());
  for (const credential of body.credentials) {
    assert.equal(typeof credential.token, "string");
    assert.ok(credential.expires > h.now());
  }
  // The same identity again: the cache answers, no new ArcGIS token call and no new JWKS fetch.
  const tokenCalls = h.fake.count("portal:oauth2/token");
  const idpFetches = h.idpFetches;
  for (let i = 0; i < 20; i++) {
    const again = await h.app.request(`${BROKER}/arcgis/credentials`, { headers: auth(viewer) });
    assert.equal(again.status, 200);
    await again.body?.cancel();
  }
  assert.equal(h.fake.count("portal:oauth2/token"), tokenCalls);
  assert.equal(h.idpFetches, idpFetches);
});

Deno.test("the proxy answers a secured FeatureLayer query with no ArcGIS token in the answer", async () => {
  const h = await createBrokerHarness();
  const viewer = await h.token("vera", { groups: ["viewers"] });
  const target = `${SERVICE}/0/query?f=json&where=1%3D1&outFields=*&returnGeometry=true`;
  const res = await h.app.request(`${BROKER}/arcgis/proxy?${target}`, { headers: auth(viewer) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(JSON.parse(text).features.length, 36);
  assert.equal(res.headers.get("cache-control")?.includes("private"), true);
  const issued = h.fake.tokens().map((t) => t.token);
  assert.ok(issued.length > 0);
  for (const token of issued) assert.ok(!text.includes(token));
  const last = h.fake.requests.at(-1)!;
  assert.equal(last.authorization, undefined, "the IdP token never reaches ArcGIS");
  assert.match(last.xEsriAuthorization ?? "", /^Bearer /);
});

Deno.test("user mode: link required, then the link flow over HTTP, then credentials for the named user", async () => {
  const h = await createBrokerHarness();
  const alice = await h.token("alice-sub", { email: "alice@example.com" });
  const before = await h.app.request(`${BROKER}/arcgis/credentials`, { headers: auth(alice) });
  assert.equal(before.status, 403);
  assert.deepEqual(await before.json(), {
    error: "link_required",
    error_description: "Link an ArcGIS account first",
    link: "/arcgis/link",
  });
  const complete = await h.link(alice, "alice");
  assert.equal(complete.status, 200, await complete.clone().text());
  assert.equal((await complete.json()).userId, "alice");
  const after = await h.app.request(`${BROKER}/arcgis/credentials`, { headers: auth(alice) });
  assert.equal(after.status, 200);
  const body = await after.json();
  assert.equal(body.userId, "alice");
  assert.equal(body.credentials.length, 2);
});

Deno.test("user mode: another identity cannot complete someone else's pending link", async () => {
  const h = await createBrokerHarness();
  const alice = await h.token("alice-sub", { email: "alice@example.com" });
  const mallory = await h.token("mallory-sub", { email: "mallory@example.com" });
  const start = await h.app.request(`${BROKER}/arcgis/link`, {
    method: "POST",
    headers: { ...auth(mallory), "content-type": "application/json" },
    body: JSON.stringify({ returnTo: RETURN_URL }),
  });
  const { authorizeUrl } = await start.json();
  // The victim (alice) is lured to mallory's authorize URL and her ArcGIS session completes it.
  const authorize = await h.fake.fetch(authorizeUrl, {
    headers: { "x-fake-arcgis-user": "alice" },
    redirect: "manual",
  });
  const back = await h.app.request(authorize.headers.get("location")!);
  const linkId = new URL(back.headers.get("location") ?? "http://x/").searchParams.get("linkId");
  // Whoever completes it, mallory's identity never gets alice's ArcGIS account.
  for (const bearer of [alice, mallory]) {
    const res = await h.app.request(`${BROKER}/arcgis/link/complete`, {
      method: "POST",
      headers: { ...auth(bearer), "content-type": "application/json" },
      body: JSON.stringify({ linkId }),
    });
    assert.notEqual(res.status, 200);
    await res.body?.cancel();
  }
  const credentials = await h.app.request(`${BROKER}/arcgis/credentials`, { headers: auth(mallory) });
  assert.equal(credentials.status, 403);
  await credentials.body?.cancel();
});

Deno.test("POST /token exchanges an IdP token for an ArcGIS token per RFC 8693", async () => {
  const h = await createBrokerHarness();
  const viewer = await h.token("vera", { groups: ["viewers"] });
  const res = await h.app.request(`${BROKER}/arcgis/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: viewer,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      resource: SERVER,
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.equal(body.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
  assert.ok(
    body.expires_in > 0 && body.expires_in <= 900,
    `short-lived browser token, got ${body.expires_in}`,
  );
  // The token really opens the secured service.
  const query = await h.fake.fetch(
    `${SERVICE}/0/query?f=json&where=1%3D1&returnCountOnly=true&token=${body.access_token}`,
  );
  assert.deepEqual(await query.json(), { count: 36 });
});

Deno.test("a token without the required scope is refused with 401 invalid_token and nothing reaches ArcGIS", async () => {
  const h = await createBrokerHarness();
  const noScope = await h.token("vera", { groups: ["viewers"], scope: "openid" });
  const res = await h.app.request(`${BROKER}/arcgis/proxy?${SERVICE}/0?f=json`, { headers: auth(noScope) });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error, "invalid_token");
  assert.equal(h.fake.requests.length, 0);
});

Deno.test("an identity no rule admits gets 403 insufficient_scope from every route", async () => {
  const h = await createBrokerHarness();
  const stranger = await h.token("sam", { groups: ["other"] });
  for (const path of ["/arcgis/credentials", `/arcgis/proxy?${SERVICE}/0?f=json`]) {
    const res = await h.app.request(`${BROKER}${path}`, { headers: auth(stranger) });
    assert.equal(res.status, 403, path);
    assert.equal((await res.json()).error, "insufficient_scope");
  }
  assert.equal(h.fake.requests.length, 0);
});

Deno.test("a per-identity rate limit answers 429 with Retry-After and sends nothing upstream", async () => {
  const keys: string[] = [];
  const h = await createBrokerHarness({
    broker: {
      rateLimit: (key) => {
        keys.push(key);
        return Promise.resolve(false);
      },
    },
  });
  const viewer = await h.token("vera", { groups: ["viewers"] });
  const res = await h.app.request(`${BROKER}/arcgis/proxy?${SERVICE}/0?f=json`, { headers: auth(viewer) });
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get("retry-after")) >= 1);
  assert.equal((await res.json()).error, "rate_limited");
  assert.equal(keys.length, 1);
  assert.ok(!keys[0].includes("vera"), "the limiter key is a hash, not the subject");
  assert.equal(h.fake.count((r) => r.path.includes("/rest/services/")), 0);
});
