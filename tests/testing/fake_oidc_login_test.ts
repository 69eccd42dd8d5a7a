/**
 * The fake portal's OpenID Connect login against the real test IdP (`oidc-provider` on loopback): both client
 * authentications, PKCE, the user-profile call with the token in the header or the query, the JWKS path,
 * automatic and administrator-only join, the username rules, the portal's own session and sign-out through the
 * IdP's logout endpoint. A small cookie-keeping client plays the browser.
 */
import assert from "node:assert/strict";
import {
  arcgisUsername,
  type FakeOidcLoginConfig,
  type FakeUser,
  OIDC_INVITATION_ONLY_MESSAGE,
  OIDC_MISSING_PARAMETER_MESSAGE,
  PORTAL_SESSION_COOKIE,
  type ServedFakeArcGIS,
  serveFakeArcGIS,
} from "../../src/testing/mod.ts";
import {
  type OidcIdp,
  type OidcIdpClient,
  type OidcIdpUser,
  startOidcIdp,
} from "../../src/testing/oidc_idp.ts";
import { Agent, type Landing } from "./_agent.ts";

const APP_ID = "app-client";
const APP_REDIRECT = "https://app.example/callback";
const PORTAL_CLIENT = "arcgis-portal";
const PORTAL_SECRET = "portal-client-secret";

const IDP_USERS: OidcIdpUser[] = [
  { sub: "u-demo", claims: { name: "Demo User", email: "demo@example.com", preferred_username: "demo" } },
  { sub: "u-newbie", claims: { name: "New Bie", email: "nb@example.com", preferred_username: "nb" } },
  {
    sub: "u-carol",
    claims: { name: "Carol Smith", email: "carol.smith@example.com", preferred_username: "carol smith" },
  },
];

const MEMBER_DEMO: FakeUser = {
  username: "demo_user",
  password: "pw-demo-user",
  idpUsername: "demo@example.com",
};

/** A built-in (non-IdP) account that holds the name the IdP user would get. */
const BUILTIN_CAROL: FakeUser = { username: "carol_smith", password: "pw-carol" };

interface Rig {
  idp: OidcIdp;
  served: ServedFakeArcGIS;
  agent: Agent;
  /** URLs the portal fetched from the IdP, with whether they carried a bearer header. */
  idpCalls: { url: string; bearer: boolean; body: string }[];
  signInAtIdp(sub: string): Promise<void>;
  authorize(): Promise<Landing>;
  close(): Promise<void>;
}

async function rig(
  login: Partial<FakeOidcLoginConfig>,
  client: Partial<OidcIdpClient> = {},
  users: FakeUser[] = [MEMBER_DEMO, BUILTIN_CAROL],
): Promise<Rig> {
  const idp = await startOidcIdp({ users: IDP_USERS });
  const idpCalls: Rig["idpCalls"] = [];
  const served = serveFakeArcGIS({
    startTimeMs: Date.now(),
    users,
    apps: [{ clientId: APP_ID, clientSecret: "app-secret", redirectUris: [APP_REDIRECT] }],
    apiKeys: [],
  });
  const urls = served.urls;
  const recordingFetch = async (input: Request | URL | string, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    idpCalls.push({
      url: request.url,
      bearer: (request.headers.get("authorization") ?? "").startsWith("Bearer "),
      body: await request.clone().text(),
    });
    return await fetch(request);
  };
  served.fake.setOidcLogin({
    clientId: PORTAL_CLIENT,
    clientSecret: PORTAL_SECRET,
    issuer: idp.issuer,
    authorizationEndpoint: idp.endpoints.authorization,
    tokenEndpoint: idp.endpoints.token,
    jwksUrl: idp.endpoints.jwks,
    userProfileEndpoint: idp.endpoints.userinfo,
    logoutEndpoint: idp.endpoints.endSession,
    fetch: recordingFetch,
    ...login,
  });
  idp.addClient({
    clientId: PORTAL_CLIENT,
    clientSecret: PORTAL_SECRET,
    redirectUris: [urls.oidcRedirect],
    postLogoutRedirectUris: [urls.oidcSignedOut],
    requirePkce: login.usePkce ?? false,
    ...(client.tokenEndpointAuthMethod === "private_key_jwt" ? { jwksUri: urls.oidcPublicKeys } : {}),
    ...client,
  });
  const agent = new Agent();
  return {
    idp,
    served,
    agent,
    idpCalls,
    async signInAtIdp(sub) {
      const verifier = "v".repeat(50);
      const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
      const challenge = btoa(String.fromCharCode(...new Uint8Array(digest))).replace(/\+/g, "-").replace(
        /\//g,
        "_",
      ).replace(/=+$/, "");
      const url = new URL(idp.endpoints.authorization);
      for (
        const [k, v] of Object.entries({
          client_id: idp.spaClientId,
          response_type: "code",
          redirect_uri: `${idp.issuer}/dev/callback`,
          scope: "openid",
          code_challenge: challenge,
          code_challenge_method: "S256",
          login_hint: sub,
          state: "app-login",
        })
      ) url.searchParams.set(k, v);
      const landing = await agent.navigate(url.href);
      assert.ok(
        landing.url.startsWith(`${idp.issuer}/dev/callback?`),
        `signed in at the IdP: ${landing.url}`,
      );
    },
    async authorize() {
      const url = new URL(urls.oauth2Authorize);
      for (
        const [k, v] of Object.entries({
          client_id: APP_ID,
          response_type: "code",
          redirect_uri: APP_REDIRECT,
          state: "app-state",
        })
      ) url.searchParams.set(k, v);
      return await agent.navigate(url.href, { stopAt: (u) => u.host === "app.example" });
    },
    async close() {
      await served.close();
      await idp.close();
    },
  };
}

