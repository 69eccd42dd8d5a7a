/**
 * Small steps the browser tests share: a clock the stack and the test move together, screenshots, waiting for
 * the browser helper's re-registrations, and one more query round on the page.
 *
 * @module
 */
import type { Page } from "playwright-core";

const OUT_DIR = decodeURIComponent(new URL("../../out/browser/", import.meta.url).pathname);

/** A clock the broker and the fake ArcGIS share; tests move it forward instead of sleeping. */
export function createTestClock(): { now: () => number; advance(ms: number): void } {
  let offsetMs = 0;
  return { now: () => Date.now() + offsetMs, advance: (ms) => offsetMs += ms };
}

/** Saves a screenshot to `out/browser/<name>.png` and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(OUT_DIR, { recursive: true });
  const path = `${OUT_DIR}${name}.png`;
  await page.screenshot({ path, timeout: 15_000 });
  return path;
}

/** Polls (bounded, in the page) until `window.__credentials.refreshes` reaches `count`. */
export async function waitForRefreshes(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (n: number) =>
      ((globalThis as { __credentials?: { refreshes: number } }).__credentials?.refreshes ?? 0) >= n,
    count,
    { polling: 100, timeout: 20_000 },
  );
}

/** Runs one more query round on the page; resolves to the number of features. */
export async function runQuery(page: Page): Promise<number> {
  return await page.evaluate(() =>
    (globalThis as unknown as { __test: { query(): Promise<number> } }).__test.query()
  );
}
