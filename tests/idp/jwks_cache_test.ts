/**
 * The JWKS side (checklist W group): discovery, refetch discipline under kid storms and failing endpoints,
 * stale-if-error, timeouts, body caps, redirects, https only, the KV tier and in-flight sharing. Every test
 * asserts the upstream fetch counts.
 */
import assert from "node:assert/strict";
import { isBrokerError } from "../../src/errors.ts";
import { createTokenVerifier } from "../../src/idp/mod.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import type { TokenVerifier } from "../../src/types.ts";
import {
  accessClaims,
  b64json,
  createClock,
  createFakeIdp,
  generateSigningKey,
  ISSUER,
  issuerConfig,
  signToken,
  testDeps,
} from "./_helpers.ts";

const rsa = await generateSigningKey("RS256", "rsa-1");
const next = await generateSigningKey("RS256", "rsa-2");
const good = await signToken(rsa, accessClaims());

async function assertUnavailable(verifier: TokenVerifier, token: string, reason?: RegExp): Promise<number> {
  let retryAfter = -1;
  await assert.rejects(verifier.verify(token), (error: unknown) => {
    assert.ok(
      isBrokerError(error, "ERR_IDP_UNAVAILABLE"),
      `expected ERR_IDP_UNAVAILABLE, got ${String(error)}`,
    );
    assert.equal(error.message, "Identity provider unavailable");
    assert.ok(error.retryAfterSeconds !== undefined && error.retryAfterSeconds >= 1);
    retryAfter = error.retryAfterSeconds;
    if (reason !== undefined) {
      let text = "";
      for (let e: unknown = error.cause; e instanceof Error; e = e.cause) text += `${e.message}\n`;
      assert.match(text, reason);
    }
    return true;
  });
  return retryAfter;
}

async function assertInvalid(verifier: TokenVerifier, token: string): Promise<void> {
  await assert.rejects(verifier.verify(token), (error: unknown) => isBrokerError(error, "ERR_INVALID_TOKEN"));
}

/** The good token under a random kid; the kid lookup fails before any signature check, so no need to sign. */
function randomKidToken(): string {
  const [, payload, signature] = good.split(".");
  return `${b64json({ alg: "RS256", kid: crypto.randomUUID(), typ: "at+jwt" })}.${payload}.${signature}`;
}

function world(
  overrides: Parameters<typeof issuerConfig>[0] = {},
  options: { shareInFlight?: boolean } = {},
) {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const deps = testDeps(clock, idp.fetch);
  const verifier = createTokenVerifier([issuerConfig(overrides)], deps, options);
  return { clock, idp, deps, verifier };
}

Deno.test("keys come from discovery's jwks_uri, fetched once and then served from memory", async () => {
  const { verifier, idp } = world();
  assert.deepEqual(verifier.health(), [{ issuer: ISSUER, lastFetch: "never", keys: 0 }]);
  await verifier.verify(good);
  await verifier.verify(await signToken(rsa, accessClaims({ jti: "x" })));
  assert.equal(idp.discoveryCalls(), 1);
  assert.equal(idp.jwksCalls(), 1);
  const [health] = verifier.health();
  assert.equal(health.lastFetch, "ok");
  assert.equal(health.keys, 1);
  const [discovery, jwks] = idp.requests;
  assert.equal(discovery.url, `${ISSUER}/.well-known/openid-configuration`);
  for (const request of [discovery, jwks]) {
    assert.equal(request.init?.redirect, "manual");
    assert.ok(request.init?.signal instanceof AbortSignal);
  }
});

Deno.test("discovery for an issuer with a path appends the well-known suffix after it", async () => {
  const clock = createClock();
  const issuer = "https://login.example.com/tenant/v2.0";
  const idp = createFakeIdp([rsa.publicJwk], issuer);
  const verifier = createTokenVerifier([issuerConfig({ issuer })], testDeps(clock, idp.fetch));
  await verifier.verify(await signToken(rsa, accessClaims({ iss: issuer })));
  assert.equal(idp.requests[0].url, `${issuer}/.well-known/openid-configuration`);
});

Deno.test("a discovery document naming another issuer is refused: 503, and no JWKS fetch", async () => {
  const { verifier, idp } = world();
  idp.respond.set(
    "/.well-known/openid-configuration",
    () => Response.json({ issuer: `${ISSUER}/`, jwks_uri: `${ISSUER}/jwks` }),
  );
  await assertUnavailable(verifier, good, /Discovery issuer does not equal/);
  assert.equal(idp.discoveryCalls(), 1);
  assert.equal(idp.jwksCalls(), 0);
  assert.equal(verifier.health()[0].lastFetch, "error");
});

