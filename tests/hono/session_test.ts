/**
 * The session cookie (`POST` / `DELETE {mount}/session`), the proxy accepting it for GET and HEAD of read-only
 * entries only, and OpenID Connect back-channel logout, through the whole broker (`createBroker`) with the fake
 * ArcGIS and a signing IdP stand-in.
 */
import assert from "node:assert/strict";
import {
  BROKER,
  brokerConfig,
  type BrokerHarness,
  CLIENT_ID,
  createBrokerHarness,
  IDP,
  SERVER,
  SERVICE,
} from "../integration/_broker_harness.ts";
import { BACKCHANNEL_LOGOUT_EVENT } from "../../src/session/constants.ts";

const SPA = "spa";
const TARGET = `${BROKER}/arcgis/proxy?${SERVICE}/0?f=json`;

async function harness(readOnly = true): Promise<BrokerHarness> {
  const base = brokerConfig();
  const h = await createBrokerHarness({
    config: {
      ...base,
      issuers: base.issuers.map((issuer) => ({ ...issuer, clientIds: [SPA] })),
      proxy: {
        allow: [{ url: `${SERVER}/rest/services/`, methods: ["GET", "HEAD", "POST"], allowEdits: !readOnly }],
      },
    },
  });
  // The SPA's access tokens name their client (the issuer now lists `clientIds`).
  const token = h.token;
  h.token = (sub, claims = {}) => token(sub, { client_id: SPA, ...claims });
  return h;
}