/** Exchanges the app's code and reads `community/self` with the token. */
async function userOf(r: Rig, landing: Landing): Promise<Record<string, unknown>> {
  const code = new URL(landing.url).searchParams.get("code");
  assert.ok(code, `the app got a code: ${landing.url}`);
  const tokenRes = await fetch(r.served.urls.oauth2Token, {
    method: "POST",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: APP_ID,
      redirect_uri: APP_REDIRECT,
      code,
      f: "json",
    }),
  });
  const token = await tokenRes.json();
  assert.equal(typeof token.access_token, "string", JSON.stringify(token));
  const self = await fetch(`${r.served.urls.sharingRest}/community/self?f=json&token=${token.access_token}`);
  return await self.json();
}

function paths(landing: Landing): string[] {
  return landing.hops.map((h) => new URL(h.url).pathname);
}

Deno.test("arcgisUsername() follows the documented username rules", () => {
  assert.equal(arcgisUsername("jsmith@example.com"), "jsmith@example.com");
  assert.equal(arcgisUsername("Jane Doe-X"), "Jane_Doe_X");
  assert.equal(arcgisUsername("bob"), "bob001", "short values get digits up to six characters");
  assert.equal(arcgisUsername("a.b_c"), "a.b_c1");
  assert.equal(arcgisUsername("bob", { taken: (n) => n === "bob001" }), "bob002");
  assert.equal(arcgisUsername("demo_user", { taken: (n) => n === "demo_user" }), "demo_user1");
  assert.equal(
    arcgisUsername("demo_user", { taken: (n) => ["demo_user", "demo_user1"].includes(n) }),
    "demo_user2",
  );
  assert.equal(arcgisUsername("x".repeat(200)).length, 128);
  assert.equal(
    arcgisUsername("x".repeat(128), { taken: (n) => n === "x".repeat(128) }),
    "x".repeat(127) + "1",
  );
  assert.equal(arcgisUsername("jdoe", { suffix: "_fakeorg" }), "jdoe_fakeorg");
});

