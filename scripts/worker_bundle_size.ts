/**
 * Measures the Workers bundle: runs `wrangler deploy --dry-run --outdir <tmp>` with the repository's
 * `wrangler.toml` (nothing is uploaded), then gzips the bundled `worker.js` (level 9, as a rough stand-in for
 * Cloudflare's own compression) and prints the sizes. Wrangler's own "Total Upload … / gzip …" line is reported
 * too; Cloudflare's limits apply to that gzip figure.
 *
 * Usage: `deno run -A scripts/worker_bundle_size.ts [--json]`
 *
 * @module
 */
import { gzipSync } from "node:zlib";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** Sizes of the Worker bundle. */
export interface WorkerBundleSize {
  /** `worker.js` as bundled by wrangler, in bytes. */
  bundleBytes: number;
  /** The same, gzipped at level 9, in bytes. */
  gzipBytes: number;
  /** Wrangler's own "Total Upload: X KiB / gzip: Y KiB" line, if it printed one. */
  wranglerSummary: string | null;
  /** Wall time of the dry run, in milliseconds. */
  elapsedMs: number;
}

/** Runs the dry run and measures the output. */
export async function measureWorkerBundle(): Promise<WorkerBundleSize> {
  const outdir = await Deno.makeTempDir({ prefix: "atb-worker-bundle-" });
  const started = performance.now();
  try {
    const output = await new Deno.Command("node", {
      args: [`${ROOT}node_modules/wrangler/bin/wrangler.js`, "deploy", "--dry-run", "--outdir", outdir],
      cwd: ROOT,
      env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    if (!output.success) throw new Error(`wrangler deploy --dry-run failed:\n${text.slice(-3000)}`);
    const bundle = await Deno.readFile(`${outdir}/worker.js`);
    return {
      bundleBytes: bundle.byteLength,
      gzipBytes: gzipSync(bundle, { level: 9 }).byteLength,
      wranglerSummary: text.match(/Total Upload:[^\n]*/)?.[0].trim() ?? null,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await Deno.remove(outdir, { recursive: true });
  }
}

if (import.meta.main) {
  const size = await measureWorkerBundle();
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(size));
  } else {
    console.log(
      `worker.js: ${(size.bundleBytes / 1024).toFixed(1)} KiB, gzip -9: ${
        (size.gzipBytes / 1024).toFixed(1)
      } KiB`,
    );
    if (size.wranglerSummary) console.log(`wrangler: ${size.wranglerSummary}`);
  }
}
