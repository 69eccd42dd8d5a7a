import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/load.ts";
import type { BrokerConfigInput } from "../../src/config/schema.ts";
import { createPolicy } from "../../src/policy/mod.ts";
import type { Identity } from "../../src/types.ts";

const IDP = "https://idp.example.com";
const OTHER = "https://other.example.com";

function config(rules: BrokerConfigInput["rules"], issuers: string[] = [IDP]) {
  return parseConfig({
    issuers: issuers.map((issuer) => ({ issuer, audience: "broker" })),
    arcgis: { portalUrl: "https://org.maps.arcgis.com/sharing/rest", orgId: "ORG123" },
    profiles: {
      me: { mode: "user", clientId: "c", redirectUri: "https://broker.example.com/arcgis/link/callback" },
      viewer: { mode: "app", clientId: "a", clientSecretEnv: "APP_SECRET" },
      basemap: { mode: "apiKey", apiKeyEnv: "API_KEY" },
    },
    rules,
    link: { returnUrls: ["https://app.example.com/"] },
    sealing: { keysEnv: "KEYS" },
  });
}

function identity(claims: Record<string, unknown>, issuer = IDP): Identity {
  return {
    issuer,
    subject: "alice",
    claims: { iss: issuer, sub: "alice", ...claims },
    tokenKind: "access",
    expiresAt: 0,
  };
}

Deno.test("profilesFor() returns the profiles of the first matching rule, in order", () => {
  const policy = createPolicy(config([
    { claim: "groups", includes: "gis-editors", profile: ["me", "viewer"] },
    { profile: "viewer" },
  ]));
  assert.deepEqual(policy.profilesFor(identity({ groups: ["gis-editors"] })), ["me", "viewer"]);
  assert.deepEqual(policy.profilesFor(identity({ groups: ["staff"] })), ["viewer"]);
});

Deno.test("profilesFor() returns an empty list when no rule matches", () => {
  const policy = createPolicy(config([{ claim: "groups", includes: "gis", profile: "me" }]));
  assert.deepEqual(policy.profilesFor(identity({ groups: ["other"] })), []);
  assert.deepEqual(policy.profilesFor(identity({})), []);
  assert.deepEqual(createPolicy(config([])).profilesFor(identity({ groups: ["gis"] })), []);
});

Deno.test("a rule with an issuer matches only identities of that issuer", () => {
  const policy = createPolicy(config([
    { issuer: OTHER, profile: "viewer" },
    { issuer: IDP, claim: "role", equals: "admin", profile: "me" },
  ], [IDP, OTHER]));
  assert.deepEqual(policy.profilesFor(identity({ role: "admin" }, OTHER)), ["viewer"]);
  assert.deepEqual(policy.profilesFor(identity({ role: "admin" }, IDP)), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ role: "user" }, IDP)), []);
});

Deno.test("equals compares without type coercion", () => {
  const policy = createPolicy(config([
    { claim: "level", equals: 3, profile: "me" },
    { claim: "active", equals: true, profile: "viewer" },
  ]));
  assert.deepEqual(policy.profilesFor(identity({ level: 3 })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ level: "3" })), []);
  assert.deepEqual(policy.profilesFor(identity({ active: true })), ["viewer"]);
  assert.deepEqual(policy.profilesFor(identity({ active: "true" })), []);
  assert.deepEqual(policy.profilesFor(identity({ level: [3] })), []);
});

Deno.test("includes matches an array element or a space-separated word, never a substring", () => {
  const policy = createPolicy(config([{ claim: "scope", includes: "arcgis", profile: "me" }]));
  assert.deepEqual(policy.profilesFor(identity({ scope: "openid arcgis profile" })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ scope: ["openid", "arcgis"] })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ scope: "openid arcgis-admin" })), []);
  assert.deepEqual(policy.profilesFor(identity({ scope: ["arcgis-admin"] })), []);
  assert.deepEqual(policy.profilesFor(identity({ scope: "xarcgis" })), []);
  assert.deepEqual(policy.profilesFor(identity({ scope: { arcgis: true } })), []);
});

Deno.test("includes with a number matches numbers in an array claim", () => {
  const policy = createPolicy(config([{ claim: "levels", includes: 2, profile: "me" }]));
  assert.deepEqual(policy.profilesFor(identity({ levels: [1, 2] })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ levels: ["2"] })), []);
});

Deno.test("matches tests a unicode regular expression against a string or any string element", () => {
  const policy = createPolicy(
    config([{ claim: "groups", matches: "^gis-(editors|viewers)$", profile: "me" }]),
  );
  assert.deepEqual(policy.profilesFor(identity({ groups: ["staff", "gis-viewers"] })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ groups: "gis-editors" })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ groups: ["gis-editors-x"] })), []);
  assert.deepEqual(policy.profilesFor(identity({ groups: [42] })), []);
  const unicode = createPolicy(config([{ claim: "name", matches: "^\\p{Lu}", profile: "me" }]));
  assert.deepEqual(unicode.profilesFor(identity({ name: "Émile" })), ["me"]);
  assert.deepEqual(unicode.profilesFor(identity({ name: "émile" })), []);
});

Deno.test("exists checks presence; null counts as absent", () => {
  const policy = createPolicy(config([
    { claim: "arcgis_user", exists: true, profile: "me" },
    { claim: "guest", exists: false, profile: "viewer" },
  ]));
  assert.deepEqual(policy.profilesFor(identity({ arcgis_user: "x", guest: 1 })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ arcgis_user: null })), ["viewer"]);
  assert.deepEqual(policy.profilesFor(identity({ guest: true })), []);
});

Deno.test("a dotted claim name walks nested objects when no claim has that exact name", () => {
  const policy = createPolicy(config([{ claim: "realm_access.roles", includes: "gis", profile: "me" }]));
  assert.deepEqual(policy.profilesFor(identity({ realm_access: { roles: ["gis"] } })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ "realm_access.roles": ["gis"] })), ["me"]);
  assert.deepEqual(policy.profilesFor(identity({ realm_access: ["gis"] })), []);
  assert.deepEqual(policy.profilesFor(identity({ realm_access: { roles: ["other"] } })), []);
});

Deno.test("inherited properties are never claims", () => {
  const policy = createPolicy(config([
    { claim: "constructor", exists: true, profile: "me" },
    { claim: "a.__proto__", exists: true, profile: "viewer" },
  ]));
  assert.deepEqual(policy.profilesFor(identity({ a: {} })), []);
});

Deno.test("the config refuses a rule naming an unknown profile", () => {
  assert.throws(() => config([{ profile: "nope" }]), /Unknown profile/);
});