Deno.test({
  name:
    "OIDC login: client secret, PKCE, profile with the token in the header; a new member joins automatically",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig({
    usePkce: true,
    usernameClaim: "preferred_username",
    joinMode: "automatic",
    newMemberDefaults: {
      userType: "creatorUT",
      role: "org_publisher",
      addOnLicenses: ["ArcGIS Pro Advanced"],
      groups: ["Field crews"],
    },
  });
  try {
    await r.signInAtIdp("u-newbie");
    const first = await r.authorize();
    // portal authorize → IdP (session, no page) → portal callback → portal authorize → app
    const idpAuth = first.hops.find((h) => h.url.startsWith(r.idp.endpoints.authorization));
    assert.ok(idpAuth, paths(first).join(" → "));
    const toIdp = new URL(idpAuth.url);
    assert.equal(toIdp.searchParams.get("client_id"), PORTAL_CLIENT);
    assert.equal(toIdp.searchParams.get("scope"), "openid profile email");
    assert.equal(toIdp.searchParams.get("code_challenge_method"), "S256");
    assert.ok(first.hops.every((h) => h.status === 302 || h.status === 303), "no page on the way");
    assert.ok(first.url.startsWith(`${APP_REDIRECT}?`));
    const user = await userOf(r, first);
    assert.equal(user.username, "nb0001", "short claim value padded with digits");
    assert.equal(user.idpUsername, "nb");
    assert.equal(user.role, "org_publisher");
    assert.equal(user.userLicenseTypeId, "creatorUT");
    assert.equal(user.provider, "enterprise");
    assert.deepEqual((user.groups as { title: string }[]).map((g) => g.title), ["Field crews"]);
    assert.deepEqual(r.served.fake.user("nb0001")?.addOnLicenses, ["ArcGIS Pro Advanced"]);
    assert.deepEqual(r.served.fake.oidcLogins.map((l) => l.outcome), ["joined"]);
    // The back channel: a token request with the secret in the body and the verifier, then the profile call.
    const tokenCall = r.idpCalls.find((c) => c.url === r.idp.endpoints.token);
    assert.ok(tokenCall);
    const tokenForm = new URLSearchParams(tokenCall.body);
    assert.equal(tokenForm.get("client_secret"), PORTAL_SECRET);
    assert.ok((tokenForm.get("code_verifier") ?? "").length >= 43);
    const profileCall = r.idpCalls.find((c) => c.url.startsWith(r.idp.endpoints.userinfo));
    assert.ok(profileCall?.bearer, "access token in the Authorization header");
    assert.ok(
      !r.idpCalls.some((c) => c.url === r.idp.endpoints.jwks),
      "no JWKS with a user-profile endpoint",
    );
    assert.ok(r.agent.cookies("127.0.0.1").includes(PORTAL_SESSION_COOKIE));

    // A second authorize: the portal's session answers, the IdP is not asked.
    const callsBefore = r.idpCalls.length;
    const second = await r.authorize();
    assert.deepEqual(paths(second), [new URL(r.served.urls.oauth2Authorize).pathname]);
    assert.equal((await userOf(r, second)).username, "nb0001");
    assert.equal(r.idpCalls.length, callsBefore);
    assert.equal(r.served.fake.oidcLogins.length, 1);
  } finally {
    await r.close();
  }
});

