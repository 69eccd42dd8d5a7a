/**
 * Leaflet (esri-leaflet feature layer and tiled map layer) and OpenLayers (ArcGIS REST tiles and an EsriJSON
 * feature source) in headless Chromium, through the broker's proxy with the session cookie: no ArcGIS token ever
 * reaches the browser (checked on every request and response of each page), nothing leaves loopback, and a
 * sign-out at the real IdP (oidc-provider, RP-initiated logout) cuts the session off through back-channel logout.
 *
 * Screenshots are kept in `out/browser/`.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { BrowserContext, Page } from "playwright-core";
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
  type PageHooks,
  waitForPage,
} from "./_browser.ts";
import { type Exchange, findLeaks, recordTraffic } from "./_traffic.ts";

const OUT_DIR = decodeURIComponent(new URL("../../out/browser/", import.meta.url).pathname);
/** Bound on one page load (sign-in, link bounce, map). */
const PAGE_TIMEOUT_MS = 120_000;

async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(OUT_DIR, { recursive: true });
  const path = `${OUT_DIR}${name}.png`;
  await page.screenshot({ path, timeout: 15_000 });
  return path;
}

interface Visit {
  page: Page;
  hooks: PageHooks;
  exchanges: readonly Exchange[];
}

/** Opens `url` in `context`, signs in when asked, waits for the page, and records everything it sent. */
async function visit(context: BrowserContext, url: string): Promise<Visit> {
  const page = await context.newPage();
  const traffic = recordTraffic(page);
  try {
    await page.goto(url, { waitUntil: "commit" });
    const hooks = await waitForPage(page, { loginSub: DEMO_IDP_USER.sub, timeoutMs: PAGE_TIMEOUT_MS });
    return { page, hooks, exchanges: traffic.exchanges };
  } finally {
    await traffic.stop();
  }
}

/** The checks every session-cookie page must pass. */
function assertNoArcGISTokenInTheBrowser(stack: DemoStack, exchanges: readonly Exchange[]): void {
  const allowedOrigins = new Set([stack.origin, stack.idp.issuer]);
  const elsewhere = exchanges.filter((e) => !e.url.startsWith("data:") && !e.url.startsWith("blob:"))
    .filter((e) =>
      !allowedOrigins.has(new URL(e.url).origin) && !new URL(e.url).pathname.endsWith("/authorize")
    );
  assert.deepEqual(
    elsewhere.filter((e) => new URL(e.url).hostname !== "127.0.0.1").map((e) => e.url),
    [],
    "nothing leaves loopback",
  );
  assert.ok(
    exchanges.every((e) => !e.url.startsWith(`${stack.fakeOrigin}/server/`)),
    "the page never called the ArcGIS server directly",
  );
  const secrets = stack.fake.tokens().map((info) => info.token);
  assert.ok(secrets.length >= 2, "the fake issued tokens (to the broker)");
  assert.deepEqual(findLeaks(exchanges, secrets), [], "no ArcGIS token in any request or response");
}

/** Proxied requests that carried the session cookie and no Authorization header. */
function cookieProxied(stack: DemoStack, exchanges: readonly Exchange[], pathPart: string): Exchange[] {
  return exchanges.filter((e) =>
    e.url.startsWith(`${stack.brokerUrl}/proxy?`) && e.url.includes(pathPart) &&
    (e.requestHeaders.cookie ?? "").includes("atb_session=") &&
    e.requestHeaders.authorization === undefined &&
    e.status === 200
  );
}

