/**
 * Measures the Workers bundle: runs `wrangler deploy --dry-run --outdir <tmp>` with the repository's
 * `wrangler.toml` (nothing is uploaded), then gzips the bundled `worker.js` (level 9, as a rough stand-in for
 * Cloudflare's own compression) and prints the sizes. Wrangler's own "Total Upload … / gzip …" line is reported
 * too; Cloudflare's limits apply to that gzip figure.
 *
 * With `--startup` it also profiles the Worker's startup phase with `wrangler check startup` (workerd on this
 * machine) and reports the CPU time of the samples that were not idle: an indication only, since Cloudflare's CPUs
 * differ and wrangler prints the real "Worker Startup Time" only on an actual deploy.
 *
 * Usage: `deno run -A scripts/worker_bundle_size.ts [--json] [--startup]`
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

interface _CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string } }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Startup profile of the Worker. */
export interface WorkerStartupProfile {
  /** CPU time of the non-idle samples of the startup phase, in milliseconds. */
  busyMs: number;
  /** Wall span of the profile, in milliseconds. */
  spanMs: number;
}

/** Profiles the startup phase with `wrangler check startup`. */
export async function profileWorkerStartup(): Promise<WorkerStartupProfile> {
  const dir = await Deno.makeTempDir({ prefix: "atb-worker-startup-" });
  try {
    const output = await new Deno.Command("node", {
      args: [
        `${ROOT}node_modules/wrangler/bin/wrangler.js`,
        "check",
        "startup",
        "--outfile",
        `${dir}/startup.cpuprofile`,
      ],
      cwd: ROOT,
      env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      signal: AbortSignal.timeout(120_000),
    }).output();
    if (!output.success) {
      throw new Error(
        `wrangler check startup failed:\n${new TextDecoder().decode(output.stderr).slice(-3000)}`,
      );
    }
    const profile = JSON.parse(await Deno.readTextFile(`${dir}/startup.cpuprofile`)) as _CpuProfile;
    const names = new Map(profile.nodes.map((n) => [n.id, n.callFrame.functionName]));
    let busyUs = 0;
    profile.samples.forEach((id, i) => {
      if (names.get(id) !== "(idle)") busyUs += profile.timeDeltas[i + 1] ?? 0;
    });
    return {
      busyMs: Math.round(busyUs / 100) / 10,
      spanMs: Math.round((profile.endTime - profile.startTime) / 100) / 10,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
  const startup = Deno.args.includes("--startup") ? await profileWorkerStartup() : undefined;
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify({ ...size, startup }));
  } else {
    console.log(
      `worker.js: ${(size.bundleBytes / 1024).toFixed(1)} KiB, gzip -9: ${
        (size.gzipBytes / 1024).toFixed(1)
      } KiB`,
    );
    if (size.wranglerSummary) console.log(`wrangler: ${size.wranglerSummary}`);
    if (startup) {
      console.log(`startup (local workerd profile): ${startup.busyMs} ms CPU over ${startup.spanMs} ms`);
    }
  }
}
