import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import {
  API_KEY,
  createHarness,
  grants,
  identity,
  ORG_ID,
  ORIGIN,
  PORTAL,
  SERVER,
  START_MS,
  testConfig,
} from "./_harness.ts";

const alice = identity("alice");

Deno.test("user mode: a linked identity gets portal and server credentials of its own ArcGIS user", async () => {
  const h = createHarness();
  assert.deepEqual(await h.link(alice, "alice"), { userId: "alice" });
  const answer = await h.service.credentials(alice, ["me"]);
  assert.equal(answer.userId, "alice");
  assert.deepEqual(answer.credentials.map((c) => c.server), [PORTAL, `${SERVER}/rest/services`]);
  const [portal, server] = answer.credentials;
  assert.equal(h.fake.inspectToken(portal.token)?.kind, "portal");
  assert.equal(h.fake.inspectToken(portal.token)?.username, "alice");
  assert.equal(h.fake.inspectToken(server.token)?.kind, "server");
  assert.equal(h.fake.inspectToken(server.token)?.serverRoot, "/server");
  assert.equal(answer.expires, Math.min(portal.expires, server.expires));
  assert.ok(server.expires <= portal.expires, "a server token never outlives its portal token");
  assert.ok(answer.credentials.every((c) => c.userId === "alice" && c.ssl === false));
  // The code exchange's access token seeds the cache: no refresh yet, one server token.
  assert.equal(grants(h.fake, "authorization_code"), 1);
  assert.equal(grants(h.fake, "refresh_token"), 0);
  assert.equal(h.count((r) => r.endpoint === "portal:generateToken" && r.body.serverUrl === SERVER), 1);
  assert.equal(h.count("server:info"), 1);
});

Deno.test("user mode: credentials before linking are refused with ERR_LINK_REQUIRED naming the link route", async () => {
  const h = createHarness();
  await assert.rejects(h.service.credentials(alice, ["me"]), (e) => {
    assert.ok(isBrokerError(e, "ERR_LINK_REQUIRED"));
    assert.deepEqual(e.details, { link: "/arcgis/link" });
    return true;
  });
  assert.equal(h.count("portal:oauth2/token"), 0);
});

Deno.test("app mode: browsers get a separate short-lived token, the proxy a long-lived one", async () => {
  const h = createHarness();
  const web = await h.service.credentials(alice, ["viewerWeb"]);
  assert.equal(web.userId, "viewerWeb");
  const browserToken = web.credentials[0].token;
  const info = h.fake.inspectToken(browserToken)!;
  assert.equal(info.kind, "app");
  assert.equal(info.expiresMs - info.issuedMs, 15 * 60_000, "asked for browserTokenMaxSeconds");
  assert.ok(web.credentials[0].expires <= START_MS + 900_000);
  const proxied = await h.service.tokenForUrl(alice, "viewerWeb", new URL(`${PORTAL}/content/items/x`));
  assert.notEqual(proxied.token, browserToken);
  const proxyInfo = h.fake.inspectToken(proxied.token)!;
  assert.equal(proxyInfo.expiresMs - proxyInfo.issuedMs, 120 * 60_000);
  assert.equal(h.fake.inspectToken(web.credentials[1].token)?.kind, "server");
});

Deno.test("shared profiles without exposeToBrowser are proxy-only", async () => {
  const h = createHarness();
  for (const profile of ["viewer", "legacy", "basemap"]) {
    await assert.rejects(
      h.service.credentials(alice, [profile]),
      (e) => isBrokerError(e, "ERR_INSUFFICIENT_SCOPE"),
    );
    await assert.rejects(
      h.service.browserToken(alice, [profile]),
      (e) => isBrokerError(e, "ERR_INSUFFICIENT_SCOPE"),
    );
  }
  await assert.rejects(h.service.credentials(alice, []), (e) => isBrokerError(e, "ERR_INSUFFICIENT_SCOPE"));
  assert.equal(h.fetchCalls, 0);
  const proxied = await h.service.tokenForUrl(
    alice,
    "viewer",
    new URL(`${SERVER}/rest/services/Trailheads/FeatureServer`),
  );
  assert.equal(h.fake.inspectToken(proxied.token)?.kind, "server");
});

Deno.test("an API key never reaches a browser but serves the proxy", async () => {
  const h = createHarness();
  const browser = await h.service.credentials(alice, ["basemap", "viewerWeb"]);
  assert.ok(browser.credentials.every((c) => c.token !== API_KEY));
  assert.equal(browser.userId, "viewerWeb");
  const upstream = await h.service.tokenForUrl(
    alice,
    "basemap",
    new URL(`${SERVER}/rest/services/Trailheads/FeatureServer`),
  );
  assert.equal(upstream.token, API_KEY);
  assert.equal(upstream.profile, "basemap");
  const rfc8693 = h.service.browserToken(alice, ["basemap"], [`${SERVER}/rest/services`]);
  await assert.rejects(rfc8693, (e) => isBrokerError(e, "ERR_INSUFFICIENT_SCOPE"));
});

