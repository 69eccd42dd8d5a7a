import assert from "node:assert/strict";
import { Hono } from "hono";
import { BrokerError } from "../../src/errors.ts";
import type { LogEntry } from "../../src/deps.ts";
import type { Identity, LinkService, TokenService, TokenVerifier } from "../../src/types.ts";
import { createRoutes, type RoutesParts } from "../../src/hono/routes.ts";
import { bearerTokenOf } from "../../src/hono/authenticate.ts";

const GOOD = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
const DOWN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkb3duIn0.c2ln";
const NOBODY = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.c2ln";
const UNLINKED = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1bmxpbmtlZCJ9.c2ln";
const ARCGIS_TOKEN = "arcgis-token-abc123";

function identityFor(subject: string): Identity {
  return {
    issuer: "https://idp.example.com",
    subject,
    claims: { sub: subject },
    tokenKind: "access",
    expiresAt: 0,
  };
}

function stubVerifier(): TokenVerifier {
  return {
    verify(token, options) {
      const subjects: Record<string, string> = {
        [GOOD]: "alice",
        [NOBODY]: "nobody",
        [UNLINKED]: "unlinked",
      };
      if (token === DOWN) {
        return Promise.reject(new BrokerError("ERR_IDP_UNAVAILABLE", "IdP down", { retryAfterSeconds: 30 }));
      }
      if (options?.accept !== undefined && !options.accept.includes("access")) {
        return Promise.reject(new BrokerError("ERR_INVALID_TOKEN", "Wrong kind"));
      }
      const subject = subjects[token];
      if (subject === undefined) return Promise.reject(new BrokerError("ERR_INVALID_TOKEN", "Bad signature"));
      return Promise.resolve(identityFor(subject));
    },
    health: () => [{ issuer: "https://idp.example.com", lastFetch: "ok", keys: 1 }],
  };
}

function stubTokens(calls: string[]): TokenService {
  const credential = {
    server: "https://myorg.maps.arcgis.com/sharing/rest",
    token: ARCGIS_TOKEN,
    expires: 1_000_000 + 1_800_000,
    ssl: true,
    userId: "alice_org",
  };
  const guard = (identity: Identity) => {
    if (identity.subject === "unlinked") {
      // As the core raises it: with the link route, built once from the mount path.
      throw new BrokerError("ERR_LINK_REQUIRED", "No link", { details: { link: "/arcgis/link" } });
    }
  };
  return {
    credentials(identity, profiles) {
      calls.push(`credentials:${identity.subject}:${profiles.join(",")}`);
      guard(identity);
      return Promise.resolve({ userId: "alice_org", expires: credential.expires, credentials: [credential] });
    },
    browserToken(identity, _profiles, targets = []) {
      calls.push(`browserToken:${identity.subject}:${targets.join(",")}`);
      guard(identity);
      if (targets.some((target) => target !== "https://gis.example.com/server")) {
        return Promise.reject(new BrokerError("ERR_INVALID_TARGET", "Unknown resource"));
      }
      return Promise.resolve(credential);
    },
    tokenForUrl: () => Promise.reject(new Error("unused")),
    replaceRejected: () => Promise.reject(new Error("unused")),
  };
}

function stubLinks(calls: string[]): LinkService {
  return {
    startLink(_identity, _profiles, returnTo) {
      calls.push(`startLink:${returnTo ?? ""}`);
      return Promise.resolve({
        authorizeUrl: "https://myorg.maps.arcgis.com/sharing/rest/oauth2/authorize?x=1",
      });
    },
    linkCallback(query) {
      if (query.get("state") !== "good") {
        return Promise.reject(new BrokerError("ERR_LINK_INVALID", "Bad state"));
      }
      return Promise.resolve("https://app.example.com/?linkId=L1");
    },
    completeLink(_identity, linkId) {
      if (linkId !== "L1") return Promise.reject(new BrokerError("ERR_LINK_INVALID", "Bad link"));
      return Promise.resolve({ userId: "alice_org" });
    },
    unlink: () => Promise.resolve({ unlinked: true }),
  };
}

