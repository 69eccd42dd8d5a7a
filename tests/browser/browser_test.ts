/**
 * The broker in a real browser with the real ArcGIS Maps SDK (`@arcgis/core`), driven by playwright-core in
 * Debian's headless Chromium. One browser, one page bundle, and one demo stack per ArcGIS flavour (an on-premises
 * style portal + federated server on plain loopback, and ArcGIS Online answered by the fake over TLS as
 * `www.arcgis.com` / `services.arcgis.com`).
 *
 * Screenshots are kept in `out/browser/`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import {
  DEMO_ARCGIS_USER,
  DEMO_IDP_USER,
  type DemoStack,
  startDemoStack,
} from "../../examples/demo/stack.ts";
import { buildBrowser } from "../../scripts/build_browser.ts";
import {
  chromiumAvailable,
  launchBrowser,
  type LaunchedBrowser,
  readHooks,
  waitForPage,
} from "./_browser.ts";
import { createTestCertificate } from "./_tls.ts";
import { findLeaks, recordTraffic } from "./_traffic.ts";

const OUT_DIR = decodeURIComponent(new URL("../../out/browser/", import.meta.url).pathname);
/** Lifetime of the ArcGIS access tokens the fake issues in these tests, minutes. */
const TOKEN_MINUTES = 5;
/** How far the clocks jump to get past the first token's expiry. */
const JUMP_MS = (TOKEN_MINUTES * 60 + 30) * 1000;
/** Bound on one page load (sign-in, link bounce, SDK, map). */
const PAGE_TIMEOUT_MS = 120_000;

/** A clock the broker and the fake ArcGIS share; tests move it forward instead of sleeping. */
function createTestClock(): { now: () => number; advance(ms: number): void } {
  let offsetMs = 0;
  return { now: () => Date.now() + offsetMs, advance: (ms) => offsetMs += ms };
}

/** Tokens the fake used on FeatureServer requests that it accepted. */
function acceptedServiceTokens(stack: DemoStack, sinceSeq = 0): string[] {
  const tokens = stack.fake.requests
    .filter((r) => r.seq > sinceSeq && r.endpoint.startsWith("FeatureServer") && r.token !== undefined)
    .filter((r) => r.status === 200 && r.errorCode === undefined)
    .map((r) => r.token as string);
  return [...new Set(tokens)];
}

async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(OUT_DIR, { recursive: true });
  const path = `${OUT_DIR}${name}.png`;
  await page.screenshot({ path, timeout: 15_000 });
  return path;
}

/** Polls (bounded, in the page) until `window.__credentials.refreshes` reaches `count`. */
async function waitForRefreshes(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (n: number) =>
      ((globalThis as { __credentials?: { refreshes: number } }).__credentials?.refreshes ?? 0) >= n,
    count,
    { polling: 100, timeout: 20_000 },
  );
}

async function runQuery(page: Page): Promise<number> {
  return await page.evaluate(() =>
    (globalThis as unknown as { __test: { query(): Promise<number> } }).__test.query()
  );
}

