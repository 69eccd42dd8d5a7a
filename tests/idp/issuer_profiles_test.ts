/**
 * Issuer entries that fit real IdPs without loosening anything silently: the audience-less scope-only model,
 * `{tenantid}` templates with a tenant allowlist, several issuer spellings, every client claim, `scope`/`scp`,
 * Graph tokens, JWKS keys without `alg`, and identities with lone UTF-16 surrogates. Each refusal asserts its
 * reason code.
 */
import assert from "node:assert/strict";
import * as jose from "jose";
import { isBrokerError } from "../../src/errors.ts";
import { createTokenVerifier } from "../../src/idp/mod.ts";
import type { RefusalReason } from "../../src/idp/refusal_reason.ts";
import { parseConfig } from "../../src/config/load.ts";
import { createPolicy } from "../../src/policy/mod.ts";
import type { TokenVerifier } from "../../src/types.ts";
import {
  accessClaims,
  AUDIENCE,
  createClock,
  createFakeIdp,
  generateSigningKey,
  ISSUER,
  issuerConfig,
  type SigningKey,
  signToken,
  T0,
  testDeps,
} from "./_helpers.ts";

const NOW_S = Math.floor(T0 / 1000);
const rsa = await generateSigningKey("RS256", "rsa-1");

async function refused(verifier: TokenVerifier, token: string, reason: RefusalReason): Promise<void> {
  await assert.rejects(verifier.verify(token), (error: unknown) => {
    assert.ok(isBrokerError(error, "ERR_INVALID_TOKEN"), `expected ERR_INVALID_TOKEN, got ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

function configError(issuer: Record<string, unknown>): string {
  try {
    parseConfig({
      issuers: [issuer],
      arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
      profiles: {},
      sealing: { keysEnv: "K" },
    });
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}

/** Signs a payload given as raw JSON text (to spell escapes exactly as an IdP could). */
async function signRaw(key: SigningKey, payloadText: string): Promise<string> {
  const enc = (text: string) => jose.base64url.encode(new TextEncoder().encode(text));
  const input = `${enc(JSON.stringify({ alg: key.alg, kid: key.kid, typ: "at+jwt" }))}.${enc(payloadText)}`;
  const signature = await crypto.subtle.sign(
    { name: "RSASSA-PKCS1-v1_5" },
    key.privateKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${jose.base64url.encode(new Uint8Array(signature))}`;
}

Deno.test("config: audience may be omitted only with clientIds and requiredScopes both set", () => {
  const base = { issuer: ISSUER };
  assert.match(
    configError(base),
    /issuers\.0\.audience: Required \(fix: set "audience" .*or, .*set both "clientIds" and "requiredScopes"/,
  );
  assert.match(configError({ ...base, clientIds: ["spa"] }), /issuers\.0\.audience/);
  assert.match(configError({ ...base, requiredScopes: ["arcgis"] }), /issuers\.0\.audience/);
  assert.match(configError({ ...base, clientIds: [], requiredScopes: ["arcgis"] }), /clientIds/);
  assert.equal(configError({ ...base, clientIds: ["spa"], requiredScopes: ["arcgis"] }), "");
});

Deno.test("scope-only model: no aud needed, but the client and the scope bind the token", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const config = issuerConfig({
    audience: undefined,
    clientIds: ["spa"],
    requiredScopes: ["arcgis"],
    jwksUri: `${ISSUER}/jwks`,
  });
  const verifier = createTokenVerifier([config], testDeps(clock, idp.fetch));
  const identity = await verifier.verify(
    await signToken(rsa, accessClaims({ aud: undefined, scope: ["openid", "arcgis"] })),
  );
  assert.equal(identity.subject, "alice");
  // Any aud is tolerated (IdentityServer's EmitStaticAudienceClaim gives "{issuer}/resources").
  await verifier.verify(await signToken(rsa, accessClaims({ aud: `${ISSUER}/resources` })));
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ aud: undefined, scope: "openid" })),
    "scope_missing",
  );
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ aud: undefined, client_id: "other" })),
    "client_not_allowed",
  );
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ aud: undefined, client_id: undefined })),
    "client_not_allowed",
  );
  await refused(verifier, await signToken(rsa, accessClaims({ aud: 7 })), "aud_mismatch");
});

Deno.test("clientIds: each of azp, client_id and appid that is present must be allowed (issue 9)", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const verifier = createTokenVerifier(
    [issuerConfig({ clientIds: ["spa", "spa-2"], jwksUri: `${ISSUER}/jwks` })],
    testDeps(clock, idp.fetch),
  );
  await verifier.verify(await signToken(rsa, accessClaims({ client_id: "spa", azp: "spa-2" })));
  await verifier.verify(await signToken(rsa, accessClaims({ client_id: undefined, appid: "spa" })));
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ client_id: "spa", azp: "other" })),
    "client_not_allowed",
  );
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ client_id: undefined, azp: "spa", appid: "other" })),
    "client_not_allowed",
  );
  await refused(verifier, await signToken(rsa, accessClaims({ appid: 5 })), "claim_invalid");
});

