/**
 * The proxy route as mounted by a host: authentication before anything is proxied, errors mapped without details
 * (the sub-app has no onError: each handler answers its own), and with no CORS origin configured every preflight
 * refused while other answers carry no CORS header.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { BrokerError } from "../../src/errors.ts";
import type { Identity, LinkService, TokenService, TokenVerifier } from "../../src/types.ts";
import { createRoutes } from "../../src/hono/routes.ts";

const GOOD = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
const DOWN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkb3duIn0.c2ln";
const TARGET = "/arcgis/proxy?https://gis.example.com/server/rest/services/X/MapServer?f=json";

const verifier: TokenVerifier = {
  verify(token) {
    if (token === DOWN) {
      return Promise.reject(new BrokerError("ERR_IDP_UNAVAILABLE", "IdP down", { retryAfterSeconds: 30 }));
    }
    if (token !== GOOD) return Promise.reject(new BrokerError("ERR_INVALID_TOKEN", "Bad signature"));
    const identity: Identity = {
      issuer: "https://idp.example.com",
      subject: "alice",
      claims: { sub: "alice" },
      tokenKind: "access",
      expiresAt: 0,
    };
    return Promise.resolve(identity);
  },
  health: () => [],
};

function setup(origins: string[], proxy?: (request: Request) => Promise<Response>) {
  const calls: string[] = [];
  const routes = createRoutes({
    verifier,
    policy: { profilesFor: () => ["viewer"] },
    tokens: {} as TokenService,
    links: {} as LinkService,
    proxy: (request, context) => {
      calls.push(`${context.identity.subject}:${context.profiles.join(",")}`);
      return proxy?.(request) ?? Promise.resolve(new Response("proxied"));
    },
    store: {
      get: () => Promise.resolve(null),
      set: () => Promise.resolve(),
      delete: () => Promise.resolve(),
    },
    cors: { origins, maxAgeSeconds: 600 },
    mountPath: "/arcgis",
    log: () => {},
    now: () => 1_000_000,
  });
  const app = new Hono();
  const seen: Array<Identity | undefined> = [];
  // A host middleware in front, reading what the route sets.
  app.use("*", async (c, next) => {
    await next();
    seen.push((c as unknown as { get(key: string): Identity | undefined }).get("identity"));
  });
  app.route("/arcgis", routes);
  return { app, calls, seen };
}

for (const origins of [[], ["https://app.example.com"]]) {
  const label = origins.length === 0 ? "no CORS origin" : "a CORS origin";

  Deno.test(`proxy route (${label}): authenticates first, then proxies with the identity and its profiles`, async () => {
    const { app, calls, seen } = setup(origins);
    const anonymous = await app.request(TARGET);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer realm=/);
    const forged = await app.request(TARGET, { headers: { authorization: "Bearer x.y.z" } });
    assert.equal(forged.status, 401);
    assert.equal((await forged.json()).error, "invalid_token");
    const malformed = await app.request(TARGET, { headers: { authorization: "Bearer a b" } });
    assert.equal(malformed.status, 400);
    const down = await app.request(TARGET, { headers: { authorization: `Bearer ${DOWN}` } });
    assert.equal(down.status, 503);
    assert.equal(down.headers.get("retry-after"), "30");
    assert.deepEqual(calls, [], "nothing proxied without a valid bearer");
    const ok = await app.request(TARGET, { headers: { authorization: `Bearer ${GOOD}` } });
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), "proxied");
    assert.deepEqual(calls, ["alice:viewer"]);
    assert.equal(seen.at(-1)?.subject, "alice", "the identity is set for the host as authenticate() sets it");
  });

  Deno.test(`proxy route (${label}): refusals and unexpected failures are mapped, without details`, async () => {
    const refused = setup(origins, () => Promise.reject(new BrokerError("ERR_TARGET_NOT_ALLOWED", "No")));
    const res = await refused.app.request(TARGET, { headers: { authorization: `Bearer ${GOOD}` } });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error, "forbidden");
    const broken = setup(origins, () => Promise.reject(new Error("boom at /secret?token=abc")));
    const failed = await broken.app.request(TARGET, { headers: { authorization: `Bearer ${GOOD}` } });
    assert.equal(failed.status, 500);
    const text = await failed.text();
    assert.ok(!text.includes("boom") && !text.includes("token=abc"), text);
  });
}

Deno.test("no CORS origin: every preflight is refused before authentication; other OPTIONS reach the routes", async () => {
  const { app, calls } = setup([]);
  for (const path of [TARGET, "/arcgis/credentials", "/arcgis/nowhere"]) {
    const preflight = await app.request(path, {
      method: "OPTIONS",
      headers: { origin: "https://app.example.com", "access-control-request-method": "GET" },
    });
    assert.equal(preflight.status, 403, path);
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    assert.match(preflight.headers.get("vary") ?? "", /Origin/);
  }
  const plain = await app.request(TARGET, { method: "OPTIONS" });
  assert.equal(plain.status, 401, "a non-preflight OPTIONS is authenticated like any request");
  const answer = await app.request(TARGET, {
    headers: { authorization: `Bearer ${GOOD}`, origin: "https://app.example.com" },
  });
  assert.equal(answer.status, 200);
  for (const [name] of answer.headers) assert.ok(!name.startsWith("access-control-"), name);
  assert.equal((await app.request("/arcgis/nowhere")).status, 404);
  assert.deepEqual(calls, ["alice:viewer"]);
});
