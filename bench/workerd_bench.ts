/**
 * The same arms on workerd: two `wrangler dev` (local workerd) processes side by side — the bare pass-through
 * Worker (`bench/workers/bare_worker.ts`) and the broker's Worker (the repository's `wrangler.toml`, with a
 * `BROKER_CONFIG` for the bench's fake upstream and IdP) — loaded by `wrk -t2 -c8`, arms interleaved, medians:
 *
 * - a warm proxied request (small JSON): (a) direct to the upstream, (b) through the bare Worker, (c) through the
 *   broker's Worker with a verified IdP bearer on the allowlisted federated server's service;
 * - a warm `/credentials` of the broker's Worker against the bare Worker answering a small JSON itself.
 *
 * CPU per request: the CPU time (`/proc/<pid>/stat`, user + system) of each `wrangler dev`'s `workerd` process over
 * the run, divided by the requests wrk completed. It includes workerd's own dev-mode entry worker, the same for
 * both Workers.
 *
 * Run alone: `deno run -A bench/workerd_bench.ts [--rounds=3] [--seconds=2] [--json=<file>]`.
 *
 * @module
 */
import {
  cleanupWrk,
  commandName,
  cpuSeconds,
  descendants,
  ensureWrk,
  median,
  runWrk,
  WRK,
  type WrkResult,
  wrkVersion,
} from "./_wrk.ts";
import { startServer } from "./http_bench.ts";
import { AUDIENCE, BENCH_SECRETS, brokerConfig, issuerOf, SMALL_PATH } from "./http_servers.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const WRANGLER = `${ROOT}node_modules/wrangler/bin/wrangler.js`;
const READY_TIMEOUT_MS = 120_000;

function _freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface WranglerDev {
  origin: string;
  /** wrangler's node process (leader of its process group). */
  pid: number;
  /** The workerd processes wrangler started (the Worker's, and for Durable Objects or the dev proxy). */
  workerdPids: number[];
  stop(): Promise<void>;
}

