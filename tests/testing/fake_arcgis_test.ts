import assert from "node:assert/strict";
import {
  createFakeArcGIS,
  type CreateFakeArcGISOptions,
  DEFAULT_TRAILHEAD_COUNT,
  type FakeArcGIS,
  FEDERATED_GENERATE_TOKEN_ERROR,
  GENERATE_TOKEN_ERROR,
  GENERATE_TOKEN_GET_ERROR,
  INVALID_CLIENT_ERROR,
  INVALID_GRANT_ERROR,
  INVALID_REDIRECT_URI_ERROR,
  INVALID_REFRESH_TOKEN_ERROR,
  INVALID_SERVER_URL_ERROR,
  INVALID_TOKEN_ERROR,
  INVALID_URL_ERROR,
  ITEM_PERMISSION_DENIED_ERROR,
  largeExportByteAt,
  OPERATION_NOT_SUPPORTED_ERROR,
  PERMISSION_DENIED_ERROR,
  REFERER_REQUIRED_ERROR,
  REFRESH_TOKEN_EXPIRED_ERROR,
  serveFakeArcGIS,
  TOKEN_REQUIRED_ERROR,
  toWebMercator,
  UNSUPPORTED_GRANT_TYPE_ERROR,
} from "../../src/testing/mod.ts";

const O = "http://fake.test";
const P = `${O}/portal/sharing/rest`;
const S = `${O}/server`;
const SVC = `${S}/rest/services`;
const T0 = Date.UTC(2025, 0, 1);
const CLIENT = "fake-client-id";
const SECRET = "fake-client-secret";
const REDIRECT = "http://127.0.0.1/callback";
const MIN = 60_000;

// deno-lint-ignore no-explicit-any -- test helper: parsed JSON bodies are inspected field by field
type Json = any;

