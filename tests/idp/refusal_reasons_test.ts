/**
 * Refusal reasons as an operator and a client see them: the log line of every refused token names its reason
 * code (not just `"cause":"Error"`), and `error_description` carries it only when `errors.exposeReasons` is on.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createBroker } from "../../src/hono/broker.ts";
import type { LogEntry } from "../../src/deps.ts";
import { REFUSAL_REASONS } from "../../src/idp/refusal_reason.ts";
import {
  accessClaims,
  AUDIENCE,
  createClock,
  createFakeIdp,
  generateSigningKey,
  ISSUER,
  signToken,
  T0,
} from "./_helpers.ts";

const rsa = await generateSigningKey("RS256", "rsa-1");
const es = await generateSigningKey("ES256", "es-1");
const KEYRING = `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(7)))}`;

function app(exposeReasons: boolean | undefined) {
  const logs: LogEntry[] = [];
  const idp = createFakeIdp([rsa.publicJwk, es.publicJwk]);
  const clock = createClock();
  const broker = createBroker({
    issuers: [{
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: `${ISSUER}/jwks`,
      requiredScopes: ["arcgis"],
      clientIds: ["spa"],
      typ: "at+jwt",
    }],
    arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
    profiles: { viewer: { mode: "app", clientId: "c", clientSecretEnv: "S" } },
    rules: [{ claim: "groups", includes: "gis", profile: "viewer" }],
    sealing: { keysEnv: "K" },
    ...(exposeReasons === undefined ? {} : { errors: { exposeReasons } }),
  }, {
    secrets: { K: KEYRING, S: "secret" },
    fetch: idp.fetch,
    now: clock.now,
    log: (e) => void logs.push(e),
  });
  const host = new Hono();
  host.use("/api/*", broker.authenticate());
  host.get("/api/me", (c) => c.json({ ok: true }));
  host.route("/arcgis", broker.routes());
  return { host, logs };
}

const CASES: Array<[string, () => Promise<string>]> = [
  ["aud_mismatch", () => signToken(rsa, accessClaims({ aud: "other-api", groups: ["gis"] }))],
  ["iss_unknown", () => signToken(rsa, accessClaims({ iss: `${ISSUER}/` }))],
  ["expired", () => signToken(rsa, accessClaims({ exp: Math.floor(T0 / 1000) - 60 }))],
  ["not_yet_valid", () => signToken(rsa, accessClaims({ nbf: Math.floor(T0 / 1000) + 600 }))],
  ["scope_missing", () => signToken(rsa, accessClaims({ scope: "openid" }))],
  ["client_not_allowed", () => signToken(rsa, accessClaims({ client_id: "spa", azp: "other" }))],
  ["alg_not_allowed", () => signToken(es, accessClaims())],
  ["kid_unknown", () => signToken({ ...rsa, kid: "nope" }, accessClaims())],
  ["signature_invalid", async () => (await signToken(rsa, accessClaims())).slice(0, -8) + "AAAAAAAA"],
  [
    "id_token_as_bearer",
    () =>
      signToken(rsa, { ...accessClaims({ client_id: undefined, scope: undefined }), nonce: "n" }, {
        typ: "JWT",
      }),
  ],
  ["typ_not_accepted", () => signToken(rsa, accessClaims(), { typ: "JWT" })],
  ["graph_token", () => signToken(rsa, accessClaims(), { nonce: "abc" })],
  ["malformed", () => Promise.resolve("not.a.jwt")],
];

Deno.test("each refused token logs its own reason code; error_description stays generic by default", async () => {
  const { host, logs } = app(undefined);
  for (const [reason, make] of CASES) {
    logs.length = 0;
    const token = await make();
    const response = await host.request("/api/me", { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 401, reason);
    const body = await response.json();
    assert.equal(body.error, "invalid_token");
    assert.equal(body.error_description, "The access token is invalid", reason);
    assert.ok(!(response.headers.get("www-authenticate") ?? "").includes("reason"));
    const line = logs.find((entry) => entry.code === "ERR_INVALID_TOKEN");
    assert.ok(line !== undefined, `no log line for ${reason}`);
    assert.equal(line.reason, reason);
    assert.ok(reason in REFUSAL_REASONS);
    assert.ok(!JSON.stringify(logs).includes(token), "the token leaked into the log");
  }
});

Deno.test("with errors.exposeReasons the reason reaches error_description and WWW-Authenticate", async () => {
  const { host } = app(true);
  const token = await signToken(rsa, accessClaims({ aud: "other-api" }));
  const response = await host.request("/api/me", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 401);
  assert.equal(
    (await response.json()).error_description,
    "The access token is invalid (reason: aud_mismatch)",
  );
  assert.match(
    response.headers.get("www-authenticate")!,
    /error_description="[^"]*\(reason: aud_mismatch\)"/,
  );
  // Explicitly off is the default behaviour.
  const off = await app(false).host.request("/api/me", { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await off.json()).error_description, "The access token is invalid");
});

Deno.test("a valid identity no rule admits is refused with no_rule in the log", async () => {
  const { host, logs } = app(true);
  const token = await signToken(rsa, accessClaims({ groups: ["other"] }));
  const response = await host.request("/arcgis/credentials", {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 403);
  assert.match((await response.json()).error_description, /\(reason: no_rule\)/);
  assert.equal(logs.find((entry) => entry.code === "ERR_INSUFFICIENT_SCOPE")?.reason, "no_rule");
});

Deno.test("the README's refusal reasons table lists exactly the codes of REFUSAL_REASONS, with their meaning", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const section = readme.slice(readme.indexOf("### Refusal reasons"));
  const rows = [...section.slice(0, section.indexOf("\n## ")).matchAll(/^\| `([a-z_]+)` +\| (.+?) +\|$/gm)];
  assert.deepEqual(
    rows.map((row) => [row[1], row[2]]),
    Object.entries(REFUSAL_REASONS),
  );
});