Deno.test("account mode: a referer-bound token, with the referer for the proxy, and a separate short browser token", async () => {
  const h = createHarness();
  const portal = await h.service.tokenForUrl(alice, "legacy", new URL(`${PORTAL}/community/self`));
  assert.equal(portal.referer, "https://app.example.com/");
  assert.equal(h.fake.inspectToken(portal.token)?.referer, "https://app.example.com/");
  assert.equal(h.fake.inspectToken(portal.token)?.username, "carol");
  const server = await h.service.tokenForUrl(
    alice,
    "legacy",
    new URL(`${SERVER}/rest/services/Trailheads/MapServer`),
  );
  assert.equal(h.fake.inspectToken(server.token)?.kind, "server");
  assert.equal(server.referer, "https://app.example.com/");
  const web = await h.service.browserToken(alice, ["legacyWeb"]);
  const info = h.fake.inspectToken(web.token)!;
  assert.equal(info.expiresMs - info.issuedMs, 10 * 60_000);
  assert.equal(web.userId, "carol");
  assert.equal(web.server, PORTAL);
  const generated = h.fake.requests.filter((r) => r.endpoint === "portal:generateToken" && r.body.username);
  assert.equal(generated.length, 2);
  assert.deepEqual(generated.map((r) => r.body.expiration), ["60", "10"]);
});

Deno.test("browserToken() gives the token of a configured server resource and refuses others", async () => {
  const h = createHarness();
  const server = await h.service.browserToken(
    alice,
    ["viewerWeb"],
    [`${SERVER}/rest/services/Trailheads/FeatureServer`],
  );
  assert.equal(server.server, `${SERVER}/rest/services`);
  assert.equal(h.fake.inspectToken(server.token)?.kind, "server");
  const portal = await h.service.browserToken(alice, ["viewerWeb"], [PORTAL]);
  assert.equal(portal.server, PORTAL);
  for (
    const bad of [
      "https://evil.example.com/server/rest/services",
      "not a url",
      `http://gis.example.com/server`,
    ]
  ) {
    await assert.rejects(
      h.service.browserToken(alice, ["viewerWeb"], [bad]),
      (e) => isBrokerError(e, "ERR_INVALID_TARGET"),
    );
  }
});

Deno.test("tokenForUrl() picks portal or server token by URL and refuses every other target", async () => {
  const h = createHarness();
  const portal = await h.service.tokenForUrl(
    alice,
    "viewer",
    new URL(`${ORIGIN}/portal/sharing/rest/portals/self`),
  );
  assert.equal(h.fake.inspectToken(portal.token)?.kind, "app");
  const server = await h.service.tokenForUrl(
    alice,
    "viewer",
    new URL(`${ORIGIN}/SERVER/rest/services/X/MapServer`),
  );
  assert.equal(h.fake.inspectToken(server.token)?.kind, "server");
  const refused = [
    "https://evil.example.com/server/rest/services/X/MapServer",
    "https://gis.example.com.evil.com/server/rest/services",
    "http://gis.example.com/server/rest/services",
    "https://user:pw@gis.example.com/server/rest/services",
    "https://gis.example.com:8443/server/rest/services",
  ];
  for (const target of refused) {
    await assert.rejects(
      h.service.tokenForUrl(alice, "viewer", new URL(target)),
      (e) => isBrokerError(e, "ERR_TARGET_NOT_ALLOWED"),
      target,
    );
  }
  await assert.rejects(
    h.service.tokenForUrl(alice, "nope", new URL(PORTAL)),
    (e) => isBrokerError(e, "ERR_INSUFFICIENT_SCOPE"),
  );
});

Deno.test("a configured server that is not federated with the portal gets no portal token", async () => {
  const h = createHarness();
  h.fake.setFederated("/server", false);
  await assert.rejects(
    h.service.credentials(alice, ["viewerWeb"]),
    (e) => isBrokerError(e, "ERR_ARCGIS_BAD_GATEWAY"),
  );
  assert.equal(h.count((r) => r.endpoint === "portal:generateToken" && r.body.serverUrl !== undefined), 0);
  assert.ok(h.logs.some((l) => l.msg.includes("not federated")));
});

Deno.test("a server federated with another portal is refused", async () => {
  const h = createHarness({
    config: testConfig({
      arcgis: { portalUrl: "https://gis.example.com/other/sharing/rest", orgId: ORG_ID, servers: [SERVER] },
    }),
    fake: { portalPath: "/other" },
  });
  // The fake's server reports owningSystemUrl https://gis.example.com/other; the portal is at /other: accepted.
  await h.service.credentials(alice, ["viewerWeb"]);
  const h2 = createHarness({
    config: testConfig({
      arcgis: { portalUrl: "https://gis.example.com/other/sharing/rest", orgId: ORG_ID, servers: [SERVER] },
    }),
    fake: { portalPath: "/other", portalOrigin: "https://elsewhere.example.com" },
  });
  await assert.rejects(
    h2.service.credentials(alice, ["viewerWeb"]),
    (e) => isBrokerError(e, "ERR_ARCGIS_BAD_GATEWAY"),
  );
});