function setup(overrides: Partial<RoutesParts> = {}) {
  const calls: string[] = [];
  const logs: LogEntry[] = [];
  const memory = new Map<string, string>();
  const parts: RoutesParts = {
    verifier: stubVerifier(),
    policy: { profilesFor: (identity) => identity.subject === "nobody" ? [] : ["viewer"] },
    tokens: stubTokens(calls),
    links: stubLinks(calls),
    proxy: (request, context) => {
      calls.push(`proxy:${context.identity.subject}:${context.profiles.join(",")}`);
      return Promise.resolve(new Response(`proxied ${new URL(request.url).search.length}`));
    },
    store: {
      get: (k) => Promise.resolve(memory.get(k) ?? null),
      set: (k, v) => Promise.resolve(void memory.set(k, v)),
      delete: (k) => Promise.resolve(void memory.delete(k)),
    },
    cors: { origins: ["https://app.example.com"], maxAgeSeconds: 600 },
    mountPath: "/arcgis",
    log: (entry) => logs.push(entry),
    now: () => 1_000_000,
    ...overrides,
  };
  const app = new Hono().route("/arcgis", createRoutes(parts));
  return { app, calls, logs };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("bearerTokenOf() separates missing, foreign-scheme and malformed credentials", () => {
  assert.throws(
    () => bearerTokenOf(undefined),
    (e) => e instanceof BrokerError && e.code === "ERR_NO_CREDENTIALS",
  );
  assert.throws(
    () => bearerTokenOf("Basic dXNlcjpwYXNz"),
    (e) => e instanceof BrokerError && e.code === "ERR_NO_CREDENTIALS",
  );
  for (const bad of ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b", "Bearer \u00e9"]) {
    assert.throws(
      () => bearerTokenOf(bad),
      (e) => e instanceof BrokerError && e.code === "ERR_INVALID_REQUEST",
      bad,
    );
  }
  assert.equal(bearerTokenOf(`bearer ${GOOD}`), GOOD);
});

Deno.test("GET /health answers liveness without authentication", async () => {
  const { app } = setup();
  const res = await app.request("/arcgis/health");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
});

Deno.test("a request without credentials gets 401 with the realm only (RFC 6750 §3.1)", async () => {
  const { app } = setup();
  const res = await app.request("/arcgis/credentials");
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="arcgis-token-broker"');
  const body = await res.json();
  assert.equal(body.error, undefined);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
});

Deno.test("a malformed Authorization header gets 400 invalid_request", async () => {
  const { app } = setup();
  const res = await app.request("/arcgis/credentials", { headers: { authorization: "Bearer a b c" } });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error, "invalid_request");
  assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_request"/);
});

Deno.test("an invalid token gets 401 invalid_token with a generic description that echoes nothing", async () => {
  const { app, logs } = setup();
  const forged = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJldmUifQ.Zm9yZ2Vk";
  const res = await app.request("/arcgis/credentials?x=secret-query", { headers: bearer(forged) });
  assert.equal(res.status, 401);
  const text = await res.text();
  assert.equal(JSON.parse(text).error, "invalid_token");
  assert.ok(!text.includes(forged) && !text.includes("secret-query") && !text.includes("Bad signature"));
  assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  assert.ok(!JSON.stringify(logs).includes(forged), "the token must not reach the log");
});

Deno.test("an IdP outage is a 503 with Retry-After, not a 401", async () => {
  const { app } = setup();
  const res = await app.request("/arcgis/credentials", { headers: bearer(DOWN) });
  assert.equal(res.status, 503);
  assert.equal(res.headers.get("retry-after"), "30");
});

