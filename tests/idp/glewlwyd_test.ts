/**
 * A second real IdP, one nobody here wrote: Debian's `glewlwyd` on loopback (`scripts/ensure_glewlwyd.sh`
 * installs it; `scripts/test.sh` runs that first). Its OpenID Connect plugin issues RS256 `at+jwt` access tokens
 * for an RFC 8707 resource through the code flow with PKCE; the broker's `authenticate()` accepts them, discovers
 * its JWKS, and refuses its ID token and a token for another audience, each with its own reason in the log.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import * as jose from "jose";
import { createBroker } from "../../src/hono/broker.ts";
import type { BrokerEnv } from "../../src/hono/authenticate.ts";
import type { LogEntry } from "../../src/deps.ts";
import { glewlwydInstalled, startGlewlwyd } from "./_glewlwyd.ts";

const KEYRING = `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))}`;

Deno.test({
  name: "glewlwyd's RS256 at+jwt access tokens pass authenticate(); its ID token and another audience do not",
  ignore: !glewlwydInstalled(),
  async fn() {
    await using idp = await startGlewlwyd({
      users: [{ username: "alice", password: crypto.randomUUID(), name: "Alice" }],
    });
    const tokens = await idp.login("alice");
    const accessToken = tokens.access_token as string;
    const header = jose.decodeProtectedHeader(accessToken);
    assert.equal(header.typ, "at+jwt");
    assert.equal(header.alg, "RS256");
    assert.equal(jose.decodeJwt(accessToken).aud, idp.resource);

    const app = (audience: string) => {
      const logs: LogEntry[] = [];
      const broker = createBroker({
        issuers: [{
          issuer: idp.issuer,
          audience,
          algorithms: ["RS256"],
          typ: "at+jwt",
          requiredScopes: [idp.scope],
          clientIds: [idp.clientId],
          allowInsecureLoopback: true,
        }],
        arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
        profiles: {},
        sealing: { keysEnv: "K" },
      }, { secrets: { K: KEYRING }, log: (entry) => void logs.push(entry) });
      const host = new Hono<BrokerEnv>();
      host.use("/api/*", broker.authenticate());
      host.get("/api/me", (c) => {
        const identity = c.get("identity");
        return c.json({ issuer: identity.issuer, subject: identity.subject, scope: identity.claims.scope });
      });
      const call = (token: string) =>
        host.request("/api/me", { headers: { authorization: `Bearer ${token}` } });
      return { call, logs };
    };

    const { call, logs } = app(idp.resource);
    const ok = await call(accessToken);
    assert.equal(ok.status, 200);
    const me = await ok.json();
    assert.equal(me.issuer, idp.issuer);
    assert.equal(me.subject, jose.decodeJwt(accessToken).sub);
    assert.match(me.scope, new RegExp(`\\b${idp.scope}\\b`));

    const idToken = await call(tokens.id_token as string);
    assert.equal(idToken.status, 401);
    assert.equal(logs.at(-1)?.reason, "id_token_as_bearer");

    const other = app("https://another-api.test/");
    const refused = await other.call(accessToken);
    assert.equal(refused.status, 401);
    assert.equal(other.logs.at(-1)?.reason, "aud_mismatch");
  },
});
