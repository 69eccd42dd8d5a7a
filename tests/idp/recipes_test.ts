/**
 * The IdP recipes in `docs/idps/*.md`, executed: each page's `<!-- recipe: NAME -->` block is the `issuers[]` entry,
 * `recipe-header` / `recipe-claims` / `recipe-jwk` are a token and a JWKS key shaped exactly as that IdP documents
 * them. Each recipe's token passes `authenticate()` (through `createBroker`), and the refusals that matter for that
 * IdP are refused with their own reason code in the log. The pages and the tests cannot drift apart.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import * as jose from "jose";
import { createBroker } from "../../src/hono/broker.ts";
import type { BrokerEnv } from "../../src/hono/authenticate.ts";
import type { LogEntry } from "../../src/deps.ts";
import type { Identity } from "../../src/types.ts";
import type { RefusalReason } from "../../src/idp/refusal_reason.ts";
import { createClock, T0 } from "./_helpers.ts";

const DOCS = new URL("../../docs/idps/", import.meta.url);
const NOW_S = Math.floor(T0 / 1000);
const KEYRING = `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(5)))}`;
const SECRETS = {
  K: KEYRING,
  IDSRV_INTROSPECTION_SECRET: "idsrv-secret",
  OKTA_INTROSPECTION_SECRET: "okta-secret",
};

type Json = Record<string, unknown>;

interface Recipe {
  config: Json;
  header?: Json;
  claims: Json;
  jwk?: Json;
}

/** Every recipe of one page, by name. */
async function recipesOf(page: string): Promise<Map<string, Recipe>> {
  const text = await Deno.readTextFile(new URL(page, DOCS));
  const parts = new Map<string, Partial<Recipe>>();
  const block = /<!-- recipe(?:-(header|claims|jwk))?: ([a-z0-9-]+) -->\s*```json\n([\s\S]*?)\n```/g;
  for (const match of text.matchAll(block)) {
    const [, kind, name, json] = match;
    const recipe = parts.get(name) ?? {};
    recipe[(kind ?? "config") as keyof Recipe] = JSON.parse(json);
    parts.set(name, recipe);
  }
  const out = new Map<string, Recipe>();
  for (const [name, recipe] of parts) {
    assert.ok(
      recipe.config !== undefined && recipe.claims !== undefined,
      `${page}: recipe "${name}" is incomplete`,
    );
    out.set(name, recipe as Recipe);
  }
  return out;
}

/** The sample claims with their times moved to the test clock (the pages show fixed instants). */
function current(claims: Json): Json {
  const out: Json = { ...claims };
  for (const name of ["iat", "nbf"]) if (name in out) out[name] = NOW_S - 5;
  if ("auth_time" in out) out.auth_time = NOW_S - 15;
  if ("exp" in out) out.exp = NOW_S + 3600;
  return out;
}

/** `claims` without the named members. */
function without(claims: Json, ...names: string[]): Json {
  const out: Json = { ...claims };
  for (const name of names) delete out[name];
  return out;
}

const key = await jose.generateKeyPair("RS256", { extractable: true });
const publicJwk = await jose.exportJWK(key.publicKey);
const other = await jose.generateKeyPair("RS256", { extractable: true });

async function sign(header: Json, claims: Json, privateKey: CryptoKey = key.privateKey): Promise<string> {
  return await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader(header as jose.CompactJWSHeaderParameters)
    .sign(privateKey);
}

/** The JWK as the page shows it, with this test's key material in place of the elided `n`. */
function jwkOf(recipe: Recipe): Json {
  assert.ok(recipe.jwk !== undefined);
  return { ...recipe.jwk, n: publicJwk.n, e: publicJwk.e };
}

interface IdpRoutes {
  /** Where discovery says the JWKS is (when the config has no `jwksUri`). */
  jwksPath?: string;
  /** Extra keys published beside the recipe's one. */
  extraKeys?: Json[];
  /** Introspection: the opaque token the IdP knows and the answer it gives for it. */
  introspection?: { token: string; answer: Json; secret: string };
}

