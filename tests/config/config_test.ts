import assert from "node:assert/strict";
import {
  ConfigError,
  configFromEnv,
  formatConfigError,
  parseConfig,
  resolveSecrets,
} from "../../src/config/mod.ts";
import { minimalConfig, TEST_SECRETS } from "../support/config_fixtures.ts";

function issuesOf(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError, "expected a ConfigError");
    return error.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("expected the config to be refused");
}

Deno.test("parseConfig() applies the documented defaults", () => {
  const config = parseConfig(minimalConfig());
  const issuer = config.issuers[0];
  assert.deepEqual(issuer.algorithms, ["RS256"]);
  assert.equal(issuer.clockToleranceSeconds, 30);
  assert.deepEqual(issuer.requiredClaims, ["exp", "iat", "sub"]);
  assert.equal(issuer.jwks.cacheMaxAgeSeconds, 600);
  assert.equal(config.validation.maxTokenBytes, 8192);
  assert.equal(config.cache.safetyMarginSeconds, 120);
  assert.deepEqual(config.proxy.allow, []);
  assert.equal(config.mountPath, "/arcgis");
  const viewer = config.profiles.viewer;
  assert.equal(viewer.mode, "app");
  if (viewer.mode === "app") assert.equal(viewer.exposeToBrowser, false);
});

Deno.test("parseConfig() refuses HS256 and none with the field path", () => {
  for (const alg of ["HS256", "none"]) {
    const issues = issuesOf(minimalConfig({
      issuers: [{ issuer: "https://idp.example.com", audience: "a", algorithms: ["RS256", alg] }],
    }));
    assert.ok(issues.some((i) => i.startsWith("issuers.0.algorithms.1:")), issues.join("\n"));
  }
});

Deno.test("parseConfig() refuses algorithms that make a key without alg ambiguous", () => {
  const issues = issuesOf(minimalConfig({
    issuers: [{ issuer: "https://idp.example.com", audience: "a", algorithms: ["RS256", "PS256"] }],
  }));
  assert.ok(
    issues.some((i) => i.startsWith("issuers.0.algorithms:") && i.includes("Ambiguous")),
    issues.join(),
  );
  // Different key types are fine.
  parseConfig(minimalConfig({
    issuers: [{ issuer: "https://idp.example.com", audience: "a", algorithms: ["RS256", "ES256", "EdDSA"] }],
  }));
});

Deno.test("parseConfig() caps the clock tolerance at 300 seconds", () => {
  const issues = issuesOf(minimalConfig({
    issuers: [{ issuer: "https://idp.example.com", audience: "a", clockToleranceSeconds: 301 }],
  }));
  assert.ok(issues.some((i) => i.startsWith("issuers.0.clockToleranceSeconds:")));
});

Deno.test("parseConfig() refuses plain http issuers unless loopback is explicitly allowed", () => {
  assert.ok(
    issuesOf(minimalConfig({ issuers: [{ issuer: "http://idp.example.com", audience: "a" }] }))
      .some((i) => i.startsWith("issuers.0.issuer:")),
  );
  assert.ok(
    issuesOf(minimalConfig({ issuers: [{ issuer: "http://127.0.0.1:9000", audience: "a" }] }))
      .some((i) => i.startsWith("issuers.0.issuer:")),
  );
  parseConfig(minimalConfig({
    issuers: [{ issuer: "http://127.0.0.1:9000", audience: "a", allowInsecureLoopback: true }],
  }));
  assert.ok(
    issuesOf(minimalConfig({
      issuers: [{ issuer: "http://idp.example.com", audience: "a", allowInsecureLoopback: true }],
    })).some((i) => i.startsWith("issuers.0.issuer:")),
  );
});

Deno.test("parseConfig() refuses a rule naming an unknown profile", () => {
  const issues = issuesOf(minimalConfig({ rules: [{ profile: "nobody" }] }));
  assert.ok(issues.some((i) => i.startsWith("rules.0.profile:") && i.includes('"nobody"')));
});

Deno.test("parseConfig() requires every rule to name its issuer when several issuers exist", () => {
  const issues = issuesOf(minimalConfig({
    issuers: [
      { issuer: "https://a.example.com", audience: "x" },
      { issuer: "https://b.example.com", audience: "x" },
    ],
    rules: [{ issuer: "https://a.example.com", profile: "viewer" }, { profile: "viewer" }],
  }));
  assert.deepEqual(issues.filter((i) => i.startsWith("rules.")).map((i) => i.split(":")[0]), [
    "rules.1.issuer",
  ]);
});

