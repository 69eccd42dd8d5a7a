/**
 * The whole `user`-mode path in headless Chromium with the real `oidc-provider`, the fake ArcGIS portal signing
 * its members in through that IdP (its OpenID Connect login), and the real Maps SDK: the user signs in to the app
 * once at the IdP; the one-time link is a bounce broker → portal → IdP → portal → broker → app with no page on
 * the way; the secured layer loads and keeps loading past the ArcGIS token's lifetime. Also: a first-time member
 * who joins automatically, an administrator-only refusal, a username collision, an `idpUsername` that does not
 * match the IdP identity, and ArcGIS Online's hosted services with no `arcgis.servers` listed.
 *
 * Screenshots are kept in `out/browser/`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { BrowserContext, Page } from "playwright-core";
import { DEMO_IDP_USER, type DemoStack, startDemoStack } from "../../examples/demo/stack.ts";
import { buildBrowser } from "../../scripts/build_browser.ts";
import { type FakeOidcLoginConfig, OIDC_INVITATION_ONLY_MESSAGE } from "../../src/testing/mod.ts";
import {
  chromiumAvailable,
  launchBrowser,
  type LaunchedBrowser,
  readHooks,
  waitForPage,
} from "./_browser.ts";
import { createTestClock, runQuery, saveScreenshot, waitForRefreshes } from "./_steps.ts";
import { createTestCertificate } from "./_tls.ts";

/** Lifetime of the ArcGIS access tokens the fake issues, minutes. */
const TOKEN_MINUTES = 5;
/** How far the clocks jump to get past the first token's expiry. */
const JUMP_MS = (TOKEN_MINUTES * 60 + 30) * 1000;
/** Bound on one page load (sign-in, link bounce, SDK, map) on a loaded two-core machine. */
const PAGE_TIMEOUT_MS = 120_000;
const PORTAL_CLIENT_ID = "arcgis-portal";
const PORTAL_CLIENT_SECRET = crypto.randomUUID();

/** A top-level document the browser received. */
interface DocumentResponse {
  url: string;
  status: number;
  html: boolean;
}

/** Records every main-frame navigation response (redirects included). */
function recordDocuments(page: Page): DocumentResponse[] {
  const documents: DocumentResponse[] = [];
  page.on("response", (response) => {
    const request = response.request();
    if (!request.isNavigationRequest() || request.frame() !== page.mainFrame()) return;
    documents.push({
      url: response.url(),
      status: response.status(),
      html: (response.headers()["content-type"] ?? "").includes("text/html"),
    });
  });
  return documents;
}

/** Pages (200 HTML documents) rendered from an origin. */
function pagesFrom(documents: DocumentResponse[], origin: string): string[] {
  return documents.filter((d) => d.url.startsWith(origin) && d.status === 200 && d.html).map((d) => d.url);
}

/** Configures the fake portal's OpenID Connect login against the stack's IdP and registers it there. */
function enableOidcLogin(stack: DemoStack, login: Partial<FakeOidcLoginConfig> = {}): void {
  const urls = stack.fake.urls(stack.fakeOrigin);
  stack.fake.setOidcLogin({
    clientId: PORTAL_CLIENT_ID,
    clientSecret: PORTAL_CLIENT_SECRET,
    scopes: "openid profile email",
    issuer: stack.idp.issuer,
    authorizationEndpoint: stack.idp.endpoints.authorization,
    tokenEndpoint: stack.idp.endpoints.token,
    jwksUrl: stack.idp.endpoints.jwks,
    userProfileEndpoint: stack.idp.endpoints.userinfo,
    logoutEndpoint: stack.idp.endpoints.endSession,
    sendAccessTokenInHeader: true,
    usePkce: true,
    usernameClaim: "email",
    joinMode: "automatic",
    newMemberDefaults: { userType: "viewerUT", role: "org_user" },
    ...login,
  });
  stack.idp.addClient({
    clientId: PORTAL_CLIENT_ID,
    clientSecret: PORTAL_CLIENT_SECRET,
    redirectUris: [urls.oidcRedirect],
    postLogoutRedirectUris: [urls.oidcSignedOut],
    requirePkce: true,
  });
}