interface Answer {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

function newFake(options: CreateFakeArcGISOptions = {}): FakeArcGIS {
  return createFakeArcGIS({ startTimeMs: T0, ...options });
}

async function call(fake: FakeArcGIS, url: string, init?: RequestInit): Promise<Answer> {
  const res = await fake.fetch(url, init);
  const text = await res.text();
  let body: Json = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

function get(
  fake: FakeArcGIS,
  url: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<Answer> {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return call(fake, u.toString(), { headers });
}

function post(
  fake: FakeArcGIS,
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return call(fake, url, { method: "POST", body: new URLSearchParams(params), headers });
}

async function userToken(
  fake: FakeArcGIS,
  username = "alice",
  extra: Record<string, string> = {},
): Promise<string> {
  const a = await post(fake, `${P}/generateToken`, {
    username,
    password: `${username}-password`,
    f: "json",
    ...extra,
  });
  assert.equal(typeof a.body.token, "string", a.text);
  return a.body.token;
}

async function serverToken(fake: FakeArcGIS, portalToken: string, serverUrl = S): Promise<string> {
  const a = await post(fake, `${P}/generateToken`, { token: portalToken, serverUrl, f: "json" });
  assert.equal(typeof a.body.token, "string", a.text);
  return a.body.token;
}

async function s256(verifier: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  return btoa(String.fromCharCode(...digest)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

async function authorize(
  fake: FakeArcGIS,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  const res = await fake.fetch(
    `${P}/oauth2/authorize?${new URLSearchParams({
      client_id: CLIENT,
      response_type: "code",
      redirect_uri: REDIRECT,
      state: "st-1",
      ...params,
    })}`,
    { headers },
  );
  await res.body?.cancel();
  return res;
}

async function codeFlow(
  fake: FakeArcGIS,
  authorizeParams: Record<string, string> = {},
): Promise<{ access: string; refresh: string; body: Json }> {
  const verifier = "v".repeat(50);
  const res = await authorize(fake, {
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
    ...authorizeParams,
  });
  const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
  const a = await post(fake, `${P}/oauth2/token`, {
    grant_type: "authorization_code",
    client_id: CLIENT,
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
    f: "json",
  });
  assert.equal(typeof a.body.access_token, "string", a.text);
  return { access: a.body.access_token, refresh: a.body.refresh_token, body: a.body };
}

function queryUrl(service = "Trailheads", root = SVC): string {
  return `${root}/${service}/FeatureServer/0/query`;
}

async function queryCode(
  fake: FakeArcGIS,
  token: string | undefined,
  url = queryUrl(),
  headers = {},
): Promise<number> {
  const params: Record<string, string> = { f: "json", where: "1=1", returnCountOnly: "true" };
  if (token !== undefined) params.token = token;
  const a = await get(fake, url, params, headers);
  return a.body.error?.code ?? (a.body.count !== undefined ? 200 : -1);
}

// ---------------------------------------------------------------------------------------------------------------
// Roots and info

Deno.test("portal info names the portal and its generateToken", async () => {
  const fake = newFake();
  const a = await get(fake, `${P}/info`, { f: "json" });
  assert.deepEqual(a.body, {
    owningSystemUrl: `${O}/portal`,
    authInfo: { tokenServicesUrl: `${P}/generateToken`, isTokenBasedSecurity: true },
  });
  const posted = await post(fake, `${P}/info`, { f: "json" });
  assert.deepEqual(posted.body, a.body);
});

Deno.test("server rest/info is federated by default and standalone after setFederated(false)", async () => {
  const fake = newFake();
  const fed = await get(fake, `${S}/rest/info`, { f: "json" });
  assert.deepEqual(fed.body, {
    currentVersion: 11.3,
    fullVersion: "11.3.0",
    owningSystemUrl: `${O}/portal`,
    authInfo: {
      isTokenBasedSecurity: true,
      tokenServicesUrl: `${P}/generateToken`,
      shortLivedTokenValidity: 60,
    },
  });
  fake.setFederated("/server", false);
  const alone = await post(fake, `${S}/rest/info`, { f: "json" });
  assert.equal(alone.body.owningSystemUrl, undefined);
  assert.equal(alone.body.authInfo.tokenServicesUrl, `${S}/tokens/generateToken`);
});

Deno.test("the hosted root answers rest/info pointing at the portal", async () => {
  const fake = newFake();
  const a = await get(fake, `${O}/${fake.orgId}/arcgis/rest/info`, { f: "json" });
  assert.equal(a.body.owningSystemUrl, `${O}/portal`);
  assert.equal(a.body.authInfo.tokenServicesUrl, `${P}/generateToken`);
});

Deno.test("origins and portal path are configurable for an ArcGIS Online-style run", async () => {
  const fake = newFake({
    portalPath: "",
    portalOrigin: "https://www.arcgis.com",
    hosted: { origin: "https://services.arcgis.com" },
  });
  const info = await get(fake, "https://www.arcgis.com/sharing/rest/info", { f: "json" });
  assert.equal(info.body.owningSystemUrl, "https://www.arcgis.com");
  const hosted = await get(fake, `https://services.arcgis.com/${fake.orgId}/arcgis/rest/info`, { f: "json" });
  assert.equal(hosted.body.owningSystemUrl, "https://www.arcgis.com");
  const urls = fake.urls("http://127.0.0.1:1");
  assert.equal(urls.sharingRest, "https://www.arcgis.com/sharing/rest");
  assert.equal(urls.hosted?.restServices, `https://services.arcgis.com/${fake.orgId}/arcgis/rest/services`);
  // A portal token works directly on hosted services, as on ArcGIS Online.
  const code = await queryCode(
    fake,
    await (async () => {
      const a = await post(fake, "https://www.arcgis.com/sharing/rest/generateToken", {
        username: "alice",
        password: "alice-password",
      });
      return a.body.token;
    })(),
    `https://services.arcgis.com/${fake.orgId}/arcgis/rest/services/Trailheads/FeatureServer/0/query`,
  );
  assert.equal(code, 200);
});

Deno.test("urls() lists portal, servers and services", () => {
  const fake = newFake({ origin: "http://127.0.0.1:9999" });
  const urls = fake.urls();
  assert.equal(urls.portal, "http://127.0.0.1:9999/portal");
  assert.equal(urls.oauth2Token, "http://127.0.0.1:9999/portal/sharing/rest/oauth2/token");
  assert.deepEqual(urls.servers["/server"], {
    root: "http://127.0.0.1:9999/server",
    restServices: "http://127.0.0.1:9999/server/rest/services",
    federated: true,
  });
  assert.equal(
    urls.services["/server:Trailheads/FeatureServer"],
    "http://127.0.0.1:9999/server/rest/services/Trailheads/FeatureServer",
  );
  assert.throws(() => newFake().urls());
});

// ---------------------------------------------------------------------------------------------------------------
// Portal generateToken

Deno.test("portal generateToken issues distinct tokens with the default 120 minute lifetime", async () => {
  const fake = newFake();
  const a = await post(fake, `${P}/generateToken`, {
    username: "alice",
    password: "alice-password",
    f: "json",
  });
  assert.deepEqual(Object.keys(a.body).sort(), ["expires", "ssl", "token"]);
  assert.equal(a.body.expires, T0 + 120 * MIN);
  assert.equal(a.body.ssl, false);
  const b = await post(fake, `${P}/generateToken`, {
    username: "alice",
    password: "alice-password",
    f: "json",
  });
  assert.notEqual(a.body.token, b.body.token);
  assert.ok(a.body.token.length >= 32);
});

Deno.test("portal generateToken clamps expiration to 20160 minutes instead of failing", async () => {
  const fake = newFake();
  const a = await post(fake, `${P}/generateToken`, {
    username: "alice",
    password: "alice-password",
    expiration: "999999",
  });
  assert.equal(a.body.expires, T0 + 20160 * MIN);
  const b = await post(fake, `${P}/generateToken`, {
    username: "alice",
    password: "alice-password",
    expiration: "5",
  });
  assert.equal(b.body.expires, T0 + 5 * MIN);
});

Deno.test("portal generateToken refuses bad credentials, GET, and client=referer without referer", async () => {
  const fake = newFake();
  assert.deepEqual(
    (await post(fake, `${P}/generateToken`, { username: "alice", password: "nope" })).body,
    GENERATE_TOKEN_ERROR,
  );
  assert.deepEqual(
    (await post(fake, `${P}/generateToken`, { username: "ALICE", password: "alice-password" })).body,
    GENERATE_TOKEN_ERROR,
    "user names are case-sensitive",
  );
  const viaGet = await get(fake, `${P}/generateToken`, { username: "alice", password: "alice-password" });
  assert.deepEqual(viaGet.body, GENERATE_TOKEN_GET_ERROR);
  assert.equal(viaGet.status, 200);
  assert.deepEqual(
    (await post(fake, `${P}/generateToken`, {
      username: "alice",
      password: "alice-password",
      client: "referer",
    }))
      .body,
    REFERER_REQUIRED_ERROR,
  );
});

Deno.test("the legacy /sharing/generateToken path works too", async () => {
  const fake = newFake();
  const a = await post(fake, `${O}/portal/sharing/generateToken`, {
    username: "bob",
    password: "bob-password",
  });
  assert.equal(typeof a.body.token, "string");
});

Deno.test("a referer-bound token needs a Referer starting with the bound value", async () => {
  const fake = newFake();
  fake.setPortalTokenReuse(true, "/server");
  const token = await userToken(fake, "alice", { client: "referer", referer: "https://app.example" });
  assert.equal(fake.inspectToken(token)?.referer, "https://app.example");
  assert.equal(
    await queryCode(fake, token, queryUrl(), { referer: "https://app.example/map/index.html" }),
    200,
  );
  assert.equal(await queryCode(fake, token, queryUrl()), 498, "no Referer");
  assert.equal(await queryCode(fake, token, queryUrl(), { referer: "https://evil.example/" }), 498);
  const self = await get(fake, `${P}/portals/self`, { f: "json", token }, {
    referer: "https://other.example/",
  });
  assert.deepEqual(self.body, INVALID_TOKEN_ERROR);
});

// ---------------------------------------------------------------------------------------------------------------
// Server tokens

Deno.test("a portal token becomes a server token scoped to that server root", async () => {
  const fake = newFake({ servers: [{ path: "/server" }, { path: "/gis" }] });
  const portal = await userToken(fake);
  const a = await post(fake, `${P}/generateToken`, { token: portal, serverUrl: S, f: "json" });
  assert.deepEqual(Object.keys(a.body).sort(), ["expires", "ssl", "token"]);
  assert.equal(a.body.expires, T0 + 60 * MIN, "server tokens default to 60 minutes");
  const st = a.body.token as string;
  assert.notEqual(st, portal);
  assert.equal(fake.inspectToken(st)?.serverRoot, "/server");
  assert.equal(fake.inspectToken(st)?.username, "alice");
  assert.equal(await queryCode(fake, st), 200);
  fake.addService({ root: "/gis", name: "Trailheads", type: "FeatureServer" });
  assert.equal(
    await queryCode(fake, st, queryUrl("Trailheads", `${O}/gis/rest/services`)),
    498,
    "other root",
  );
  assert.deepEqual(
    (await get(fake, `${P}/portals/self`, { token: st })).body,
    INVALID_TOKEN_ERROR,
    "at the portal",
  );
  // serverUrl may name a URL under the root; the spelling serverURL is accepted too.
  const deep = await post(fake, `${P}/generateToken`, {
    token: portal,
    serverURL: `${S}/rest/services/Trailheads/FeatureServer`,
  });
  assert.equal(fake.inspectToken(deep.body.token)?.serverRoot, "/server");
});

Deno.test("like ArcGIS Online, generateToken(serverUrl) under the hosted root gives a token for hosted services", async () => {
  const fake = newFake({
    portalPath: "",
    origin: "https://www.arcgis.com",
    portalOrigin: "https://www.arcgis.com",
    hosted: { origin: "https://services.arcgis.com" },
    servers: [],
  });
  const portal = (await post(fake, "https://www.arcgis.com/sharing/rest/generateToken", {
    username: "alice",
    password: "alice-password",
  })).body.token;
  const hostedRest = `https://services.arcgis.com/${fake.orgId}/arcgis/rest/services`;
  // What the Maps SDK sends: the resource URL of the service as serverUrl, the portal token, the app's referer.
  const a = await post(fake, "https://www.arcgis.com/sharing/rest/generateToken", {
    request: "getToken",
    serverUrl: `${hostedRest}/Trailheads/FeatureServer`,
    token: portal,
    referer: "https://app.example",
    f: "json",
  });
  assert.equal(typeof a.body.token, "string", a.text);
  assert.equal(typeof a.body.expires, "number");
  assert.equal(fake.inspectToken(a.body.token)?.serverRoot, `/${fake.orgId}/arcgis`);
  assert.equal(await queryCode(fake, a.body.token, `${hostedRest}/Trailheads/FeatureServer/0/query`), 200);
  // Another org's hosted root is not this portal's.
  assert.deepEqual(
    (await post(fake, "https://www.arcgis.com/sharing/rest/generateToken", {
      serverUrl: "https://services.arcgis.com/OtherOrg/arcgis",
      token: portal,
    })).body,
    INVALID_SERVER_URL_ERROR,
  );
});

Deno.test("server-token exchange refuses bad portal tokens and unknown server URLs", async () => {
  const fake = newFake({ servers: [{ path: "/server" }, { path: "/alone", federated: false }] });
  const portal = await userToken(fake);
  assert.deepEqual(
    (await post(fake, `${P}/generateToken`, { token: "nope", serverUrl: S })).body,
    INVALID_TOKEN_ERROR,
  );
  for (
    const serverUrl of [`${O}/elsewhere`, `${O}/alone`, "https://evil.example/server", `${O}/serverx`, "::"]
  ) {
    assert.deepEqual(
      (await post(fake, `${P}/generateToken`, { token: portal, serverUrl })).body,
      INVALID_SERVER_URL_ERROR,
      serverUrl,
    );
  }
});

Deno.test("a server token never outlives its portal token and dies with it", async () => {
  const fake = newFake();
  const portal = await userToken(fake, "alice", { expiration: "10" });
  const a = await post(fake, `${P}/generateToken`, { token: portal, serverUrl: S, expiration: "20160" });
  assert.equal(a.body.expires, T0 + 10 * MIN);
  assert.equal(fake.revokeToken(portal), true);
  assert.equal(await queryCode(fake, a.body.token), 498);
});

Deno.test("portal user tokens are refused on federated servers unless reuse is switched on", async () => {
  const fake = newFake();
  const portal = await userToken(fake);
  assert.equal(await queryCode(fake, portal), 498);
  fake.setPortalTokenReuse(true, "/server");
  assert.equal(await queryCode(fake, portal), 200);
  const hostedQuery = queryUrl("Trailheads", `${O}/${fake.orgId}/arcgis/rest/services`);
  assert.equal(
    await queryCode(fake, portal, hostedQuery),
    200,
    "hosted root reuses portal tokens by default",
  );
  fake.setPortalTokenReuse(false);
  assert.equal(await queryCode(fake, portal, hostedQuery), 498);
});

Deno.test("a standalone server issues its own {token, expires} and refuses portal tokens", async () => {
  const fake = newFake({ servers: [{ path: "/server", federated: false }] });
  const a = await post(fake, `${S}/tokens/generateToken`, {
    username: "bob",
    password: "bob-password",
    f: "json",
  });
  assert.deepEqual(Object.keys(a.body).sort(), ["expires", "token"]);
  assert.equal(a.body.expires, T0 + 60 * MIN);
  assert.equal(await queryCode(fake, a.body.token), 200);
  const clamp = await post(fake, `${S}/tokens/generateToken`, {
    username: "bob",
    password: "bob-password",
    expiration: "100000",
  });
  assert.equal(clamp.body.expires, T0 + 20160 * MIN);
  assert.deepEqual(
    (await post(fake, `${S}/tokens/generateToken`, { username: "bob", password: "x" })).body,
    GENERATE_TOKEN_ERROR,
  );
  assert.deepEqual(
    (await get(fake, `${S}/tokens/generateToken`, { username: "bob", password: "bob-password" })).body,
    GENERATE_TOKEN_GET_ERROR,
  );
  const portal = await userToken(fake);
  assert.equal(await queryCode(fake, portal), 498);
  fake.setFederated("/server", true);
  assert.deepEqual(
    (await post(fake, `${S}/tokens/generateToken`, { username: "bob", password: "bob-password" })).body,
    FEDERATED_GENERATE_TOKEN_ERROR,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// The 499 / 498 / 403 decision table

Deno.test("a secured service answers 499 without a token, as HTTP 200", async () => {
  const fake = newFake();
  const a = await get(fake, `${SVC}/Trailheads/FeatureServer/0`, { f: "json" });
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, TOKEN_REQUIRED_ERROR);
  assert.equal(a.text, '{"error":{"code":499,"message":"Token Required","details":[]}}');
});

Deno.test("unknown, expired and revoked tokens get 498; expiry is at now >= expires", async () => {
  const fake = newFake();
  const st = await serverToken(fake, await userToken(fake));
  assert.equal(await queryCode(fake, "unknown-token"), 498);
  const a = await get(fake, queryUrl(), { f: "json", token: "unknown-token" });
  assert.equal(a.text, '{"error":{"code":498,"message":"Invalid token.","details":[]}}');
  fake.advance(60 * MIN - 1);
  assert.equal(await queryCode(fake, st), 200);
  fake.advance(1);
  assert.equal(await queryCode(fake, st), 498);
  const other = await serverToken(fake, await userToken(fake));
  fake.revokeToken(other);
  assert.equal(await queryCode(fake, other), 498);
});

Deno.test("a valid token without access gets the 403 body", async () => {
  const fake = newFake();
  fake.setPortalTokenReuse(true, "/server");
  const bob = await userToken(fake, "bob");
  const alice = await userToken(fake, "alice");
  const eve = await userToken(fake, "eve");
  assert.equal(await queryCode(fake, alice, queryUrl("EditorTrailheads")), 200);
  const denied = await get(fake, queryUrl("EditorTrailheads"), { f: "json", token: bob });
  assert.deepEqual(denied.body, PERMISSION_DENIED_ERROR);
  assert.equal(await queryCode(fake, bob), 200, "org access");
  assert.equal(await queryCode(fake, eve), 403, "a user of another org");
});

Deno.test("public services need no token but still refuse an invalid one", async () => {
  const fake = newFake();
  assert.equal(await queryCode(fake, undefined, queryUrl("PublicTrailheads")), 200);
  assert.equal(await queryCode(fake, "garbage", queryUrl("PublicTrailheads")), 498);
});

Deno.test("status mirroring makes the HTTP status equal error.code, and can be toggled", async () => {
  const fake = newFake({ statusMirrorsErrorCode: true });
  assert.equal((await get(fake, queryUrl(), { f: "json" })).status, 499);
  assert.equal((await get(fake, queryUrl(), { f: "json", token: "x" })).status, 498);
  assert.equal((await post(fake, `${P}/generateToken`, { username: "a", password: "b" })).status, 400);
  fake.setStatusMirrorsErrorCode(false);
  const a = await get(fake, queryUrl(), { f: "json" });
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, TOKEN_REQUIRED_ERROR);
});

Deno.test("tokens are found in query, form, multipart, X-Esri-Authorization, Authorization, in that order", async () => {
  const fake = newFake();
  const good = await serverToken(fake, await userToken(fake));
  const url = queryUrl();
  const base = { f: "json", where: "1=1", returnCountOnly: "true" };

  let a = await call(fake, `${url}?${new URLSearchParams({ ...base, token: good })}`, {
    headers: { "X-Esri-Authorization": "Bearer bad", Authorization: "Bearer bad" },
  });
  assert.equal(a.body.count, DEFAULT_TRAILHEAD_COUNT);
  assert.equal(fake.requests.at(-1)?.tokenSource, "query");

  a = await call(fake, `${url}?${new URLSearchParams({ ...base, token: "bad" })}`, {
    method: "POST",
    body: new URLSearchParams({ token: good }),
  });
  assert.equal(a.body.error.code, 498, "query wins over the form body");

  a = await post(fake, url, { ...base, token: good }, { "X-Esri-Authorization": "Bearer bad" });
  assert.equal(a.body.count, DEFAULT_TRAILHEAD_COUNT);
  assert.equal(fake.requests.at(-1)?.tokenSource, "form");

  const form = new FormData();
  for (const [k, v] of Object.entries(base)) form.set(k, v);
  form.set("token", good);
  a = await call(fake, url, { method: "POST", body: form, headers: { Authorization: "Bearer bad" } });
  assert.equal(a.body.count, DEFAULT_TRAILHEAD_COUNT);
  assert.equal(fake.requests.at(-1)?.tokenSource, "multipart");

  a = await get(fake, url, base, { "X-Esri-Authorization": `Bearer ${good}`, Authorization: "Bearer bad" });
  assert.equal(a.body.count, DEFAULT_TRAILHEAD_COUNT);
  assert.equal(fake.requests.at(-1)?.tokenSource, "x-esri-authorization");

  a = await get(fake, url, base, { Authorization: `bearer ${good}` });
  assert.equal(a.body.count, DEFAULT_TRAILHEAD_COUNT);
  assert.equal(fake.requests.at(-1)?.tokenSource, "authorization");

  a = await get(fake, url, { ...base, token: "" }, { Authorization: `Bearer ${good}` });
  assert.equal(a.body.count, DEFAULT_TRAILHEAD_COUNT, "an empty token parameter is skipped");

  a = await get(fake, url, base, { Authorization: `Basic ${btoa("a:b")}` });
  assert.deepEqual(a.body, TOKEN_REQUIRED_ERROR);
});

Deno.test("API keys are accepted as configured, limited to their services and expire", async () => {
  const fake = newFake({
    apiKeys: [
      { token: "AAPTall" },
      { token: "AAPTlimited", services: ["PublicTrailheads", "Basemap/MapServer"] },
      { token: "AAPTshort", expiresMs: T0 + MIN },
    ],
  });
  assert.equal(await queryCode(fake, "AAPTall"), 200);
  assert.equal(await queryCode(fake, "AAPTlimited"), 403);
  const tile = await fake.fetch(`${SVC}/Basemap/MapServer/tile/0/0/0?token=AAPTlimited`);
  assert.equal(tile.headers.get("content-type"), "image/png");
  await tile.body?.cancel();
  assert.equal(await queryCode(fake, "AAPTshort"), 200);
  fake.advance(MIN);
  assert.equal(await queryCode(fake, "AAPTshort"), 498);
  assert.equal(fake.tokens().filter((t) => t.kind === "apikey").length, 3);
});

// ---------------------------------------------------------------------------------------------------------------
// OAuth 2

Deno.test("client_credentials issues app tokens with default and clamped lifetimes", async () => {
  const fake = newFake();
  const a = await post(fake, `${P}/oauth2/token/`, {
    client_id: CLIENT,
    client_secret: SECRET,
    grant_type: "client_credentials",
    f: "json",
  });
  assert.deepEqual(Object.keys(a.body).sort(), ["access_token", "expires_in"]);
  assert.equal(a.body.expires_in, 120 * 60);
  const b = await post(fake, `${P}/oauth2/token`, {
    client_id: CLIENT,
    client_secret: SECRET,
    grant_type: "client_credentials",
    expiration: "7200",
  });
  assert.equal(b.body.expires_in, 7200 * 60);
  const c = await post(fake, `${P}/oauth2/token`, {
    client_id: CLIENT,
    client_secret: SECRET,
    grant_type: "client_credentials",
    expiration: "50000",
  });
  assert.equal(c.body.expires_in, 20160 * 60);
  assert.equal(fake.inspectToken(a.body.access_token)?.kind, "app");
  assert.equal(await queryCode(fake, a.body.access_token), 200, "org service");
  assert.equal(await queryCode(fake, a.body.access_token, queryUrl("EditorTrailheads")), 403);
});

Deno.test("client_credentials refuses an unknown client or a wrong secret", async () => {
  const fake = newFake();
  const cases: Record<string, string>[] = [
    { client_id: "nope", client_secret: SECRET, grant_type: "client_credentials" },
    { client_id: CLIENT, client_secret: "wrong", grant_type: "client_credentials" },
    { client_id: CLIENT, grant_type: "client_credentials" },
  ];
  for (const params of cases) {
    assert.deepEqual((await post(fake, `${P}/oauth2/token`, params)).body, INVALID_CLIENT_ERROR);
  }
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, { client_id: CLIENT, grant_type: "password" })).body,
    UNSUPPORTED_GRANT_TYPE_ERROR,
  );
});

Deno.test("client_credentials with apiToken issues an API-key token", async () => {
  const fake = newFake();
  const a = await post(fake, `${P}/oauth2/token`, {
    client_id: CLIENT,
    client_secret: SECRET,
    grant_type: "client_credentials",
    apiToken: "1",
    regenerateApiToken: "true",
  });
  assert.equal(fake.inspectToken(a.body.access_token)?.kind, "apikey");
  assert.equal(await queryCode(fake, a.body.access_token), 200);
});

Deno.test("app tokens reach services whose rules name their client id", async () => {
  const fake = newFake();
  fake.addService({ name: "AppOnly", type: "FeatureServer", access: { clientIds: [CLIENT] } });
  const app = fake.issueToken({ kind: "app", clientId: CLIENT });
  const other = fake.issueToken({ kind: "app", clientId: "someone-else" });
  assert.equal(await queryCode(fake, app, queryUrl("AppOnly")), 200);
  assert.equal(await queryCode(fake, other, queryUrl("AppOnly")), 403);
});

Deno.test("authorize redirects with code and state, and the code flow with PKCE S256 succeeds", async () => {
  const fake = newFake();
  const verifier = "a".repeat(64);
  const res = await authorize(fake, { code_challenge: await s256(verifier), code_challenge_method: "S256" });
  assert.equal(res.status, 302);
  const location = new URL(res.headers.get("location")!);
  assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
  assert.equal(location.searchParams.get("state"), "st-1");
  const code = location.searchParams.get("code")!;
  const a = await post(fake, `${P}/oauth2/token`, {
    grant_type: "authorization_code",
    client_id: CLIENT,
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
  });
  assert.deepEqual(Object.keys(a.body).sort(), [
    "access_token",
    "expires_in",
    "refresh_token",
    "refresh_token_expires_in",
    "ssl",
    "username",
  ]);
  assert.equal(a.body.expires_in, 1800);
  assert.equal(a.body.username, "alice");
  assert.equal(a.body.ssl, false);
  assert.equal(a.body.refresh_token_expires_in, 20160 * 60);
  assert.equal(fake.inspectToken(a.body.refresh_token)?.kind, "refresh");
  const self = await get(fake, `${P}/community/self`, { f: "json", token: a.body.access_token });
  assert.equal(self.body.username, "alice");
});

Deno.test("an authorization code is single-use", async () => {
  const fake = newFake();
  const res = await authorize(fake);
  const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
  const params = { grant_type: "authorization_code", client_id: CLIENT, code, redirect_uri: REDIRECT };
  assert.equal(typeof (await post(fake, `${P}/oauth2/token`, params)).body.access_token, "string");
  assert.deepEqual((await post(fake, `${P}/oauth2/token`, params)).body, INVALID_GRANT_ERROR);
});

Deno.test("the code exchange fails on a wrong verifier, missing verifier, other redirect_uri or expiry", async () => {
  const fake = newFake();
  const verifier = "b".repeat(48);
  const res = await authorize(fake, { code_challenge: await s256(verifier), code_challenge_method: "S256" });
  const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
  const base = { grant_type: "authorization_code", client_id: CLIENT, code, redirect_uri: REDIRECT };
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, { ...base, code_verifier: "c".repeat(48) })).body,
    INVALID_GRANT_ERROR,
  );
  assert.deepEqual((await post(fake, `${P}/oauth2/token`, base)).body, INVALID_GRANT_ERROR);
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, {
      ...base,
      code_verifier: verifier,
      redirect_uri: `${REDIRECT}/x`,
    })).body,
    INVALID_GRANT_ERROR,
  );
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, { ...base, code_verifier: verifier, client_id: "nope" })).body,
    INVALID_CLIENT_ERROR,
  );
  fake.advance(10 * MIN);
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, { ...base, code_verifier: verifier })).body,
    INVALID_GRANT_ERROR,
  );
});