async function _wranglerDev(
  label: string,
  args: string[],
  dir: string,
  stops: (() => Promise<void>)[],
  probePath: string,
): Promise<WranglerDev> {
  const port = _freePort();
  const child = new Deno.Command("setsid", {
    args: [
      "node",
      WRANGLER,
      "dev",
      "--local",
      ...args,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(_freePort()),
      "--persist-to",
      `${dir}/state-${label}`,
      "--show-interactive-dev-session=false",
      "--log-level",
      "error",
    ],
    cwd: ROOT,
    env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const output: string[] = [];
  const decoder = new TextDecoder();
  for (const stream of [child.stdout, child.stderr]) {
    stream.pipeTo(new WritableStream({ write: (c) => void output.push(decoder.decode(c, { stream: true })) }))
      .catch(() => {});
  }
  const stop = async () => {
    try {
      Deno.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([child.status, new Promise((resolve) => timer = setTimeout(resolve, 5000))]);
    clearTimeout(timer);
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // the group is gone
    }
  };
  stops.push(stop);
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (let attempt = 0;; attempt++) {
    try {
      const response = await fetch(`${origin}${probePath}`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(
          `wrangler dev (${label}) not ready in ${READY_TIMEOUT_MS} ms: ${output.join("").slice(-2000)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  const workerd = descendants(child.pid).filter((pid) => commandName(pid) === "workerd");
  if (workerd.length === 0) {
    throw new Error(`wrangler dev (${label}): no workerd process found`);
  }
  return { origin, pid: child.pid, workerdPids: workerd, stop };
}

function _cpuOf(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
}

/** One arm of one round on workerd. */
export interface WorkerdArmRun extends WrkResult {
  /** CPU time of the Worker's workerd processes per request, ms (NaN for the direct arm). */
  workerdCpuMsPerRequest: number;
  /** CPU time of wrangler's node process per request, ms (NaN for the direct arm). */
  wranglerCpuMsPerRequest: number;
}

/** Medians of one arm. */
export interface WorkerdMedians {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  workerdCpuMsPerRequest: number;
}

/** What {@link runWorkerdBench} measured. */
export interface WorkerdBenchResult {
  loadGenerator: string;
  runtime: string;
  rounds: number;
  seconds: number;
  setup: string;
  proxy: {
    runs: Record<"direct" | "bare" | "broker", WorkerdArmRun[]>;
    medians: Record<"direct" | "bare" | "broker", WorkerdMedians>;
    brokerOverBareRps: number;
    brokerMinusBareP50Ms: number;
    brokerOverBareCpu: number;
  };
  credentials: {
    runs: Record<"bareJson" | "credentials", WorkerdArmRun[]>;
    medians: Record<"bareJson" | "credentials", WorkerdMedians>;
    credentialsOverBareRps: number;
    credentialsOverBareCpu: number;
  };
}

/** Options of {@link runWorkerdBench}. */
export interface WorkerdBenchOptions {
  /** Interleaved rounds. @default 3 */
  rounds?: number;
  /** Length of each wrk run, s. @default 2 */
  seconds?: number;
  /** Progress lines. @default stderr */
  log?: (line: string) => void;
}

async function _wranglerVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await Deno.readTextFile(`${ROOT}node_modules/wrangler/package.json`));
    return `wrangler ${pkg.version}`;
  } catch {
    return "wrangler (version unknown)";
  }
}

/** Runs the workerd benchmark. */
export async function runWorkerdBench(options: WorkerdBenchOptions = {}): Promise<WorkerdBenchResult> {
  const rounds = options.rounds ?? 3;
  const seconds = options.seconds ?? 2;
  const log = options.log ?? ((line: string) => console.error(line));
  await ensureWrk();
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "atb-workerd-bench-" });
  const stops: (() => Promise<void>)[] = [];
  try {
    const poolFile = `${dir}/pool.json`;
    const upstream = await startServer("upstream", [`--jwks-file=${poolFile}`]);
    stops.push(() => upstream.stop());
    const signed = await new Deno.Command("node", {
      args: [`${ROOT}bench/token_pool.mjs`, issuerOf(upstream.origin), AUDIENCE, "1", poolFile],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!signed.success) throw new Error("bench/token_pool.mjs failed");
    const pool = JSON.parse(await Deno.readTextFile(poolFile)) as { tokens: Record<string, string[]> };
    const bearer = { authorization: `Bearer ${pool.tokens.ES256[0]}` };
    const config = JSON.stringify({ ...brokerConfig(upstream.origin), mountPath: "/arcgis" });
    const env = [`BROKER_CONFIG='${config}'`, ...Object.entries(BENCH_SECRETS).map(([k, v]) => `${k}=${v}`)];
    await Deno.writeTextFile(`${dir}/.env`, env.join("\n") + "\n");
    log("workerd bench: starting two wrangler dev (bare Worker, broker Worker)");
    const bare = await _wranglerDev("bare", ["--config", "bench/workers/wrangler.toml"], dir, stops, "/json");
    const broker = await _wranglerDev("broker", ["--env-file", `${dir}/.env`], dir, stops, "/arcgis/health");
    const proxyUrls = {
      direct: `${upstream.origin}${SMALL_PATH}`,
      bare: `${bare.origin}/proxy?${upstream.origin}${SMALL_PATH}`,
      broker: `${broker.origin}/arcgis/proxy?${upstream.origin}${SMALL_PATH}`,
    };
    const credentialUrls = {
      bareJson: `${bare.origin}/json`,
      credentials: `${broker.origin}/arcgis/credentials`,
    };
    const headersOf = (arm: string) => arm === "broker" || arm === "credentials" ? bearer : {};
    const devOf = (arm: string) =>
      arm === "direct" ? undefined : arm === "bare" || arm === "bareJson" ? bare : broker;
    for (const [arm, url] of [...Object.entries(proxyUrls), ...Object.entries(credentialUrls)]) {
      const response = await fetch(url, { headers: headersOf(arm) });
      const text = await response.text();
      if (response.status !== 200) {
        throw new Error(`workerd ${arm}: ${response.status} ${text.slice(0, 300)}`);
      }
      await runWrk(url, { durationSeconds: 1, headers: headersOf(arm) });
    }
    const runs = {
      direct: [] as WorkerdArmRun[],
      bare: [] as WorkerdArmRun[],
      broker: [] as WorkerdArmRun[],
      bareJson: [] as WorkerdArmRun[],
      credentials: [] as WorkerdArmRun[],
    };
    const all = { ...proxyUrls, ...credentialUrls };
    const arms = Object.keys(all) as (keyof typeof all)[];
    log(`workerd bench: ${rounds} rounds × ${arms.length} arms × ${seconds} s`);
    for (let round = 0; round < rounds; round++) {
      for (const arm of arms.map((_, i) => arms[(i + round) % arms.length])) {
        const dev = devOf(arm);
        const w0 = dev === undefined ? NaN : _cpuOf(dev.workerdPids);
        const n0 = dev === undefined ? NaN : cpuSeconds(dev.pid);
        const run = await runWrk(all[arm], { durationSeconds: seconds, headers: headersOf(arm) });
        if (run.non2xx > 0 || run.errors > 0) {
          throw new Error(`workerd ${arm}: ${run.non2xx} non-2xx answers, ${run.errors} socket errors`);
        }
        const per = (after: number, before: number) =>
          Number(((after - before) * 1000 / run.requests).toFixed(4));
        runs[arm].push({
          ...run,
          workerdCpuMsPerRequest: dev === undefined ? NaN : per(_cpuOf(dev.workerdPids), w0),
          wranglerCpuMsPerRequest: dev === undefined ? NaN : per(cpuSeconds(dev.pid), n0),
        });
      }
    }
    const medians = (list: WorkerdArmRun[]): WorkerdMedians => ({
      rps: median(list.map((r) => r.rps)),
      p50Ms: median(list.map((r) => r.p50Ms)),
      p99Ms: median(list.map((r) => r.p99Ms)),
      workerdCpuMsPerRequest: median(list.map((r) => r.workerdCpuMsPerRequest)),
    });
    const perRound = (list: WorkerdArmRun[], f: (i: number) => number) =>
      Number(median(list.map((_, i) => f(i))).toFixed(3));
    return {
      loadGenerator: `${await wrkVersion()} (${WRK}), -t2 -c8`,
      runtime: `${await _wranglerVersion()} dev (local workerd)`,
      rounds,
      seconds: Math.round((performance.now() - started) / 1000),
      setup:
        "Two `wrangler dev` (local workerd) processes side by side, each in its own process group, stopped " +
        "by PID; the fake upstream and IdP in a Deno process; wrk -t2 -c8 -d" + seconds + "s per run; arms " +
        "interleaved, order rotated each round; medians over the rounds, ratios within a round. CPU: the " +
        "workerd process's user + system time over the run ÷ requests.",
      proxy: {
        runs: { direct: runs.direct, bare: runs.bare, broker: runs.broker },
        medians: { direct: medians(runs.direct), bare: medians(runs.bare), broker: medians(runs.broker) },
        brokerOverBareRps: perRound(runs.bare, (i) => runs.broker[i].rps / runs.bare[i].rps),
        brokerMinusBareP50Ms: perRound(runs.bare, (i) => runs.broker[i].p50Ms - runs.bare[i].p50Ms),
        brokerOverBareCpu: perRound(
          runs.bare,
          (i) => runs.broker[i].workerdCpuMsPerRequest / runs.bare[i].workerdCpuMsPerRequest,
        ),
      },
      credentials: {
        runs: { bareJson: runs.bareJson, credentials: runs.credentials },
        medians: { bareJson: medians(runs.bareJson), credentials: medians(runs.credentials) },
        credentialsOverBareRps: perRound(
          runs.bareJson,
          (i) => runs.credentials[i].rps / runs.bareJson[i].rps,
        ),
        credentialsOverBareCpu: perRound(
          runs.bareJson,
          (i) => runs.credentials[i].workerdCpuMsPerRequest / runs.bareJson[i].workerdCpuMsPerRequest,
        ),
      },
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
    await cleanupWrk();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function _arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

if (import.meta.main) {
  const result = await runWorkerdBench({
    ...(_arg("rounds") === undefined ? {} : { rounds: Number(_arg("rounds")) }),
    ...(_arg("seconds") === undefined ? {} : { seconds: Number(_arg("seconds")) }),
  });
  const text = JSON.stringify(result, null, 2);
  const json = _arg("json");
  if (json !== undefined) await Deno.writeTextFile(json, text + "\n");
  else console.log(text);
}