/** Opens the registerToken page in a fresh context as `sub` and waits until the layer is shown. */
async function openAs(
  launched: LaunchedBrowser,
  stack: DemoStack,
  sub: string,
  options: { installClock?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page; documents: DocumentResponse[] }> {
  const context = await launched.newContext();
  const page = await context.newPage();
  if (options.installClock) await page.clock.install();
  const documents = recordDocuments(page);
  await page.goto(stack.pageUrl);
  const hooks = await waitForPage(page, { loginSub: sub, timeoutMs: PAGE_TIMEOUT_MS });
  assert.deepEqual(hooks.errors, []);
  assert.equal(hooks.ready, true);
  assert.equal(hooks.featureCount, 36);
  assert.equal(hooks.dialogOpened, 0);
  return { context, page, documents };
}

/** Opens the page as `sub` and waits (bounded) until the bounce stops at a URL matching `stop`. */
async function openUntil(
  launched: LaunchedBrowser,
  stack: DemoStack,
  sub: string,
  stop: RegExp,
): Promise<{ context: BrowserContext; page: Page; documents: DocumentResponse[] }> {
  const context = await launched.newContext();
  const page = await context.newPage();
  const documents = recordDocuments(page);
  await page.goto(stack.pageUrl);
  const login = `button[name=login][value="${sub}"]`;
  await page.waitForSelector(login, { timeout: PAGE_TIMEOUT_MS });
  await page.click(login);
  await page.waitForURL(stop, { timeout: PAGE_TIMEOUT_MS, waitUntil: "load" });
  return { context, page, documents };
}

Deno.test({
  name:
    "user mode in Chromium: one IdP sign-in, then the link is a prompt-free SSO bounce through the portal",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await buildBrowser();
  const clock = createTestClock();
  let stack: DemoStack | undefined;
  let launched: LaunchedBrowser | undefined;
  try {
    stack = await startDemoStack({ now: clock.now, arcgisTokenMinutes: TOKEN_MINUTES, build: false });
    const s = stack;
    enableOidcLogin(s);
    launched = await launchBrowser();
    const browser = launched;

    await t.step("the link bounce renders no IdP or portal page, and the layer loads", async () => {
      const { context, page, documents } = await openAs(browser, s, DEMO_IDP_USER.sub, {
        installClock: true,
      });
      const urls = documents.map((d) => `${d.status} ${new URL(d.url).origin}${new URL(d.url).pathname}`);
      const trail = urls.join("\n");
      // The one page the user saw at the IdP: the app's own sign-in, before the link.
      assert.equal(pagesFrom(documents, s.idp.issuer).length, 1, trail);
      assert.equal(pagesFrom(documents, s.fakeOrigin).length, 0, `no portal page\n${trail}`);
      const authorizeAt = urls.findIndex((u) => u.endsWith("/sharing/rest/oauth2/authorize"));
      assert.ok(authorizeAt > 0, trail);
      const bounce = urls.slice(authorizeAt);
      const expected = [
        "/sharing/rest/oauth2/authorize",
        "/auth",
        "/sharing/rest/oauth2/oidc/callback",
        "/sharing/rest/oauth2/authorize",
        "/arcgis/link/callback",
      ];
      let at = 0;
      for (const step of bounce) if (at < expected.length && step.endsWith(expected[at])) at++;
      assert.equal(
        at,
        expected.length,
        `broker → portal → IdP → portal → broker → app\n${bounce.join("\n")}`,
      );
      assert.ok(bounce.slice(0, -1).every((u) => /^30[23] /.test(u)), `only redirects\n${bounce.join("\n")}`);
      assert.deepEqual(
        s.fake.oidcLogins.map((l) => [l.outcome, l.username]),
        [["member", "demo_user"]],
      );
      console.log(
        `  page timings (ms since the last navigation): ${JSON.stringify((await readHooks(page))?.timings)}`,
      );
      console.log(`  screenshot: ${await saveScreenshot(page, "sso-linked")}`);

      // Past the ArcGIS token's lifetime: the helper registers a fresh token, no popup, queries keep working.
      const lastSeq = s.fake.requests.at(-1)?.seq ?? 0;
      clock.advance(JUMP_MS);
      await page.clock.fastForward(JUMP_MS);
      await waitForRefreshes(page, 2);
      assert.equal(await runQuery(page), 36);
      const hooks = await readHooks(page);
      assert.equal(hooks?.dialogOpened, 0);
      assert.deepEqual(hooks?.errors, []);
      const later = s.fake.requests.filter((r) =>
        r.seq > lastSeq && r.endpoint === "FeatureServer/query" && r.status === 200 &&
        r.errorCode === undefined
      );
      assert.ok(later.length >= 1, "queries after the expiry were accepted");
      assert.equal(s.fake.count("portal:oidc/callback"), 1, "no second IdP round trip");
      console.log(`  screenshot: ${await saveScreenshot(page, "sso-after-expiry")}`);
      await context.close();
    });

    await t.step("a first-time user joins the organization automatically on the bounce", async () => {
      s.idp.setUser({
        sub: "newcomer",
        claims: { name: "New Comer", email: "newcomer@example.com", preferred_username: "newcomer" },
      });
      const { context, page } = await openAs(browser, s, "newcomer");
      const login = s.fake.oidcLogins.at(-1);
      assert.equal(login?.outcome, "joined");
      assert.equal(login?.username, "newcomer@example.com");
      assert.equal(s.fake.user("newcomer@example.com")?.userType, "viewerUT");
      console.log(`  screenshot: ${await saveScreenshot(page, "sso-joined")}`);
      await context.close();
    });

    await t.step("a taken username gets digits appended", async () => {
      s.fake.addUser({ username: "sam@example.com", password: "built-in-account" });
      s.idp.setUser({ sub: "sam", claims: { name: "Sam", email: "sam@example.com" } });
      const { context } = await openAs(browser, s, "sam");
      assert.equal(s.fake.oidcLogins.at(-1)?.username, "sam@example.com1");
      assert.equal(
        s.fake.user("sam@example.com")?.idpUsername,
        undefined,
        "the built-in account is untouched",
      );
      await context.close();
    });

    await t.step(
      "administrator-only join stops an unknown user at the portal with ArcGIS's message",
      async () => {
        enableOidcLogin(s, { joinMode: "administrator" });
        s.idp.setUser({ sub: "outsider", claims: { name: "Out Sider", email: "outsider@example.com" } });
        const { context, page, documents } = await openUntil(
          browser,
          s,
          "outsider",
          /\/oauth2\/oidc\/callback/,
        );
        assert.ok((await page.textContent("body"))?.includes(OIDC_INVITATION_ONLY_MESSAGE));
        assert.equal(s.fake.oidcLogins.at(-1)?.outcome, "refused");
        assert.equal(s.fake.user("outsider@example.com"), undefined);
        assert.ok(!documents.some((d) => d.url.includes("/arcgis/link/callback")), "the broker got no code");
        console.log(`  screenshot: ${await saveScreenshot(page, "sso-refused")}`);
        await context.close();
      },
    );

    await t.step(
      "an ArcGIS idpUsername that does not match the IdP identity is refused by the broker",
      async () => {
        // The portal names members after preferred_username; the broker's profile matches idpUsername to `email`.
        enableOidcLogin(s, { usernameClaim: "preferred_username" });
        s.idp.setUser({
          sub: "pat",
          claims: { name: "Pat Jones", email: "pat@example.com", preferred_username: "pat.jones" },
        });
        const { context, page, documents } = await openUntil(browser, s, "pat", /\/arcgis\/link\/callback/);
        const callback = documents.find((d) => d.url.includes("/arcgis/link/callback"));
        assert.ok(callback !== undefined && callback.status >= 400, JSON.stringify(callback));
        assert.equal(s.fake.oidcLogins.at(-1)?.idpUsername, "pat.jones");
        const { accessToken } = await s.idp.login({ sub: "pat" });
        const credentials = await fetch(`${s.brokerUrl}/credentials`, {
          headers: { authorization: `Bearer ${accessToken}` },
        });
        assert.equal(credentials.status, 403);
        assert.equal((await credentials.json()).error, "link_required", "no link was stored");
        const joined = s.fake.oidcLogins.at(-1)?.username;
        assert.ok(joined !== undefined);
        const revoked = s.fake.tokens().filter((info) => info.username === joined && info.kind === "refresh");
        assert.ok(
          revoked.length >= 1 && revoked.every((info) => info.revoked),
          "the broker revoked what it got",
        );
        console.log(`  screenshot: ${await saveScreenshot(page, "sso-idp-username-mismatch")}`);
        await context.close();
      },
    );
  } finally {
    await launched?.close();
    await stack?.close();
  }
});

Deno.test({
  name:
    "ArcGIS Online in Chromium: hosted services load with no arcgis.servers entry, via generateToken(serverUrl)",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await buildBrowser();
  const cert = await createTestCertificate(["*.arcgis.com", "arcgis.com"]);
  const clock = createTestClock();
  let stack: DemoStack | undefined;
  let launched: LaunchedBrowser | undefined;
  try {
    stack = await startDemoStack({
      now: clock.now,
      arcgisTokenMinutes: TOKEN_MINUTES,
      arcgisOnline: cert,
      build: false,
      adjustConfig: (config) => ({ ...config, arcgis: { ...config.arcgis, servers: [] } }),
    });
    launched = await launchBrowser({
      hostResolverRules:
        `MAP *.arcgis.com 127.0.0.1:${stack.fakePort}, MAP arcgis.com 127.0.0.1:${stack.fakePort}`,
      trustSpki: [cert.spkiSha256],
    });
    const { context, page } = await openAs(launched, stack, DEMO_IDP_USER.sub, { installClock: true });
    const exchanges = stack.fake.requests.filter((r) =>
      r.endpoint === "portal:generateToken" && (r.body.serverurl ?? r.body.serverUrl ?? "").includes(
        "services.arcgis.com",
      )
    );
    assert.ok(exchanges.length >= 1, "the Maps SDK asked the portal for a hosted-services token");
    assert.ok(exchanges.every((r) => r.status === 200 && r.errorCode === undefined));
    const used = stack.fake.requests.filter((r) =>
      r.endpoint.startsWith("FeatureServer") && r.token !== undefined && r.errorCode === undefined
    ).map((r) => stack!.fake.inspectToken(r.token!)?.via);
    assert.ok(used.includes("serverToken"), `the layer used the exchanged token (${[...new Set(used)]})`);
    console.log(`  screenshot: ${await saveScreenshot(page, "arcgis-online-no-servers")}`);

    // Past the tokens' lifetime: the helper re-registers the portal token; the SDK gets a fresh hosted token.
    const lastSeq = stack.fake.requests.at(-1)?.seq ?? 0;
    clock.advance(JUMP_MS);
    await page.clock.fastForward(JUMP_MS);
    await waitForRefreshes(page, 2);
    assert.equal(await runQuery(page), 36);
    const hooks = await readHooks(page);
    assert.equal(hooks?.dialogOpened, 0);
    assert.deepEqual(hooks?.errors, []);
    const later = stack.fake.requests.filter((r) =>
      r.seq > lastSeq && r.endpoint === "FeatureServer/query" && r.status === 200 && r.errorCode === undefined
    );
    assert.ok(later.length >= 1, "hosted queries after the expiry were accepted");
    const hostedExchanges = stack.fake.requests.filter((r) =>
      r.seq > lastSeq && r.endpoint === "portal:generateToken" && r.errorCode === undefined
    ).length;
    const kinds = [
      ...new Set(later.map((r) =>
        stack!.fake.inspectToken(r.token!)?.via
      )),
    ];
    console.log(`  after the expiry: ${hostedExchanges} generateToken(serverUrl), query tokens via ${kinds}`);
    assert.ok(
      hostedExchanges >= 1,
      "the SDK exchanged the re-registered portal token for a fresh hosted token",
    );
    // Both clocks jump past every token's expiry at once, so a query the SDK sends before it has exchanged the
    // re-registered portal token can still carry its old hosted token (seen: one or two 498s). The SDK then
    // exchanges and retries on its own (no dialog, no error above). What must hold: only tokens from before the
    // jump are ever refused, and accepted queries follow the last refusal.
    const before = new Set(
      stack.fake.requests.filter((r) => r.seq <= lastSeq && r.token !== undefined).map((r) => r.token!),
    );
    const refused = stack.fake.requests.filter((r) => r.seq > lastSeq && r.errorCode !== undefined);
    assert.deepEqual(
      refused.filter((r) => r.errorCode !== 498 || r.token === undefined || !before.has(r.token))
        .map((r) => `${r.endpoint} ${r.errorCode}`),
      [],
      "only tokens from before the expiry were refused, and only as expired (498)",
    );
    const lastRefused = Math.max(0, ...refused.map((r) => r.seq));
    assert.ok(later.some((r) => r.seq > lastRefused), "accepted hosted queries followed every refusal");
    console.log(`  refused after the jump (old hosted token): ${refused.length}`);
    await context.close();
  } finally {
    await launched?.close();
    await stack?.close();
  }
});
