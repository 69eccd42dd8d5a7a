/**
 * The doctor against the local test IdP (`oidc-provider`) and the fake ArcGIS on loopback: a working setup passes
 * (exit 0), and each deliberate misconfiguration is named with its fix (exit 1).
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type DoctorFinding,
  type DoctorReport,
  formatDoctorReport,
  runDoctor,
} from "../../src/doctor/doctor.ts";
import { runCli } from "../../src/doctor/cli.ts";
import { type OidcIdp, startOidcIdp } from "../../src/testing/oidc_idp.ts";
import { type ServedFakeArcGIS, serveFakeArcGIS } from "../../src/testing/mod.ts";

const ORG_ID = "DoctorOrg1234567";
const USER_APP = "broker-user-app";
const CALLBACK = "https://broker.example.com/arcgis/link/callback";
const APP_SECRET = "doctor-app-secret-0001";
const API_KEY = "AAPTdoctorkey0001";
const KEYRING = `k1:${btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => i + 7)))}`;
const ENV = { APP_SECRET, API_KEY, BROKER_SEALING_KEYS: KEYRING };

interface World {
  idp: OidcIdp;
  arcgis: ServedFakeArcGIS;
  config(overrides?: Record<string, unknown>): Record<string, unknown>;
  close(): Promise<void>;
}

async function startWorld(): Promise<World> {
  const idp = await startOidcIdp({ users: [{ sub: "alice", claims: { email: "alice@example.com" } }] });
  const arcgis = serveFakeArcGIS({
    orgId: ORG_ID,
    apps: [
      { clientId: USER_APP, clientSecret: "unused-secret", redirectUris: [CALLBACK] },
      { clientId: "broker-app", clientSecret: APP_SECRET },
    ],
    apiKeys: [{ token: API_KEY }],
    servers: [{ path: "/server" }, { path: "/standalone", federated: false }],
  });
  const config = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    issuers: [{
      issuer: idp.issuer,
      audience: idp.audience,
      algorithms: [idp.algorithm],
      requiredScopes: ["arcgis"],
      allowInsecureLoopback: true,
    }],
    arcgis: {
      portalUrl: arcgis.urls.sharingRest,
      orgId: ORG_ID,
      servers: [arcgis.urls.servers["/server"].root],
      allowInsecureLoopback: true,
    },
    profiles: {
      me: { mode: "user", clientId: USER_APP, redirectUri: CALLBACK },
      viewer: { mode: "app", clientId: "broker-app", clientSecretEnv: "APP_SECRET" },
      basemap: { mode: "apiKey", apiKeyEnv: "API_KEY" },
    },
    rules: [{ issuer: idp.issuer, claim: "email", exists: true, profile: ["me", "viewer", "basemap"] }],
    link: { returnUrls: ["https://app.example.com/"] },
    sealing: { keysEnv: "BROKER_SEALING_KEYS" },
    ...overrides,
  });
  return {
    idp,
    arcgis,
    config,
    async close() {
      await arcgis.close();
      await idp.close();
    },
  };
}

function failing(report: DoctorReport): DoctorFinding[] {
  return report.findings.filter((f) => f.status === "fail");
}

/** The one failing finding of `check` (and `area`, when given), with its detail and fix. */
function failureOf(report: DoctorReport, check: string, area?: string): DoctorFinding {
  const found = failing(report).find((f) =>
    f.check === check && (area === undefined || f.area.startsWith(area))
  );
  assert.ok(found !== undefined, `no failing "${check}" in:\n${formatDoctorReport(report)}`);
  return found;
}

function issuerWith(world: World, changes: Record<string, unknown>): Record<string, unknown> {
  const [issuer] = world.config().issuers as Array<Record<string, unknown>>;
  return { issuers: [{ ...issuer, ...changes }] };
}