Deno.test({
  name:
    "OIDC login: private_key_jwt with the portal's public key URL, claims from the ID token checked with the JWKS",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig(
    { clientSecret: undefined, clientAuthentication: "private_key_jwt", userProfileEndpoint: undefined },
    { clientSecret: undefined, tokenEndpointAuthMethod: "private_key_jwt" },
  );
  try {
    await r.signInAtIdp("u-demo");
    const landing = await r.authorize();
    const user = await userOf(r, landing);
    // No username claim configured: the existing member is found by idpUsername = the e-mail.
    assert.equal(user.username, "demo_user");
    assert.deepEqual(r.served.fake.oidcLogins.map((l) => l.outcome), ["member"]);
    const tokenForm = new URLSearchParams(r.idpCalls.find((c) => c.url === r.idp.endpoints.token)?.body);
    assert.equal(
      tokenForm.get("client_assertion_type"),
      "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    );
    assert.equal(tokenForm.get("client_secret"), null);
    assert.ok(
      r.idpCalls.some((c) => c.url === r.idp.endpoints.jwks),
      "the ID token was checked with the JWKS",
    );
    assert.ok(!r.idpCalls.some((c) => c.url.startsWith(r.idp.endpoints.userinfo)));
    assert.equal(
      r.served.fake.count("portal:oidc/jwks") >= 1,
      true,
      "the IdP fetched the portal's public key",
    );
  } finally {
    await r.close();
  }
});

Deno.test({
  name: "OIDC login: client_secret_basic, profile token in the query, and a taken username gets digits",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig(
    {
      clientAuthentication: "client_secret_basic",
      sendAccessTokenInHeader: false,
      usernameClaim: "preferred_username",
    },
    { tokenEndpointAuthMethod: "client_secret_basic" },
  );
  try {
    await r.signInAtIdp("u-carol");
    const user = await userOf(r, await r.authorize());
    assert.equal(user.username, "carol_smith1", "the built-in carol_smith keeps its name");
    assert.equal(user.idpUsername, "carol smith");
    assert.equal(r.served.fake.user("carol_smith")?.idpUsername, undefined);
    const profileCall = r.idpCalls.find((c) => c.url.startsWith(r.idp.endpoints.userinfo));
    assert.ok(profileCall && !profileCall.bearer);
    assert.ok(new URL(profileCall.url).searchParams.get("access_token"));
    const tokenCall = r.idpCalls.find((c) => c.url === r.idp.endpoints.token);
    assert.equal(
      new URLSearchParams(tokenCall?.body).get("client_secret"),
      null,
      "secret in the Basic header",
    );
  } finally {
    await r.close();
  }
});

Deno.test({
  name: "OIDC login: administrator-only join refuses an unknown member and admits one an administrator added",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig({ joinMode: "administrator", usernameClaim: "email" });
  try {
    await r.signInAtIdp("u-newbie");
    const refused = await r.authorize();
    assert.equal(refused.status, 200);
    assert.ok(refused.body.includes(OIDC_INVITATION_ONLY_MESSAGE.slice(0, 40)), refused.body);
    assert.ok(!refused.url.startsWith(APP_REDIRECT), "the app gets nothing");
    assert.equal(r.served.fake.user("nb@example.com"), undefined);
    assert.deepEqual(r.served.fake.oidcLogins.map((l) => l.outcome), ["refused"]);
    assert.ok(!r.agent.cookies("127.0.0.1").includes(PORTAL_SESSION_COOKIE));
    // The administrator adds the member; the same sign-in now works.
    r.served.fake.addUser({ username: "newbie_gis", password: "unused-pw", idpUsername: "nb@example.com" });
    const admitted = await r.authorize();
    assert.equal((await userOf(r, admitted)).username, "newbie_gis");
  } finally {
    await r.close();
  }
});

Deno.test({
  name:
    "OIDC login: sign-out ends the portal session and the IdP's, and the next authorize needs the IdP login page",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig({ usernameClaim: "email" });
  try {
    await r.signInAtIdp("u-demo");
    await userOf(r, await r.authorize());
    const signOut = new URL(r.served.urls.signOut);
    signOut.searchParams.set("client_id", APP_ID);
    signOut.searchParams.set("redirect_uri", APP_REDIRECT);
    const out = await r.agent.navigate(signOut.href, { stopAt: (u) => u.host === "app.example" });
    assert.ok(out.hops.some((h) => h.url.startsWith(r.idp.endpoints.endSession)), paths(out).join(" → "));
    assert.ok(out.hops.some((h) => h.url.startsWith(r.served.urls.oidcSignedOut)));
    assert.equal(out.url, APP_REDIRECT);
    assert.ok(!r.agent.cookies("127.0.0.1").includes(PORTAL_SESSION_COOKIE));
    // Neither the portal nor the IdP has a session now: the IdP shows its login page.
    const again = await r.authorize();
    assert.ok(again.url.startsWith(`${r.idp.issuer}/interaction/`), again.url);
    assert.ok(again.body.includes('name="login"'), "the IdP login page");
  } finally {
    await r.close();
  }
});

Deno.test({
  name: "OIDC login: a wrong client secret shows ArcGIS's message and signs nobody in",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig({ clientSecret: "not-the-secret" });
  try {
    await r.signInAtIdp("u-demo");
    const landing = await r.authorize();
    assert.ok(landing.body.includes(OIDC_MISSING_PARAMETER_MESSAGE), landing.body);
    assert.deepEqual(r.served.fake.oidcLogins.map((l) => l.outcome), ["error"]);
  } finally {
    await r.close();
  }
});

Deno.test("without an OIDC login the signed-in user header still works and the portal never redirects", async () => {
  const served = serveFakeArcGIS({
    apps: [{ clientId: APP_ID, clientSecret: "s", redirectUris: [APP_REDIRECT] }],
    signedInUser: null,
  });
  try {
    const url = `${served.urls.oauth2Authorize}?client_id=${APP_ID}&response_type=code&redirect_uri=${
      encodeURIComponent(APP_REDIRECT)
    }`;
    const page = await fetch(url, { redirect: "manual" });
    assert.equal(page.status, 200);
    await page.body?.cancel();
    const viaHeader = await fetch(url, { redirect: "manual", headers: { "x-fake-arcgis-user": "alice" } });
    assert.equal(viaHeader.status, 302);
    assert.ok(viaHeader.headers.get("location")?.startsWith(`${APP_REDIRECT}?code=`));
  } finally {
    await served.close();
  }
});

Deno.test({
  name: "OIDC login: the portal session ends after sessionMinutes; the next authorize asks the IdP again",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig({ usernameClaim: "email", sessionMinutes: 30 });
  try {
    await r.signInAtIdp("u-demo");
    await userOf(r, await r.authorize());
    r.served.fake.advance(29 * 60_000);
    assert.equal((await r.authorize()).hops.length, 1, "still inside the session");
    r.served.fake.advance(2 * 60_000);
    const later = await r.authorize();
    assert.ok(
      later.hops.some((h) => h.url.startsWith(r.idp.endpoints.authorization)),
      paths(later).join(" → "),
    );
    assert.equal((await userOf(r, later)).username, "demo_user");
    assert.equal(r.served.fake.oidcLogins.length, 2);
  } finally {
    await r.close();
  }
});

Deno.test({
  name:
    "OIDC login: an ID token from another issuer, or without the configured username claim, signs nobody in",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig({ issuer: "https://not-the-idp.example" });
  try {
    await r.signInAtIdp("u-demo");
    const wrongIssuer = await r.authorize();
    assert.ok(wrongIssuer.body.includes(OIDC_MISSING_PARAMETER_MESSAGE), wrongIssuer.body);
    r.served.fake.setOidcLogin({
      clientId: PORTAL_CLIENT,
      clientSecret: PORTAL_SECRET,
      issuer: r.idp.issuer,
      authorizationEndpoint: r.idp.endpoints.authorization,
      tokenEndpoint: r.idp.endpoints.token,
      userProfileEndpoint: r.idp.endpoints.userinfo,
      usernameClaim: "employee_id",
    });
    const noClaim = await r.authorize();
    assert.ok(noClaim.body.includes(OIDC_MISSING_PARAMETER_MESSAGE), noClaim.body);
    assert.deepEqual(r.served.fake.oidcLogins.map((l) => l.outcome), ["error", "error"]);
    assert.ok(!r.agent.cookies("127.0.0.1").includes(PORTAL_SESSION_COOKIE));
  } finally {
    await r.close();
  }
});

Deno.test({
  name: "OIDC login: sign-out follows only a redirect_uri registered for the app",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const r = await rig({ usernameClaim: "email", logoutEndpoint: undefined });
  try {
    await r.signInAtIdp("u-demo");
    await userOf(r, await r.authorize());
    const signOut = new URL(r.served.urls.signOut);
    signOut.searchParams.set("client_id", APP_ID);
    signOut.searchParams.set("redirect_uri", "https://evil.example/");
    const out = await r.agent.navigate(signOut.href, { stopAt: (u) => u.host === "evil.example" });
    assert.equal(out.status, 200, "a page, not a redirect");
    assert.ok(out.body.includes("signed out"));
    assert.ok(!r.agent.cookies("127.0.0.1").includes(PORTAL_SESSION_COOKIE));
    // Without a logout endpoint the IdP session stays: the next authorize needs no IdP page.
    const again = await r.authorize();
    assert.ok(again.url.startsWith(`${APP_REDIRECT}?`), again.url);
  } finally {
    await r.close();
  }
});