/** Starts a session; resolves to the `name=value` pair and the whole Set-Cookie header. */
async function startSession(
  h: BrokerHarness,
  bearer: string,
  base = BROKER,
): Promise<{ pair: string; header: string; body: Record<string, unknown> }> {
  const response = await h.app.request(`${base}/arcgis/session`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}` },
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  const header = response.headers.get("set-cookie") ?? "";
  return { pair: header.split(";")[0], header, body };
}

function proxyGet(h: BrokerHarness, cookie: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(h.app.request(TARGET, { headers: { cookie, ...headers } }));
}

async function logoutToken(
  h: BrokerHarness,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { typ: "logout+jwt" },
): Promise<string> {
  const iat = Math.floor(h.now() / 1000);
  return await h.sign({
    iss: IDP,
    aud: SPA,
    iat,
    exp: iat + 120,
    jti: crypto.randomUUID(),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    ...claims,
  }, header);
}

function backchannel(h: BrokerHarness, token: string): Promise<Response> {
  return Promise.resolve(h.app.request(`${BROKER}/arcgis/backchannel-logout`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ logout_token: token }),
  }));
}

Deno.test("POST /session sets a sealed HttpOnly SameSite=Strict cookie scoped to the mount, holding no token", async () => {
  const h = await harness();
  const bearer = await h.token("alice", { groups: ["viewers"] });
  const { pair, header, body } = await startSession(h, bearer);
  assert.match(header, /^atb_session=s1\.[^;]+; Path=\/arcgis; Max-Age=900; HttpOnly; SameSite=Strict$/);
  assert.equal(body.maxAgeSeconds, 900);
  const value = pair.slice("atb_session=".length);
  assert.ok(!value.includes(bearer.split(".")[1]), "the IdP token is not in the cookie");
  assert.ok(!atob(value.split(".")[3].replaceAll("-", "+").replaceAll("_", "/")).includes("alice"), "sealed");
  // On https: Secure and the __Secure- prefix.
  const secure = await startSession(h, bearer, "https://broker.example.com");
  assert.match(
    secure.header,
    /^__Secure-atb_session=s1\.[^;]+; Path=\/arcgis; Max-Age=900; HttpOnly; SameSite=Strict; Secure$/,
  );
  // Without a bearer: no session.
  const anonymous = await h.app.request(`${BROKER}/arcgis/session`, { method: "POST" });
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get("set-cookie"), null);
});

Deno.test("the session ends no later than the IdP token it was made from", async () => {
  const h = await harness();
  const iat = Math.floor(h.now() / 1000);
  const bearer = await h.sign({
    iss: IDP,
    aud: "arcgis-broker",
    sub: "alice",
    client_id: SPA,
    scope: "openid arcgis",
    groups: ["viewers"],
    iat,
    exp: iat + 120,
  }, { typ: "at+jwt" });
  const { header, pair } = await startSession(h, bearer);
  assert.match(header, /Max-Age=120;/);
  assert.equal((await proxyGet(h, pair)).status, 200);
  h.advance(121_000);
  const late = await proxyGet(h, pair);
  assert.equal(late.status, 401);
  assert.equal((await late.json()).error, "invalid_token");
  assert.match(late.headers.get("set-cookie") ?? "", /Max-Age=0/);
});

Deno.test("the proxy accepts the cookie for GET and HEAD of a read-only entry, with no ArcGIS token for the client", async () => {
  const h = await harness();
  const { pair } = await startSession(h, await h.token("alice", { groups: ["viewers"] }));
  const get = await proxyGet(h, pair);
  const text = await get.text();
  assert.equal(get.status, 200, text);
  assert.equal(JSON.parse(text).type, "Feature Layer");
  const head = await h.app.request(TARGET, { method: "HEAD", headers: { cookie: pair } });
  assert.equal(head.status, 200);
  const served = h.fake.requests.filter((r) => r.endpoint === "FeatureServer/layer" && r.status === 200);
  assert.ok(served.length >= 1 && served.every((r) => r.token !== undefined), "the broker added the token");
  for (const token of served.map((r) => r.token as string)) assert.ok(!text.includes(token));
  // A tampered cookie is refused.
  const tampered = pair.slice(0, -2) + (pair.endsWith("A") ? "BB" : "AA");
  assert.equal((await proxyGet(h, tampered)).status, 401);
});

Deno.test("the cookie is refused for state-changing methods, cross-site requests and entries that allow edits", async () => {
  const h = await harness();
  const { pair } = await startSession(h, await h.token("alice", { groups: ["viewers"] }));
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    const response = await h.app.request(TARGET, { method, headers: { cookie: pair } });
    assert.equal(response.status, 401, method);
    assert.match((await response.json()).error_description, /GET and HEAD only/);
  }
  const crossOrigin = await proxyGet(h, pair, { origin: "https://evil.example" });
  assert.equal(crossOrigin.status, 403);
  const crossSite = await proxyGet(h, pair, { "sec-fetch-site": "cross-site" });
  assert.equal(crossSite.status, 403);
  // The broker's own origin and a configured CORS origin are fine.
  assert.equal((await proxyGet(h, pair, { origin: BROKER, "sec-fetch-site": "same-origin" })).status, 200);
  assert.equal((await proxyGet(h, pair, { origin: "http://127.0.0.1:8080" })).status, 200);

  const editable = await harness(false);
  const session = await startSession(editable, await editable.token("alice", { groups: ["viewers"] }));
  const refused = await proxyGet(editable, session.pair);
  assert.equal(refused.status, 403);
  assert.match((await refused.json()).error_description, /read-only proxy entries only/);
  // The bearer still works there.
  const bearer = await editable.app.request(TARGET, {
    headers: { authorization: `Bearer ${await editable.token("alice", { groups: ["viewers"] })}` },
  });
  assert.equal(bearer.status, 200);
});

Deno.test("DELETE /session ends the session on the server: a copied cookie stops working", async () => {
  const h = await harness();
  const { pair } = await startSession(h, await h.token("alice", { groups: ["viewers"] }));
  const copy = pair;
  const ended = await h.app.request(`${BROKER}/arcgis/session`, {
    method: "DELETE",
    headers: { cookie: pair },
  });
  assert.equal(ended.status, 200);
  assert.deepEqual(await ended.json(), { ended: true });
  assert.match(ended.headers.get("set-cookie") ?? "", /^atb_session=; Path=\/arcgis; Max-Age=0; HttpOnly/);
  assert.equal((await proxyGet(h, copy)).status, 401);
  // Nothing to end and no bearer: 401; with a bearer: the cookie is cleared.
  assert.equal((await h.app.request(`${BROKER}/arcgis/session`, { method: "DELETE" })).status, 401);
  const withBearer = await h.app.request(`${BROKER}/arcgis/session`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${await h.token("alice", { groups: ["viewers"] })}` },
  });
  assert.equal(withBearer.status, 200);
  assert.deepEqual(await withBearer.json(), { ended: false });
});

Deno.test("back-channel logout ends the user's sessions and purges the user's cached ArcGIS tokens", async () => {
  const h = await harness();
  const bearer = await h.token("alice");
  assert.equal((await h.link(bearer, "alice")).status, 200);
  const other = await h.token("bob", { groups: ["viewers"] });
  const alice = await startSession(h, bearer);
  const bob = await startSession(h, other);
  assert.equal((await proxyGet(h, alice.pair)).status, 200);
  const tokenCalls = h.fake.count("portal:oauth2/token");
  assert.equal((await proxyGet(h, alice.pair)).status, 200);
  assert.equal(h.fake.count("portal:oauth2/token"), tokenCalls, "the token is cached");

  const response = await backchannel(h, await logoutToken(h, { sub: "alice" }));
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal((await proxyGet(h, alice.pair)).status, 401, "alice's session is cut off");
  assert.equal((await proxyGet(h, bob.pair)).status, 200, "bob's is not");
  // A new sign-in works, and needs a new ArcGIS token: the cached one was purged.
  const beforeSignIn = h.fake.count("portal:oauth2/token");
  h.advance(1);
  const again = await startSession(h, await h.token("alice"));
  assert.equal((await proxyGet(h, again.pair)).status, 200);
  assert.equal(h.fake.count("portal:oauth2/token"), beforeSignIn + 1, "a fresh token after the purge");
});