Deno.test("scopes come from scope (string or array) and scp (string or array)", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const verifier = createTokenVerifier(
    [issuerConfig({ requiredScopes: ["arcgis"], jwksUri: `${ISSUER}/jwks` })],
    testDeps(clock, idp.fetch),
  );
  for (
    const claims of [{ scope: "a arcgis" }, { scope: ["arcgis"] }, { scp: "User.Read arcgis" }, {
      scp: ["arcgis"],
    }]
  ) {
    await verifier.verify(await signToken(rsa, accessClaims({ scope: undefined, ...claims })));
  }
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ scope: undefined, scp: "User.Read" })),
    "scope_missing",
  );
});

const V2 = "https://login.microsoftonline.com/{tenantid}/v2.0";
const V1 = "https://sts.windows.net/{tenantid}/";
const TENANT_A = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const TENANT_B = "9188040d-6c67-4c5b-b112-36a304b66dad";
const TENANT_X = "00000000-1111-2222-3333-444444444444";

Deno.test("config: a {tenantid} template needs a tenant allowlist, and tenants need a template", () => {
  const base = {
    audience: "api://broker",
    algorithms: ["RS256"],
    jwksUri: "https://login.microsoftonline.com/common/discovery/v2.0/keys",
  };
  assert.match(
    configError({ ...base, issuer: V2 }),
    /issuers\.0\.tenants: Required by the "\{tenantid\}" issuer \(fix: list the tenant ids/,
  );
  assert.match(
    configError({ ...base, issuer: ISSUER, issuerAliases: [V1] }),
    /issuers\.0\.tenants: Required by the "\{tenantid\}" issuer \(fix: list the tenant ids/,
  );
  assert.match(
    configError({ ...base, issuer: ISSUER, tenants: [TENANT_A] }),
    /issuers\.0\.tenants: Expected no tenants/,
  );
  assert.match(configError({ ...base, issuer: V2, tenants: ["a/b"] }), /tenant id/);
  assert.match(
    configError({
      ...base,
      issuer: "https://login.microsoftonline.com/{tenantid}/{tenantid}",
      tenants: [TENANT_A],
    }),
    /at most once/,
  );
  assert.match(
    configError({ ...base, issuer: "https://idp.example.com/{tenant}", tenants: [TENANT_A] }),
    /braces/,
  );
  assert.equal(configError({ ...base, issuer: V2, issuerAliases: [V1], tenants: [TENANT_A] }), "");
});

Deno.test("config: issuer spellings may not overlap across entries", () => {
  let message = "";
  try {
    parseConfig({
      issuers: [
        { issuer: "https://sts.windows.net/t1/", audience: "a" },
        { issuer: ISSUER, issuerAliases: ["https://sts.windows.net/t1/"], audience: "b" },
      ],
      arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
      profiles: {},
      sealing: { keysEnv: "K" },
    });
  } catch (error) {
    message = (error as Error).message;
  }
  assert.match(message, /issuers\.1\.issuer: Duplicate issuer: also accepted by issuers\.0/);
});

Deno.test("Entra multi-tenant: v1 and v2 spellings, listed tenants only, tid must agree", async () => {
  const clock = createClock();
  // Entra's JWKS keys carry x5c and x5t and no alg: the single configured RSA algorithm applies.
  const { alg: _alg, use: _use, ...bare } = rsa.publicJwk;
  const entraKey = { ...bare, use: "sig", x5t: "abc", x5c: ["MIIC..."], issuer: V2 };
  const idp = createFakeIdp([entraKey], "https://login.microsoftonline.com/common/v2.0");
  const config = issuerConfig({
    issuer: V2,
    issuerAliases: [V1],
    tenants: [TENANT_A, TENANT_B],
    audience: ["api://arcgis-broker", "11111111-2222-3333-4444-555555555555"],
    algorithms: ["RS256"],
    jwksUri: "https://login.microsoftonline.com/jwks",
  });
  const verifier = createTokenVerifier([config], testDeps(clock, idp.fetch));
  const v2Issuer = V2.replace("{tenantid}", TENANT_A);
  const v2 = await signToken(
    rsa,
    accessClaims({
      iss: v2Issuer,
      tid: TENANT_A,
      aud: "11111111-2222-3333-4444-555555555555",
      azp: "spa-client",
      scp: "access_as_user",
      client_id: undefined,
      scope: undefined,
    }),
    { typ: "JWT" },
  );
  const identity = await verifier.verify(v2);
  assert.equal(identity.issuer, v2Issuer);
  assert.equal(identity.configuredIssuer, V2);
  assert.equal(identity.tenant, TENANT_A);
  // A v1 token of the same tenant belongs to the same identity issuer (the v2 spelling).
  const v1 = await signToken(
    rsa,
    accessClaims({
      iss: V1.replace("{tenantid}", TENANT_A),
      tid: TENANT_A,
      aud: "api://arcgis-broker",
      appid: "spa-client",
      ver: "1.0",
      client_id: undefined,
    }),
    { typ: "JWT" },
  );
  const v1Identity = await verifier.verify(v1);
  assert.equal(v1Identity.issuer, v2Issuer);
  // Another tenant's token is refused with its own reason, a forged tid too, and an unrelated issuer is unknown.
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ iss: V2.replace("{tenantid}", TENANT_X), tid: TENANT_X })),
    "tenant_not_allowed",
  );
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ iss: V1.replace("{tenantid}", TENANT_X) })),
    "tenant_not_allowed",
  );
  await refused(
    verifier,
    await signToken(rsa, accessClaims({ iss: v2Issuer, tid: TENANT_B })),
    "tenant_not_allowed",
  );
  await refused(verifier, await signToken(rsa, accessClaims({ iss: `${v2Issuer}/` })), "iss_unknown");
  // Rules name the template; the policy matches tokens of every listed tenant.
  const policy = createPolicy(parseConfig({
    issuers: [{ ...config, jwks: undefined }],
    arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
    profiles: { viewer: { mode: "app", clientId: "c", clientSecretEnv: "S" } },
    rules: [{ issuer: V2, profile: "viewer" }],
    sealing: { keysEnv: "K" },
  }));
  assert.deepEqual(policy.profilesFor(identity), ["viewer"]);
  assert.deepEqual(policy.profilesFor(v1Identity), ["viewer"]);
});