/** A fake IdP at the recipe's real URLs: discovery, JWKS, introspection. Nothing leaves the process. */
function idpFetch(recipe: Recipe, routes: IdpRoutes): typeof fetch {
  const config = recipe.config as { issuer: string; jwksUri?: string };
  const issuer = config.issuer;
  const base = issuer.endsWith("/") ? issuer.slice(0, -1) : issuer;
  const jwksUri = config.jwksUri ?? `${base}${routes.jwksPath ?? "/jwks"}`;
  const keys = [...(recipe.jwk === undefined ? [] : [jwkOf(recipe)]), ...(routes.extraKeys ?? [])];
  return ((input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (url === `${base}/.well-known/openid-configuration`) {
      return Promise.resolve(Response.json({ issuer, jwks_uri: jwksUri }));
    }
    if (url === jwksUri) return Promise.resolve(Response.json({ keys }));
    const introspection = routes.introspection;
    const endpoint = (recipe.config.introspection as { endpoint?: string } | undefined)?.endpoint;
    if (introspection !== undefined && url === endpoint && init?.method === "POST") {
      const form = new URLSearchParams(String(init.body));
      const auth = new Headers(init.headers).get("authorization") ?? "";
      const [id, secret] = atob(auth.replace(/^Basic /, "")).split(":").map(decodeURIComponent);
      const clientId = (recipe.config.introspection as { clientId: string }).clientId;
      if (id !== clientId || secret !== introspection.secret) {
        return Promise.resolve(Response.json({ error: "invalid_client" }, { status: 401 }));
      }
      const active = form.get("token") === introspection.token;
      return Promise.resolve(Response.json(active ? introspection.answer : { active: false }));
    }
    return Promise.resolve(new Response("not found", { status: 404 }));
  }) as typeof fetch;
}

interface Host {
  call(token: string): Promise<{ status: number; reason?: unknown; identity?: Identity }>;
}

function hostFor(config: Json, fetchFn: typeof fetch): Host {
  const logs: LogEntry[] = [];
  const clock = createClock();
  const broker = createBroker({
    issuers: [config as never],
    arcgis: { portalUrl: "https://gis.example.com/portal/sharing/rest" },
    profiles: {},
    sealing: { keysEnv: "K" },
  }, { secrets: SECRETS, fetch: fetchFn, now: clock.now, log: (entry) => void logs.push(entry) });
  const app = new Hono<BrokerEnv>();
  app.use("/api/*", broker.authenticate());
  app.get("/api/me", (c) => c.json(c.get("identity")));
  return {
    async call(token) {
      logs.length = 0;
      const response = await app.request("/api/me", { headers: { authorization: `Bearer ${token}` } });
      if (response.status === 200) return { status: 200, identity: await response.json() };
      await response.body?.cancel();
      return { status: response.status, reason: logs.find((entry) => "reason" in entry)?.reason };
    },
  };
}

async function accepted(host: Host, token: string): Promise<Identity> {
  const answer = await host.call(token);
  assert.equal(answer.status, 200, `refused with ${String(answer.reason)}`);
  return answer.identity!;
}

async function refused(host: Host, token: string, reason: RefusalReason): Promise<void> {
  const answer = await host.call(token);
  assert.equal(answer.status, reason === "idp_unavailable" ? 503 : 401, `expected ${reason}`);
  assert.equal(answer.reason, reason);
}

Deno.test("recipe: IdentityServer4 / Duende, scope-only JWT access tokens and reference tokens", async () => {
  const recipes = await recipesOf("identityserver.md");
  const jwt = recipes.get("identityserver")!;
  const host = hostFor(jwt.config, idpFetch(jwt, { jwksPath: "/.well-known/openid-configuration/jwks" }));
  const claims = current(jwt.claims);
  const identity = await accepted(host, await sign(jwt.header!, claims));
  assert.equal(identity.subject, "88421113");
  assert.deepEqual(identity.claims.scope, ["openid", "profile", "arcgis"]);
  // EmitStaticAudienceClaim adds "{issuer}/resources": still accepted, the client and scope bind the token.
  await accepted(host, await sign(jwt.header!, { ...claims, aud: "https://login.example.com/resources" }));
  await refused(host, await sign(jwt.header!, { ...claims, client_id: "other-app" }), "client_not_allowed");
  await refused(host, await sign(jwt.header!, { ...claims, scope: ["openid", "profile"] }), "scope_missing");
  const idToken = without(
    { ...claims, aud: "arcgis-spa", nonce: "n-0S6_WzA2Mj", at_hash: "77QmUPtjPfzWtF2AnpK9RQ" },
    "scope",
    "client_id",
  );
  await refused(host, await sign({ ...jwt.header!, typ: "JWT" }, idToken), "id_token_as_bearer");
  await refused(
    host,
    await sign(jwt.header!, { ...claims, iss: "https://login.example.com/" }),
    "iss_unknown",
  );
  await refused(host, await sign(jwt.header!, claims, other.privateKey), "signature_invalid");

  const reference = recipes.get("identityserver-reference")!;
  const opaque = "4A9D6F9D1E1C3B2A5F7E8D9C0B1A2F3E4D5C6B7A8F9E0D1C2B3A4F5E6D7C8B9A";
  const refHost = hostFor(
    reference.config,
    idpFetch(reference, {
      introspection: { token: opaque, answer: current(reference.claims), secret: "idsrv-secret" },
    }),
  );
  const refIdentity = await accepted(refHost, opaque);
  assert.equal(refIdentity.subject, "88421113");
  await refused(refHost, "B".repeat(64), "token_inactive");
});