Deno.test("a discovery document with a non-https or broken jwks_uri is refused", async () => {
  for (const jwksUri of ["http://idp.example.com/jwks", "http://127.0.0.1:1/jwks", "not a url", 7]) {
    const { verifier, idp } = world();
    idp.respond.set(
      "/.well-known/openid-configuration",
      () => Response.json({ issuer: ISSUER, jwks_uri: jwksUri }),
    );
    await assertUnavailable(verifier, good);
    assert.equal(idp.jwksCalls(), 0);
    assert.equal(idp.requests.length, 1);
  }
});

Deno.test("loopback http is allowed only with allowInsecureLoopback", async () => {
  const clock = createClock();
  const issuer = "http://127.0.0.1:9";
  const idp = createFakeIdp([rsa.publicJwk], issuer);
  const verifier = createTokenVerifier(
    [issuerConfig({ issuer, allowInsecureLoopback: true })],
    testDeps(clock, idp.fetch),
  );
  await verifier.verify(await signToken(rsa, accessClaims({ iss: issuer })));
  assert.equal(idp.jwksCalls(), 1);
  assert.throws(() => issuerConfig({ issuer }), /https/);
});

Deno.test("a redirect from the JWKS endpoint is a failure and is not followed", async () => {
  const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks` });
  idp.respond.set(
    "/jwks",
    () => new Response(null, { status: 302, headers: { location: "https://evil.example/k" } }),
  );
  await assertUnavailable(verifier, good, /status 302/);
  assert.deepEqual(idp.requests.map((r) => r.url), [`${ISSUER}/jwks`]);
});

Deno.test("non-200 answers and non-JSON bodies are failures", async () => {
  for (const answer of [new Response("{}", { status: 201 }), new Response("<html>", { status: 200 })]) {
    const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks` });
    idp.respond.set("/jwks", () => answer);
    await assertUnavailable(verifier, good);
    assert.equal(idp.jwksCalls(), 1);
  }
});

Deno.test("an oversized JWKS body is refused, declared or streamed", async () => {
  const big = JSON.stringify({ keys: [rsa.publicJwk], pad: "x".repeat(300 * 1024) });
  const streamed = () =>
    new Response(
      new ReadableStream({
        start(controller) {
          const chunk = new TextEncoder().encode(big.slice(0, 64 * 1024));
          for (let i = 0; i < 5; i++) controller.enqueue(chunk);
          controller.close();
        },
      }),
    );
  const declared = () => new Response(big, { headers: { "content-length": String(big.length) } });
  for (const answer of [declared, streamed]) {
    const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks` });
    idp.respond.set("/jwks", answer);
    await assertUnavailable(verifier, good, /larger than 262144 bytes/);
    assert.equal(idp.jwksCalls(), 1);
  }
});

Deno.test("a JWKS endpoint that never answers times out and is reported unavailable", async () => {
  const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks`, jwks: { fetchTimeoutMs: 5 } });
  idp.respond.set("/jwks", () => "hang");
  await assertUnavailable(verifier, good, /timed out after 5 ms/);
  assert.equal(idp.jwksCalls(), 1);
  assert.equal(idp.requests[0].init?.signal?.aborted, true);
});

Deno.test("a JWKS body that stalls after the headers times out too", async () => {
  const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks`, jwks: { fetchTimeoutMs: 5 } });
  idp.respond.set("/jwks", () => new Response(new ReadableStream({ start() {} })));
  await assertUnavailable(verifier, good, /Timed out reading the body/);
});

Deno.test("a JWKS with private key material is refused whole: 503, not 401", async () => {
  const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks` });
  idp.jwks.keys = [rsa.publicJwk, { ...next.publicJwk, d: "AQAB" }];
  await assertUnavailable(verifier, good, /private key material/);
  idp.jwks.keys = [rsa.publicJwk, { kty: "oct", k: "c2VjcmV0", kid: "h" }];
  await assertUnavailable(verifier, good);
  assert.equal(idp.jwksCalls(), 1, "the second attempt waits for the cooldown");
});

Deno.test("a storm of random kids costs at most one JWKS fetch per cooldown", async () => {
  const { verifier, idp, clock } = world({ jwksUri: `${ISSUER}/jwks` });
  await verifier.verify(good);
  assert.equal(idp.jwksCalls(), 1);
  for (let i = 0; i < 100; i++) {
    await assertInvalid(verifier, randomKidToken());
  }
  assert.equal(idp.jwksCalls(), 1, "inside the first cooldown: no refetch");
  clock.advance(30_000);
  for (let i = 0; i < 100; i++) {
    await assertInvalid(verifier, randomKidToken());
  }
  assert.equal(idp.jwksCalls(), 2, "one refetch for the whole second storm");
  await verifier.verify(good);
  assert.equal(idp.jwksCalls(), 2);
});