Deno.test("a Microsoft Graph token (nonce in the header) is refused as graph_token before any key fetch", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const verifier = createTokenVerifier(
    [issuerConfig({ jwksUri: `${ISSUER}/jwks` })],
    testDeps(clock, idp.fetch),
  );
  const graph = await signToken(
    rsa,
    accessClaims({ aud: "00000003-0000-0000-c000-000000000000" }),
    { typ: "JWT", nonce: "AQABAAAAAAD", x5t: "abc" },
  );
  await refused(verifier, graph, "graph_token");
  assert.equal(idp.jwksCalls(), 0);
});

Deno.test("keys without alg: the one configured algorithm for the key type; ambiguity refuses the config", async () => {
  const clock = createClock();
  const { alg: _alg, ...noAlg } = rsa.publicJwk;
  const idp = createFakeIdp([noAlg]);
  const verifier = createTokenVerifier(
    [issuerConfig({ algorithms: ["RS256", "ES256"], jwksUri: `${ISSUER}/jwks` })],
    testDeps(clock, idp.fetch),
  );
  assert.equal((await verifier.verify(await signToken(rsa, accessClaims()))).subject, "alice");
  assert.match(
    configError({ issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256", "PS256"] }),
    /Ambiguous algorithms for key type "RSA"/,
  );
});

Deno.test("iss and sub with a lone UTF-16 surrogate are refused, and never collide with U+FFFD", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const verifier = createTokenVerifier(
    [issuerConfig({ jwksUri: `${ISSUER}/jwks` })],
    testDeps(clock, idp.fetch),
  );
  const claims = (sub: string, iss = `"${ISSUER}"`) =>
    `{"iss":${iss},"sub":${sub},"aud":"${AUDIENCE}","iat":${NOW_S},"exp":${NOW_S + 300},"client_id":"spa"}`;
  const replacement = await verifier.verify(await signRaw(rsa, claims('"x\\uFFFD"')));
  assert.equal(replacement.subject, "x\uFFFD");
  await refused(verifier, await signRaw(rsa, claims('"x\\uD800"')), "sub_malformed");
  await refused(verifier, await signRaw(rsa, claims('"x\\udc00y"')), "sub_malformed");
  await refused(verifier, await signRaw(rsa, claims('"alice"', `"${ISSUER}\\uD800"`)), "iss_malformed");
  // A surrogate pair is well formed.
  assert.equal(
    (await verifier.verify(await signRaw(rsa, claims('"x\\uD83D\\uDE00"')))).subject,
    "x\u{1F600}",
  );
});

Deno.test("identities of different tenants never share an issuer, even when only an alias is templated", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const verifier = createTokenVerifier(
    [issuerConfig({ issuerAliases: [V1], tenants: [TENANT_A, TENANT_B], jwksUri: `${ISSUER}/jwks` })],
    testDeps(clock, idp.fetch),
  );
  const a = await verifier.verify(
    await signToken(rsa, accessClaims({ iss: V1.replace("{tenantid}", TENANT_A) })),
  );
  const b = await verifier.verify(
    await signToken(rsa, accessClaims({ iss: V1.replace("{tenantid}", TENANT_B) })),
  );
  const plain = await verifier.verify(await signToken(rsa, accessClaims()));
  assert.equal(a.subject, b.subject);
  assert.notEqual(a.issuer, b.issuer);
  assert.notEqual(a.issuer, plain.issuer);
  assert.equal(a.configuredIssuer, ISSUER);
  assert.equal(plain.issuer, ISSUER);
});