Deno.test("recipe: Entra ID single tenant (v2 tokens, keys without alg)", async () => {
  const recipe = (await recipesOf("entra.md")).get("entra-single")!;
  assert.equal(recipe.jwk!.alg, undefined, "Entra keys carry no alg");
  const host = hostFor(recipe.config, idpFetch(recipe, {}));
  const claims = current(recipe.claims);
  const identity = await accepted(host, await sign(recipe.header!, claims));
  assert.equal(identity.subject, recipe.claims.sub);
  assert.equal(identity.issuer, recipe.config.issuer);
  const tid = recipe.claims.tid as string;
  await refused(
    host,
    await sign(recipe.header!, { ...claims, iss: `https://sts.windows.net/${tid}/` }),
    "iss_unknown",
  );
  await refused(
    host,
    await sign(recipe.header!, {
      ...claims,
      iss: "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
    }),
    "iss_unknown",
  );
  await refused(
    host,
    await sign({ ...recipe.header!, nonce: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" }, {
      ...claims,
      aud: "00000003-0000-0000-c000-000000000000",
      scp: "User.Read",
    }),
    "graph_token",
  );
  await refused(
    host,
    await sign(recipe.header!, { ...claims, azp: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c" }),
    "client_not_allowed",
  );
  await refused(host, await sign(recipe.header!, { ...claims, scp: "User.Read" }), "scope_missing");
});

Deno.test("recipe: Entra ID multi-tenant, v1 and v2 spellings, tenant allowlist", async () => {
  const recipe = (await recipesOf("entra.md")).get("entra-multi")!;
  const host = hostFor(recipe.config, idpFetch(recipe, {}));
  const v1 = current(recipe.claims);
  const tenantB = "9188040d-6c67-4c5b-b112-36a304b66dad";
  const identity = await accepted(host, await sign(recipe.header!, v1));
  assert.equal(identity.issuer, `https://login.microsoftonline.com/${tenantB}/v2.0`);
  assert.equal(identity.tenant, tenantB);
  // The same user's v2 token (client in azp, audience the API's client id) is the same identity.
  const v2 = without({
    ...v1,
    iss: `https://login.microsoftonline.com/${tenantB}/v2.0`,
    aud: "6e74172b-be56-4843-9ff4-e66a39bb12e3",
    azp: v1.appid,
    ver: "2.0",
  }, "appid");
  const v2Identity = await accepted(
    host,
    await sign({ typ: "JWT", alg: "RS256", kid: recipe.header!.kid }, v2),
  );
  assert.equal(v2Identity.issuer, identity.issuer);
  assert.equal(v2Identity.subject, identity.subject);
  const stranger = "5d2d4a3e-8a1b-4c6d-9e0f-1a2b3c4d5e6f";
  await refused(
    host,
    await sign(recipe.header!, { ...v1, iss: `https://sts.windows.net/${stranger}/`, tid: stranger }),
    "tenant_not_allowed",
  );
  await refused(
    host,
    await sign(recipe.header!, { ...v1, tid: "72f988bf-86f1-41af-91ab-2d7cd011db47" }),
    "tenant_not_allowed",
  );
});

Deno.test("recipe: Okta custom authorization server (client in cid, scp array) and org server introspection", async () => {
  const recipes = await recipesOf("okta.md");
  const recipe = recipes.get("okta")!;
  const host = hostFor(recipe.config, idpFetch(recipe, { jwksPath: "/v1/keys" }));
  const claims = current(recipe.claims);
  assert.equal((await accepted(host, await sign(recipe.header!, claims))).subject, "alice@example.com");
  await refused(
    host,
    await sign(recipe.header!, {
      ...claims,
      iss: "https://dev-123456.okta.com",
      aud: "https://dev-123456.okta.com",
    }),
    "iss_unknown",
  );
  await refused(
    host,
    await sign(recipe.header!, { ...claims, aud: "https://dev-123456.okta.com" }),
    "aud_mismatch",
  );
  await refused(
    host,
    await sign(recipe.header!, { ...claims, cid: "0oaOTHERAPP000000000" }),
    "client_not_allowed",
  );

  const org = recipes.get("okta-org")!;
  const orgToken = await sign(recipe.header!, {
    ...current(org.claims),
    active: undefined,
    ver: 1,
    cid: org.claims.client_id,
  });
  const orgHost = hostFor(
    org.config,
    idpFetch(org, { introspection: { token: orgToken, answer: current(org.claims), secret: "okta-secret" } }),
  );
  // The org server's JWT is never verified locally (no JWKS is even published here): the IdP answers for it.
  assert.equal((await accepted(orgHost, orgToken)).subject, "alice@example.com");
  const unknown = await sign(recipe.header!, { ...current(org.claims), jti: "AT.unknown" });
  await refused(orgHost, unknown, "token_inactive");
});

Deno.test("recipe: Keycloak with an audience mapper (aud array, azp, encryption key in the JWKS)", async () => {
  const recipe = (await recipesOf("keycloak.md")).get("keycloak")!;
  const encryptionKey = {
    kid: "enc-6X8mWb0p",
    kty: "RSA",
    alg: "RSA-OAEP",
    use: "enc",
    n: publicJwk.n,
    e: publicJwk.e,
  };
  const host = hostFor(
    recipe.config,
    idpFetch(recipe, { jwksPath: "/protocol/openid-connect/certs", extraKeys: [encryptionKey] }),
  );
  const claims = current(recipe.claims);
  assert.equal((await accepted(host, await sign(recipe.header!, claims))).claims.preferred_username, "alice");
  await refused(host, await sign(recipe.header!, { ...claims, aud: "account" }), "aud_mismatch");
  await refused(host, await sign(recipe.header!, { ...claims, azp: "another-client" }), "client_not_allowed");
  const idToken = without({
    ...claims,
    typ: "ID",
    aud: "arcgis-spa",
    nonce: "c2a1",
    at_hash: "e5Vc0Iqu2GRAEhgTQ4OVHA",
  }, "scope");
  await refused(host, await sign(recipe.header!, idToken), "id_token_as_bearer");
  await refused(host, await sign({ ...recipe.header!, kid: "enc-6X8mWb0p" }, claims), "key_unusable");
});

Deno.test("recipe: Auth0 custom domain (issuer with a trailing slash, aud array with /userinfo)", async () => {
  const recipe = (await recipesOf("auth0.md")).get("auth0")!;
  const routes = { jwksPath: "/.well-known/jwks.json" };
  const host = hostFor(recipe.config, idpFetch(recipe, routes));
  const claims = current(recipe.claims);
  assert.equal(
    (await accepted(host, await sign(recipe.header!, claims))).subject,
    "auth0|6571a2b3c4d5e6f708192a3b",
  );
  // The tenant domain is listed as an alias: its tokens are the same IdP.
  await accepted(host, await sign(recipe.header!, { ...claims, iss: "https://example.eu.auth0.com/" }));
  await refused(
    host,
    await sign(recipe.header!, { ...claims, aud: "https://login.example.com/userinfo" }),
    "aud_mismatch",
  );
  await refused(host, await sign(recipe.header!, { ...claims, scope: "openid profile" }), "scope_missing");
  // Written without the trailing slash, the config names another issuer: every token is refused, saying why.
  const noSlash = { ...recipe.config, issuer: "https://login.example.com", issuerAliases: [] };
  const strict = hostFor(noSlash, idpFetch({ ...recipe, config: noSlash }, routes));
  await refused(strict, await sign(recipe.header!, claims), "iss_unknown");
});

Deno.test("recipe: Amazon Cognito (no aud: clientIds and requiredScopes bind the token)", async () => {
  const recipe = (await recipesOf("cognito.md")).get("cognito")!;
  assert.equal("audience" in recipe.config, false);
  const host = hostFor(recipe.config, idpFetch(recipe, { jwksPath: "/.well-known/jwks.json" }));
  const claims = current(recipe.claims);
  const identity = await accepted(host, await sign(recipe.header!, claims));
  assert.deepEqual(identity.claims["cognito:groups"], ["gis-viewers"]);
  await refused(
    host,
    await sign(recipe.header!, { ...claims, client_id: "2other3456789abcdefghijk" }),
    "client_not_allowed",
  );
  await refused(
    host,
    await sign(recipe.header!, { ...claims, scope: "aws.cognito.signin.user.admin" }),
    "scope_missing",
  );
  const idToken = without(
    { ...claims, token_use: "id", aud: claims.client_id, at_hash: "9i3cJ6S7Hq8Y1xJf6bX3Nw" },
    "client_id",
    "scope",
  );
  await refused(host, await sign(recipe.header!, idToken), "id_token_as_bearer");
});

Deno.test("recipe: Google ID tokens (idTokens enabled explicitly)", async () => {
  const recipe = (await recipesOf("google.md")).get("google")!;
  const host = hostFor(recipe.config, idpFetch(recipe, {}));
  const claims = current(recipe.claims);
  const identity = await accepted(host, await sign(recipe.header!, claims));
  assert.equal(identity.tokenKind, "id");
  assert.equal(identity.claims.hd, "example.com");
  const otherClient = "9876543210-zyx987.apps.googleusercontent.com";
  await refused(
    host,
    await sign(recipe.header!, { ...claims, aud: otherClient, azp: otherClient }),
    "aud_mismatch",
  );
  await refused(host, await sign(recipe.header!, { ...claims, iss: "accounts.google.com" }), "iss_unknown");
  await refused(host, "ya29.a0AfB_byC8x2ExampleOpaqueAccessToken0123456789", "malformed");
});