Deno.test("doctor: a working setup passes every check, with the sample token admitted by rules.0", async () => {
  const world = await startWorld();
  try {
    const { accessToken } = await world.idp.login({ sub: "alice", scope: "openid arcgis" });
    const report = await runDoctor(JSON.stringify(world.config()), { env: ENV, token: accessToken });
    assert.deepEqual(failing(report), [], formatDoctorReport(report));
    assert.ok(report.ok);
    const text = formatDoctorReport(report);
    assert.match(text, /ok {3}verifier: The broker accepts the token of subject "alice"/);
    assert.match(text, /ok {3}rule: rules\.0 admits it, with profile\(s\) \["me","viewer","basemap"\]/);
    assert.match(text, /ok {3}redirect URI: ArcGIS accepts the OAuth app and its redirect URI/);
    assert.match(text, /ok {3}federation: owningSystemUrl is the portal/);
    assert.match(text, /ok {3}org id: arcgis\.orgId equals the portal's organization id/);
    assert.match(text, /No problem found/);
    for (const secret of [APP_SECRET, API_KEY, KEYRING, accessToken]) {
      assert.ok(!text.includes(secret), "the report never contains a secret or the token");
    }
  } finally {
    await world.close();
  }
});

Deno.test("doctor: each deliberate misconfiguration is named with its fix", async (t) => {
  const world = await startWorld();
  try {
    const { accessToken, idToken } = await world.idp.login({ sub: "alice", scope: "openid arcgis" });
    const run = (config: Record<string, unknown>, token?: string, env: Record<string, string> = ENV) =>
      runDoctor(config, { env, ...(token === undefined ? {} : { token }) });

    await t.step("a wrong audience", async () => {
      const report = await run(world.config(issuerWith(world, { audience: "someone-else" })), accessToken);
      assert.match(failureOf(report, "aud").detail, /names none of \["someone-else"\]/);
      assert.match(failureOf(report, "verifier").detail, /aud_mismatch/);
      assert.match(failureOf(report, "aud").fix!, /issuers\.0\.audience/);
    });

    await t.step("an issuer spelled with a trailing slash", async () => {
      const slashed = `${world.idp.issuer}/`;
      const report = await run(
        world.config({
          ...issuerWith(world, { issuer: slashed }),
          rules: [{ issuer: slashed, profile: "me" }],
        }),
        accessToken,
      );
      const discovery = failureOf(report, "discovery");
      assert.match(discovery.detail, /names "http:\/\/127\.0\.0\.1:\d+", not the configured issuer/);
      assert.equal(
        discovery.fix,
        `set issuers.0.issuer to exactly "${world.idp.issuer}" (trailing slash included)`,
      );
      assert.match(failureOf(report, "iss").fix!, /differ only by a trailing slash/);
    });

    await t.step("an algorithm the IdP does not sign with", async () => {
      const report = await run(world.config(issuerWith(world, { algorithms: ["ES256"] })), accessToken);
      const algorithms = failureOf(report, "algorithms");
      assert.match(algorithms.detail, /No key of the JWKS fits \["ES256"\]: its keys are RSA/);
      assert.match(algorithms.fix!, /set issuers\.0\.algorithms to .*"RS256"/);
      assert.match(failureOf(report, "alg").detail, /alg RS256 is not among \["ES256"\]/);
    });

    await t.step("a scope the token lacks", async () => {
      const report = await run(
        world.config(issuerWith(world, { requiredScopes: ["arcgis", "gis:admin"] })),
        accessToken,
      );
      assert.match(failureOf(report, "scopes").detail, /Missing scope\(s\) \["gis:admin"\]/);
      assert.match(failureOf(report, "verifier").detail, /scope_missing/);
    });

    await t.step("a client that is not allowed", async () => {
      const report = await run(world.config(issuerWith(world, { clientIds: ["other-spa"] })), accessToken);
      assert.match(failureOf(report, "client").detail, /is not in clientIds/);
      assert.match(failureOf(report, "verifier").detail, /client_not_allowed/);
    });

    await t.step("an ID token used as bearer", async () => {
      const report = await run(world.config(), idToken);
      assert.match(failureOf(report, "verifier").detail, /id_token_as_bearer|aud_mismatch/);
      assert.ok(failing(report).some((f) => f.area === "token" && f.check !== "verifier"));
    });

    await t.step("an expired token", async () => {
      const report = await runDoctor(world.config(), {
        env: ENV,
        token: accessToken,
        now: () => Date.now() + 86_400_000,
      });
      assert.match(failureOf(report, "times").detail, /expired/i);
      assert.match(failureOf(report, "verifier").detail, /expired/);
    });

    await t.step("no rule for the identity", async () => {
      const report = await run(
        world.config({
          rules: [{ issuer: world.idp.issuer, claim: "groups", includes: "gis", profile: "me" }],
        }),
        accessToken,
      );
      assert.match(failureOf(report, "rule").detail, /No rule admits this identity \(no_rule\)/);
    });

    await t.step("the wrong organization id", async () => {
      const arcgis = { ...(world.config().arcgis as Record<string, unknown>), orgId: "SomeOtherOrg0001" };
      const report = await run(world.config({ arcgis }));
      const org = failureOf(report, "org id");
      assert.match(org.detail, /is "DoctorOrg1234567", not arcgis\.orgId "SomeOtherOrg0001"/);
      assert.equal(org.fix, `set arcgis.orgId to "${ORG_ID}"`);
    });

    await t.step("a server that is not federated with the portal", async () => {
      const arcgis = {
        ...(world.config().arcgis as Record<string, unknown>),
        servers: [world.arcgis.urls.servers["/standalone"].root],
      };
      const report = await run(world.config({ arcgis }));
      assert.match(failureOf(report, "federation").detail, /not federated with the portal|not the portal/);
      assert.match(
        failureOf(report, "federation").fix!,
        /federate the server with the portal, or remove arcgis\.servers\.0/,
      );
    });

    await t.step("a redirect URI the OAuth app does not list", async () => {
      const profiles = {
        ...(world.config().profiles as Record<string, unknown>),
        me: {
          mode: "user",
          clientId: USER_APP,
          redirectUri: "https://elsewhere.example.com/arcgis/link/callback",
        },
      };
      const report = await run(world.config({ profiles }));
      const redirect = failureOf(report, "redirect URI");
      assert.match(redirect.detail, /does not list the redirect URI "https:\/\/elsewhere\.example\.com/);
      assert.match(redirect.fix!, /Redirect URLs/);
    });

    await t.step("an OAuth app the portal does not know", async () => {
      const profiles = {
        ...(world.config().profiles as Record<string, unknown>),
        me: { mode: "user", clientId: "no-such-app", redirectUri: CALLBACK },
      };
      const report = await run(world.config({ profiles }));
      assert.match(failureOf(report, "client id").detail, /does not know the OAuth app "no-such-app"/);
    });

    await t.step("a wrong app secret and a revoked API key", async () => {
      const report = await run(world.config(), undefined, {
        ...ENV,
        APP_SECRET: "wrong",
        API_KEY: "AAPTrevoked",
      });
      assert.match(
        failureOf(report, "credentials", "profile viewer").detail,
        /refuses the app's credentials/,
      );
      assert.match(failureOf(report, "credentials", "profile basemap").detail, /The API key is refused/);
      assert.ok(!formatDoctorReport(report).includes("AAPTrevoked"));
    });

    await t.step("a missing secret and a malformed keyring", async () => {
      const report = await run(world.config(), undefined, { API_KEY, BROKER_SEALING_KEYS: "k1:short" });
      assert.match(failureOf(report, "sealing.keysEnv").detail, /Malformed keyring/);
      assert.match(failureOf(report, "profiles.viewer.clientSecretEnv").fix!, /set "APP_SECRET"/);
    });

    await t.step("a user profile without return URLs", async () => {
      const report = await run(world.config({ link: {} }));
      assert.match(failureOf(report, "link.returnUrls").detail, /Required by the user profile "me"/);
      assert.ok(!report.ok);
    });
  } finally {
    await world.close();
  }
});

Deno.test("doctor CLI: exit 0 on a working config file, 1 on a problem, 2 on a usage error", async () => {
  const world = await startWorld();
  try {
    const files: Record<string, string> = {
      "good.json": JSON.stringify(world.config()),
      "bad.json": JSON.stringify(world.config(issuerWith(world, { algorithms: ["ES256"] }))),
    };
    const run = async (args: string[], env: Record<string, string> = ENV) => {
      let out = "";
      let err = "";
      const code = await runCli(args, env, {
        out: (text) => void (out += text),
        err: (text) => void (err += text),
        read: (path) =>
          files[path] === undefined ? Promise.reject(new Error("no file")) : Promise.resolve(files[path]),
      });
      return { code, out, err };
    };
    const good = await run(["doctor", "--config", "good.json"]);
    assert.equal(good.code, 0, good.out);
    const bad = await run(["doctor", "--config", "bad.json"]);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /FAIL algorithms: No key of the JWKS fits \["ES256"\]/);
    assert.match(bad.out, /\n {7}fix: set issuers\.0\.algorithms to/);
    const fromEnv = await run(["doctor"], { ...ENV, BROKER_CONFIG: files["good.json"] });
    assert.equal(fromEnv.code, 0);
    assert.equal((await run(["doctor", "--config"])).code, 2);
    assert.equal((await run(["doctor"])).code, 2);
    assert.equal((await run(["doctor", "--config", "missing.json"])).code, 2);
    assert.equal((await run(["frobnicate"])).code, 2);
  } finally {
    await world.close();
  }
});

Deno.test("doctor: keys without alg, keys of an unconfigured type and an advertised algorithm mismatch", async () => {
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const rsa = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const publicJwk = async (key: CryptoKey, extra: Record<string, unknown>) => {
    const { kty, crv, x, y, n, e } = await crypto.subtle.exportKey("jwk", key);
    return JSON.parse(JSON.stringify({ kty, crv, x, y, n, e, use: "sig", ...extra }));
  };
  const keys = [
    await publicJwk(ec.publicKey, { kid: "ec-no-alg" }),
    await publicJwk(rsa.publicKey, { kid: "rsa-ps" }),
  ];
  let origin = "";
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/.well-known/openid-configuration") {
      return Response.json({
        issuer: origin,
        jwks_uri: `${origin}/jwks`,
        id_token_signing_alg_values_supported: ["PS256"],
      });
    }
    return Response.json({ keys });
  });
  origin = `http://127.0.0.1:${server.addr.port}`;
  const arcgis = serveFakeArcGIS({});
  try {
    const config = (algorithms: string[]) => ({
      issuers: [{ issuer: origin, audience: "api", algorithms, allowInsecureLoopback: true }],
      arcgis: { portalUrl: arcgis.urls.sharingRest, orgId: arcgis.fake.orgId, allowInsecureLoopback: true },
      profiles: { basemap: { mode: "apiKey", apiKeyEnv: "API_KEY" } },
      rules: [{ profile: "basemap" }],
      sealing: { keysEnv: "BROKER_SEALING_KEYS" },
    });
    const env = { API_KEY: "AAPTunknown", BROKER_SEALING_KEYS: KEYRING };
    const rsaOnly = await runDoctor(config(["RS256"]), { env });
    const text = formatDoctorReport(rsaOnly);
    assert.match(text, /ok {3}algorithms: 1 key\(s\) verify with RS256/);
    assert.match(
      text,
      /WARN key "ec-no-alg": The key has no alg and no configured algorithm fits its type EC:P-256/,
    );
    assert.match(
      text,
      /ok {3}key "rsa-ps": The key has no alg: it verifies RS256, the configured algorithm for RSA keys/,
    );
    assert.match(
      text,
      /WARN algorithms: Discovery advertises \["PS256"\], none of the configured algorithms/,
    );
    const both = formatDoctorReport(await runDoctor(config(["PS256", "ES256"]), { env }));
    assert.match(both, /ok {3}key "ec-no-alg": The key has no alg: it verifies ES256/);
    assert.doesNotMatch(both, /Discovery advertises/);
  } finally {
    await arcgis.close();
    await server.shutdown();
  }
});