Deno.test("concurrent random kids share one refetch", async () => {
  for (const shareInFlight of [true, false]) {
    const { verifier, idp, clock } = world({ jwksUri: `${ISSUER}/jwks` }, { shareInFlight });
    await verifier.verify(good);
    clock.advance(30_000);
    const tokens = Array.from({ length: 50 }, randomKidToken);
    const results = await Promise.allSettled(tokens.map((token) => verifier.verify(token)));
    assert.ok(results.every((r) => r.status === "rejected" && isBrokerError(r.reason, "ERR_INVALID_TOKEN")));
    assert.equal(idp.jwksCalls(), 2, `shareInFlight=${shareInFlight}`);
  }
});

Deno.test("a failing JWKS endpoint is tried at most once per cooldown, however many tokens arrive (B10)", async () => {
  const { verifier, idp, clock } = world({ jwksUri: `${ISSUER}/jwks` });
  idp.respond.set("/jwks", () => new Response("down", { status: 503 }));
  const retryAfter = await assertUnavailable(verifier, good);
  assert.equal(retryAfter, 30);
  for (let i = 0; i < 100; i++) await assertUnavailable(verifier, good);
  assert.equal(idp.jwksCalls(), 1);
  clock.advance(10_000);
  assert.equal(await assertUnavailable(verifier, good), 20);
  clock.advance(20_000);
  for (let i = 0; i < 100; i++) await assertUnavailable(verifier, good);
  assert.equal(idp.jwksCalls(), 2);
  idp.respond.delete("/jwks");
  clock.advance(30_000);
  await verifier.verify(good);
  assert.equal(idp.jwksCalls(), 3);
});

Deno.test("concurrent cold requests share one fetch when shareInFlight is on", async () => {
  const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks` }, { shareInFlight: true });
  const tokens = await Promise.all(
    Array.from({ length: 20 }, (_, i) => signToken(rsa, accessClaims({ jti: `${i}` }))),
  );
  await Promise.all(tokens.map((token) => verifier.verify(token)));
  assert.equal(idp.jwksCalls(), 1);
});

Deno.test("without shareInFlight, concurrent cold requests fetch on their own once, then the cache serves", async () => {
  const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks` }, { shareInFlight: false });
  const tokens = await Promise.all(
    Array.from({ length: 5 }, (_, i) => signToken(rsa, accessClaims({ jti: `${i}` }))),
  );
  await Promise.all(tokens.map((token) => verifier.verify(token)));
  assert.ok(idp.jwksCalls() >= 1 && idp.jwksCalls() <= 5, `${idp.jwksCalls()} fetches`);
  const before = idp.jwksCalls();
  await verifier.verify(await signToken(rsa, accessClaims({ jti: "later" })));
  assert.equal(idp.jwksCalls(), before);
});

Deno.test("stale keys keep verifying while the IdP is down, up to staleMaxAgeSeconds", async () => {
  const { verifier, idp, clock } = world({
    jwksUri: `${ISSUER}/jwks`,
    jwks: { cacheMaxAgeSeconds: 600, staleMaxAgeSeconds: 3600 },
  });
  await verifier.verify(good);
  idp.respond.set("/jwks", () => new Response("down", { status: 500 }));
  clock.advance(700_000);
  const fresh = () =>
    signToken(
      rsa,
      accessClaims({ iat: Math.floor(clock.now() / 1000), exp: Math.floor(clock.now() / 1000) + 300 }),
    );
  await verifier.verify(await fresh());
  assert.equal(idp.jwksCalls(), 2, "one refetch attempt when the keys went stale");
  await verifier.verify(await fresh());
  assert.equal(idp.jwksCalls(), 2, "then the cooldown holds");
  // A token that needs a key we do not have: 503 with Retry-After, not 401.
  const rotated = await signToken(
    next,
    accessClaims({ iat: Math.floor(clock.now() / 1000), exp: Math.floor(clock.now() / 1000) + 300 }),
  );
  await assertUnavailable(verifier, rotated);
  clock.advance(600_000 + 3_600_000);
  await assertUnavailable(verifier, await fresh(), /too stale/);
  assert.equal(verifier.health()[0].lastFetch, "error");
});

Deno.test("key rotation: a new kid causes one refetch and tokens of the old key keep verifying", async () => {
  const { verifier, idp, clock } = world({ jwksUri: `${ISSUER}/jwks` });
  await verifier.verify(good);
  idp.jwks.keys = [next.publicJwk, rsa.publicJwk];
  clock.advance(31_000);
  const newToken = await signToken(next, accessClaims({ jti: "new" }));
  await verifier.verify(newToken);
  assert.equal(idp.jwksCalls(), 2);
  await verifier.verify(await signToken(rsa, accessClaims({ jti: "old" })));
  await verifier.verify(newToken);
  assert.equal(idp.jwksCalls(), 2);
});

