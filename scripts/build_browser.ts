/**
 * Builds the example pages under `examples/browser/` with esbuild (bundle, code splitting, ESM, minified, ES2022)
 * into `examples/browser/dist/` (gitignored). The build is cached by a hash of its inputs (the page sources, the
 * browser helper in `src/client/`, the versions of `@arcgis/core`, Leaflet, esri-leaflet, OpenLayers,
 * topojson-client and esbuild, and the build options), so tests
 * and the demo only pay for it once.
 *
 * Usage: `deno run -A scripts/build_browser.ts [--force]`, or `buildBrowser()` from code.
 *
 * @module
 */
import * as esbuild from "esbuild";

/** The repository root. */
const ROOT = new URL("../", import.meta.url);
/** Where the page sources live. */
const PAGES = new URL("examples/browser/", ROOT);
/** Where the bundle goes. */
const DIST = new URL("examples/browser/dist/", ROOT);
/** Name of the file in `dist/` holding the hash of the inputs that produced it. */
const STAMP = ".build-hash";
/** Entry points, relative to `examples/browser/`. */
const ENTRIES = ["app.ts", "proxy_app.ts", "leaflet_app.ts", "openlayers_app.ts"] as const;
/** Directories whose `.ts` files are inputs of the bundle. */
const SOURCE_DIRS = [PAGES, new URL("src/client/", ROOT)];

/** Options for {@link buildBrowser}. */
export interface BuildBrowserOptions {
  /** Rebuild even if the inputs did not change. @default false */
  force?: boolean;
  /** Progress messages. @default a no-op */
  log?: (message: string) => void;
}

/** What {@link buildBrowser} did. */
export interface BuildBrowserResult {
  /** Absolute path of the output directory. */
  outdir: string;
  /** Whether esbuild ran (false: the cached bundle was up to date). */
  rebuilt: boolean;
  /** The input hash the bundle was built from. */
  hash: string;
  /** Wall time of the call, in milliseconds. */
  elapsedMs: number;
}

const BUILD_OPTIONS = {
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  target: "es2022",
  platform: "browser",
  sourcemap: false,
  legalComments: "none",
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
  // The pages import the browser helper by its package name, as an app would; here it comes from the source.
  alias: { "arcgis-token-broker/client": "./src/client/mod.ts" },
} as const satisfies esbuild.BuildOptions;

async function _listSources(dir: URL): Promise<URL[]> {
  const found: URL[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name === "dist" || entry.name.startsWith(".")) continue;
      const url = new URL(entry.isDirectory ? `${entry.name}/` : entry.name, dir);
      if (entry.isDirectory) found.push(...await _listSources(url));
      else if (/\.(ts|js|mjs)$/.test(entry.name)) found.push(url);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

async function _versionOf(pkg: string): Promise<string> {
  const text = await Deno.readTextFile(new URL(`node_modules/${pkg}/package.json`, ROOT));
  const parsed: unknown = JSON.parse(text);
  const version = parsed instanceof Object && "version" in parsed ? parsed.version : undefined;
  return typeof version === "string" ? version : "unknown";
}

/** Hash of everything the bundle depends on. */
export async function inputHash(): Promise<string> {
  const files = (await Promise.all(SOURCE_DIRS.map(_listSources))).flat()
    .sort((a, b) => a.href.localeCompare(b.href));
  const parts: string[] = [
    JSON.stringify(BUILD_OPTIONS),
    JSON.stringify(ENTRIES),
    `@arcgis/core@${await _versionOf("@arcgis/core")}`,
    `esbuild@${await _versionOf("esbuild")}`,
    ...await Promise.all(
      ["leaflet", "esri-leaflet", "ol", "topojson-client"].map(async (pkg) =>
        `${pkg}@${await _versionOf(pkg)}`
      ),
    ),
  ];
  for (const file of files) {
    parts.push(file.href.slice(ROOT.href.length), await Deno.readTextFile(file));
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\u0000")));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function _readStamp(): Promise<string | null> {
  try {
    return (await Deno.readTextFile(new URL(STAMP, DIST))).trim();
  } catch {
    return null;
  }
}

/**
 * Builds the pages unless `dist/` was built from the same inputs. The new bundle is written to a temporary
 * directory next to `dist/` and swapped in, so a concurrent reader never sees half a bundle for long.
 */
export async function buildBrowser(options: BuildBrowserOptions = {}): Promise<BuildBrowserResult> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const hash = await inputHash();
  const outdir = decodeURIComponent(DIST.pathname).replace(/\/$/, "");
  if (!options.force && await _readStamp() === hash) {
    return { outdir, rebuilt: false, hash, elapsedMs: performance.now() - started };
  }
  log("Building the example pages with esbuild");
  const tmp = `${outdir}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await esbuild.build({
      ...BUILD_OPTIONS,
      entryPoints: ENTRIES.map((e) => decodeURIComponent(new URL(e, PAGES).pathname)),
      outdir: tmp,
      absWorkingDir: decodeURIComponent(ROOT.pathname),
    });
    await Deno.writeTextFile(`${tmp}/${STAMP}`, `${hash}\n`);
    // Another process (browser test files run in parallel) may have swapped in the same bundle meanwhile; then
    // keep it rather than pull it from under the pages it is serving.
    if (await _readStamp() !== hash) {
      await Deno.remove(outdir, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
      await Deno.rename(tmp, outdir).catch(async (error) => {
        if (await _readStamp() !== hash) throw error;
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await esbuild.stop();
  }
  const elapsedMs = performance.now() - started;
  log(`Built the example pages in ${Math.round(elapsedMs)} ms`);
  return { outdir, rebuilt: true, hash, elapsedMs };
}

if (import.meta.main) {
  const result = await buildBrowser({ force: Deno.args.includes("--force"), log: console.log });
  if (!result.rebuilt) console.log(`Example pages are up to date (${result.outdir})`);
}