Deno.test("GET /credentials returns the credentials with Cache-Control: no-store", async () => {
  const { app, calls } = setup();
  const res = await app.request("/arcgis/credentials", { headers: bearer(GOOD) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const body = await res.json();
  assert.equal(body.credentials[0].token, ARCGIS_TOKEN);
  assert.deepEqual(calls, ["credentials:alice:viewer"]);
});

Deno.test("GET /credentials answers 403 link_required with the link route for unlinked users", async () => {
  const { app } = setup();
  const res = await app.request("/arcgis/credentials", { headers: bearer(UNLINKED) });
  assert.equal(res.status, 403);
  const body = await res.json();
  assert.equal(body.error, "link_required");
  assert.equal(body.link, "/arcgis/link");
});

Deno.test("an identity no rule admits gets 403 insufficient_scope", async () => {
  const { app, calls } = setup();
  const res = await app.request("/arcgis/credentials", { headers: bearer(NOBODY) });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error, "insufficient_scope");
  assert.deepEqual(calls, []);
});

Deno.test("CORS preflight is answered before authentication with an exact origin echo", async () => {
  const { app } = setup();
  const res = await app.request("/arcgis/credentials", {
    method: "OPTIONS",
    headers: { origin: "https://app.example.com", "access-control-request-method": "GET" },
  });
  assert.equal(res.status, 204);
  assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example.com");
  assert.match(res.headers.get("access-control-allow-headers") ?? "", /\bAuthorization\b/);
  assert.match(res.headers.get("vary") ?? "", /Origin/);
  assert.equal(res.headers.get("access-control-allow-credentials"), null);
  const denied = await app.request("/arcgis/credentials", {
    method: "OPTIONS",
    headers: { origin: "https://evil.example.com", "access-control-request-method": "GET" },
  });
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get("access-control-allow-origin"), null);
});

Deno.test("CORS on normal answers echoes only listed origins and never '*'", async () => {
  const { app } = setup();
  const ok = await app.request("/arcgis/credentials", {
    headers: { ...bearer(GOOD), origin: "https://app.example.com" },
  });
  assert.equal(ok.headers.get("access-control-allow-origin"), "https://app.example.com");
  assert.match(ok.headers.get("vary") ?? "", /Origin/);
  const other = await app.request("/arcgis/credentials", {
    headers: { ...bearer(GOOD), origin: "https://evil.example.com" },
  });
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  const err = await app.request("/arcgis/credentials", { headers: { origin: "https://app.example.com" } });
  assert.equal(err.status, 401);
  assert.equal(err.headers.get("access-control-allow-origin"), "https://app.example.com");
});

function tokenForm(fields: Record<string, string>): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  };
}

const EXCHANGE = {
  grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
  subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
};

Deno.test("POST /token answers RFC 8693 §2.2.1 on success", async () => {
  const { app } = setup();
  const res = await app.request("/arcgis/token", tokenForm({ ...EXCHANGE, subject_token: GOOD }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "no-store");
  const body = await res.json();
  assert.equal(body.access_token, ARCGIS_TOKEN);
  assert.equal(body.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 1800);
});

Deno.test("POST /token answers RFC 8693 §2.2.2 errors", async () => {
  const { app } = setup();
  const cases: Array<[Record<string, string>, number, string]> = [
    [{ ...EXCHANGE, grant_type: "client_credentials", subject_token: GOOD }, 400, "unsupported_grant_type"],
    [{ ...EXCHANGE }, 400, "invalid_request"],
    [{ ...EXCHANGE, subject_token: "forged.token.value" }, 400, "invalid_request"],
    [{ ...EXCHANGE, subject_token: GOOD, subject_token_type: "urn:x" }, 400, "invalid_request"],
    [{ ...EXCHANGE, subject_token: GOOD, resource: "https://elsewhere.example.com" }, 400, "invalid_target"],
    [{ ...EXCHANGE, subject_token: NOBODY }, 400, "invalid_target"],
  ];
  for (const [fields, status, error] of cases) {
    const res = await app.request("/arcgis/token", tokenForm(fields));
    assert.equal(res.status, status, JSON.stringify(fields));
    const body = await res.json();
    assert.equal(body.error, error, JSON.stringify(fields));
    assert.equal(res.headers.get("www-authenticate"), null);
  }
  const json = await app.request("/arcgis/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...EXCHANGE, subject_token: GOOD }),
  });
  assert.equal(json.status, 400);
  assert.equal((await json.json()).error, "invalid_request");
  const repeated = await app.request(
    "/arcgis/token",
    {
      ...tokenForm({ ...EXCHANGE, subject_token: GOOD }),
      body: `${new URLSearchParams({ ...EXCHANGE, subject_token: GOOD })}&subject_token=x`,
    },
  );
  assert.equal(repeated.status, 400);
});

Deno.test("POST /token refuses oversized bodies with 413 instead of reading them", async () => {
  const { app } = setup();
  const res = await app.request(
    "/arcgis/token",
    tokenForm({ ...EXCHANGE, subject_token: "a".repeat(20_000) }),
  );
  assert.equal(res.status, 413);
});

