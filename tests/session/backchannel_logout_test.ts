/**
 * OpenID Connect back-channel logout with the real IdP (oidc-provider on loopback): the user signs out at the IdP
 * (RP-initiated logout, confirmed), the IdP posts a logout token to the broker's `{mount}/backchannel-logout`, and
 * the broker session made from that user's token stops working, while the user's link stays.
 */
import assert from "node:assert/strict";
import { DEMO_IDP_USER, startDemoStack } from "../../examples/demo/stack.ts";
import type { LogEntry } from "../../src/deps.ts";

Deno.test({
  name: "signing out at the real IdP ends the user's broker sessions through back-channel logout",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const logs: LogEntry[] = [];
  const stack = await startDemoStack({ build: false, log: (entry) => logs.push(entry) });
  try {
    const { accessToken } = await stack.idp.login({ sub: DEMO_IDP_USER.sub });
    const started = await fetch(`${stack.brokerUrl}/session`, {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}` },
    });
    assert.equal(started.status, 200, await started.clone().text());
    await started.body?.cancel();
    const cookie = (started.headers.get("set-cookie") ?? "").split(";")[0];
    assert.match(cookie, /^atb_session=s1\./);
    // The session is accepted by the proxy (the user is not linked yet: the broker says so, not 401).
    const probe = `${stack.brokerUrl}/proxy?${stack.layerUrl}?f=json`;
    const before = await fetch(probe, { headers: { cookie } });
    assert.equal(before.status, 403);
    assert.equal((await before.json()).error, "link_required");

    await stack.idp.logout({ sub: DEMO_IDP_USER.sub });
    const refused = logs.filter((entry) => entry.msg.startsWith("Back-channel logout refused"));
    assert.deepEqual(refused, []);
    assert.ok(
      logs.some((entry) => entry.msg === "Back-channel logout ended the user's sessions"),
      "logout received",
    );
    const after = await fetch(probe, { headers: { cookie } });
    assert.equal(after.status, 401);
    assert.equal((await after.json()).error, "invalid_token");
  } finally {
    await stack.close();
  }
});