Deno.test({
  name:
    "the Maps SDK loads the secured layer through the broker in headless Chromium, with no sign-in dialog",
  ignore: !chromiumAvailable(),
  // playwright-core keeps a pipe to Chromium open between steps; everything is closed in `finally`.
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const started = performance.now();
  await buildBrowser();
  const cert = await createTestCertificate(["*.arcgis.com", "arcgis.com"]);
  const localClock = createTestClock();
  const onlineClock = createTestClock();
  const stacks: DemoStack[] = [];
  let browser: LaunchedBrowser | undefined;
  try {
    const local = await startDemoStack({
      now: localClock.now,
      arcgisTokenMinutes: TOKEN_MINUTES,
      build: false,
    });
    stacks.push(local);
    const online = await startDemoStack({
      now: onlineClock.now,
      arcgisTokenMinutes: TOKEN_MINUTES,
      arcgisOnline: cert,
      build: false,
    });
    stacks.push(online);
    const launched = await launchBrowser({
      hostResolverRules:
        `MAP *.arcgis.com 127.0.0.1:${online.fakePort}, MAP arcgis.com 127.0.0.1:${online.fakePort}`,
      trustSpki: [cert.spkiSha256],
    });
    browser = launched;
    let registerPage: Page | undefined;
    await t.step(
      "registerToken page: sign-in, one link bounce, then all 36 features, no dialog",
      async () => {
        // A context of its own: its clock is moved forward in the next step.
        const context = await launched.newContext();
        const page = await context.newPage();
        registerPage = page;
        await page.clock.install();
        // Every top-level navigation, redirects included (the link bounce is two redirects).
        const navigations: string[] = [];
        page.on("request", (request) => {
          if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
            const url = new URL(request.url());
            navigations.push(url.origin + url.pathname);
          }
        });
        await page.goto(local.pageUrl, { waitUntil: "commit" });
        const hooks = await waitForPage(page, { loginSub: DEMO_IDP_USER.sub, timeoutMs: PAGE_TIMEOUT_MS });
        assert.deepEqual(hooks.errors, []);
        assert.equal(hooks.ready, true);
        assert.equal(hooks.featureCount, 36);
        assert.equal(hooks.serverCount, 36);
        assert.equal(hooks.dialogOpened, 0);
        // The one-time link is a visible bounce through ArcGIS's authorize page and the broker's callback.
        assert.ok(navigations.some((n) => n.endsWith("/oauth2/authorize")), navigations.join("\n"));
        assert.ok(navigations.some((n) => n.endsWith("/arcgis/link/callback")), navigations.join("\n"));
        assert.equal(local.fake.count("portal:oauth2/authorize"), 1);
        assert.ok(acceptedServiceTokens(local).length >= 1);
        // The demo panel: who is signed in where, the bounce as a step, the token's lifetime and renewal.
        assert.match(hooks.idpUser ?? "", /Demo User/);
        assert.equal(hooks.arcgisUser, DEMO_ARCGIS_USER.username);
        assert.match(hooks.steps.link, /^done: Linked/);
        assert.match(hooks.steps.layer, /^done: 36 features/);
        assert.ok(hooks.lifetime !== null && hooks.lifetime.expires > Date.now());
        assert.equal(hooks.lifetime.renewAt, hooks.lifetime.expires - 120_000, "re-registration 2 min ahead");
        assert.ok(hooks.basemapFeatures >= 1, "the offline basemap has land");
        assert.equal(hooks.popupOpen, true, "a feature popup is open");
        console.log(`  register page timings (ms): ${JSON.stringify(hooks.timings)}`);
        console.log(`  screenshot: ${await screenshot(page, "register-local")}`);
      },
    );

    await t.step("registerToken page: the layer keeps loading after the first token expired", async () => {
      const page = registerPage;
      assert.ok(page !== undefined, "the previous step opened the page");
      const firstTokens = acceptedServiceTokens(local);
      const lastSeq = local.fake.requests.at(-1)?.seq ?? 0;
      localClock.advance(JUMP_MS);
      for (const token of firstTokens) {
        const info = local.fake.inspectToken(token);
        assert.ok(info !== undefined && info.expiresMs <= local.fake.now(), "the first token has expired");
      }
      await page.clock.fastForward(JUMP_MS);
      await waitForRefreshes(page, 2);
      assert.equal(await runQuery(page), 36);
      const hooks = await readHooks(page);
      assert.ok(hooks !== null);
      assert.equal(hooks.dialogOpened, 0);
      assert.deepEqual(hooks.errors, []);
      const laterTokens = acceptedServiceTokens(local, lastSeq);
      assert.ok(laterTokens.length >= 1, "queries after the expiry were accepted");
      assert.ok(laterTokens.every((tok) => !firstTokens.includes(tok)), "only fresh tokens were used");
      const expiredUses = local.fake.requests.filter((r) =>
        r.seq > lastSeq && r.token !== undefined && firstTokens.includes(r.token)
      );
      assert.equal(expiredUses.length, 0, "no request carried the expired token");
      console.log(`  screenshot: ${await screenshot(page, "register-local-after-expiry")}`);
      await page.context().close();
    });

    await t.step(
      "proxy page: the layer through the broker's proxy, no ArcGIS token ever in the browser",
      async () => {
        // Unlink first, so this page goes through the link flow itself.
        const { accessToken } = await local.idp.login({ sub: DEMO_IDP_USER.sub });
        const unlink = await fetch(`${local.brokerUrl}/link`, {
          method: "DELETE",
          headers: { authorization: `Bearer ${accessToken}` },
        });
        assert.equal(unlink.status, 200, await unlink.text());
        const authorizeBefore = local.fake.count("portal:oauth2/authorize");
        const context = await launched.newContext();
        const page = await context.newPage();
        const traffic = recordTraffic(page);
        try {
          await page.goto(local.proxyPageUrl, { waitUntil: "commit" });
          const hooks = await waitForPage(page, { loginSub: DEMO_IDP_USER.sub, timeoutMs: PAGE_TIMEOUT_MS });
          assert.deepEqual(hooks.errors, []);
          assert.equal(hooks.featureCount, 36);
          assert.equal(hooks.dialogOpened, 0);
          assert.equal(local.fake.count("portal:oauth2/authorize"), authorizeBefore + 1, "one link bounce");
          assert.match(hooks.steps.link, /^done: Linked as demo_user/);
          assert.equal(hooks.arcgisUser, DEMO_ARCGIS_USER.username);
          assert.equal(hooks.popupOpen, true, "a feature popup is open");
          console.log(`  proxy page timings (ms): ${JSON.stringify(hooks.timings)}`);
          console.log(`  screenshot: ${await screenshot(page, "proxy-local")}`);

          // Past the proxy's token lifetime: the broker gets a fresh token server-side; the page notices nothing.
          const lastSeq = local.fake.requests.at(-1)?.seq ?? 0;
          localClock.advance(JUMP_MS);
          assert.equal(await runQuery(page), 36);
          assert.ok(acceptedServiceTokens(local, lastSeq).length >= 1);

          const registered = await page.evaluate(() =>
            (globalThis as unknown as { __test: { registeredCredentials(): number } }).__test
              .registeredCredentials()
          );
          assert.equal(registered, 0, "IdentityManager holds no ArcGIS credential");
        } finally {
          await traffic.stop();
        }
        const proxied = traffic.exchanges.filter((e) => e.url.startsWith(`${local.brokerUrl}/proxy?`));
        assert.ok(proxied.length >= 3, `the SDK used the proxy (${proxied.length} requests)`);
        assert.ok(
          traffic.exchanges.every((e) => !e.url.startsWith(local.fakeOrigin + "/server/")),
          "the page never called the ArcGIS server directly",
        );
        const secrets = local.fake.tokens().map((info) => info.token);
        assert.ok(secrets.length >= 3, "the fake issued tokens (to the broker)");
        assert.deepEqual(findLeaks(traffic.exchanges, secrets), []);
        console.log(`  checked ${traffic.exchanges.length} requests against ${secrets.length} ArcGIS tokens`);
        await context.close();
      },
    );

    await t.step(
      "ArcGIS Online hosts (*.arcgis.com over TLS): the hosted layer loads with no dialog",
      async () => {
        const context = await launched.newContext();
        const page = await context.newPage();
        await page.goto(online.pageUrl, { waitUntil: "commit" });
        const hooks = await waitForPage(page, { loginSub: DEMO_IDP_USER.sub, timeoutMs: PAGE_TIMEOUT_MS });
        assert.deepEqual(hooks.errors, []);
        assert.equal(hooks.featureCount, 36);
        assert.equal(hooks.dialogOpened, 0);
        assert.ok(online.layerUrl.startsWith("https://services.arcgis.com/"));
        // The browser itself reached the fake through the *.arcgis.com names (authorize, then the services).
        const browserRequests = online.fake.requests.filter((r) =>
          r.headers["user-agent"]?.includes("Chrome")
        );
        assert.ok(browserRequests.some((r) => new URL(r.url).host === "www.arcgis.com"));
        assert.ok(browserRequests.some((r) => new URL(r.url).host === "services.arcgis.com"));
        assert.ok(acceptedServiceTokens(online).length >= 1);
        console.log(`  arcgis.com page timings (ms): ${JSON.stringify(hooks.timings)}`);
        console.log(`  screenshot: ${await screenshot(page, "register-arcgis-online")}`);
        await context.close();
      },
    );

    await t.step(
      "ArcGIS Online hosts: the proxy page with the helper's proxy rule and interceptor",
      async () => {
        const context = await launched.newContext();
        const page = await context.newPage();
        const traffic = recordTraffic(page);
        try {
          await page.goto(online.proxyPageUrl, { waitUntil: "commit" });
          const hooks = await waitForPage(page, { loginSub: DEMO_IDP_USER.sub, timeoutMs: PAGE_TIMEOUT_MS });
          assert.deepEqual(hooks.errors, []);
          assert.equal(hooks.featureCount, 36);
          assert.equal(hooks.dialogOpened, 0);
          console.log(`  screenshot: ${await screenshot(page, "proxy-arcgis-online")}`);
        } finally {
          await traffic.stop();
        }
        const proxied = traffic.exchanges.filter((e) =>
          e.url.startsWith(`${online.brokerUrl}/proxy?https://`)
        );
        assert.ok(proxied.length >= 3, `the SDK used the proxy (${proxied.length} requests)`);
        assert.ok(
          proxied.every((e) => /^Bearer /.test(e.requestHeaders.authorization ?? "")),
          "IdP bearer added",
        );
        assert.ok(
          traffic.exchanges.every((e) => !new URL(e.url).hostname.endsWith("services.arcgis.com")),
          "the page never called the hosted service directly",
        );
        assert.deepEqual(findLeaks(traffic.exchanges, online.fake.tokens().map((info) => info.token)), []);
        await context.close();
      },
    );
  } finally {
    await browser?.close();
    for (const stack of stacks.reverse()) await stack.close();
    console.log(`  browser tests took ${Math.round(performance.now() - started)} ms`);
  }
});
