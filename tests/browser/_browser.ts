/**
 * Launching Debian's Chromium with playwright-core for the browser tests, and the small waits they share.
 *
 * @module
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Where Debian's `chromium` package puts the browser (`scripts/ensure_chromium.sh` installs it). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags that keep Chromium quiet and offline apart from what the page asks for. */
const BASE_ARGS = [
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-gpu",
];

/** Options for {@link launchBrowser}. */
export interface LaunchBrowserOptions {
  /** `--host-resolver-rules` value, e.g. `MAP *.arcgis.com 127.0.0.1:4443`. */
  hostResolverRules?: string;
  /** SPKI hashes (base64 SHA-256) of certificates to trust. */
  trustSpki?: string[];
}

/** A launched browser. */
export interface LaunchedBrowser {
  /** The browser (one process for the whole run). */
  browser: Browser;
  /** A fresh, isolated context (its own cookies and storage, like a new user profile). */
  newContext(): Promise<BrowserContext>;
  /** Closes the browser. */
  close(): Promise<void>;
}

/** True when the Chromium binary is installed. */
export function chromiumAvailable(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

/**
 * Launches headless Chromium (playwright-core keeps its profile in a temporary directory it removes on close).
 */
export async function launchBrowser(options: LaunchBrowserOptions = {}): Promise<LaunchedBrowser> {
  const args = [...BASE_ARGS];
  if (options.hostResolverRules) args.push(`--host-resolver-rules=${options.hostResolverRules}`);
  if (options.trustSpki?.length) {
    args.push(`--ignore-certificate-errors-spki-list=${options.trustSpki.join(",")}`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args,
    timeout: 30_000,
  });
  return {
    browser,
    newContext: () => browser.newContext({ viewport: { width: 1024, height: 640 } }),
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

/** What the example pages expose on `window.__test` (see `examples/browser/page_common.ts`). */
export interface PageHooks {
  page: string;
  status: string;
  ready: boolean;
  featureCount: number | null;
  serverCount: number | null;
  queries: number;
  dialogOpened: number;
  credentialsCreated: number;
  errors: string[];
  timings: Record<string, number>;
  steps: Record<string, string>;
  lifetime: { label: string; expires: number; renewAt: number; renewal: string } | null;
  idpUser: string | null;
  arcgisUser: string | null;
  basemapFeatures: number;
  tilesLoaded: number;
  popupOpen: boolean;
}

/** Reads `window.__test` (without its functions). */
export async function readHooks(page: Page): Promise<PageHooks | null> {
  return await page.evaluate(() => {
    const hooks = (globalThis as { __test?: PageHooks }).__test;
    return hooks === undefined ? null : JSON.parse(JSON.stringify(hooks));
  });
}

/**
 * Waits (bounded) until the page reports `ready` or an error, clicking the IdP's development sign-in button for
 * `loginSub` whenever the IdP shows its login page. Resolves to the hooks.
 */
export async function waitForPage(
  page: Page,
  options: { loginSub: string; timeoutMs: number },
): Promise<PageHooks> {
  const deadline = Date.now() + options.timeoutMs;
  const selector = `button[name=login][value="${options.loginSub}"]`;
  for (let round = 0; round < 20; round++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const outcome = await page.waitForFunction(
      (sel: string) => {
        const hooks = (globalThis as { __test?: { ready: boolean; errors: string[] } }).__test;
        if (hooks?.ready || (hooks?.errors.length ?? 0) > 0) return "done";
        return document.querySelector(sel) !== null ? "login" : false;
      },
      selector,
      { polling: 100, timeout: remaining },
    ).then((handle) => handle.jsonValue(), () => "retry");
    if (outcome === "login") {
      await page.click(selector, { timeout: Math.max(1, deadline - Date.now()) });
      continue;
    }
    if (outcome === "done") {
      const hooks = await readHooks(page);
      if (hooks !== null) return hooks;
    }
    // "retry": the page navigated while waiting (sign-in and link bounces); wait again in the new document.
  }
  const last = await readHooks(page).catch(() => null);
  throw new Error(`Page not ready in ${options.timeoutMs} ms: ${JSON.stringify(last)} at ${page.url()}`);
}