Deno.test("parseConfig() requires acknowledgeNamedUserTerms for the account mode", () => {
  const issues = issuesOf(minimalConfig({
    profiles: { legacy: { mode: "account", username: "svc", passwordEnv: "PW" } },
    rules: [{ profile: "legacy" }],
  }));
  assert.ok(issues.some((i) => i.startsWith("profiles.legacy.acknowledgeNamedUserTerms:")), issues.join());
});

Deno.test("parseConfig() never lets an API key reach a browser", () => {
  const issues = issuesOf(minimalConfig({
    profiles: { key: { mode: "apiKey", apiKeyEnv: "KEY", exposeToBrowser: true } },
    rules: [{ profile: "key" }],
  }));
  assert.ok(issues.some((i) => i.startsWith("profiles.key.exposeToBrowser:")), issues.join());
});

Deno.test("parseConfig() refuses inlined secrets as unknown fields", () => {
  const issues = issuesOf(minimalConfig({
    profiles: {
      viewer: { mode: "app", clientId: "c", clientSecretEnv: "S", clientSecret: "hunter2-secret" },
    },
  }));
  assert.ok(issues.some((i) => i.startsWith("profiles.viewer:") && i.includes("clientSecret")));
  assert.ok(!issues.join().includes("hunter2-secret"), "the message must not print the value");
});

Deno.test("parseConfig() refuses proxy entries with userinfo, queries or plain http", () => {
  const issues = issuesOf(minimalConfig({
    proxy: {
      allow: [
        { url: "https://user:pw@services.arcgis.com/ORG123/arcgis/rest/services/" },
        { url: "https://services.arcgis.com/ORG123/arcgis/rest/services/?f=json" },
        { url: "http://services.arcgis.com/ORG123/arcgis/rest/services/" },
        { url: "https://services.arcgis.com/ORG123/", profile: "ghost" },
      ],
    },
  }));
  for (
    const path of ["proxy.allow.0.url", "proxy.allow.1.url", "proxy.allow.2.url", "proxy.allow.3.profile"]
  ) {
    assert.ok(issues.some((i) => i.startsWith(`${path}:`)), `${path} in ${issues.join("\n")}`);
  }
});

Deno.test("parseConfig() requires the portal URL to be a /sharing/rest root", () => {
  const issues = issuesOf(minimalConfig({ arcgis: { portalUrl: "https://myorg.maps.arcgis.com/" } }));
  assert.ok(issues.some((i) => i.startsWith("arcgis.portalUrl:")));
});

Deno.test("resolveSecrets() names each missing variable without printing any value", () => {
  const config = parseConfig(minimalConfig());
  try {
    resolveSecrets(config, { ARCGIS_APP_SECRET: "app-secret-value-1234" });
    assert.fail("expected a ConfigError");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /BROKER_SEALING_KEYS/);
    assert.ok(!error.message.includes("app-secret-value-1234"));
  }
  const secrets = resolveSecrets(config, { ...TEST_SECRETS, UNRELATED: "x" });
  assert.deepEqual(Object.keys(secrets).sort(), ["ARCGIS_APP_SECRET", "BROKER_SEALING_KEYS"]);
});

Deno.test("configFromEnv() fails closed without BROKER_CONFIG and on bad JSON", () => {
  assert.throws(() => configFromEnv({}), (e) => e instanceof ConfigError && /BROKER_CONFIG/.test(e.message));
  assert.throws(() => configFromEnv({ BROKER_CONFIG: "{not json" }), ConfigError);
});

Deno.test("configFromEnv() reads JSON text or an object plus the named secrets", () => {
  const fromText = configFromEnv({ BROKER_CONFIG: JSON.stringify(minimalConfig()), ...TEST_SECRETS });
  assert.equal(fromText.config.issuers[0].issuer, "https://idp.example.com");
  assert.equal(fromText.secrets.ARCGIS_APP_SECRET, TEST_SECRETS.ARCGIS_APP_SECRET);
  const fromObject = configFromEnv({ BROKER_CONFIG: minimalConfig(), ...TEST_SECRETS });
  assert.deepEqual(fromObject.config, fromText.config);
});

