/**
 * The validator against a real OpenID provider (npm `oidc-provider`, on loopback): JWT access tokens and ID tokens
 * for RS256, ES256 and EdDSA issuers, client credentials, discovery, key rotation at the provider and the provider
 * going down. One provider per algorithm, shared by the steps of one test; the verifier's clock is injected (it
 * starts at the real time the provider stamps into tokens and only moves forward when a step says so).
 */
import assert from "node:assert/strict";
import * as jose from "jose";
import { isBrokerError } from "../../src/errors.ts";
import { createTokenVerifier } from "../../src/idp/mod.ts";
import { type OidcIdp, type OidcIdpAlgorithm, startOidcIdp } from "../../src/testing/oidc_idp.ts";
import type { TokenVerifier } from "../../src/types.ts";
import { createClock, issuerConfig, testDeps } from "./_helpers.ts";

interface Counted {
  fetch: typeof fetch;
  count(path: string): number;
}

/** The real fetch, counting requests by path; `rewrite` may point a URL elsewhere first. */
function countingFetch(rewrite: (url: string) => string = (url) => url): Counted {
  const counts = new Map<string, number>();
  const fetchFn = (input: string | URL | Request, init?: RequestInit) => {
    const url = rewrite(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const path = new URL(url).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    return fetch(url, init);
  };
  return { fetch: fetchFn as typeof fetch, count: (path) => counts.get(path) ?? 0 };
}

function verifierFor(
  idp: OidcIdp,
  overrides: Parameters<typeof issuerConfig>[0] = {},
  counted = countingFetch(),
): { verifier: TokenVerifier; clock: ReturnType<typeof createClock>; counted: Counted } {
  const clock = createClock(Date.now());
  const config = issuerConfig({
    issuer: idp.issuer,
    audience: idp.audience,
    algorithms: [idp.algorithm],
    allowInsecureLoopback: true,
    typ: "at+jwt",
    requiredScopes: ["arcgis"],
    ...overrides,
  });
  return { verifier: createTokenVerifier([config], testDeps(clock, counted.fetch)), clock, counted };
}

async function rejectsWith(promise: Promise<unknown>, code: "ERR_INVALID_TOKEN" | "ERR_IDP_UNAVAILABLE") {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return isBrokerError(error, code);
  });
  return caught as { retryAfterSeconds?: number };
}

