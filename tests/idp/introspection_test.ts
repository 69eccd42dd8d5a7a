/**
 * Opaque access tokens through RFC 7662 introspection at a real OpenID provider (npm `oidc-provider` on loopback,
 * its introspection feature): client secret and `private_key_jwt` client authentication, answers cached until
 * `exp` (bounded, by hash), single-flight, `active: false` → 401 `token_inactive`, the IdP down → 503.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { isBrokerError } from "../../src/errors.ts";
import { createTokenVerifier } from "../../src/idp/mod.ts";
import type { RefusalReason } from "../../src/idp/refusal_reason.ts";
import { createBroker } from "../../src/hono/broker.ts";
import { parseConfig, resolveSecrets } from "../../src/config/load.ts";
import { type OidcIdp, startOidcIdp } from "../../src/testing/oidc_idp.ts";
import type { LogEntry } from "../../src/deps.ts";
import type { TokenVerifier } from "../../src/types.ts";
import { createClock, issuerConfig, testDeps } from "./_helpers.ts";

interface Counted {
  fetch: typeof fetch;
  calls(): number;
}

function countingFetch(): Counted {
  let calls = 0;
  const fetchFn = (input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (new URL(url).pathname === "/token/introspection") calls++;
    return fetch(url, init);
  };
  return { fetch: fetchFn as typeof fetch, calls: () => calls };
}

async function refused(verifier: TokenVerifier, token: string, reason: RefusalReason): Promise<void> {
  await assert.rejects(verifier.verify(token), (error: unknown) => {
    assert.ok(isBrokerError(error, "ERR_INVALID_TOKEN"), `expected ERR_INVALID_TOKEN, got ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

Deno.test("opaque access tokens are introspected at a real OpenID provider", async (t) => {
  const idp: OidcIdp = await startOidcIdp({
    accessTokenTtlSeconds: 600,
    users: [{ sub: "alice", claims: { groups: ["gis-viewers"] } }],
  });
  try {
    const secrets = {
      INTROSPECTION_SECRET: idp.serviceClientSecret,
      INTROSPECTION_KEY: JSON.stringify(idp.jwtClientPrivateJwk),
    };
    const setup = (introspection: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const clock = createClock(Date.now());
      const counted = countingFetch();
      const config = issuerConfig({
        issuer: idp.issuer,
        audience: idp.opaqueAudience,
        allowInsecureLoopback: true,
        requiredScopes: ["arcgis"],
        introspection: {
          clientId: idp.serviceClientId,
          clientSecretEnv: "INTROSPECTION_SECRET",
          ...introspection,
        } as never,
        ...extra,
      });
      const deps = testDeps(clock, counted.fetch);
      const verifier = createTokenVerifier([config], deps, { secrets });
      return { verifier, clock, counted, deps };
    };
    const opaque = async () => (await idp.login({ sub: "alice", resource: idp.opaqueResource })).accessToken;

    await t.step(
      "a client-secret introspection accepts the token, once per token (cached by hash)",
      async () => {
        const { verifier, counted } = setup({});
        const token = await opaque();
        assert.equal(token.split(".").length, 1, "the provider issued an opaque token");
        const identity = await verifier.verify(token);
        assert.equal(identity.subject, "alice");
        assert.equal(identity.issuer, idp.issuer);
        assert.equal(identity.tokenKind, "access");
        assert.equal(identity.claims.aud, idp.opaqueAudience);
        assert.equal(identity.claims.client_id, idp.spaClientId);
        assert.ok(!("active" in identity.claims));
        assert.equal(counted.calls(), 1);
        assert.equal((await verifier.verify(token)).subject, "alice");
        assert.equal(counted.calls(), 1, "the second request is a cache hit");
      },
    );

    await t.step("discovery names the endpoint when none is configured", async () => {
      const { verifier, counted } = setup({});
      await verifier.verify(await opaque());
      assert.equal(counted.calls(), 1);
    });

    await t.step("private_key_jwt client authentication works too", async () => {
      const { verifier, counted } = setup({
        clientId: idp.jwtClientId,
        clientSecretEnv: undefined,
        privateKeyEnv: "INTROSPECTION_KEY",
        endpoint: idp.introspectionEndpoint,
      });
      assert.equal((await verifier.verify(await opaque())).subject, "alice");
      assert.equal(counted.calls(), 1);
    });

    await t.step("concurrent requests with one token share one introspection call", async () => {
      const { verifier, counted } = setup({});
      const token = await opaque();
      const identities = await Promise.all(Array.from({ length: 8 }, () => verifier.verify(token)));
      assert.ok(identities.every((identity) => identity.subject === "alice"));
      assert.equal(counted.calls(), 1);
    });

    await t.step("an answer is kept until exp only: past it the token is expired", async () => {
      const { verifier, counted, clock } = setup({});
      const token = await opaque();
      await verifier.verify(token);
      clock.advance(601_000 + 30_000);
      await refused(verifier, token, "expired");
      assert.equal(counted.calls(), 2, "the cached answer died with the token");
    });

    await t.step("cacheMaxSeconds bounds how long an answer is kept", async () => {
      const { verifier, counted, clock } = setup({ cacheMaxSeconds: 10 });
      const token = await opaque();
      await verifier.verify(token);
      clock.advance(11_000);
      await verifier.verify(token);
      assert.equal(counted.calls(), 2);
    });

    await t.step("the cache is bounded: the least recently used answer goes", async () => {
      const { verifier, counted } = setup({ cacheMaxEntries: 1 });
      const [a, b] = [await opaque(), await opaque()];
      await verifier.verify(a);
      await verifier.verify(b);
      await verifier.verify(a);
      assert.equal(counted.calls(), 3);
    });

    await t.step("active: false is 401 token_inactive, and remembered for a while", async () => {
      const { verifier, counted, clock } = setup({ inactiveCacheSeconds: 60 });
      const unknown = "x".repeat(43);
      await refused(verifier, unknown, "token_inactive");
      await refused(verifier, unknown, "token_inactive");
      assert.equal(counted.calls(), 1);
      clock.advance(61_000);
      await refused(verifier, unknown, "token_inactive");
      assert.equal(counted.calls(), 2);
    });

    await t.step("an active token for another audience or without the scope is refused", async () => {
      const wrongAudience = setup({}, { audience: "someone-else" });
      await refused(wrongAudience.verifier, await opaque(), "aud_mismatch");
      const scoped = setup({}, { requiredScopes: ["admin"] });
      await refused(scoped.verifier, await opaque(), "scope_missing");
    });

    await t.step("JWTs of the issuer are still verified locally with useFor: opaque", async () => {
      const { verifier, counted } = setup({}, { audience: idp.audience });
      const jwt = (await idp.login({ sub: "alice" })).accessToken;
      assert.equal((await verifier.verify(jwt)).subject, "alice");
      assert.equal(counted.calls(), 0);
    });

    await t.step(
      "a wrong client secret is an outage for the caller (503), and the log says why",
      async () => {
        const clock = createClock(Date.now());
        const deps = testDeps(clock, fetch);
        const verifier = createTokenVerifier(
          [
            issuerConfig({
              issuer: idp.issuer,
              audience: idp.opaqueAudience,
              allowInsecureLoopback: true,
              introspection: { clientId: idp.serviceClientId, clientSecretEnv: "WRONG" },
            }),
          ],
          deps,
          { secrets: { WRONG: "not-the-secret" } },
        );
        await assert.rejects(verifier.verify(await opaque()), (error: unknown) => {
          assert.ok(isBrokerError(error, "ERR_IDP_UNAVAILABLE"));
          assert.equal(error.reason, "idp_unavailable");
          return true;
        });
        const line = deps.logs.find((entry) => entry.msg === "Cannot introspect a token");
        assert.match(String(line?.reason), /status 401/);
        assert.ok(!JSON.stringify(deps.logs).includes("not-the-secret"));
      },
    );

    await t.step(
      "through authenticate(): 200, then 401 for an inactive token, 503 while the IdP is down",
      async () => {
        const logs: LogEntry[] = [];
        const broker = createBroker({
          issuers: [{
            issuer: idp.issuer,
            audience: idp.opaqueAudience,
            allowInsecureLoopback: true,
            requiredScopes: ["arcgis"],
            introspection: { clientId: idp.serviceClientId, clientSecretEnv: "INTROSPECTION_SECRET" },
          }],
          arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
          profiles: {},
          sealing: { keysEnv: "K" },
        }, {
          secrets: { ...secrets, K: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(3)))}` },
          log: (entry) => void logs.push(entry),
        });
        const app = new Hono();
        app.use("/api/*", broker.authenticate());
        app.get("/api/me", (c) => c.json({ ok: true }));
        const call = (token: string) =>
          app.request("/api/me", { headers: { authorization: `Bearer ${token}` } });
        assert.equal((await call(await opaque())).status, 200);
        const inactive = await call("y".repeat(43));
        assert.equal(inactive.status, 401);
        assert.equal(logs.at(-1)?.reason, "token_inactive");
        const token = await opaque();
        await idp.stop();
        try {
          const down = await call(token);
          assert.equal(down.status, 503);
          assert.ok(Number(down.headers.get("retry-after")) >= 1);
          assert.equal(logs.at(-1)?.reason, "idp_unavailable");
        } finally {
          await idp.start();
        }
        assert.equal((await call(token)).status, 200, "the outage was not remembered as a refusal");
      },
    );
  } finally {
    await idp.close();
  }
});

function configError(issuers: Array<Record<string, unknown>>): string {
  try {
    parseConfig({
      issuers,
      arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
      profiles: {},
      sealing: { keysEnv: "K" },
    });
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}

Deno.test("config: introspection needs exactly one client authentication, and one introspecting issuer", () => {
  const base = { issuer: "https://idp.example.com", audience: "a" };
  const one = /issuers\.0\.introspection: Expected exactly one of "clientSecretEnv"/;
  assert.match(configError([{ ...base, introspection: { clientId: "c" } }]), one);
  assert.match(
    configError([{ ...base, introspection: { clientId: "c", clientSecretEnv: "A", privateKeyEnv: "B" } }]),
    one,
  );
  assert.match(
    configError([{
      ...base,
      introspection: { clientId: "c", clientSecretEnv: "A", endpoint: "http://idp.example.com/i" },
    }]),
    /issuers\.0\.introspection\.endpoint: Expected an https URL/,
  );
  assert.match(
    configError([
      { ...base, introspection: { clientId: "c", clientSecretEnv: "A" } },
      {
        issuer: "https://idp2.example.com",
        audience: "a",
        introspection: { clientId: "c", clientSecretEnv: "A" },
      },
    ]),
    /issuers\.1\.introspection: Expected introspection on one issuer only/,
  );
  assert.equal(configError([{ ...base, introspection: { clientId: "c", privateKeyEnv: "B" } }]), "");
});

Deno.test("the introspection secrets are required at startup like every other secret", () => {
  const config = parseConfig({
    issuers: [{
      issuer: "https://idp.example.com",
      audience: "a",
      introspection: { clientId: "c", privateKeyEnv: "IDP_KEY" },
    }],
    arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
    profiles: {},
    sealing: { keysEnv: "K" },
  });
  assert.throws(
    () => resolveSecrets(config, { K: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(1)))}` }),
    /issuers\.0\.introspection\.privateKeyEnv: Required: the environment variable "IDP_KEY" is not set/,
  );
});