Deno.test("parseConfig() requires the organization id for an ArcGIS Online portal", () => {
  const issues = issuesOf(
    minimalConfig({ arcgis: { portalUrl: "https://myorg.maps.arcgis.com/sharing/rest" } }),
  );
  assert.ok(issues.some((i) => i.startsWith("arcgis.orgId:")), issues.join());
  parseConfig(minimalConfig({ arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" } }));
});

Deno.test("parseConfig() reports a non-URL in any URL field as a ConfigError, never a TypeError", () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ issuers: [{ issuer: "not a url", audience: "a" }] }, "issuers.0.issuer"],
    [{ issuers: [{ issuer: "https://idp.example.com", audience: "a", jwksUri: "::" }] }, "issuers.0.jwksUri"],
    [{ arcgis: { portalUrl: "nope", orgId: "ORG" } }, "arcgis.portalUrl"],
    [
      { arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest", servers: ["x y"] } },
      "arcgis.servers.0",
    ],
    [{ proxy: { allow: [{ url: "services" }] } }, "proxy.allow.0.url"],
    [{ link: { returnUrls: ["/relative"] } }, "link.returnUrls.0"],
  ];
  for (const [overrides, path] of cases) {
    const issues = issuesOf(minimalConfig(overrides));
    assert.ok(issues.some((i) => i.startsWith(`${path}:`)), `${path} in ${issues.join("\n")}`);
  }
});

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseConfig() says a missing field is required, and a wrong one what was expected", () => {
  const issues = issuesOf(minimalConfig({
    issuers: [{ issuer: "https://idp.example.com", audience: "a", idTokens: {} }],
    arcgis: { orgId: "ORG123" },
    sealing: {},
  }));
  // A missing union field (string or list) says "Required" too.
  assert.ok(issues.includes("issuers.0.idTokens.audience: Required"), issues.join("\n"));
  assert.ok(issues.includes("arcgis.portalUrl: Required"), issues.join("\n"));
  assert.ok(issues.includes("sealing.keysEnv: Required"), issues.join("\n"));
  const wrong = issuesOf(minimalConfig({ cache: { safetyMarginSeconds: "120" } }));
  assert.ok(wrong.includes("cache.safetyMarginSeconds: Expected number"), wrong.join("\n"));
});