Deno.test("tokens from a real OpenID provider", async (t) => {
  const idps = new Map<OidcIdpAlgorithm, OidcIdp>();
  try {
    for (const algorithm of ["RS256", "ES256", "EdDSA"] as const) {
      idps.set(
        algorithm,
        await startOidcIdp({
          algorithm,
          accessTokenTtlSeconds: 3600,
          spaRedirectUris: ["http://127.0.0.1:9/app/callback"],
          idTokenTtlSeconds: 3600,
          users: [{ sub: "alice", claims: { preferred_username: "alice", groups: ["gis-editors"] } }, {
            sub: "bob",
          }],
        }),
      );
    }
    const rs = idps.get("RS256")!;

    for (const [algorithm, idp] of idps) {
      await t.step(`${algorithm}: a JWT access token from the code flow is accepted`, async () => {
        const { verifier, counted } = verifierFor(idp, { clientIds: [idp.spaClientId] });
        const tokens = await idp.login({ sub: "alice" });
        assert.equal(jose.decodeProtectedHeader(tokens.accessToken).alg, algorithm);
        const identity = await verifier.verify(tokens.accessToken);
        assert.equal(identity.issuer, idp.issuer);
        assert.equal(identity.subject, "alice");
        assert.equal(identity.tokenKind, "access");
        assert.deepEqual(identity.claims.groups, ["gis-editors"]);
        assert.equal(identity.claims.client_id, idp.spaClientId);
        assert.equal(counted.count("/.well-known/openid-configuration"), 1);
        assert.equal(counted.count("/jwks"), 1);
        // The same token again is a memo hit; another user's token needs no fetch either.
        assert.equal(await verifier.verify(tokens.accessToken), identity);
        assert.equal((await verifier.verify((await idp.login({ sub: "bob" })).accessToken)).subject, "bob");
        assert.equal(counted.count("/jwks"), 1);
      });
    }

    await t.step(
      "the development login page signs in the user a browser picks (PKCE, CORS for the SPA)",
      async () => {
        const cookies = new Map<string, string>();
        const get = async (url: string, init: RequestInit = {}) => {
          const headers = new Headers(init.headers);
          headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
          const response = await fetch(url, { ...init, headers, redirect: "manual" });
          for (const line of response.headers.getSetCookie()) {
            const [pair] = line.split(";");
            const at = pair.indexOf("=");
            cookies.set(pair.slice(0, at), pair.slice(at + 1));
          }
          return response;
        };
        const verifierText = "v".repeat(43);
        const challenge = jose.base64url.encode(
          new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifierText))),
        );
        const redirectUri = "http://127.0.0.1:9/app/callback";
        const authorize = `${rs.issuer}/auth?${new URLSearchParams({
          client_id: rs.spaClientId,
          response_type: "code",
          redirect_uri: redirectUri,
          scope: "openid arcgis",
          state: "s1",
          code_challenge: challenge,
          code_challenge_method: "S256",
        })}`;
        let response = await get(authorize);
        await response.body?.cancel();
        const interaction = new URL(response.headers.get("location")!, rs.issuer).href;
        response = await get(interaction);
        const page = await response.text();
        assert.equal(response.status, 200);
        assert.match(page, /name="login" value="alice"/);
        response = await get(interaction, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "login=alice",
        });
        await response.body?.cancel();
        let location = new URL(response.headers.get("location")!, rs.issuer).href;
        for (let hop = 0; hop < 6 && !location.startsWith(redirectUri); hop++) {
          response = await get(location);
          await response.body?.cancel();
          location = new URL(response.headers.get("location")!, location).href;
        }
        const code = new URL(location).searchParams.get("code")!;
        assert.equal(new URL(location).searchParams.get("state"), "s1");
        const token = await fetch(`${rs.issuer}/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://127.0.0.1:9" },
          body: new URLSearchParams({
            grant_type: "authorization_code",
            client_id: rs.spaClientId,
            code,
            redirect_uri: redirectUri,
            code_verifier: verifierText,
          }),
        });
        assert.equal(token.headers.get("access-control-allow-origin"), "http://127.0.0.1:9");
        const body = await token.json();
        const { verifier } = verifierFor(rs);
        assert.equal((await verifier.verify(body.access_token)).subject, "alice");
      },
    );

    await t.step(
      "a client-credentials token is accepted, and refused when clientIds exclude it",
      async () => {
        const token = await rs.clientCredentials();
        const { verifier } = verifierFor(rs);
        const identity = await verifier.verify(token);
        assert.equal(identity.subject, rs.serviceClientId);
        const { verifier: strict } = verifierFor(rs, { clientIds: [rs.spaClientId] });
        await rejectsWith(strict.verify(token), "ERR_INVALID_TOKEN");
      },
    );

    await t.step("claims of a user added while running reach the access token", async () => {
      const es = idps.get("ES256")!;
      es.setUser({ sub: "carol", claims: { groups: ["gis-admins"], email: "carol@example.com" } });
      const { verifier } = verifierFor(es);
      const identity = await verifier.verify((await es.login({ sub: "carol" })).accessToken);
      assert.deepEqual([identity.subject, identity.claims.groups, identity.claims.email], [
        "carol",
        ["gis-admins"],
        "carol@example.com",
      ]);
      await assert.rejects(es.login({ sub: "nobody" }), /Unknown test user/);
    });

    await t.step("ID tokens are refused by default, even with a matching audience", async () => {
      const { idToken } = await rs.login({ sub: "alice" });
      const { verifier } = verifierFor(rs);
      await rejectsWith(verifier.verify(idToken), "ERR_INVALID_TOKEN");
      const { verifier: sameAudience } = verifierFor(rs, {
        audience: [rs.audience, rs.spaClientId],
        typ: undefined,
      });
      await rejectsWith(sameAudience.verify(idToken), "ERR_INVALID_TOKEN");
    });

    await t.step("ID tokens are accepted when the issuer enables them with their audience", async () => {
      const { idToken, accessToken } = await rs.login({ sub: "alice", nonce: "n-42" });
      const { verifier } = verifierFor(rs, { idTokens: { audience: rs.spaClientId } });
      const identity = await verifier.verify(idToken);
      assert.equal(identity.tokenKind, "id");
      assert.equal(identity.claims.nonce, "n-42");
      assert.equal(identity.claims.preferred_username, "alice");
      assert.equal((await verifier.verify(accessToken)).tokenKind, "access");
      await rejectsWith(verifier.verify(idToken, { accept: ["access"] }), "ERR_INVALID_TOKEN");
      const { verifier: other } = verifierFor(rs, { idTokens: { audience: "another-app" } });
      await rejectsWith(other.verify(idToken), "ERR_INVALID_TOKEN");
    });

    await t.step("a token for another resource or without the required scope is refused", async () => {
      const { accessToken } = await rs.login({ sub: "alice" });
      const { verifier } = verifierFor(rs, { audience: "another-api" });
      await rejectsWith(verifier.verify(accessToken), "ERR_INVALID_TOKEN");
      const scoped = await rs.login({ sub: "alice", scope: "openid" });
      const { verifier: needsScope } = verifierFor(rs);
      await rejectsWith(needsScope.verify(scoped.accessToken), "ERR_INVALID_TOKEN");
    });

    await t.step(
      "discovery whose issuer differs from the configured one is refused: 503, no JWKS fetch",
      async () => {
        // Configured as http://localhost:<port>; the provider's discovery says http://127.0.0.1:<port>.
        const alias = rs.issuer.replace("127.0.0.1", "localhost");
        const counted = countingFetch((url) => url.replace(alias, rs.issuer));
        const { verifier } = verifierFor(rs, { issuer: alias }, counted);
        const { accessToken } = await rs.login({ sub: "alice" });
        const [header, , signature] = accessToken.split(".");
        const claims = { ...jose.decodeJwt(accessToken), iss: alias };
        const forged = `${header}.${jose.base64url.encode(JSON.stringify(claims))}.${signature}`;
        await rejectsWith(verifier.verify(forged), "ERR_IDP_UNAVAILABLE");
        assert.equal(counted.count("/.well-known/openid-configuration"), 1);
        assert.equal(counted.count("/jwks"), 0);
        // And the provider's own tokens name an issuer this verifier does not know.
        await rejectsWith(verifier.verify(accessToken), "ERR_INVALID_TOKEN");
      },
    );

    await t.step(
      "key rotation: a new kid costs one refetch, tokens of the old key keep verifying",
      async () => {
        const { verifier, clock, counted } = verifierFor(rs);
        const before = await rs.login({ sub: "alice" });
        await verifier.verify(before.accessToken);
        assert.equal(counted.count("/jwks"), 1);
        const oldKid = rs.signingKid();
        const newKid = await rs.rotateKey();
        assert.deepEqual(rs.publishedKids(), [newKid, oldKid]);
        const after = await rs.login({ sub: "alice" });
        assert.equal(jose.decodeProtectedHeader(after.accessToken).kid, newKid);
        clock.advance(31_000);
        await verifier.verify(after.accessToken);
        assert.equal(counted.count("/jwks"), 2);
        await verifier.verify((await rs.login({ sub: "bob" })).accessToken);
        assert.equal((await verifier.verify(before.accessToken)).subject, "alice");
        assert.equal(counted.count("/jwks"), 2);
        // The provider drops the old key: cached keys still verify old tokens until the cache refreshes.
        await rs.removeKey(oldKid);
        assert.deepEqual(rs.publishedKids(), [newKid]);
        const oldAgain = await rs.clientCredentials().then(() => before.accessToken);
        assert.equal((await verifier.verify(oldAgain)).subject, "alice");
        clock.advance(600_000);
        await rejectsWith(verifier.verify(before.accessToken), "ERR_INVALID_TOKEN");
        assert.equal(counted.count("/jwks"), 3);
      },
    );

    await t.step(
      "the provider going down: cached keys keep verifying, a new key means 503 with Retry-After",
      async () => {
        const { verifier, clock, counted } = verifierFor(rs);
        const known = await rs.login({ sub: "alice" });
        await verifier.verify(known.accessToken);
        const newKid = await rs.rotateKey();
        const needsNewKey = await rs.login({ sub: "bob" });
        assert.equal(jose.decodeProtectedHeader(needsNewKey.accessToken).kid, newKid);
        await rs.stop();
        assert.equal(rs.running, false);
        clock.advance(31_000);
        const down = await rejectsWith(verifier.verify(needsNewKey.accessToken), "ERR_IDP_UNAVAILABLE");
        assert.ok(down.retryAfterSeconds! >= 1 && down.retryAfterSeconds! <= 30);
        assert.equal(counted.count("/jwks"), 2, "one failed attempt");
        assert.equal((await verifier.verify(known.accessToken)).subject, "alice");
        // Past the cache's freshness the stale keys still verify (stale-if-error), with one more attempt.
        clock.advance(600_000);
        const stillKnown = await rs.clientCredentials().catch(() => known.accessToken);
        assert.equal(stillKnown, known.accessToken, "the provider is really down");
        const claims = jose.decodeJwt(known.accessToken);
        assert.ok(claims.exp! * 1000 > clock.now(), "the token is still within its lifetime");
        await verifier.verify(known.accessToken);
        assert.equal(verifier.health()[0].lastFetch, "error");
        // Back up: after the cooldown the new key is fetched and the token verifies.
        await rs.start();
        clock.advance(31_000);
        assert.equal((await verifier.verify(needsNewKey.accessToken)).subject, "bob");
        assert.equal(verifier.health()[0].lastFetch, "ok");
      },
    );
  } finally {
    for (const idp of idps.values()) await idp.close();
  }
});