Deno.test("PKCE plain compares the verifier to the challenge", async () => {
  const fake = newFake();
  const res = await authorize(fake, {
    code_challenge: "plain-challenge-value",
    code_challenge_method: "plain",
  });
  const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
  const base = { grant_type: "authorization_code", client_id: CLIENT, code, redirect_uri: REDIRECT };
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, { ...base, code_verifier: "other" })).body,
    INVALID_GRANT_ERROR,
  );
  const ok = await post(fake, `${P}/oauth2/token`, { ...base, code_verifier: "plain-challenge-value" });
  assert.equal(typeof ok.body.access_token, "string");
});

Deno.test("authorize refuses unknown clients and unregistered redirect URIs without redirecting", async () => {
  const fake = newFake();
  const unknown = await call(
    fake,
    `${P}/oauth2/authorize?client_id=nope&response_type=code&redirect_uri=${REDIRECT}`,
  );
  assert.equal(unknown.headers.get("location"), null);
  assert.deepEqual(unknown.body, INVALID_CLIENT_ERROR);
  const res = await authorize(fake, { redirect_uri: "https://evil.example/cb" });
  assert.equal(res.headers.get("location"), null);
  const again = await call(
    fake,
    `${P}/oauth2/authorize?client_id=${CLIENT}&response_type=code&redirect_uri=https://evil.example/cb`,
  );
  assert.deepEqual(again.body, INVALID_REDIRECT_URI_ERROR);
});