Deno.test({
  name:
    "Leaflet and OpenLayers load the secured layers through the proxy with the session cookie, in Chromium",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await buildBrowser();
  let stack: DemoStack | undefined;
  let browser: LaunchedBrowser | undefined;
  try {
    stack = await startDemoStack({ build: false });
    const local = stack;
    browser = await launchBrowser();
    const context = await browser.newContext();

    await t.step(
      "Leaflet + esri-leaflet: feature layer and tiled layer, one link bounce, popup",
      async () => {
        const { page, hooks, exchanges } = await visit(context, local.leafletPageUrl);
        assert.deepEqual(hooks.errors, []);
        assert.equal(hooks.featureCount, 36);
        assert.ok(hooks.tilesLoaded >= 1, `tiles loaded: ${hooks.tilesLoaded}`);
        assert.ok(hooks.basemapFeatures >= 1, "the offline basemap has land");
        assert.equal(hooks.popupOpen, true);
        assert.match(hooks.idpUser ?? "", /Demo User/);
        assert.equal(hooks.arcgisUser, DEMO_ARCGIS_USER.username);
        assert.match(hooks.steps.link, /^done: Linked as demo_user/);
        assert.ok(hooks.lifetime !== null && hooks.lifetime.expires > Date.now());
        assert.equal(local.fake.count("portal:oauth2/authorize"), 1, "one link bounce");
        assert.ok(cookieProxied(local, exchanges, "/MapServer/tile/").length >= 1, "tiles with the cookie");
        assert.ok(
          cookieProxied(local, exchanges, "/FeatureServer/0/query").length >= 1,
          "query with the cookie",
        );
        assertNoArcGISTokenInTheBrowser(local, exchanges);
        console.log(
          `  leaflet: ${exchanges.length} requests checked; timings ${JSON.stringify(hooks.timings)}`,
        );
        console.log(`  screenshot: ${await screenshot(page, "leaflet-local")}`);
        await page.close();
      },
    );

    let olPage: Page | undefined;
    await t.step("OpenLayers: ArcGIS REST tiles and an EsriJSON source, already linked, popup", async () => {
      const { page, hooks, exchanges } = await visit(context, local.openlayersPageUrl);
      olPage = page;
      assert.deepEqual(hooks.errors, []);
      assert.equal(hooks.featureCount, 36);
      assert.ok(hooks.tilesLoaded >= 1, `tiles loaded: ${hooks.tilesLoaded}`);
      assert.equal(hooks.popupOpen, true);
      assert.equal(hooks.arcgisUser, DEMO_ARCGIS_USER.username);
      assert.match(hooks.steps.link, /^skipped/);
      assert.equal(local.fake.count("portal:oauth2/authorize"), 1, "no second bounce");
      assert.ok(
        cookieProxied(local, exchanges, "/MapServer/export?f=image").length >= 1,
        "tiles with the cookie",
      );
      assert.ok(
        cookieProxied(local, exchanges, "/FeatureServer/0/query?").length >= 1,
        "EsriJSON with the cookie",
      );
      assertNoArcGISTokenInTheBrowser(local, exchanges);
      console.log(
        `  openlayers: ${exchanges.length} requests checked; timings ${JSON.stringify(hooks.timings)}`,
      );
      console.log(`  screenshot: ${await screenshot(page, "openlayers-local")}`);
    });

    await t.step("signing out at the IdP cuts the session off (back-channel logout)", async () => {
      const page = olPage;
      assert.ok(page !== undefined, "the previous step opened the page");
      const tileUrl = `${local.brokerUrl}/proxy?${local.tileServiceUrl}/tile/3/2/1`;
      const status = (): Promise<number> =>
        page.evaluate(
          async (url: string) => (await fetch(url, { credentials: "same-origin", cache: "no-store" })).status,
          tileUrl,
        );
      assert.equal(await status(), 200, "the session works before");
      // The user signs out at the IdP itself (its own page, its own button), not through the app.
      const idpPage = await context.newPage();
      await idpPage.goto(`${local.idp.issuer}/session/end?client_id=${local.idp.spaClientId}`);
      // The IdP's logout page confirms by itself, then shows its "signed out" page.
      await idpPage.waitForSelector("text=Signed out at the identity provider", { timeout: 15_000 });
      assert.equal(await status(), 401, "the session cookie no longer works");
      await idpPage.close();
      await page.close();
    });
    await context.close();
  } finally {
    await browser?.close();
    await stack?.close();
  }
});