Deno.test("ArcGIS Online: hosted services of the org take the portal token after an org id check", async () => {
  const hosted = `https://services3.arcgis.com/${ORG_ID}/arcgis`;
  const h = createHarness({
    config: testConfig({
      arcgis: { portalUrl: "https://fakeorg.maps.arcgis.com/sharing/rest", orgId: ORG_ID, servers: [hosted] },
    }),
    fake: { portalPath: "" },
  });
  const answer = await h.service.credentials(alice, ["viewerWeb"]);
  assert.deepEqual(answer.credentials.map((c) => c.server), [
    "https://fakeorg.maps.arcgis.com/sharing/rest",
    `${hosted}/rest/services`,
  ]);
  assert.equal(answer.credentials[0].token, answer.credentials[1].token);
  assert.equal(h.count("portal:portals/self"), 1);
  assert.equal(h.count("portal:generateToken"), 0);
  const service = await h.service.tokenForUrl(
    alice,
    "viewer",
    new URL(`https://services7.arcgis.com/${ORG_ID}/arcgis/rest/services/Parks/FeatureServer/0/query`),
  );
  assert.equal(h.fake.inspectToken(service.token)?.kind, "app");
  await h.service.tokenForUrl(
    alice,
    "viewer",
    new URL(`https://tiles.arcgis.com/tiles/${ORG_ID}/arcgis/rest/services/T/MapServer`),
  );
  for (
    const other of [
      "https://services3.arcgis.com/OtherOrg12345678/arcgis/rest/services/X/FeatureServer",
      `http://services3.arcgis.com/${ORG_ID}/arcgis/rest/services/X/FeatureServer`,
      `https://services3.arcgis.com.evil.com/${ORG_ID}/arcgis/rest/services/X/FeatureServer`,
    ]
  ) {
    await assert.rejects(
      h.service.tokenForUrl(alice, "viewer", new URL(other)),
      (e) => isBrokerError(e, "ERR_TARGET_NOT_ALLOWED"),
    );
  }
});

Deno.test("ArcGIS Online: a portal without arcgis.orgId is refused at startup, before any org check could be skipped", () => {
  assert.throws(
    () =>
      testConfig({
        arcgis: {
          portalUrl: "https://fakeorg.maps.arcgis.com/sharing/rest",
          servers: ["https://services3.arcgis.com/OtherOrg12345678/arcgis"],
        },
      }),
    (e) => isBrokerError(e, "ERR_CONFIG_INVALID") && /arcgis\.orgId/.test(e.message),
  );
});

Deno.test("createArcGISServices() refuses a missing sealing keyring or a missing profile secret", () => {
  const config = testConfig();
  const deps = {
    now: () => 0,
    fetch: globalThis.fetch,
    store: {
      get: () => Promise.resolve(null),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    },
    log: () => {},
    waitUntil: () => {},
  };
  return import("../../src/arcgis/mod.ts").then(({ createArcGISServices }) => {
    const secrets = { APP_SECRET: "a", SVC_PASSWORD: "b", API_KEY: "c" };
    assert.throws(
      () => createArcGISServices(config, deps, { secrets }),
      (e) => isBrokerError(e, "ERR_CONFIG_INVALID"),
    );
    assert.throws(
      () => createArcGISServices(config, deps, { secrets: { ...secrets, BROKER_KEYS: "k1:c2hvcnQ=" } }),
      (e) => isBrokerError(e, "ERR_CONFIG_INVALID") && !e.message.includes("c2hvcnQ"),
    );
    assert.throws(
      () =>
        createArcGISServices(config, deps, {
          secrets: { BROKER_KEYS: "x", SVC_PASSWORD: "b", API_KEY: "c" },
        }),
      (e) => isBrokerError(e, "ERR_CONFIG_INVALID") && e.message.includes("APP_SECRET"),
    );
  });
});

Deno.test("browserToken() refuses a target on the portal host outside the portal and the configured servers", async () => {
  const h = createHarness();
  const before = h.fake.requests.length;
  for (
    const bad of [
      [`${ORIGIN}/other/rest/services`],
      [`${ORIGIN}/`],
      ["urn:unrelated"],
      [`${PORTAL}#fragment`],
      [PORTAL, `${SERVER}/rest/services`], // a resource and an audience naming different targets
    ]
  ) {
    await assert.rejects(
      h.service.browserToken(alice, ["viewerWeb"], bad),
      (e) => isBrokerError(e, "ERR_INVALID_TARGET"),
      bad.join(" "),
    );
  }
  assert.equal(h.fake.requests.length, before, "nothing is fetched for a refused target");
  const same = await h.service.browserToken(alice, ["viewerWeb"], [`${ORIGIN}/portal/home/`, PORTAL]);
  assert.equal(same.server, PORTAL);
});