Deno.test("authorize in deny mode redirects with error=access_denied and the state", async () => {
  const fake = newFake({ authorizeDenied: true });
  const res = await authorize(fake);
  const location = new URL(res.headers.get("location")!);
  assert.equal(location.searchParams.get("error"), "access_denied");
  assert.equal(location.searchParams.get("state"), "st-1");
  assert.equal(location.searchParams.get("code"), null);
  fake.setAuthorizeDenied(false);
  assert.ok(new URL((await authorize(fake)).headers.get("location")!).searchParams.get("code"));
});

Deno.test("the signed-in user is settable globally, per request header and by a resolver", async () => {
  const fake = newFake();
  const exchange = async (res: Response): Promise<string> => {
    const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
    const a = await post(fake, `${P}/oauth2/token`, {
      grant_type: "authorization_code",
      client_id: CLIENT,
      code,
      redirect_uri: REDIRECT,
    });
    return a.body.username;
  };
  assert.equal(await exchange(await authorize(fake)), "alice");
  assert.equal(await exchange(await authorize(fake, {}, { "X-Fake-ArcGIS-User": "bob" })), "bob");
  fake.setSignedInUser("carol");
  assert.equal(await exchange(await authorize(fake)), "carol");
  fake.setSignedInUser((req) => new URL(req.url).searchParams.get("login_hint"));
  assert.equal(await exchange(await authorize(fake, { login_hint: "eve" })), "eve");
  fake.setSignedInUser(null);
  const page = await call(
    fake,
    `${P}/oauth2/authorize?client_id=${CLIENT}&response_type=code&redirect_uri=${REDIRECT}`,
  );
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  assert.equal(page.headers.get("location"), null);
});

Deno.test("authorize with response_type=token returns the token in the fragment", async () => {
  const fake = newFake();
  const res = await authorize(fake, { response_type: "token" });
  const location = res.headers.get("location")!;
  const fragment = new URLSearchParams(location.split("#")[1]);
  assert.equal(fragment.get("username"), "alice");
  assert.equal(fragment.get("expires_in"), String(120 * 60));
  assert.equal(fragment.get("ssl"), "false");
  assert.equal(fragment.get("state"), "st-1");
  assert.equal(fake.inspectToken(fragment.get("access_token")!)?.kind, "portal");
});

Deno.test("authorize stores the expiration as the refresh-token lifetime, clamped to 129600 minutes", async () => {
  const fake = newFake();
  const short = await codeFlow(fake, { expiration: "60" });
  assert.equal(short.body.refresh_token_expires_in, 3600);
  const long = await codeFlow(fake, { expiration: "999999" });
  assert.equal(long.body.refresh_token_expires_in, 129600 * 60);
});

Deno.test("refresh_token mints 30 minute access tokens until the refresh token expires", async () => {
  const fake = newFake();
  const { refresh } = await codeFlow(fake, { expiration: "120" });
  const a = await post(fake, `${P}/oauth2/token`, {
    grant_type: "refresh_token",
    client_id: CLIENT,
    refresh_token: refresh,
  });
  assert.deepEqual(Object.keys(a.body).sort(), ["access_token", "expires_in", "ssl", "username"]);
  assert.equal(a.body.expires_in, 1800);
  assert.equal(a.body.username, "alice");
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, {
      grant_type: "refresh_token",
      client_id: "nope",
      refresh_token: refresh,
    }))
      .body,
    INVALID_CLIENT_ERROR,
  );
  fake.addApp({ clientId: "other-app", clientSecret: "s" });
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, {
      grant_type: "refresh_token",
      client_id: "other-app",
      refresh_token: refresh,
    })).body,
    INVALID_REFRESH_TOKEN_ERROR,
  );
  fake.advance(120 * MIN);
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, {
      grant_type: "refresh_token",
      client_id: CLIENT,
      refresh_token: refresh,
    }))
      .body,
    REFRESH_TOKEN_EXPIRED_ERROR,
  );
});

Deno.test("exchange_refresh_token invalidates the old refresh token and every access token from it", async () => {
  const fake = newFake();
  const first = await codeFlow(fake, { expiration: "1440" });
  const second = await post(fake, `${P}/oauth2/token`, {
    grant_type: "refresh_token",
    client_id: CLIENT,
    refresh_token: first.refresh,
  });
  const derived = await serverToken(fake, second.body.access_token);
  assert.equal(await queryCode(fake, derived), 200);

  fake.advance(60 * MIN);
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, {
      grant_type: "exchange_refresh_token",
      client_id: CLIENT,
      refresh_token: first.refresh,
    }))
      .body,
    INVALID_REDIRECT_URI_ERROR,
    "redirect_uri is required",
  );
  const ex = await post(fake, `${P}/oauth2/token`, {
    grant_type: "exchange_refresh_token",
    client_id: CLIENT,
    redirect_uri: REDIRECT,
    refresh_token: first.refresh,
  });
  assert.equal(typeof ex.body.refresh_token, "string");
  assert.notEqual(ex.body.refresh_token, first.refresh);
  assert.equal(ex.body.expires_in, 1800);
  assert.equal(ex.body.refresh_token_expires_in, 1440 * 60, "same lifetime as the old refresh token");
  assert.equal(ex.body.username, "alice");

  for (const old of [first.access, second.body.access_token]) {
    assert.deepEqual((await get(fake, `${P}/community/self`, { token: old })).body, INVALID_TOKEN_ERROR);
  }
  assert.equal(await queryCode(fake, derived), 498, "server tokens minted from the family die too");
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, {
      grant_type: "refresh_token",
      client_id: CLIENT,
      refresh_token: first.refresh,
    }))
      .body,
    INVALID_REFRESH_TOKEN_ERROR,
  );
  assert.equal(
    (await get(fake, `${P}/community/self`, { token: ex.body.access_token })).body.username,
    "alice",
  );
  const next = await post(fake, `${P}/oauth2/token`, {
    grant_type: "refresh_token",
    client_id: CLIENT,
    refresh_token: ex.body.refresh_token,
  });
  assert.equal(typeof next.body.access_token, "string");
});

Deno.test("rotateRefreshToken() does out of band what exchange_refresh_token does", async () => {
  const fake = newFake();
  const flow = await codeFlow(fake);
  const rotated = fake.rotateRefreshToken(flow.refresh);
  assert.equal(fake.inspectToken(flow.refresh)?.revoked, true);
  assert.equal(fake.inspectToken(flow.access)?.revoked, true);
  assert.equal(fake.inspectToken(rotated)?.kind, "refresh");
  assert.equal(fake.inspectToken(rotated)?.lifetimeMinutes, 20160);
  assert.deepEqual(
    (await post(fake, `${P}/oauth2/token`, {
      grant_type: "refresh_token",
      client_id: CLIENT,
      refresh_token: flow.refresh,
    }))
      .body,
    INVALID_REFRESH_TOKEN_ERROR,
  );
  assert.throws(() => fake.rotateRefreshToken(flow.refresh));
});

Deno.test("revokeToken always answers success; revoking a refresh token kills its access tokens", async () => {
  const fake = newFake();
  const flow = await codeFlow(fake);
  const unknown = await post(fake, `${P}/oauth2/revokeToken`, { client_id: CLIENT, auth_token: "nope" });
  assert.deepEqual(unknown.body, { success: true });
  const a = await post(fake, `${P}/oauth2/revokeToken/`, { client_id: CLIENT, auth_token: flow.refresh });
  assert.deepEqual(a.body, { success: true });
  assert.equal(fake.requests.at(-1)?.endpoint, "portal:oauth2/revokeToken");
  assert.deepEqual(
    (await get(fake, `${P}/community/self`, { token: flow.access })).body,
    INVALID_TOKEN_ERROR,
  );
  // App tokens and API keys cannot be revoked this way.
  const app = fake.issueToken({ kind: "app", clientId: CLIENT });
  await post(fake, `${P}/oauth2/revokeToken`, { client_id: CLIENT, auth_token: app });
  assert.equal(await queryCode(fake, app), 200);
  // A plain portal token can.
  const portal = await userToken(fake);
  await post(fake, `${P}/oauth2/revokeToken`, { client_id: CLIENT, auth_token: portal });
  assert.deepEqual((await get(fake, `${P}/community/self`, { token: portal })).body, INVALID_TOKEN_ERROR);
});

// ---------------------------------------------------------------------------------------------------------------
// portals/self, community/self, items

Deno.test("portals/self describes the org, adds the user for a valid token, 498 for a bad one", async () => {
  const fake = newFake();
  const anon = await get(fake, `${P}/portals/self`, { f: "json" });
  assert.equal(anon.body.id, fake.orgId);
  assert.equal(anon.body.urlKey, "fakeorg");
  assert.equal(anon.body.isPortal, true);
  assert.equal(anon.body.allSSL, false);
  assert.equal(anon.body.currentVersion, "11.3");
  assert.deepEqual(anon.body.authorizedCrossOriginDomains, []);
  assert.equal(anon.body.user, undefined);
  const withUser = await get(fake, `${P}/portals/self`, { f: "json", token: await userToken(fake, "bob") });
  assert.equal(withUser.body.user.username, "bob");
  assert.deepEqual((await get(fake, `${P}/portals/self`, { token: "bad" })).body, INVALID_TOKEN_ERROR);
  const app = fake.issueToken({ kind: "app", clientId: CLIENT });
  assert.equal((await get(fake, `${P}/portals/self`, { token: app })).body.user, undefined);
});

Deno.test("community/self returns the IUser, 499 without a token, 498 for a bad one", async () => {
  const fake = newFake();
  const a = await get(fake, `${P}/community/self`, { f: "json", token: await userToken(fake, "alice") });
  assert.equal(a.body.username, "alice");
  assert.equal(a.body.fullName, "Alice Analyst");
  assert.equal(a.body.idpUsername, "alice@example.com");
  assert.equal(a.body.orgId, fake.orgId);
  assert.equal(a.body.role, "org_user");
  assert.equal(a.body.provider, "enterprise");
  assert.ok(Array.isArray(a.body.privileges));
  assert.equal(a.body.groups.length, 1);
  assert.equal(a.body.groups[0].title, "Trail Editors");
  assert.match(a.body.groups[0].id, /^[0-9a-f]{32}$/);
  const eve = await get(fake, `${P}/community/self`, { token: await userToken(fake, "eve") });
  assert.equal(eve.body.orgId, "OtherOrg12345678");
  assert.deepEqual((await get(fake, `${P}/community/self`, { f: "json" })).body, TOKEN_REQUIRED_ERROR);
  assert.deepEqual((await get(fake, `${P}/community/self`, { token: "bad" })).body, INVALID_TOKEN_ERROR);
  const app = fake.issueToken({ kind: "app", clientId: CLIENT });
  assert.deepEqual(
    (await get(fake, `${P}/community/self`, { token: app })).body,
    ITEM_PERMISSION_DENIED_ERROR,
  );
  const viaHeader = await get(fake, `${P}/community/self`, {}, {
    "X-Esri-Authorization": `Bearer ${await userToken(fake, "bob")}`,
  });
  assert.equal(viaHeader.body.username, "bob");
});