Deno.test("the link routes start, call back and complete with allowlisted answers", async () => {
  const { app, calls } = setup();
  const start = await app.request("/arcgis/link", {
    method: "POST",
    headers: { ...bearer(GOOD), "content-type": "application/json" },
    body: JSON.stringify({ returnTo: "https://app.example.com/" }),
  });
  assert.equal(start.status, 200);
  assert.match((await start.json()).authorizeUrl, /oauth2\/authorize/);
  assert.deepEqual(calls, ["startLink:https://app.example.com/"]);
  const callback = await app.request("/arcgis/link/callback?code=c&state=good");
  assert.equal(callback.status, 303);
  assert.equal(callback.headers.get("location"), "https://app.example.com/?linkId=L1");
  const badState = await app.request("/arcgis/link/callback?code=c&state=evil");
  assert.equal(badState.status, 400);
  assert.equal(badState.headers.get("location"), null);
  const complete = await app.request("/arcgis/link/complete", {
    method: "POST",
    headers: { ...bearer(GOOD), "content-type": "application/json" },
    body: JSON.stringify({ linkId: "L1" }),
  });
  assert.deepEqual(await complete.json(), { linked: true, userId: "alice_org" });
  const garbage = await app.request("/arcgis/link/complete", {
    method: "POST",
    headers: { ...bearer(GOOD), "content-type": "application/json" },
    body: "[1,2",
  });
  assert.equal(garbage.status, 400);
  const unlink = await app.request("/arcgis/link", { method: "DELETE", headers: bearer(GOOD) });
  assert.deepEqual(await unlink.json(), { unlinked: true });
});

Deno.test("the proxy route authenticates first and passes the identity's profiles", async () => {
  const { app, calls } = setup();
  const target =
    "/arcgis/proxy?https://services.arcgis.com/ORG/arcgis/rest/services/X/FeatureServer/0?f=json";
  const anonymous = await app.request(target);
  assert.equal(anonymous.status, 401);
  assert.deepEqual(calls, []);
  const res = await app.request(target, { headers: bearer(GOOD) });
  assert.equal(res.status, 200);
  assert.deepEqual(calls, ["proxy:alice:viewer"]);
});

Deno.test("an unexpected failure is a generic 500 without a stack trace", async () => {
  const { app, logs } = setup({
    proxy: () => Promise.reject(new Error("boom at /secret/path with token=abc")),
  });
  const res = await app.request("/arcgis/proxy?https://x.example.com/", { headers: bearer(GOOD) });
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.ok(!text.includes("boom") && !text.includes("at "), text);
  assert.ok(!JSON.stringify(logs).includes("token=abc"));
});

Deno.test("GET /health/details needs authentication and reports KV and JWKS state", async () => {
  const { app } = setup();
  assert.equal((await app.request("/arcgis/health/details")).status, 401);
  const res = await app.request("/arcgis/health/details", { headers: bearer(GOOD) });
  const body = await res.json();
  assert.equal(body.kv, "ok");
  assert.equal(body.config, "loaded");
  assert.equal(body.issuers[0].lastFetch, "ok");
});

