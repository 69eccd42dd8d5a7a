import assert from "node:assert/strict";
import { BROKER, createBrokerHarness, RETURN_URL } from "../integration/_broker_harness.ts";

Deno.test("POST /link is rate-limited per identity: 429 rate_limited with Retry-After, others unaffected", async () => {
  const h = await createBrokerHarness();
  const start = async (bearer: string): Promise<Response> =>
    await h.app.request(`${BROKER}/arcgis/link`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ returnTo: RETURN_URL }),
    });
  const alice = await h.token("alice");
  for (let i = 0; i < 10; i++) {
    const ok = await start(alice);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
  }
  const limited = await start(alice);
  assert.equal(limited.status, 429);
  assert.equal((await limited.json()).error, "rate_limited");
  assert.equal(limited.headers.get("retry-after"), "600");
  const bob = await start(await h.token("bob"));
  assert.equal(bob.status, 200);
  await bob.body?.cancel();
});