Deno.test("content items answer GWM_0003 without rights", async () => {
  const fake = newFake({
    services: [
      { name: "Open", type: "FeatureServer", access: "public", itemId: "a".repeat(32) },
      {
        name: "Editors",
        type: "FeatureServer",
        access: { groups: ["Trail Editors"] },
        itemId: "b".repeat(32),
      },
    ],
  });
  assert.equal(
    (await get(fake, `${P}/content/items/${"a".repeat(32)}`, { f: "json" })).body.access,
    "public",
  );
  const item = `${P}/content/items/${"b".repeat(32)}`;
  assert.deepEqual((await get(fake, item, { f: "json" })).body, ITEM_PERMISSION_DENIED_ERROR);
  assert.deepEqual(
    (await get(fake, item, { token: await userToken(fake, "bob") })).body,
    ITEM_PERMISSION_DENIED_ERROR,
  );
  const alice = await userToken(fake, "alice");
  const ok = await get(fake, item, { token: alice });
  assert.equal(ok.body.type, "Feature Service");
  assert.equal(ok.body.url, `${SVC}/Editors/FeatureServer`);
  assert.deepEqual((await get(fake, `${item}/data`, { token: alice })).body, {});
  assert.deepEqual((await get(fake, item, { token: "bad" })).body, INVALID_TOKEN_ERROR);
  assert.equal((await get(fake, `${P}/content/items/${"c".repeat(32)}`)).body.error.code, 400);
});

// ---------------------------------------------------------------------------------------------------------------
// FeatureServer

async function tokenFor(fake: FakeArcGIS, username = "alice"): Promise<string> {
  return serverToken(fake, await userToken(fake, username));
}

Deno.test("FeatureServer layer 0 carries every key the Maps SDK insists on", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const layer = (await get(fake, `${SVC}/Trailheads/FeatureServer/0`, { f: "json", token })).body;
  assert.equal(layer.type, "Feature Layer");
  assert.equal(layer.geometryType, "esriGeometryPoint");
  assert.equal(layer.objectIdField, "OBJECTID");
  assert.deepEqual(layer.fields[0].name, "OBJECTID");
  assert.deepEqual(layer.fields[0].type, "esriFieldTypeOID");
  assert.deepEqual(
    layer.fields.find((f: Json) => f.name === "NAME"),
    { name: "NAME", type: "esriFieldTypeString", alias: "Name", length: 100, nullable: true, editable: true },
  );
  assert.deepEqual(layer.extent.spatialReference, { wkid: 4326, latestWkid: 4326 });
  assert.ok(layer.extent.xmin < layer.extent.xmax && layer.extent.ymin < layer.extent.ymax);
  assert.equal(layer.capabilities, "Query");
  assert.equal(layer.supportedQueryFormats, "JSON");
  assert.equal(layer.maxRecordCount, 2000);
  assert.equal(layer.advancedQueryCapabilities.supportsPagination, true);
  const root = (await get(fake, `${SVC}/Trailheads/FeatureServer`, { f: "pjson", token })).body;
  assert.equal(root.layers[0].id, 0);
  assert.deepEqual(root.spatialReference, { wkid: 4326, latestWkid: 4326 });
  assert.equal(root.supportedQueryFormats, "JSON");
  assert.equal(root.capabilities, "Query");
  assert.ok(root.fullExtent);
});

Deno.test("pagination:false drops maxRecordCount and supportsPagination (tile mode)", async () => {
  const fake = newFake({
    services: [{ name: "Tiles", type: "FeatureServer", access: "public", pagination: false }],
  });
  const layer = (await get(fake, `${SVC}/Tiles/FeatureServer/0`, { f: "json" })).body;
  assert.equal(layer.maxRecordCount, undefined);
  assert.equal(layer.advancedQueryCapabilities, undefined);
  assert.equal(layer.type, "Feature Layer");
});

Deno.test("query returns the 36 default trailheads, counts and ids", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const url = queryUrl();
  const all = (await get(fake, url, { f: "json", where: "1=1", outFields: "*", token })).body;
  assert.equal(all.features.length, 36);
  assert.equal(all.objectIdFieldName, "OBJECTID");
  assert.equal(all.geometryType, "esriGeometryPoint");
  assert.deepEqual(all.spatialReference, { wkid: 4326, latestWkid: 4326 });
  assert.deepEqual(Object.keys(all.features[0].attributes), ["OBJECTID", "NAME", "ELEVATION_M", "PARKING"]);
  assert.equal(typeof all.features[0].geometry.x, "number");
  assert.equal(all.exceededTransferLimit, undefined);
  assert.deepEqual((await get(fake, url, { f: "json", where: "1=1", returnCountOnly: "true", token })).body, {
    count: 36,
  });
  const ids = (await get(fake, url, { f: "json", where: "1=1", returnIdsOnly: "true", token })).body;
  assert.deepEqual(ids.objectIds, Array.from({ length: 36 }, (_, i) => i + 1));
  const some = (await get(fake, url, {
    f: "json",
    objectIds: "3,1,2",
    outFields: "NAME",
    returnGeometry: "false",
    token,
  })).body;
  assert.equal(some.features.length, 3);
  assert.equal(some.features[0].geometry, undefined);
  assert.deepEqual(Object.keys(some.features[0].attributes), ["NAME"]);
  const defaultFields = (await get(fake, url, { f: "json", where: "OBJECTID = 5", token })).body;
  assert.deepEqual(defaultFields.features[0].attributes, { OBJECTID: 5 });
});

Deno.test("query pages with resultOffset/resultRecordCount and flags exceededTransferLimit", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const page = (params: Record<string, string>) =>
    get(fake, queryUrl(), { f: "json", where: "1=1", orderByFields: "OBJECTID ASC", token, ...params });
  const first = (await page({ resultOffset: "0", resultRecordCount: "10" })).body;
  assert.equal(first.features.length, 10);
  assert.equal(first.exceededTransferLimit, true);
  assert.equal(first.features[0].attributes.OBJECTID, 1);
  const last = (await page({ resultOffset: "30", resultRecordCount: "10" })).body;
  assert.equal(last.features.length, 6);
  assert.equal(last.exceededTransferLimit, undefined);
  const desc = (await page({ orderByFields: "OBJECTID DESC", resultRecordCount: "1" })).body;
  assert.equal(desc.features[0].attributes.OBJECTID, 36);
  const snapshot = (await page({
    resultOffset: "0",
    resultRecordCount: "2000",
    maxRecordCountFactor: "4",
    cacheHint: "true",
    outSR: "4326",
  })).body;
  assert.equal(snapshot.features.length, 36);
});

Deno.test("query converts to Web Mercator for outSR 3857 and 102100", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const wgs = (await get(fake, queryUrl(), { f: "json", objectIds: "1", token })).body.features[0].geometry;
  for (const outSR of ["3857", "102100", '{"wkid":102100,"latestWkid":3857}']) {
    const body = (await get(fake, queryUrl(), { f: "json", objectIds: "1", outSR, token })).body;
    assert.deepEqual(body.spatialReference, { wkid: 102100, latestWkid: 3857 });
    const expected = toWebMercator(wgs.x, wgs.y);
    assert.ok(Math.abs(body.features[0].geometry.x - expected.x) < 1e-6);
    assert.ok(Math.abs(body.features[0].geometry.y - expected.y) < 1e-6);
    assert.ok(Math.abs(body.features[0].geometry.x) > 1_000_000);
  }
  assert.equal((await get(fake, queryUrl(), { f: "json", outSR: "2193", token })).body.error.code, 400);
});

Deno.test("query filters by envelope in 4326 and in Web Mercator (tile mode)", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const features = fake.features("Trailheads");
  const env = { xmin: -123, ymin: 37, xmax: -122.57, ymax: 37.86 };
  const inside = features.filter((f) => f.geometry.x <= env.xmax && f.geometry.y <= env.ymax);
  assert.equal(inside.length, 4);
  const a = (await get(fake, queryUrl(), {
    f: "json",
    geometry: JSON.stringify({ ...env, spatialReference: { wkid: 4326 } }),
    geometryType: "esriGeometryEnvelope",
    spatialRel: "esriSpatialRelIntersects",
    returnCountOnly: "true",
    token,
  })).body;
  assert.equal(a.count, inside.length);
  const min = toWebMercator(env.xmin, env.ymin);
  const max = toWebMercator(env.xmax, env.ymax);
  const b = (await get(fake, queryUrl(), {
    f: "json",
    geometry: JSON.stringify({ xmin: min.x, ymin: min.y, xmax: max.x, ymax: max.y }),
    geometryType: "esriGeometryEnvelope",
    inSR: "102100",
    resultType: "tile",
    outSR: "102100",
    token,
  })).body;
  assert.equal(b.features.length, inside.length);
  const c = (await get(fake, queryUrl(), {
    f: "json",
    geometry: "-123,37,-122.57,37.86",
    returnCountOnly: "true",
    token,
  }))
    .body;
  assert.equal(c.count, inside.length);
});

Deno.test("query supports a small where dialect and rejects what it cannot parse", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const count = async (where: string) =>
    (await get(fake, queryUrl(), { f: "json", where, returnCountOnly: "true", token })).body;
  assert.equal((await count("OBJECTID > 30")).count, 6);
  assert.equal((await count("OBJECTID IN (1, 2, 3) AND PARKING = 'No'")).count, 1);
  assert.equal((await count("NAME LIKE 'Cedar%'")).count, 6);
  assert.equal((await count("name like '%trailhead'")).count, 36);
  assert.equal((await count("PARKING IS NOT NULL")).count, 36);
  assert.equal((await count("NOPE = 1")).error.code, 400);
  assert.equal((await count("DROP TABLE x")).error.code, 400);
});

