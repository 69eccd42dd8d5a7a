/**
 * `examples/hono_app.ts`: an existing Hono app that mounts the broker and protects one of its own routes with
 * `broker.authenticate()`, with tokens from the real `oidc-provider` IdP.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createBroker } from "../../mod.ts";
import { createApp } from "../../examples/hono_app.ts";
import { DEMO_IDP_USER } from "../../examples/demo/stack.ts";
import { bearer, e2eConfig, SEALING_ENV, sealingKeyring, startUpstreams } from "./_harness.ts";

Deno.test("examples/hono_app.ts keeps its own routes, mounts the broker and protects /api/me", async () => {
  const origin = "http://127.0.0.1:8000";
  const up = await startUpstreams({ callbackUrl: `${origin}/arcgis/link/callback` });
  try {
    const broker = createBroker(e2eConfig(up, origin), { secrets: { [SEALING_ENV]: sealingKeyring() } });
    const app = createApp(broker);

    const home = await app.request(`${origin}/`);
    assert.equal(home.status, 200);
    assert.equal(await home.text(), "Hello from my app");

    const health = await app.request(`${origin}/arcgis/health`);
    assert.deepEqual(await health.json(), { ok: true });

    const anonymous = await app.request(`${origin}/api/me`);
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer realm=/);

    const forged = await app.request(`${origin}/api/me`, { headers: bearer("eyJhbGciOiJub25lIn0.e30.") });
    await forged.body?.cancel();
    assert.equal(forged.status, 401);

    const { accessToken } = await up.idp.login({ sub: DEMO_IDP_USER.sub });
    const me = await app.request(`${origin}/api/me`, { headers: bearer(accessToken) });
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { issuer: up.idp.issuer, subject: DEMO_IDP_USER.sub });
  } finally {
    await up.close();
  }
});