Deno.test("back-channel logout by sid alone ends the sessions made from that IdP session", async () => {
  const h = await harness();
  const one = await startSession(h, await h.token("carol", { groups: ["viewers"], sid: "idp-session-1" }));
  const two = await startSession(h, await h.token("carol", { groups: ["viewers"], sid: "idp-session-2" }));
  const response = await backchannel(h, await logoutToken(h, { sid: "idp-session-1" }));
  assert.equal(response.status, 200);
  assert.equal((await proxyGet(h, one.pair)).status, 401);
  assert.equal((await proxyGet(h, two.pair)).status, 200);
});

Deno.test("back-channel logout refuses every logout token the spec says to refuse", async () => {
  const h = await harness();
  const session = await startSession(h, await h.token("alice", { groups: ["viewers"] }));
  const iat = Math.floor(h.now() / 1000);
  const cases: Array<[string, Promise<string>]> = [
    ["an access token", h.token("alice")],
    ["typ at+jwt", logoutToken(h, { sub: "alice" }, { typ: "at+jwt" })],
    ["another audience", logoutToken(h, { sub: "alice", aud: CLIENT_ID })],
    ["no aud", logoutToken(h, { sub: "alice", aud: undefined })],
    ["another issuer", logoutToken(h, { sub: "alice", iss: "https://other.example.com" })],
    ["no iat", logoutToken(h, { sub: "alice", iat: undefined })],
    ["iat in the future", logoutToken(h, { sub: "alice", iat: iat + 600 })],
    ["iat too old", logoutToken(h, { sub: "alice", iat: iat - 3600, exp: iat + 60 })],
    ["expired", logoutToken(h, { sub: "alice", exp: iat - 60 })],
    ["no jti", logoutToken(h, { sub: "alice", jti: undefined })],
    ["no events", logoutToken(h, { sub: "alice", events: undefined })],
    ["another event", logoutToken(h, { sub: "alice", events: { "urn:other": {} } })],
    [
      "an event that is not an object",
      logoutToken(h, { sub: "alice", events: { [BACKCHANNEL_LOGOUT_EVENT]: 1 } }),
    ],
    ["neither sub nor sid", logoutToken(h, {})],
    ["a nonce", logoutToken(h, { sub: "alice", nonce: "n" })],
    ["an unsigned token", Promise.resolve("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.")],
  ];
  for (const [label, token] of cases) {
    const response = await backchannel(h, await token);
    assert.equal(response.status, 400, label);
    assert.equal((await response.json()).error, "invalid_request", label);
  }
  // A good token whose signature does not match.
  const good = await logoutToken(h, { sub: "alice" });
  const [head, body] = good.split(".");
  const forged = `${head}.${body}.${"A".repeat(86)}`;
  assert.equal((await backchannel(h, forged)).status, 400);
  // Not a form, two tokens: refused too.
  const json = await h.app.request(`${BROKER}/arcgis/backchannel-logout`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ logout_token: good }),
  });
  assert.equal(json.status, 400);
  assert.equal((await proxyGet(h, session.pair)).status, 200, "no refused token ended the session");
  // The good one works once; its replay is refused.
  assert.equal((await backchannel(h, good)).status, 200);
  assert.equal((await backchannel(h, good)).status, 400);
  assert.equal((await proxyGet(h, session.pair)).status, 401);
});

Deno.test("a proxy URL with the client's query appended after '&' gets a 400 that says how to configure it", async () => {
  const h = await harness();
  const bearer = await h.token("alice", { groups: ["viewers"] });
  const mangled =
    `${BROKER}/arcgis/proxy?${SERVER}/rest/services/Trailheads/MapServer/export&f=image&bbox=1,2,3,4`;
  for (const headers of [{ authorization: `Bearer ${bearer}` }, {} as Record<string, string>]) {
    const response = await h.app.request(mangled, { headers });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error, "invalid_request");
    assert.match(body.error_description, /MapServer\/export\?f=image/);
    assert.ok(!body.error_description.includes("127.0.0.1"), "the URL is not echoed");
  }
  // The same request with the target's own "?" is proxied.
  const fixed =
    `${BROKER}/arcgis/proxy?${SERVER}/rest/services/Trailheads/FeatureServer/0?f=json&outFields=*`;
  assert.equal((await h.app.request(fixed, { headers: { authorization: `Bearer ${bearer}` } })).status, 200);
});
