import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import { serveFakeArcGIS } from "../../src/testing/mod.ts";
import { createArcGISServices } from "../../src/arcgis/mod.ts";
import { CALLBACK, CLIENT_ID, CLIENT_SECRET, grants, identity, SECRETS, START_MS } from "./_harness.ts";

Deno.test("over real HTTP on loopback: app credentials and a full link flow against the served fake ArcGIS", async () => {
  let nowMs = START_MS;
  const now = (): number => nowMs;
  await using served = serveFakeArcGIS({
    now,
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [CALLBACK] }],
  });
  const config = parseConfig({
    issuers: [{ issuer: "https://idp.example.com", audience: "broker" }],
    arcgis: {
      portalUrl: served.urls.sharingRest,
      servers: [served.urls.servers["/server"].root],
      allowInsecureLoopback: true,
      orgId: served.fake.orgId,
    },
    profiles: {
      me: { mode: "user", clientId: CLIENT_ID, redirectUri: CALLBACK },
      web: { mode: "app", clientId: CLIENT_ID, clientSecretEnv: "APP_SECRET", exposeToBrowser: true },
    },
    link: { returnUrls: ["http://127.0.0.1/app/"] },
    sealing: { keysEnv: "BROKER_KEYS" },
  });
  const { tokens: service, links } = createArcGISServices(config, {
    now,
    fetch: (input, init) => globalThis.fetch(input, init),
    store: createMemoryStore({ now }),
    log: () => {},
    waitUntil: () => {},
  }, { secrets: SECRETS });
  const alice = identity("alice");

  const app = await service.credentials(alice, ["web"]);
  assert.equal(app.credentials.length, 2);
  assert.equal(served.fake.inspectToken(app.credentials[1].token)?.kind, "server");
  assert.equal(grants(served.fake, "client_credentials"), 1);

  const { authorizeUrl } = await links.startLink(alice, ["me"]);
  const authorize = await fetch(authorizeUrl, {
    headers: { "x-fake-arcgis-user": "alice" },
    redirect: "manual",
  });
  await authorize.body?.cancel();
  assert.equal(authorize.status, 302);
  const back = await links.linkCallback(new URL(authorize.headers.get("location")!).searchParams);
  assert.ok(back.startsWith("http://127.0.0.1/app/?linkId="));
  await links.completeLink(alice, new URL(back).searchParams.get("linkId")!);
  nowMs += 29 * 60_000;
  const user = await service.credentials(alice, ["me"]);
  assert.equal(user.userId, "alice");
  assert.equal(served.fake.inspectToken(user.credentials[0].token)?.via, "refresh_token");
  const headers = served.fake.requests.filter((r) => r.endpoint === "portal:oauth2/token").map((r) =>
    r.headers
  );
  assert.ok(headers.every((h) => h["content-type"] === "application/x-www-form-urlencoded" && !h.referer));
});