Deno.test("a new kid inside the cooldown after a successful fetch is refused (401), not fetched", async () => {
  const { verifier, idp } = world({ jwksUri: `${ISSUER}/jwks` });
  await verifier.verify(good);
  idp.jwks.keys = [next.publicJwk, rsa.publicJwk];
  await assertInvalid(verifier, await signToken(next, accessClaims()));
  assert.equal(idp.jwksCalls(), 1);
});

Deno.test("an isolate with a cold memory reads the key set another isolate put in the shared store", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const store = createMemoryStore({ now: clock.now });
  const config = issuerConfig({ jwksUri: `${ISSUER}/jwks` });
  const depsA = testDeps(clock, idp.fetch, store);
  await createTokenVerifier([config], depsA).verify(good);
  await depsA.settle();
  assert.equal(idp.jwksCalls(), 1);
  const depsB = testDeps(clock, idp.fetch, store);
  const isolateB = createTokenVerifier([config], depsB);
  await isolateB.verify(good);
  assert.equal(idp.jwksCalls(), 1, "the second isolate used KV");
  assert.equal(isolateB.health()[0].keys, 1);
  // Once the stored set is no longer fresh, the network is asked again.
  clock.advance(600_000);
  const isolateC = createTokenVerifier([config], testDeps(clock, idp.fetch, store));
  await isolateC.verify(
    await signToken(
      rsa,
      accessClaims({ iat: Math.floor(clock.now() / 1000), exp: Math.floor(clock.now() / 1000) + 60 }),
    ),
  );
  assert.equal(idp.jwksCalls(), 2);
});

Deno.test("the stored key set lives under a hashed, versioned key and carries its fetch time", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const written: Array<[string, string, number]> = [];
  const store = createMemoryStore({ now: clock.now });
  const spy = {
    get: (key: string) => store.get(key),
    delete: (key: string) => store.delete(key),
    set: (key: string, value: string, options: { ttlSeconds: number }) => {
      written.push([key, value, options.ttlSeconds]);
      return store.set(key, value, options);
    },
  };
  const deps = testDeps(clock, idp.fetch, spy);
  await createTokenVerifier([issuerConfig({ jwksUri: `${ISSUER}/jwks` })], deps).verify(good);
  await deps.settle();
  assert.equal(written.length, 1);
  const [key, value, ttl] = written[0];
  assert.match(key, /^atb:v1:jwks:[A-Za-z0-9_-]{43}$/);
  assert.ok(!key.includes("idp.example.com"));
  const parsed = JSON.parse(value);
  assert.equal(parsed.val.fetchedAtMs, clock.now());
  assert.deepEqual(parsed.val.jwks.keys[0].kid, "rsa-1");
  assert.equal(ttl, 600 + 86_400);
});

Deno.test("a store that fails never breaks verification", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const broken = {
    get: () => Promise.reject(new Error("kv down")),
    set: () => Promise.reject(new Error("kv down")),
    delete: () => Promise.reject(new Error("kv down")),
  };
  const deps = testDeps(clock, idp.fetch, broken);
  await createTokenVerifier([issuerConfig({ jwksUri: `${ISSUER}/jwks` })], deps).verify(good);
  await deps.settle();
  assert.equal(idp.jwksCalls(), 1);
  assert.ok(deps.logs.some((entry) => entry.msg === "Cannot store JWKS"));
  assert.ok(!JSON.stringify(deps.logs).includes(good));
});

Deno.test("a KV copy with private material is ignored and the network is asked", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const store = createMemoryStore({ now: clock.now });
  const config = issuerConfig({ jwksUri: `${ISSUER}/jwks` });
  const deps = testDeps(clock, idp.fetch, store);
  await createTokenVerifier([config], deps).verify(good);
  await deps.settle();
  // Tamper with the stored copy: every key read back is re-checked.
  const { digestKey } = await import("../../src/store/keys.ts");
  const storeKey = await digestKey("jwks", [ISSUER]);
  const stored = JSON.parse((await store.get(storeKey))!);
  stored.val.jwks.keys[0].d = "AQAB";
  await store.set(storeKey, JSON.stringify(stored), { ttlSeconds: 600 });
  await createTokenVerifier([config], testDeps(clock, idp.fetch, store)).verify(good);
  assert.equal(idp.jwksCalls(), 2);
});

Deno.test("errors and logs never carry the token", async () => {
  const { verifier, idp, deps } = world({ jwksUri: `${ISSUER}/jwks` });
  idp.respond.set("/jwks", () => new Response("down", { status: 500 }));
  await assertUnavailable(verifier, good);
  assert.ok(deps.logs.length > 0);
  assert.ok(!JSON.stringify(deps.logs).includes(good));
  assert.ok(!JSON.stringify(deps.logs).includes(good.split(".")[2]));
});