Deno.test("POST /token: every invalid_request names its parameter; RFC 8693 audience, actor and grant rules", async () => {
  const { app, calls } = setup();
  const cases: Array<[string, number, string, string]> = [
    [
      `subject_token=${GOOD}&subject_token_type=${EXCHANGE.subject_token_type}`,
      400,
      "invalid_request",
      "grant_type",
    ],
    [`grant_type=&subject_token=${GOOD}`, 400, "invalid_request", "grant_type"],
    [new URLSearchParams(EXCHANGE).toString(), 400, "invalid_request", "subject_token"],
    [`grant_type=${EXCHANGE.grant_type}&subject_token=${GOOD}`, 400, "invalid_request", "subject_token_type"],
    [
      `${new URLSearchParams(EXCHANGE)}&subject_token=${GOOD}&subject_token_type=x`,
      400,
      "invalid_request",
      "subject_token_type",
    ],
    [
      `${new URLSearchParams(EXCHANGE)}&subject_token=${GOOD}&requested_token_type=x`,
      400,
      "invalid_request",
      "requested_token_type",
    ],
    [
      `${new URLSearchParams(
        EXCHANGE,
      )}&subject_token=${GOOD}&actor_token_type=${EXCHANGE.subject_token_type}`,
      400,
      "invalid_request",
      "actor_token_type",
    ],
    [
      `${new URLSearchParams(
        EXCHANGE,
      )}&subject_token=${GOOD}&actor_token=${GOOD}&actor_token_type=${EXCHANGE.subject_token_type}`,
      400,
      "invalid_request",
      "actor_token",
    ],
    [
      `${new URLSearchParams(EXCHANGE)}&subject_token=${GOOD}&scope=a&scope=b`,
      400,
      "invalid_request",
      "scope",
    ],
    [
      `${new URLSearchParams(EXCHANGE)}&subject_token=${GOOD}&audience=urn:unrelated`,
      400,
      "invalid_target",
      "",
    ],
    [
      `${new URLSearchParams(
        EXCHANGE,
      )}&subject_token=${GOOD}&audience=https://gis.example.com/server&resource=https://gis.example.com/other`,
      400,
      "invalid_target",
      "",
    ],
  ];
  for (const [body, status, error, parameter] of cases) {
    const res = await app.request("/arcgis/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    assert.equal(res.status, status, body);
    const answer = await res.json();
    assert.equal(answer.error, error, body);
    if (parameter !== "") assert.match(answer.error_description, new RegExp(`\\b${parameter}\\b`), body);
  }
  // Both values naming the same configured server are accepted.
  const same = await app.request(
    "/arcgis/token",
    tokenForm({
      ...EXCHANGE,
      subject_token: GOOD,
      resource: "https://gis.example.com/server",
      audience: "https://gis.example.com/server",
    }),
  );
  assert.equal(same.status, 200);
  assert.ok(
    calls.includes("browserToken:alice:https://gis.example.com/server,https://gis.example.com/server"),
  );
  const notForm = await app.request("/arcgis/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.match((await notForm.json()).error_description, /x-www-form-urlencoded/);
});

Deno.test("POST /token: a user who must link gets invalid_grant with the link route in an extra member", async () => {
  const { app } = setup();
  const res = await app.request("/arcgis/token", tokenForm({ ...EXCHANGE, subject_token: UNLINKED }));
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error, "invalid_grant");
  assert.equal(body.link, "/arcgis/link");
});

Deno.test("RFC 6750 §3.1: a bearer in both the Authorization header and access_token is 400 invalid_request", async () => {
  const { app, calls } = setup();
  for (const path of ["/arcgis/credentials?access_token=x", "/arcgis/credentials?a=1&access_token="]) {
    const res = await app.request(path, { headers: bearer(GOOD) });
    assert.equal(res.status, 400, path);
    assert.equal((await res.json()).error, "invalid_request");
    assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_request"/);
  }
  assert.equal(calls.length, 0);
  // A parameter that only contains the name is not the access_token parameter.
  const ok = await app.request("/arcgis/credentials?my_access_token=x", { headers: bearer(GOOD) });
  assert.equal(ok.status, 200);
});

Deno.test("GET /health/details shows a stranger nothing and probes the store at most once per interval", async () => {
  let nowMs = 1_000_000;
  let writes = 0;
  const memory = new Map<string, string>();
  const { app } = setup({
    now: () => nowMs,
    store: {
      get: (k) => Promise.resolve(memory.get(k) ?? null),
      set: (k, v) => {
        writes++;
        memory.set(k, v);
        return Promise.resolve();
      },
      delete: (k) => Promise.resolve(void memory.delete(k)),
    },
  });
  const stranger = await app.request("/arcgis/health/details", { headers: bearer(NOBODY) });
  assert.equal(stranger.status, 403);
  const text = await stranger.text();
  assert.ok(!text.includes("issuers") && !text.includes("kv"), text);
  assert.equal(writes, 0);
  for (let i = 0; i < 5; i++) {
    const res = await app.request("/arcgis/health/details", { headers: bearer(GOOD) });
    assert.equal((await res.json()).kv, "ok");
    nowMs += 10_000;
  }
  assert.equal(writes, 1);
  nowMs += 10_000; // 60 s after the first probe
  await app.request("/arcgis/health/details", { headers: bearer(GOOD) });
  assert.equal(writes, 2);
});