Deno.test("query works over POST form and multipart with the token in the body", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const objectIds = Array.from({ length: 36 }, (_, i) => i + 1).join(",");
  const a = await post(fake, queryUrl(), {
    f: "json",
    objectIds,
    outFields: "*",
    returnGeometry: "false",
    token,
  });
  assert.equal(a.body.features.length, 36);
  const record = fake.requests.at(-1)!;
  assert.equal(record.method, "POST");
  assert.equal(record.bodyKind, "form");
  assert.equal(record.body.objectIds, objectIds);
  const form = new FormData();
  form.set("f", "json");
  form.set("where", "1=1");
  form.set("returnCountOnly", "true");
  form.set("token", token);
  form.set("attachment", new File(["hello"], "hello.txt", { type: "text/plain" }));
  const m = await call(fake, queryUrl(), { method: "POST", body: form });
  assert.equal(m.body.count, 36);
  const mr = fake.requests.at(-1)!;
  assert.equal(mr.bodyKind, "multipart");
  assert.equal(mr.body.token, token);
  assert.deepEqual(mr.files.attachment, { filename: "hello.txt", type: "text/plain", size: 5 });
});

Deno.test("custom features and fields replace the default dataset", async () => {
  const fake = newFake({
    services: [{
      name: "Mine",
      type: "FeatureServer",
      access: "public",
      fields: [{ name: "FID", type: "esriFieldTypeOID" }, {
        name: "LABEL",
        type: "esriFieldTypeString",
        length: 20,
      }],
      features: [
        { attributes: { LABEL: "a" }, geometry: { x: 1, y: 2 } },
        { attributes: { LABEL: "b" }, geometry: { x: 3, y: 4 } },
      ],
    }],
  });
  const a =
    (await get(fake, `${SVC}/Mine/FeatureServer/0/query`, { f: "json", where: "1=1", outFields: "*" })).body;
  assert.equal(a.objectIdFieldName, "FID");
  assert.deepEqual(a.features.map((f: Json) => f.attributes), [{ FID: 1, LABEL: "a" }, {
    FID: 2,
    LABEL: "b",
  }]);
  assert.deepEqual(a.features[1].geometry, { x: 3, y: 4 });
  assert.throws(() =>
    newFake({
      services: [{ name: "X", type: "FeatureServer", fields: [{ name: "A", type: "esriFieldTypeString" }] }],
    })
  );
  assert.throws(() => newFake({ services: [{ name: "X", type: "FeatureServer", root: "/missing" }] }));
});

Deno.test("f=pbf and f=geojson are answered in their formats", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const pbf = await fake.fetch(`${queryUrl()}?f=pbf&where=1%3D1&token=${token}`);
  assert.equal(pbf.headers.get("content-type"), "application/x-protobuf");
  assert.ok((await pbf.arrayBuffer()).byteLength > 0);
  const gj = (await get(fake, queryUrl(), { f: "geojson", where: "1=1", outFields: "NAME", token })).body;
  assert.equal(gj.type, "FeatureCollection");
  assert.equal(gj.features.length, 36);
  assert.equal(gj.features[0].geometry.type, "Point");
  const err = await fake.fetch(`${queryUrl()}?f=pbf&where=1%3D1`);
  assert.match(err.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual(await err.json(), TOKEN_REQUIRED_ERROR);
});

Deno.test("edits arrive, change the data and are recorded", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const layer = `${SVC}/Trailheads/FeatureServer/0`;
  const add = await post(fake, `${layer}/addFeatures`, {
    f: "json",
    token,
    features: JSON.stringify([{
      attributes: { NAME: "New", ELEVATION_M: 5 },
      geometry: { x: -122.5, y: 37.9 },
    }]),
  });
  assert.deepEqual(add.body, { addResults: [{ objectId: 37, globalId: null, success: true }] });
  const apply = await post(fake, `${layer}/applyEdits`, {
    f: "json",
    token,
    adds: JSON.stringify([{ attributes: { NAME: "Newer" }, geometry: { x: -122.4, y: 37.8 } }]),
    updates: JSON.stringify([{ attributes: { OBJECTID: 1, NAME: "Renamed" } }, {
      attributes: { OBJECTID: 999 },
    }]),
    deletes: "2,3",
  });
  assert.equal(apply.body.addResults[0].objectId, 38);
  assert.equal(apply.body.updateResults[0].success, true);
  assert.equal(apply.body.updateResults[1].success, false);
  assert.deepEqual(apply.body.deleteResults.map((r: Json) => r.objectId), [2, 3]);
  const del = await post(fake, `${layer}/deleteFeatures`, { f: "json", token, where: "NAME = 'New'" });
  assert.deepEqual(del.body.deleteResults.map((r: Json) => r.objectId), [37]);
  const svc = await post(fake, `${SVC}/Trailheads/FeatureServer/applyEdits`, {
    f: "json",
    token,
    edits: JSON.stringify([{ id: 0, deletes: [4] }]),
  });
  assert.equal(svc.body[0].deleteResults[0].objectId, 4);
  const upd = await post(fake, `${layer}/updateFeatures`, {
    f: "json",
    token,
    features: JSON.stringify([{ attributes: { OBJECTID: 5, PARKING: "No" } }]),
  });
  assert.equal(upd.body.updateResults[0].success, true);

  const names = fake.features("Trailheads").map((f) => f.attributes.NAME);
  assert.ok(names.includes("Renamed") && names.includes("Newer") && !names.includes("New"));
  assert.equal(fake.features("/server:Trailheads").length, 36 + 2 - 4);
  assert.deepEqual(fake.edits.map((e) => e.operation), [
    "addFeatures",
    "applyEdits",
    "deleteFeatures",
    "applyEdits",
    "updateFeatures",
  ]);
  assert.equal(fake.edits[0].principal, "alice");
  assert.equal(fake.edits[0].params.token, undefined, "the token is not kept in the edit log");
  assert.equal(fake.edits[3].layerId, undefined);
  assert.deepEqual(fake.edits[1].deletedIds, [2, 3]);
  assert.equal(fake.count("FeatureServer/applyEdits"), 2);
});

Deno.test("edits need POST, an editable service and a token", async () => {
  const fake = newFake({
    services: [
      { name: "Trailheads", type: "FeatureServer" },
      { name: "ReadOnly", type: "FeatureServer", editable: false },
    ],
  });
  const token = await tokenFor(fake);
  assert.deepEqual(
    (await get(fake, `${SVC}/Trailheads/FeatureServer/0/addFeatures`, { f: "json", token, features: "[]" }))
      .body,
    OPERATION_NOT_SUPPORTED_ERROR,
  );
  assert.deepEqual(
    (await post(fake, `${SVC}/ReadOnly/FeatureServer/0/addFeatures`, { f: "json", token, features: "[]" }))
      .body,
    OPERATION_NOT_SUPPORTED_ERROR,
  );
  assert.deepEqual(
    (await post(fake, `${SVC}/Trailheads/FeatureServer/0/addFeatures`, { f: "json", features: "[]" })).body,
    TOKEN_REQUIRED_ERROR,
  );
  assert.equal(
    (await post(fake, `${SVC}/Trailheads/FeatureServer/0/addFeatures`, { f: "json", token, features: "{" }))
      .body.error
      .code,
    400,
  );
  assert.equal(fake.edits.length, 0);
});

Deno.test("unknown services and paths answer the Invalid URL body; the catalog lists services", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  assert.deepEqual(
    (await get(fake, `${SVC}/Nope/FeatureServer`, { f: "json", token })).body,
    INVALID_URL_ERROR,
  );
  assert.deepEqual(
    (await get(fake, `${SVC}/Trailheads/FeatureServer/7`, { f: "json", token })).body,
    INVALID_URL_ERROR,
  );
  assert.deepEqual((await get(fake, `${O}/nowhere`, {})).body, INVALID_URL_ERROR);
  assert.deepEqual((await get(fake, `${P}/nothing/here`, {})).body, INVALID_URL_ERROR);
  assert.equal(fake.requests.at(-1)?.endpoint, "notFound");
  const catalog = (await get(fake, SVC, { f: "json" })).body;
  assert.ok(catalog.services.some((s: Json) => s.name === "Trailheads" && s.type === "FeatureServer"));
  assert.ok(catalog.services.some((s: Json) => s.name === "Basemap" && s.type === "VectorTileServer"));
  const lower = await get(fake, `${SVC}/trailheads/featureserver/0`, { f: "json", token });
  assert.equal(lower.body.type, "Feature Layer", "service names and types match case-insensitively");
});

// ---------------------------------------------------------------------------------------------------------------
// MapServer and VectorTileServer

