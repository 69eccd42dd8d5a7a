/**
 * Every credential mode end to end with real parts on loopback: tokens from the real `oidc-provider` IdP, the fake
 * ArcGIS served over HTTP, and the broker's routes using the platform fetch.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createBroker } from "../../src/hono/broker.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import { serveFakeArcGIS } from "../../src/testing/mod.ts";
import { startOidcIdp } from "../../src/testing/oidc_idp.ts";

const BROKER = "http://127.0.0.1:8787";
const CALLBACK = `${BROKER}/arcgis/link/callback`;
const RETURN_URL = "http://127.0.0.1:8080/app/";
const CLIENT_ID = "broker-app";
const CLIENT_SECRET = "broker-app-secret-value";
const API_KEY = "AAPTfakeApiKey0000000000000000000000000000";
const SEALING = `k1:${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;

const USERS = [
  { sub: "alice-sub", claims: { email: "alice@example.com", groups: ["gis-users"] } },
  { sub: "vera-sub", claims: { email: "vera@example.com", groups: ["viewers"] } },
  { sub: "sam-sub", claims: { email: "sam@example.com", groups: ["legacy"] } },
  { sub: "kim-sub", claims: { email: "kim@example.com", groups: ["keyed"] } },
];

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS = "urn:ietf:params:oauth:token-type:access_token";
const ID = "urn:ietf:params:oauth:token-type:id_token";

Deno.test({
  name: "every credential mode works end to end with tokens from the real oidc-provider",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using idp = await startOidcIdp({ algorithm: "ES256", users: USERS });
    const arcgis = serveFakeArcGIS({
      apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [CALLBACK] }],
    });
    try {
      const portal = arcgis.urls.sharingRest;
      const server = `${arcgis.origin}/server`;
      const service = `${server}/rest/services/Trailheads/FeatureServer`;
      const broker = createBroker({
        issuers: [{
          issuer: idp.issuer,
          audience: idp.audience,
          algorithms: ["ES256"],
          typ: "at+jwt",
          requiredScopes: ["arcgis"],
          allowInsecureLoopback: true,
          idTokens: { audience: idp.spaClientId },
        }],
        arcgis: {
          portalUrl: portal,
          orgId: arcgis.fake.orgId,
          servers: [server],
          allowInsecureLoopback: true,
        },
        profiles: {
          me: { mode: "user", clientId: CLIENT_ID, redirectUri: CALLBACK, idpUsernameClaim: "email" },
          viewer: { mode: "app", clientId: CLIENT_ID, clientSecretEnv: "APP_SECRET", exposeToBrowser: true },
          legacy: {
            mode: "account",
            username: "carol",
            passwordEnv: "SVC_PASSWORD",
            acknowledgeNamedUserTerms: true,
            exposeToBrowser: true,
          },
          keyed: { mode: "apiKey", apiKeyEnv: "API_KEY" },
        },
        rules: [
          { claim: "groups", includes: "gis-users", profile: "me" },
          { claim: "groups", includes: "viewers", profile: "viewer" },
          { claim: "groups", includes: "legacy", profile: "legacy" },
          { claim: "groups", includes: "keyed", profile: "keyed" },
        ],
        proxy: { allow: [{ url: `${server}/rest/services/` }] },
        link: { returnUrls: [RETURN_URL] },
        sealing: { keysEnv: "SEALING" },
      }, {
        store: createMemoryStore(),
        secrets: { APP_SECRET: CLIENT_SECRET, SVC_PASSWORD: "carol-password", API_KEY, SEALING },
      });
      const app = new Hono().route("/arcgis", broker.routes());
      const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
      const credentials = (token: string) =>
        app.request(`${BROKER}/arcgis/credentials`, { headers: bearer(token) });
      const exchange = (token: string, type = ACCESS, resource?: string) =>
        app.request(`${BROKER}/arcgis/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: EXCHANGE,
            subject_token: token,
            subject_token_type: type,
            ...(resource === undefined ? {} : { resource }),
          }),
        });
      const opens = async (token: string, url = `${service}/0/query`) => {
        const res = await fetch(
          `${url}?f=json&where=1%3D1&returnCountOnly=true&token=${encodeURIComponent(token)}`,
        );
        return (await res.json()).count === 36;
      };

      await t.step(
        "user: link once, then /credentials and /token carry the named user's tokens",
        async () => {
          const { accessToken } = await idp.login({ sub: "alice-sub" });
          const unlinked = await credentials(accessToken);
          assert.equal(unlinked.status, 403);
          assert.equal((await unlinked.json()).error, "link_required");
          const start = await app.request(`${BROKER}/arcgis/link`, {
            method: "POST",
            headers: { ...bearer(accessToken), "content-type": "application/json" },
            body: JSON.stringify({ returnTo: RETURN_URL }),
          });
          const { authorizeUrl } = await start.json();
          const authorize = await fetch(authorizeUrl, {
            headers: { "x-fake-arcgis-user": "alice" },
            redirect: "manual",
          });
          assert.equal(authorize.status, 302);
          await authorize.body?.cancel();
          const back = await app.request(authorize.headers.get("location")!);
          assert.equal(back.status, 303);
          const linkId = new URL(back.headers.get("location")!).searchParams.get("linkId");
          const complete = await app.request(`${BROKER}/arcgis/link/complete`, {
            method: "POST",
            headers: { ...bearer(accessToken), "content-type": "application/json" },
            body: JSON.stringify({ linkId }),
          });
          assert.deepEqual(await complete.json(), { linked: true, userId: "alice" });
          const res = await credentials(accessToken);
          assert.equal(res.status, 200);
          const body = await res.json();
          assert.equal(body.userId, "alice");
          const serverCredential = body.credentials.find((c: { server: string }) =>
            c.server === `${server}/rest/services`
          );
          assert.ok(await opens(serverCredential.token), "the server token opens the secured service");
          const portalCredential = body.credentials.find((c: { server: string }) => c.server === portal);
          const self = await fetch(`${portal}/community/self?f=json&token=${portalCredential.token}`);
          assert.equal((await self.json()).username, "alice");
          const token = await exchange(accessToken, ACCESS, server);
          assert.equal(token.status, 200);
          assert.ok(await opens((await token.json()).access_token));
        },
      );

      await t.step(
        "app: client credentials reach the browser short-lived when exposeToBrowser is set",
        async () => {
          const { accessToken } = await idp.login({ sub: "vera-sub" });
          const res = await credentials(accessToken);
          assert.equal(res.status, 200);
          const body = await res.json();
          const serverCredential = body.credentials.find((c: { server: string }) =>
            c.server.endsWith("/rest/services")
          );
          assert.ok(await opens(serverCredential.token));
          assert.ok(body.expires - Date.now() <= 900_000 + 5_000);
          const token = await exchange(accessToken);
          assert.equal(token.status, 200);
          assert.ok((await token.json()).expires_in <= 900);
        },
      );

      await t.step("account: the named account's token, through /credentials and /token", async () => {
        const { accessToken } = await idp.login({ sub: "sam-sub" });
        const res = await credentials(accessToken);
        assert.equal(res.status, 200);
        const body = await res.json();
        assert.equal(body.userId, "carol");
        const token = await exchange(accessToken, ACCESS, server);
        assert.equal(token.status, 200);
        assert.ok(await opens((await token.json()).access_token));
      });

      await t.step("apiKey: never handed to a browser, but the proxy uses it", async () => {
        const { accessToken } = await idp.login({ sub: "kim-sub" });
        const res = await credentials(accessToken);
        assert.equal(res.status, 403);
        const text = await res.text();
        assert.ok(!text.includes(API_KEY));
        const token = await exchange(accessToken);
        assert.equal(token.status, 400);
        assert.ok(!(await token.text()).includes(API_KEY));
        const proxied = await app.request(
          `${BROKER}/arcgis/proxy?${service}/0/query?f=json&where=1%3D1&returnCountOnly=true`,
          {
            headers: bearer(accessToken),
          },
        );
        const proxiedText = await proxied.text();
        assert.equal(proxied.status, 200, proxiedText);
        assert.deepEqual(JSON.parse(proxiedText), { count: 36 });
        assert.ok(!proxiedText.includes(API_KEY));
      });

      await t.step(
        "an ID token is accepted as subject_token only as an id_token with its own audience",
        async () => {
          const { idToken, accessToken } = await idp.login({ sub: "vera-sub" });
          const asId = await exchange(idToken, ID);
          assert.equal(asId.status, 200, await asId.clone().text());
          await asId.body?.cancel();
          const asAccess = await exchange(idToken, ACCESS);
          assert.equal(asAccess.status, 400);
          assert.equal((await asAccess.json()).error, "invalid_request");
          // This issuer enables ID tokens (idTokens.audience), so one is also a valid bearer; the default
          // refusal of ID tokens as bearer tokens is tested in tests/idp.
          const bearerId = await credentials(idToken);
          assert.equal(bearerId.status, 200);
          await bearerId.body?.cancel();
          const accessAsId = await exchange(accessToken, ID);
          assert.equal(accessAsId.status, 400);
          await accessAsId.body?.cancel();
        },
      );
    } finally {
      await arcgis.close();
    }
  },
});