Deno.test("parseConfig() refuses a user profile without link.returnUrls, naming the profile and the fix", () => {
  const user = {
    mode: "user",
    clientId: "c",
    redirectUri: "https://broker.example.com/arcgis/link/callback",
  };
  const error = configErrorOf(() =>
    parseConfig(minimalConfig({ profiles: { me: user }, rules: [{ profile: "me" }] }))
  );
  const issue = error.issues.find((i) => i.path === "link.returnUrls");
  assert.ok(issue !== undefined, error.message);
  assert.match(issue.message, /^Required by the user profile "me"/);
  assert.match(issue.fix ?? "", /"returnUrls": \["https:\/\/app\.example\.com\/"\]/);
  assert.match(error.message, /link\.returnUrls: Required by the user profile "me".*\(fix: /);
  parseConfig(minimalConfig({
    profiles: { me: user },
    rules: [{ profile: "me" }],
    link: { returnUrls: ["https://app.example.com/"] },
  }));
});

Deno.test("parseConfig() refuses a proxy entry whose profile no rule grants", () => {
  const profiles = {
    viewer: { mode: "app", clientId: "app-client", clientSecretEnv: "ARCGIS_APP_SECRET" },
    basemap: { mode: "apiKey", apiKeyEnv: "ARCGIS_API_KEY" },
  };
  const entry = { url: "https://myorg.maps.arcgis.com/sharing/rest/content/", profile: "basemap" };
  const error = configErrorOf(() => parseConfig(minimalConfig({ profiles, proxy: { allow: [entry] } })));
  const issue = error.issues.find((i) => i.path === "proxy.allow.0.profile");
  assert.match(issue?.message ?? "", /No rule grants the profile "basemap"/);
  assert.match(issue?.fix ?? "", /add "basemap" to the profile list/);
  parseConfig(
    minimalConfig({ profiles, rules: [{ profile: ["viewer", "basemap"] }], proxy: { allow: [entry] } }),
  );
});

Deno.test("parseConfig() refuses a browser token lifetime the cache could never reuse", () => {
  const viewer = {
    mode: "app",
    clientId: "app-client",
    clientSecretEnv: "ARCGIS_APP_SECRET",
    exposeToBrowser: true,
    browserTokenMaxSeconds: 240,
  };
  const error = configErrorOf(() => parseConfig(minimalConfig({ profiles: { viewer } })));
  const issue = error.issues.find((i) => i.path === "profiles.viewer.browserTokenMaxSeconds");
  assert.match(issue?.message ?? "", /Expected more than 240/);
  parseConfig(minimalConfig({ profiles: { viewer: { ...viewer, browserTokenMaxSeconds: 241 } } }));
  // Not exposed to browsers: the lifetime does not matter.
  parseConfig(minimalConfig({ profiles: { viewer: { ...viewer, exposeToBrowser: false } } }));
});

Deno.test("resolveSecrets() refuses a malformed keyring naming the field and the fix, never the key", () => {
  const config = parseConfig(minimalConfig());
  const short = `k1:${btoa("sixteen-byte-key")}`;
  for (
    const [keyring, problem] of [
      [short, /entry 1 key is 16 bytes, expected 32/],
      ["no-colon", /entry 1 is not "kid:base64key"/],
      [`${TEST_SECRETS.BROKER_SEALING_KEYS},k1:${btoa("x".repeat(32))}`, /entry 2 repeats the key id/],
    ] as const
  ) {
    const error = configErrorOf(() =>
      resolveSecrets(config, { ...TEST_SECRETS, BROKER_SEALING_KEYS: keyring })
    );
    assert.equal(error.issues[0].path, "sealing.keysEnv");
    assert.match(error.issues[0].message, /^Malformed keyring in "BROKER_SEALING_KEYS": /);
    assert.match(error.issues[0].message, problem);
    assert.match(error.issues[0].fix ?? "", /32 random bytes/);
    assert.ok(!error.message.includes(btoa("sixteen-byte-key")));
  }
});

Deno.test("resolveSecrets() names the field of each missing secret and says how to set it", () => {
  const config = parseConfig(minimalConfig());
  const error = configErrorOf(() => resolveSecrets(config, {}));
  assert.deepEqual(error.issues.map((i) => i.path), ["sealing.keysEnv", "profiles.viewer.clientSecretEnv"]);
  assert.match(error.issues[1].message, /^Required: the environment variable "ARCGIS_APP_SECRET" is not set/);
  assert.match(error.issues[1].fix ?? "", /wrangler secret put ARCGIS_APP_SECRET/);
  assert.equal(
    formatConfigError(error).split("\n")[0],
    '  sealing.keysEnv: Required: the environment variable "BROKER_SEALING_KEYS" is not set',
  );
  assert.match(formatConfigError(error).split("\n")[1], /^ {4}fix: set "BROKER_SEALING_KEYS" to a keyring/);
});

Deno.test("parseConfig() names the accepted shapes of a union field given the wrong type", () => {
  const issues = issuesOf(minimalConfig({ issuers: [{ issuer: "https://idp.example.com", audience: 5 }] }));
  assert.ok(issues.includes("issuers.0.audience: Expected string or array"), issues.join("\n"));
});

Deno.test("parseConfig() refuses a proxy entry no profile can get a token for, with the fix", () => {
  const entry = (url: string) => ({ proxy: { allow: [{ url }] } });
  const server = "https://gis.example.com/server/rest/services/Parcels/MapServer";
  const error = configErrorOf(() => parseConfig(minimalConfig(entry(server))));
  const issue = error.issues.find((i) => i.path === "proxy.allow.0.url");
  assert.match(issue?.message ?? "", /^No profile can serve this entry: the URL is not on the portal's host/);
  assert.match(
    issue?.fix ?? "",
    /add the server's root \(e\.g\. "https:\/\/gis\.example\.com\/server"\) to arcgis\.servers/,
  );
  parseConfig(minimalConfig({
    ...entry(server),
    arcgis: {
      portalUrl: "https://myorg.maps.arcgis.com/sharing/rest",
      orgId: "ORG123",
      servers: ["https://gis.example.com/server"],
    },
  }));
  const otherOrg = configErrorOf(() =>
    parseConfig(minimalConfig(entry("https://services7.arcgis.com/OTHERORG/arcgis/rest/services/")))
  );
  assert.match(
    otherOrg.issues.find((i) => i.path === "proxy.allow.0.url")?.message ?? "",
    /belong to the organization "OTHERORG", not to arcgis\.orgId "ORG123"/,
  );
  parseConfig(minimalConfig(entry("https://services7.arcgis.com/ORG123/arcgis/rest/services/")));
  parseConfig(minimalConfig(entry("https://myorg.maps.arcgis.com/sharing/rest/content/items/")));
});