Deno.test("a map tile is a PNG with Content-Length, ETag, Last-Modified and Cache-Control", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const res = await fake.fetch(`${SVC}/Basemap/MapServer/tile/3/2/1?token=${token}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "image/png");
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(res.headers.get("content-length"), String(bytes.length));
  assert.match(res.headers.get("etag") ?? "", /^"[0-9a-f]{8}-[0-9a-f]+"$/);
  assert.equal(res.headers.get("last-modified"), "Mon, 01 Jan 2024 00:00:00 GMT");
  assert.equal(res.headers.get("cache-control"), "public, max-age=86400");
  assert.equal(res.headers.get("accept-ranges"), "bytes");
  const same = await fake.fetch(`${SVC}/Basemap/MapServer/tile/3/2/1?token=${token}`);
  assert.equal(same.headers.get("etag"), res.headers.get("etag"));
  await same.body?.cancel();
  const other = await fake.fetch(`${SVC}/Basemap/MapServer/tile/3/2/2?token=${token}`);
  assert.notEqual(other.headers.get("etag"), res.headers.get("etag"));
  await other.body?.cancel();
  const bad = await get(fake, `${SVC}/Basemap/MapServer/tile/1/5/0`, { token });
  assert.equal(bad.body.error.code, 404);
});

Deno.test("tiles honour If-None-Match, If-Modified-Since, Range and If-Range; HEAD has no body", async () => {
  const fake = newFake({
    services: [{ name: "Basemap", type: "MapServer", access: "public", tilePaddingBytes: 4096 }],
  });
  const url = `${SVC}/Basemap/MapServer/tile/4/3/2`;
  const full = await fake.fetch(url);
  const bytes = new Uint8Array(await full.arrayBuffer());
  assert.ok(bytes.length > 4096);
  const etag = full.headers.get("etag")!;

  const notModified = await fake.fetch(url, { headers: { "If-None-Match": `W/${etag}, "other"` } });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.get("etag"), etag);
  assert.equal(await notModified.text(), "");
  const changed = await fake.fetch(url, { headers: { "If-None-Match": '"other"' } });
  assert.equal(changed.status, 200);
  await changed.body?.cancel();
  const ims = await fake.fetch(url, { headers: { "If-Modified-Since": "Tue, 02 Jan 2024 00:00:00 GMT" } });
  assert.equal(ims.status, 304);

  const part = await fake.fetch(url, { headers: { Range: "bytes=0-9" } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get("content-range"), `bytes 0-9/${bytes.length}`);
  assert.equal(part.headers.get("content-length"), "10");
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.slice(0, 10));
  const tail = await fake.fetch(url, { headers: { Range: "bytes=-5" } });
  assert.equal(
    tail.headers.get("content-range"),
    `bytes ${bytes.length - 5}-${bytes.length - 1}/${bytes.length}`,
  );
  assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), bytes.slice(-5));
  const open = await fake.fetch(url, { headers: { Range: `bytes=${bytes.length - 3}-` } });
  assert.equal((await open.arrayBuffer()).byteLength, 3);
  const unsatisfiable = await fake.fetch(url, { headers: { Range: `bytes=${bytes.length}-` } });
  assert.equal(unsatisfiable.status, 416);
  assert.equal(unsatisfiable.headers.get("content-range"), `bytes */${bytes.length}`);
  await unsatisfiable.body?.cancel();
  const ifRange = await fake.fetch(url, { headers: { Range: "bytes=0-9", "If-Range": '"stale"' } });
  assert.equal(ifRange.status, 200);
  await ifRange.body?.cancel();
  const ifRangeOk = await fake.fetch(url, { headers: { Range: "bytes=0-9", "If-Range": etag } });
  assert.equal(ifRangeOk.status, 206);
  await ifRangeOk.body?.cancel();

  const head = await fake.fetch(url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(bytes.length));
  assert.equal(head.body, null);
});

Deno.test("tile errors are JSON, or text/html 'Invalid Token' when that toggle is on", async () => {
  const fake = newFake();
  const noToken = await fake.fetch(`${SVC}/Basemap/MapServer/tile/0/0/0`);
  assert.match(noToken.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual(await noToken.json(), TOKEN_REQUIRED_ERROR);
  const vt = await fake.fetch(`${SVC}/Basemap/VectorTileServer/tile/0/0/0.pbf?token=bad`);
  assert.deepEqual(await vt.json(), INVALID_TOKEN_ERROR);
  fake.setHtmlInvalidTokenForTiles(true);
  const html = await fake.fetch(`${SVC}/Basemap/MapServer/tile/0/0/0?token=bad`);
  assert.equal(html.status, 200);
  assert.match(html.headers.get("content-type") ?? "", /text\/html/);
  assert.match(await html.text(), /Invalid Token/);
  assert.equal(fake.requests.at(-1)?.errorCode, 498);
  const metadata = await get(fake, `${SVC}/Basemap/MapServer`, { f: "json", token: "bad" });
  assert.deepEqual(metadata.body, INVALID_TOKEN_ERROR, "only tiles get the HTML answer");
});

Deno.test("MapServer metadata, export f=image and f=json", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const meta = (await get(fake, `${SVC}/Basemap/MapServer`, { f: "json", token })).body;
  assert.equal(meta.singleFusedMapCache, true);
  assert.deepEqual(meta.spatialReference, { wkid: 102100, latestWkid: 3857 });
  assert.equal(meta.tileInfo.lods.length, 20);
  const img = await fake.fetch(
    `${SVC}/Basemap/MapServer/export?f=image&bbox=0,0,1,1&size=256,256&token=${token}`,
  );
  assert.equal(img.headers.get("content-type"), "image/png");
  assert.equal((await img.arrayBuffer()).byteLength, Number(img.headers.get("content-length")));
  const desc = (await get(fake, `${SVC}/Basemap/MapServer/export`, {
    f: "json",
    bbox: "0,0,1,1",
    size: "256,256",
    token,
  }))
    .body;
  assert.equal(desc.width, 256);
  assert.match(desc.href, /f=image/);
  assert.doesNotMatch(desc.href, /token=/);
});

Deno.test("the large export streams N bytes pulled one chunk at a time", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const res = await fake.fetch(
    `${SVC}/Basemap/MapServer/exportLarge?bytes=1000000&chunkBytes=65536&token=${token}`,
  );
  assert.equal(res.headers.get("content-length"), "1000000");
  assert.equal(res.headers.get("content-type"), "image/png");
  const record = fake.streams[0];
  assert.equal(record.pulledChunks, 0, "nothing is produced before the consumer asks");
  const reader = res.body!.getReader();
  let received = 0;
  for (let i = 0; i < 3; i++) {
    const { value } = await reader.read();
    received += value!.length;
  }
  assert.equal(received, 3 * 65536);
  assert.ok(record.pulledChunks >= 3 && record.pulledChunks <= 4, `pulled ${record.pulledChunks}`);
  await reader.cancel();
  assert.equal(record.cancelled, true);
  assert.equal(record.done, false);
});

Deno.test("a fully read large export has the documented byte pattern", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const res = await fake.fetch(
    `${SVC}/Basemap/MapServer/exportLarge?bytes=300000&chunkBytes=7000&token=${token}`,
  );
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.equal(bytes.length, 300000);
  for (const position of [0, 7, 8, 6999, 7000, 123456, 299999]) {
    assert.equal(bytes[position], largeExportByteAt(position), `byte ${position}`);
  }
  assert.equal(fake.streams[0].pulledChunks, Math.ceil(300000 / 7000));
  assert.equal(fake.streams[0].done, true);
  const bad = await get(fake, `${SVC}/Basemap/MapServer/exportLarge`, { bytes: "-1", token });
  assert.equal(bad.body.error.code, 400);
  const noToken = await get(fake, `${SVC}/Basemap/MapServer/exportLarge`, { bytes: "10" });
  assert.deepEqual(noToken.body, TOKEN_REQUIRED_ERROR);
});

Deno.test("VectorTileServer metadata, pbf tiles with ETag, and the style", async () => {
  const fake = newFake();
  const token = await tokenFor(fake);
  const meta = (await get(fake, `${SVC}/Basemap/VectorTileServer`, { f: "json", token })).body;
  assert.deepEqual(meta.tiles, ["tile/{z}/{y}/{x}.pbf"]);
  const tile = await fake.fetch(`${SVC}/Basemap/VectorTileServer/tile/2/1/1.pbf?token=${token}`);
  assert.equal(tile.headers.get("content-type"), "application/x-protobuf");
  assert.ok(tile.headers.get("etag"));
  const bytes = new Uint8Array(await tile.arrayBuffer());
  assert.equal(bytes[0], 0x1a, "field 3 (layers), length-delimited");
  const style =
    (await get(fake, `${SVC}/Basemap/VectorTileServer/resources/styles/root.json`, { token })).body;
  assert.equal(style.version, 8);
  assert.equal(
    (await get(fake, `${SVC}/Basemap/VectorTileServer/tile/2/1/1`, { token })).body.error.code,
    404,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// Redirects, CORS, leaky headers

Deno.test("redirect rules answer 301/302 with Location and are never followed", async () => {
  const fake = newFake({
    redirects: [{
      path: "/server/rest/services/Moved/MapServer",
      status: 301,
      location: "/server/rest/services/Basemap/MapServer",
    }],
  });
  fake.addRedirect({
    path: "/server/rest/services/Away/*",
    location: "https://elsewhere.example/x",
    appendQuery: true,
  });
  const inside = await fake.fetch(`${SVC}/Moved/MapServer?f=json`);
  assert.equal(inside.status, 301);
  assert.equal(inside.headers.get("location"), `${O}/server/rest/services/Basemap/MapServer`);
  const outside = await fake.fetch(`${SVC}/Away/FeatureServer/0/query?f=json&where=1%3D1`, {
    redirect: "follow",
  });
  assert.equal(outside.status, 302);
  assert.equal(outside.headers.get("location"), "https://elsewhere.example/x?f=json&where=1%3D1");
  assert.equal(fake.count("redirect"), 2);
  fake.clearRedirects();
  assert.deepEqual(await (await fake.fetch(`${SVC}/Moved/MapServer?f=json`)).json(), INVALID_URL_ERROR);
});

Deno.test("CORS: preflight answered, Origin echoed with credentials, nothing without Origin", async () => {
  const fake = newFake();
  const pre = await fake.fetch(queryUrl(), {
    method: "OPTIONS",
    headers: {
      Origin: "https://app.example",
      "Access-Control-Request-Method": "POST",
      "Access-Control-Request-Headers": "x-esri-authorization",
    },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(pre.headers.get("access-control-allow-credentials"), "true");
  assert.equal(pre.headers.get("access-control-allow-headers"), "x-esri-authorization");
  assert.match(pre.headers.get("access-control-allow-methods") ?? "", /POST/);
  assert.equal(fake.count("options"), 1);
  const withOrigin = await fake.fetch(`${P}/info?f=json`, { headers: { Origin: "https://app.example" } });
  assert.equal(withOrigin.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(withOrigin.headers.get("access-control-allow-credentials"), "true");
  assert.match(withOrigin.headers.get("vary") ?? "", /Origin/);
  await withOrigin.body?.cancel();
  const without = await fake.fetch(`${P}/info?f=json`);
  assert.equal(without.headers.get("access-control-allow-origin"), null);
  await without.body?.cancel();
});

Deno.test("leaky headers add Set-Cookie, WWW-Authenticate and a wildcard CORS header", async () => {
  const fake = newFake();
  fake.setLeakyHeaders(true);
  const res = await fake.fetch(`${SVC}/PublicTrailheads/FeatureServer/0?f=json`);
  assert.match(res.headers.get("set-cookie") ?? "", /^esri_aopc=/);
  assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="arcgis"');
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  await res.body?.cancel();
  fake.setLeakyHeaders(false);
  const clean = await fake.fetch(`${SVC}/PublicTrailheads/FeatureServer/0?f=json`);
  assert.equal(clean.headers.get("set-cookie"), null);
  await clean.body?.cancel();
});

// ---------------------------------------------------------------------------------------------------------------
// Request log, failure injection, clock, hooks

Deno.test("the request log records method, path, params and the interesting headers", async () => {
  const fake = newFake();
  await post(fake, `${P}/generateToken?f=json`, { username: "alice", password: "alice-password" }, {
    Referer: "https://app.example/",
    "X-Esri-Authorization": "Bearer abc",
    Authorization: "Bearer def",
    Cookie: "a=b",
  });
  const r = fake.requests[0];
  assert.equal(r.seq, 1);
  assert.equal(r.timeMs, T0);
  assert.equal(r.method, "POST");
  assert.equal(r.path, "/portal/sharing/rest/generateToken");
  assert.equal(r.endpoint, "portal:generateToken");
  assert.equal(r.root, "portal");
  assert.deepEqual(r.query, { f: "json" });
  assert.deepEqual(r.body, { username: "alice", password: "alice-password" });
  assert.equal(r.referer, "https://app.example/");
  assert.equal(r.xEsriAuthorization, "Bearer abc");
  assert.equal(r.authorization, "Bearer def");
  assert.equal(r.cookie, "a=b");
  assert.match(r.contentType ?? "", /application\/x-www-form-urlencoded/);
  assert.equal(r.headers["referer"], "https://app.example/");
  assert.equal(r.status, 200);
  assert.equal(r.bodyBytes, new TextEncoder().encode("username=alice&password=alice-password").length);
  assert.match(r.bodyCrc32, /^[0-9a-f]{8}$/);

  await get(fake, queryUrl(), { f: "json" });
  const q = fake.requests[1];
  assert.equal(q.endpoint, "FeatureServer/query");
  assert.equal(q.root, "/server");
  assert.equal(q.service, "Trailheads/FeatureServer");
  assert.equal(q.errorCode, 499);
  assert.equal(fake.count("portal:generateToken"), 1);
  assert.equal(fake.count((x) => x.errorCode === 499), 1);
  fake.reset();
  assert.equal(fake.requests.length, 0);
  assert.equal(fake.count("portal:generateToken"), 0);
});

Deno.test("opaque request bodies are counted, checksummed and kept up to the cap", async () => {
  const fake = newFake({ maxRecordedBodyBytes: 16 });
  const small = new Uint8Array([1, 2, 3]);
  await fake.fetch(`${SVC}/PublicTrailheads/FeatureServer/0?f=json`, {
    method: "POST",
    body: small,
    headers: { "Content-Type": "application/octet-stream" },
  }).then((r) => r.body?.cancel());
  assert.equal(fake.requests[0].bodyKind, "other");
  assert.deepEqual(fake.requests[0].rawBody, small);
  const big = new Uint8Array(100).fill(7);
  await fake.fetch(`${SVC}/PublicTrailheads/FeatureServer/0?f=json`, {
    method: "POST",
    body: big,
    headers: { "Content-Type": "application/octet-stream" },
  }).then((r) => r.body?.cancel());
  assert.equal(fake.requests[1].bodyBytes, 100);
  assert.equal(fake.requests[1].rawBody, undefined);
  assert.notEqual(fake.requests[1].bodyCrc32, fake.requests[0].bodyCrc32);
});

Deno.test("failure injection: HTTP 503 for a number of requests, then normal answers", async () => {
  const fake = newFake();
  const handle = fake.injectFailure({
    match: "portal:oauth2/token",
    mode: { kind: "status", status: 503 },
    times: 2,
  });
  const params = { client_id: CLIENT, client_secret: SECRET, grant_type: "client_credentials" };
  assert.equal((await post(fake, `${P}/oauth2/token`, params)).status, 503);
  assert.equal((await post(fake, `${P}/oauth2/token`, params)).status, 503);
  assert.equal(fake.requests[0].failure, "status");
  const ok = await post(fake, `${P}/oauth2/token`, params);
  assert.equal(typeof ok.body.access_token, "string");
  assert.equal(handle.hits, 2);
  assert.equal(fake.count("portal:oauth2/token"), 3);
});

Deno.test("failure injection: garbage bodies and ArcGIS error bodies, matched by predicate", async () => {
  const fake = newFake();
  const g = fake.injectFailure({
    match: (r) => r.endpoint === "portal:generateToken" && r.body.serverUrl !== undefined,
    mode: { kind: "garbage" },
  });
  const portal = await userToken(fake);
  const garbage = await post(fake, `${P}/generateToken`, { token: portal, serverUrl: S });
  assert.equal(garbage.status, 200);
  assert.equal(garbage.body, undefined, "not parseable");
  g.remove();
  fake.injectFailure({ match: "server:info", mode: { kind: "arcgisError", code: 500, message: "Boom" } });
  assert.deepEqual((await get(fake, `${S}/rest/info`, { f: "json" })).body, {
    error: { code: 500, message: "Boom", details: [] },
  });
  fake.clearFailures();
  assert.equal((await get(fake, `${S}/rest/info`, { f: "json" })).body.currentVersion, 11.3);
});

async function _untilCount(fake: FakeArcGIS, endpoint: "server:info", n: number): Promise<void> {
  for (let i = 0; i < 1000 && fake.count(endpoint) < n; i++) await Promise.resolve();
  assert.equal(fake.count(endpoint), n);
}

Deno.test("failure injection: a hang ends with the caller's abort, or with releaseHangs()", async () => {
  const fake = newFake();
  fake.injectFailure({ match: "server:info", mode: { kind: "hang" } });
  const controller = new AbortController();
  const pending = fake.fetch(`${S}/rest/info?f=json`, { signal: controller.signal });
  await _untilCount(fake, "server:info", 1);
  controller.abort(new DOMException("timed out", "TimeoutError"));
  await assert.rejects(pending, (e: unknown) => e instanceof DOMException && e.name === "TimeoutError");

  const released = fake.fetch(`${S}/rest/info?f=json`);
  await _untilCount(fake, "server:info", 2);
  fake.releaseHangs();
  const res = await released;
  assert.equal(res.status, 503);
  await res.body?.cancel();
});

Deno.test("the clock: startTimeMs is manual, an injected now() is obeyed and cannot be advanced", async () => {
  const manual = newFake();
  assert.equal(manual.now(), T0);
  manual.advance(5000);
  assert.equal(manual.now(), T0 + 5000);
  assert.throws(() => manual.advance(-1));

  let t = 1_000_000;
  const injected = createFakeArcGIS({ now: () => t });
  const a = await post(injected, `${P}/generateToken`, { username: "bob", password: "bob-password" });
  assert.equal(a.body.expires, 1_000_000 + 120 * MIN);
  t += 120 * MIN;
  assert.deepEqual(
    (await get(injected, `${P}/community/self`, { token: a.body.token })).body,
    INVALID_TOKEN_ERROR,
  );
  assert.throws(() => injected.advance(1));

  const real = createFakeArcGIS();
  const before = Date.now();
  real.advance(3_600_000);
  assert.ok(real.now() >= before + 3_600_000);
});

Deno.test("hooks: issueToken, issueAuthorizationCode, inspectToken, addUser", async () => {
  const fake = newFake();
  fake.addUser({ username: "dave", password: "pw", groups: ["Trail Editors"] });
  const st = fake.issueToken({ kind: "server", username: "dave", minutes: 1 });
  assert.equal(fake.inspectToken(st)?.serverRoot, "/server");
  assert.equal(fake.inspectToken(st)?.expiresMs, T0 + MIN);
  assert.equal(await queryCode(fake, st, queryUrl("EditorTrailheads")), 200);
  const code = fake.issueAuthorizationCode({ clientId: CLIENT, redirectUri: REDIRECT, username: "dave" });
  const a = await post(fake, `${P}/oauth2/token`, {
    grant_type: "authorization_code",
    client_id: CLIENT,
    code,
    redirect_uri: REDIRECT,
  });
  assert.equal(a.body.username, "dave");
  assert.equal(fake.inspectToken("nope"), undefined);
  const copy = fake.inspectToken(st)!;
  copy.revoked = true;
  assert.equal(fake.inspectToken(st)?.revoked, false, "inspectToken returns a copy");
});

Deno.test("exported error bodies are frozen", () => {
  assert.ok(Object.isFrozen(INVALID_TOKEN_ERROR));
  assert.ok(Object.isFrozen(INVALID_TOKEN_ERROR.error));
  assert.throws(() => {
    (INVALID_TOKEN_ERROR.error as { code: number }).code = 1;
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Over loopback HTTP

Deno.test("serveFakeArcGIS serves the fake on 127.0.0.1: tokens, Referer binding, queries and a streamed export", async () => {
  const served = serveFakeArcGIS({ startTimeMs: T0 });
  try {
    assert.match(served.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(served.urls.portal, `${served.origin}/portal`);
    const info = await (await fetch(`${served.origin}/server/rest/info?f=json`)).json();
    assert.equal(info.owningSystemUrl, `${served.origin}/portal`, "absolute URLs follow the request origin");

    const gt = await fetch(served.urls.generateToken, {
      method: "POST",
      body: new URLSearchParams({
        username: "alice",
        password: "alice-password",
        client: "referer",
        referer: "https://app.example",
      }),
    });
    const portal = (await gt.json()).token as string;
    const st = await fetch(served.urls.generateToken, {
      method: "POST",
      body: new URLSearchParams({ token: portal, serverUrl: served.urls.servers["/server"].root }),
      headers: { Referer: "https://app.example/index.html" },
    });
    const server = (await st.json()).token as string;
    const q = `${
      served.urls.servers["/server"].restServices
    }/Trailheads/FeatureServer/0/query?f=json&where=1%3D1&returnCountOnly=true`;
    const ok = await fetch(q, {
      headers: { "X-Esri-Authorization": `Bearer ${server}`, Referer: "https://app.example/" },
    });
    assert.deepEqual(await ok.json(), { count: 36 });
    const wrong = await fetch(q, {
      headers: { "X-Esri-Authorization": `Bearer ${server}`, Referer: "https://x.example/" },
    });
    assert.deepEqual(await wrong.json(), INVALID_TOKEN_ERROR);

    const big = await fetch(
      `${
        served.urls.servers["/server"].restServices
      }/Basemap/MapServer/exportLarge?bytes=50000000&chunkBytes=65536`,
      { headers: { "X-Esri-Authorization": `Bearer ${server}`, Referer: "https://app.example/" } },
    );
    assert.equal(big.status, 200);
    const reader = big.body!.getReader();
    const first = await reader.read();
    assert.ok((first.value?.length ?? 0) > 0);
    await reader.cancel();
    const record = served.fake.streams[0];
    assert.ok(record.pulledBytes < 50_000_000, "not materialised");
    assert.equal(served.fake.count("MapServer/exportLarge"), 1);
  } finally {
    await served.close();
  }
});

Deno.test("serveFakeArcGIS refuses non-loopback addresses", () => {
  assert.throws(() => serveFakeArcGIS({ hostname: "0.0.0.0" as "127.0.0.1" }));
});

Deno.test("serveFakeArcGIS close() answers hanging requests instead of waiting for them", async () => {
  const served = serveFakeArcGIS({
    startTimeMs: T0,
    servers: [{ path: "/a" }, { path: "/b", federated: false }],
  });
  const arrived = Promise.withResolvers<void>();
  served.fake.injectFailure({
    match: (r) => {
      if (r.endpoint !== "server:info") return false;
      arrived.resolve();
      return true;
    },
    mode: { kind: "hang" },
    times: 1,
  });
  const pending = fetch(`${served.origin}/a/rest/info?f=json`);
  await arrived.promise;
  const closing = served.close();
  const res = await pending;
  assert.equal(res.status, 503);
  await res.body?.cancel();
  await closing;
  assert.equal(served.urls.servers["/b"].federated, false);
});
