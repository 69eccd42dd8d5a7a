/**
 * The benchmark that counts, on Deno: real servers over loopback, each in its own process, loaded by Debian's
 * `wrk` (`-t2 -c8`, each run bounded by `-d`). Arms interleaved in every round (order rotated), medians over the
 * rounds, ratios taken within a round:
 *
 * - proxy: (a) `direct` to the small fake upstream, (b) `bare`: a pass-through proxy on the same runtime (serve,
 *   fetch, stream back), (f) `floor`: (b) plus only what ArcGIS's contract forces on any token-injecting proxy
 *   (token header, timeout, small body searched for a 498/499 envelope, filtered headers), (c) `broker`: the
 *   whole broker (Hono routes, `authenticate()` of an ES256 IdP bearer — the same token each request, as a
 *   client sends it —, the allowlist, the warm token cache) on the federated server's service; all small-JSON
 *   rounds, then all 1 MiB-tile rounds. Besides wrk's throughput and latency, the CPU time of the proxy's process
 *   per request (from `/proc`). The measured servers run pinned to CPU 1, the upstream and wrk to CPU 0.
 * - fresh token, per algorithm (RS256, ES256, EdDSA), three routes of a broker process of its own: `none` (the same Hono
 *   route without authentication), `raw` (a raw `crypto.subtle.verify` of the bearer's signature) and `auth`
 *   (`broker.authenticate()`). wrk's Lua script gives every request of an `auth` run a token the broker has never
 *   seen (pre-signed, a distinct `jti` each; a wrk thread stops when its share is used up). The figure is the
 *   broker process's CPU time per request: (auth − none) ÷ (raw − none). Each `auth` run has enough tokens
 *   to keep the broker busy for the whole run (`freshTokensPerRun`): a run that used them up would leave the
 *   process idle for the rest of `-d` (timers, V8's idle-time GC), and that CPU time divided over fewer requests
 *   would be counted as token cost. Such a run fails the bench instead.
 * - streaming: 200 MB through (b) and (c) while the proxy process's RSS is sampled from `/proc`.
 *
 * Run alone: `deno run -A bench/http_bench.ts [--rounds=4] [--seconds=2] [--only=proxy,fresh,stream]
 * [--tokens=<n>|RS256=<n>,ES256=<n>,EdDSA=<n>] [--algs=RS256,ES256,EdDSA] [--no-pin]
 * [--cpu-prof=<dir>] [--json=<file>]`. With `--cpu-prof`, the broker's process runs with `--cpu-prof` and
 * writes its profile into `<dir>` when stopped.
 *
 * @module
 */
import {
  cleanupWrk,
  cpuSeconds,
  ensureWrk,
  median,
  rssMB,
  runWrk,
  WRK,
  WRK_CONNECTIONS,
  type WrkResult,
  wrkVersion,
} from "./_wrk.ts";
import {
  type Alg,
  ALGS,
  AUDIENCE,
  issuerOf,
  SERVICE_PATH,
  SMALL_PATH,
  TILE_BYTES,
  TILE_PATH,
} from "./http_servers.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const READY_TIMEOUT_MS = 30_000;

/** A server process of the bench. */
export interface ServerProcess {
  /** Its process id. */
  pid: number;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for it to end. */
  stop(): Promise<void>;
}

/**
 * Starts `bench/http_servers.ts --role=<role>` in its own Deno process and waits for its port. `root` (ending in
 * `/`) runs another checkout's copy (`bench/ab.ts` compares two commits); `cpus` pins the process
 * (`taskset -c`).
 */
export async function startServer(
  role: string,
  args: string[] = [],
  options: { cpuProfDir?: string; root?: string; cpus?: string } = {},
): Promise<ServerProcess> {
  const denoArgs = ["run", "-A"];
  if (options.cpuProfDir !== undefined) denoArgs.push("--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`);
  const root = options.root ?? ROOT;
  const command = [Deno.execPath(), ...denoArgs, `${root}bench/http_servers.ts`, `--role=${role}`, ...args];
  if (options.cpus !== undefined) command.unshift("taskset", "-c", options.cpus);
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let port: number | undefined;
  while (port === undefined) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`The ${role} server did not start in ${READY_TIMEOUT_MS} ms`);
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`The ${role} server ended before it listened: ${text}`);
    text += decoder.decode(value, { stream: true });
    const line = /\{"port":(\d+)\}/.exec(text);
    if (line !== null) port = Number(line[1]);
  }
  // Keep draining its output so that it never blocks on a full pipe.
  (async () => {
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true }));
      if (done) break;
    }
  })();
  let stopped: Promise<void> | undefined;
  return {
    pid: child.pid,
    origin: `http://127.0.0.1:${port}`,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          return;
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // already gone
          }
        }, 5000);
        await child.status;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}

/**
 * Distinct tokens per 2-second fresh-token run: about 1.3 times what the broker checks in 2 s on this machine
 * kind (2 cores; RS256 and ES256 run at 6,000 and 4,500 /s, EdDSA at 15,000 /s).
 */
export const FRESH_TOKENS_PER_RUN: Readonly<Record<Alg, number>> = {
  RS256: 16_000,
  ES256: 12_000,
  EdDSA: 40_000,
};
/** Tokens of the warm-up run per algorithm (slice 0). */
const FRESH_WARMUP_TOKENS = 1_000;

/** Options of {@link runHttpBench}. */
export interface HttpBenchOptions {
  /** Interleaved rounds of the proxy arms. @default 4 */
  rounds?: number;
  /** Interleaved rounds of the fresh-token arms. @default 3 */
  freshRounds?: number;
  /** Length of each proxy wrk run, whole seconds (wrk takes no fractions). @default 2 */
  proxySeconds?: number;
  /** Upper bound of each fresh-token wrk run, whole seconds. @default 2 */
  freshSeconds?: number;
  /**
   * Distinct tokens per fresh-token run, per algorithm or one number for all: more than the broker can check in
   * `freshSeconds` (a run that uses them up fails). @default {@link FRESH_TOKENS_PER_RUN}
   */
  freshTokensPerRun?: number | Partial<Record<Alg, number>>;
  /** MB streamed through each proxy for the memory figure. @default 200 */
  streamMB?: number;
  /** The fresh-token algorithms to measure. @default all of {@link ALGS} */
  freshAlgs?: readonly Alg[];
  /**
   * Pin the measured servers (bare, floor, broker) to CPU 1 and the upstream and wrk to CPU 0 (`taskset`), so that
   * the servers' CPU time is not stretched by the scheduler moving them against the load generator: alternating
   * runs of one build then agree within about 1 %, against about 9 % unpinned. @default true on 2 or more CPUs
   */
  pin?: boolean;
  /** Parts to run. @default all */
  only?: readonly ("proxy" | "fresh" | "stream")[];
  /** Run the broker's process with `--cpu-prof` and write its profile here. @default no profile */
  cpuProfDir?: string;
  /** Progress lines. @default stderr */
  log?: (line: string) => void;
}

/** One arm of one round. */
export interface ArmRun extends WrkResult {
  /** CPU time of the serving process (the proxy; the upstream for `direct`) per request, ms. */
  cpuMsPerRequest: number;
  /** CPU time of the upstream process per request, ms. */
  upstreamCpuMsPerRequest: number;
}

/** Medians of one arm over the rounds. */
export interface ArmMedians {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  mbPerSecond: number;
  cpuMsPerRequest: number;
}

const PROXY_ARMS = ["direct", "bare", "floor", "broker"] as const;
type ProxyArm = typeof PROXY_ARMS[number];
const FRESH_ARMS = ["none", "raw", "auth"] as const;
type FreshArm = typeof FRESH_ARMS[number];

/** The proxy figures of one payload kind. */
export interface ProxyKindResult {
  runs: Record<ProxyArm, ArmRun[]>;
  medians: Record<ProxyArm, ArmMedians>;
  /** Median over the rounds of (broker rps ÷ bare rps) in the same round. */
  brokerOverBareRps: number;
  /** Median over the rounds of (broker p50 − bare p50) in the same round, ms. */
  brokerMinusBareP50Ms: number;
  /** Median over the rounds of (bare rps ÷ direct rps). */
  bareOverDirectRps: number;
  /** Median over the rounds of (broker CPU/request ÷ bare CPU/request). */
  brokerOverBareCpu: number;
  /** Median over the rounds of (floor rps ÷ bare rps): what ArcGIS's contract alone costs on this runtime. */
  floorOverBareRps: number;
  /** Median over the rounds of (floor CPU/request ÷ bare CPU/request). */
  floorOverBareCpu: number;
}

/** The fresh-token figures of one algorithm. */
export interface FreshAlgResult {
  /** Per arm and round: requests, rps and the broker process's CPU per request (µs). */
  runs: Record<FreshArm, { requests: number; rps: number; cpuUsPerRequest: number; non2xx: number }[]>;
  /** Medians of the CPU per request, µs. */
  cpuUs: Record<FreshArm, number>;
  /** Median over the rounds of (auth − none) ÷ (raw − none), CPU per request. */
  ratio: number;
  /** Requests of the `auth` runs, all with a never-seen token. */
  freshRequests: number;
}

/** Memory while streaming through one proxy. */
export interface StreamResult {
  streamedMB: number;
  seconds: number;
  rssStartMB: number;
  rssMaxMB: number;
  rssGrowthMB: number;
  samples: number;
}

/** What {@link runHttpBench} measured. */
export interface HttpBenchResult {
  loadGenerator: string;
  runtime: string;
  rounds: number;
  setup: string;
  proxy?: {
    seconds: number;
    small: ProxyKindResult;
    tile: ProxyKindResult;
    /** ArcGIS token calls the upstream answered during the measured proxy runs, per broker request. */
    arcgisTokenCallsPerRequest: number;
    /** Requests through the broker in the measured proxy runs. */
    brokerRequests: number;
    /** IdP JWKS fetches the upstream answered during those runs (the same bearer each request). */
    jwksFetches: number;
  };
  fresh?: {
    seconds: number;
    rounds: number;
    tokensPerRun: Record<Alg, number>;
    algs: Partial<Record<Alg, FreshAlgResult>>;
  };
  stream?: { bare: StreamResult; broker: StreamResult };
  /** Why the streaming figure is missing, when it failed (the other figures stay). */
  streamError?: string;
  loadAverage: { start: string; end: string };
}

function _loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

function _rotate<T>(list: readonly T[], by: number): T[] {
  return list.map((_, i) => list[(i + by) % list.length]);
}

async function _check(url: string, init: RequestInit, expectBytes?: number): Promise<void> {
  const response = await fetch(url, init);
  const body = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200 || (expectBytes !== undefined && body.length !== expectBytes)) {
    throw new Error(
      `${url} answered ${response.status} with ${body.length} bytes: ${
        new TextDecoder().decode(body.slice(0, 300))
      }`,
    );
  }
}

async function _stream(
  url: string,
  pid: number,
  totalBytes: number,
  headers: HeadersInit,
): Promise<StreamResult> {
  const samples: number[] = [rssMB(pid)];
  const timer = setInterval(() => samples.push(rssMB(pid)), 20);
  const started = performance.now();
  let received = 0;
  try {
    const response = await fetch(url, { headers });
    if (response.status !== 200) {
      throw new Error(`${url} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
    }
    for await (const chunk of response.body!) received += chunk.length;
  } finally {
    clearInterval(timer);
  }
  samples.push(rssMB(pid));
  if (received !== totalBytes) throw new Error(`Stream ended early: ${received} of ${totalBytes} bytes`);
  const r1 = (n: number) => Number(n.toFixed(1));
  return {
    streamedMB: r1(received / 1024 / 1024),
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    rssStartMB: r1(samples[0]),
    rssMaxMB: r1(Math.max(...samples)),
    rssGrowthMB: r1(Math.max(...samples) - samples[0]),
    samples: samples.length,
  };
}

/** Runs the Deno HTTP benchmark. */
export async function runHttpBench(options: HttpBenchOptions = {}): Promise<HttpBenchResult> {
  const rounds = options.rounds ?? 4;
  const freshRounds = options.freshRounds ?? 3;
  const proxySeconds = options.proxySeconds ?? 2;
  const freshSeconds = options.freshSeconds ?? 2;
  const perRunOption = options.freshTokensPerRun ?? {};
  const perRun = Object.fromEntries(
    ALGS.map((alg) => [
      alg,
      typeof perRunOption === "number" ? perRunOption : perRunOption[alg] ?? FRESH_TOKENS_PER_RUN[alg],
    ]),
  ) as Record<Alg, number>;
  const only = new Set(options.only ?? ["proxy", "fresh", "stream"]);
  const freshAlgs = options.freshAlgs ?? ALGS;
  const pin = options.pin ?? (navigator.hardwareConcurrency >= 2 && await _hasTaskset());
  const proxyCpu = pin ? { cpus: "1" } : {};
  const wrkCpu = pin ? { cpus: "0" } : {};
  const log = options.log ?? ((line: string) => console.error(line));
  await ensureWrk();
  const result: HttpBenchResult = {
    loadGenerator: `${await wrkVersion()} (${WRK}), -t2 -c8`,
    runtime: `deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
    rounds,
    setup:
      "Each server in its own Deno process on 127.0.0.1 (port 0), stopped by PID; wrk -t2 -c8 -d<s> per " +
      "run; arms interleaved in each round with the order rotated; medians over the rounds, ratios within a round." +
      (pin
        ? " Pinned with taskset: the measured proxies (and the broker of the fresh-token runs) on CPU 1, the " +
          "upstream and wrk on CPU 0."
        : " Not pinned."),
    loadAverage: { start: _loadavg(), end: "" },
  };
  const dir = await Deno.makeTempDir({ prefix: "atb-http-bench-" });
  const servers: ServerProcess[] = [];
  try {
    const jwksFile = `${dir}/pool.json`;
    const upstream = await startServer("upstream", [`--jwks-file=${jwksFile}`], wrkCpu);
    servers.push(upstream);
    // Tokens: slice 0 warms up, slice r + 1 is round r's.
    const start = (alg: Alg, slice: number) =>
      slice === 0 ? 0 : FRESH_WARMUP_TOKENS + (slice - 1) * perRun[alg];
    const poolSize = (alg: Alg) =>
      only.has("fresh") && freshAlgs.includes(alg) ? start(alg, freshRounds + 1) : 1;
    const signed = await new Deno.Command("node", {
      args: [
        `${ROOT}bench/token_pool.mjs`,
        issuerOf(upstream.origin),
        AUDIENCE,
        ALGS.map((alg) => `${alg}=${poolSize(alg)}`).join(","),
        jwksFile,
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!signed.success) throw new Error("bench/token_pool.mjs failed");
    const pool = JSON.parse(await Deno.readTextFile(jwksFile)) as { tokens: Record<Alg, string[]> };
    const tokenFile = (alg: Alg, slice: number) => `${dir}/${alg}-${slice}.txt`;
    for (const alg of freshAlgs) {
      if (!only.has("fresh")) break;
      for (let s = 0; s <= freshRounds; s++) {
        await Deno.writeTextFile(
          tokenFile(alg, s),
          pool.tokens[alg].slice(start(alg, s), start(alg, s + 1)).join("\n") + "\n",
        );
      }
    }
    const bare = await startServer("bare", [], proxyCpu);
    servers.push(bare);
    const floor = await startServer("floor", [], proxyCpu);
    servers.push(floor);
    const broker = await startServer(
      "broker",
      [`--upstream=${upstream.origin}`, `--jwks-file=${jwksFile}`],
      options.cpuProfDir === undefined ? proxyCpu : { cpuProfDir: options.cpuProfDir, ...proxyCpu },
    );
    servers.push(broker);
    // The proxy's bearer: one ES256 token, sent with every request (a client reuses its token).
    const bearer = { authorization: `Bearer ${pool.tokens.ES256[poolSize("ES256") - 1]}` };
    const urls = (path: string): Record<ProxyArm, string> => ({
      direct: `${upstream.origin}${path}`,
      bare: `${bare.origin}/proxy?${upstream.origin}${path}`,
      floor: `${floor.origin}/proxy?${upstream.origin}${path}`,
      broker: `${broker.origin}/arcgis/proxy?${upstream.origin}${path}`,
    });
    const headersOf = (arm: ProxyArm): Record<string, string> => arm === "broker" ? bearer : {};
    const smallBytes = (await (await fetch(`${upstream.origin}${SMALL_PATH}`)).arrayBuffer()).byteLength;
    for (const arm of PROXY_ARMS) {
      await _check(urls(SMALL_PATH)[arm], { headers: headersOf(arm) }, smallBytes);
    }
    const serverOf = (arm: ProxyArm) => ({ direct: upstream, bare, floor, broker })[arm];

    if (only.has("proxy")) {
      const started = performance.now();
      log(`http bench: proxy, ${rounds} rounds × 2 kinds × ${PROXY_ARMS.length} arms × ${proxySeconds} s`);
      const statsBefore = await (await fetch(`${upstream.origin}/stats`)).json() as {
        tokenCalls: number;
        jwksCalls: number;
      };
      const out = {} as Record<"small" | "tile", Record<ProxyArm, ArmRun[]>>;
      for (const kind of ["small", "tile"] as const) {
        out[kind] = { direct: [], bare: [], floor: [], broker: [] };
      }
      let brokerRequests = 0;
      // All small-JSON rounds first, then all tile rounds: a process that has streamed 1 MB bodies stays about
      // 1.6 times slower on small requests afterwards (every arm alike: bare 83 → 137 µs a request, measured), so
      // alternating the kinds made the small figures depend on which tile run came before.
      for (const kind of ["small", "tile"] as const) {
        const path = kind === "small" ? SMALL_PATH : TILE_PATH;
        for (const arm of PROXY_ARMS) {
          if (kind === "tile") await _check(urls(path)[arm], { headers: headersOf(arm) }, TILE_BYTES);
          await runWrk(urls(path)[arm], { durationSeconds: 1, headers: headersOf(arm), ...wrkCpu });
        }
        for (let round = 0; round < rounds; round++) {
          for (const arm of _rotate(PROXY_ARMS, round)) {
            const server = serverOf(arm);
            const cpu0 = cpuSeconds(server.pid);
            const up0 = cpuSeconds(upstream.pid);
            const run = await runWrk(urls(path)[arm], {
              durationSeconds: proxySeconds,
              headers: headersOf(arm),
              ...wrkCpu,
            });
            if (run.non2xx > 0 || run.errors > 0) {
              throw new Error(`${kind} ${arm}: ${run.non2xx} non-2xx answers, ${run.errors} socket errors`);
            }
            if (arm === "broker") brokerRequests += run.requests;
            out[kind][arm].push({
              ...run,
              cpuMsPerRequest: Number(((cpuSeconds(server.pid) - cpu0) * 1000 / run.requests).toFixed(4)),
              upstreamCpuMsPerRequest: Number(
                ((cpuSeconds(upstream.pid) - up0) * 1000 / run.requests).toFixed(4),
              ),
            });
          }
        }
      }
      const statsAfter = await (await fetch(`${upstream.origin}/stats`)).json() as {
        tokenCalls: number;
        jwksCalls: number;
      };
      const summarize = (runs: Record<ProxyArm, ArmRun[]>): ProxyKindResult => {
        const medians = Object.fromEntries(PROXY_ARMS.map((arm) => {
          const list = runs[arm];
          return [arm, {
            rps: median(list.map((r) => r.rps)),
            p50Ms: median(list.map((r) => r.p50Ms)),
            p99Ms: median(list.map((r) => r.p99Ms)),
            mbPerSecond: median(list.map((r) => r.mbPerSecond)),
            cpuMsPerRequest: median(list.map((r) => r.cpuMsPerRequest)),
          }];
        })) as Record<ProxyArm, ArmMedians>;
        const perRound = (f: (i: number) => number) =>
          Number(median(runs.bare.map((_, i) => f(i))).toFixed(3));
        return {
          runs,
          medians,
          brokerOverBareRps: perRound((i) => runs.broker[i].rps / runs.bare[i].rps),
          brokerMinusBareP50Ms: perRound((i) => runs.broker[i].p50Ms - runs.bare[i].p50Ms),
          bareOverDirectRps: perRound((i) => runs.bare[i].rps / runs.direct[i].rps),
          brokerOverBareCpu: perRound((i) => runs.broker[i].cpuMsPerRequest / runs.bare[i].cpuMsPerRequest),
          floorOverBareRps: perRound((i) => runs.floor[i].rps / runs.bare[i].rps),
          floorOverBareCpu: perRound((i) => runs.floor[i].cpuMsPerRequest / runs.bare[i].cpuMsPerRequest),
        };
      };
      result.proxy = {
        seconds: Math.round((performance.now() - started) / 1000),
        small: summarize(out.small),
        tile: summarize(out.tile),
        arcgisTokenCallsPerRequest: (statsAfter.tokenCalls - statsBefore.tokenCalls) / brokerRequests,
        brokerRequests,
        jwksFetches: statsAfter.jwksCalls - statsBefore.jwksCalls,
      };
    }

    if (only.has("fresh")) {
      const started = performance.now();
      log(
        `http bench: fresh tokens, ${freshRounds} rounds × ${ALGS.length} algorithms × 3 arms × ≤ ${freshSeconds} s`,
      );
      // A broker process of its own: the proxy's tile runs leave a process slower on small requests for good.
      const checker = await startServer(
        "broker",
        [`--upstream=${upstream.origin}`, `--jwks-file=${jwksFile}`],
        proxyCpu,
      );
      servers.push(checker);
      const freshUrl = (arm: FreshArm, alg: Alg) => `${checker.origin}/fresh/${arm}/${alg}`;
      for (const alg of freshAlgs) {
        const first = (await Deno.readTextFile(tokenFile(alg, 0))).split("\n")[0];
        for (const arm of FRESH_ARMS) {
          await _check(freshUrl(arm, alg), { headers: { authorization: `Bearer ${first}` } });
        }
        for (const arm of FRESH_ARMS) {
          await runWrk(freshUrl(arm, alg), {
            ...wrkCpu,
            durationSeconds: 1,
            tokensFile: tokenFile(alg, 0),
            tokensOnce: true,
          });
        }
      }
      const algs = {} as Partial<Record<Alg, FreshAlgResult>>;
      for (const alg of freshAlgs) {
        algs[alg] = { runs: { none: [], raw: [], auth: [] } } as unknown as FreshAlgResult;
      }
      for (let round = 0; round < freshRounds; round++) {
        for (const alg of freshAlgs) {
          for (const arm of _rotate(FRESH_ARMS, round)) {
            const cpu0 = cpuSeconds(checker.pid);
            const run = await runWrk(freshUrl(arm, alg), {
              ...wrkCpu,
              durationSeconds: freshSeconds,
              tokensFile: tokenFile(alg, round + 1),
              tokensOnce: arm === "auth",
            });
            if (run.non2xx > 0 || run.errors > 0) {
              throw new Error(
                `fresh ${alg} ${arm}: ${run.non2xx} non-2xx answers, ${run.errors} socket errors`,
              );
            }
            if (arm === "auth" && run.requests >= perRun[alg] - 2 * WRK_CONNECTIONS) {
              throw new Error(
                `fresh ${alg}: the ${
                  perRun[alg]
                } tokens of a run were used up before the run ended, so its ` +
                  "idle rest would count as token cost; raise --tokens (this machine is faster than the default's)",
              );
            }
            algs[alg]!.runs[arm].push({
              requests: run.requests,
              rps: run.rps,
              cpuUsPerRequest: Number(((cpuSeconds(checker.pid) - cpu0) * 1e6 / run.requests).toFixed(1)),
              non2xx: run.non2xx,
            });
          }
        }
      }
      for (const alg of freshAlgs) {
        const a = algs[alg]!;
        a.cpuUs = Object.fromEntries(
          FRESH_ARMS.map((arm) => [arm, median(a.runs[arm].map((r) => r.cpuUsPerRequest))]),
        ) as Record<FreshArm, number>;
        const r = a.runs;
        a.ratio = Number(
          median(r.auth.map((_, i) =>
            (r.auth[i].cpuUsPerRequest - r.none[i].cpuUsPerRequest) /
            (r.raw[i].cpuUsPerRequest - r.none[i].cpuUsPerRequest)
          )).toFixed(3),
        );
        a.freshRequests = r.auth.reduce((n, x) => n + x.requests, 0);
      }
      result.fresh = {
        seconds: Math.round((performance.now() - started) / 1000),
        rounds: freshRounds,
        tokensPerRun: perRun,
        algs,
      };
    }

    if (only.has("stream")) {
      try {
        const mb = options.streamMB ?? 200;
        log(`http bench: streaming ${mb} MB through (b) and (c)`);
        const path = (bytes: number) => `${SERVICE_PATH}/export?bytes=${bytes}&f=image`;
        const warm = 32 * 1024 * 1024;
        await _stream(urls(path(warm)).bare, bare.pid, warm, {});
        await _stream(urls(path(warm)).broker, broker.pid, warm, bearer);
        const total = mb * 1024 * 1024;
        result.stream = {
          bare: await _stream(urls(path(total)).bare, bare.pid, total, {}),
          broker: await _stream(urls(path(total)).broker, broker.pid, total, bearer),
        };
      } catch (error) {
        result.streamError = String(error instanceof Error ? error.message : error);
      }
    }
  } finally {
    for (const server of servers.reverse()) await server.stop();
    await cleanupWrk();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  result.loadAverage.end = _loadavg();
  return result;
}

/** `--tokens=20000` or `--tokens=RS256=20000,EdDSA=50000`. */
function _tokensOption(text: string): number | Partial<Record<Alg, number>> {
  if (/^\d+$/.test(text)) return Number(text);
  return Object.fromEntries(text.split(",").map((part) => part.split("=")).map(([a, n]) => [a, Number(n)]));
}

async function _hasTaskset(): Promise<boolean> {
  try {
    return (await new Deno.Command("taskset", { args: ["-c", "0", "true"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

function _arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

if (import.meta.main) {
  const num = (name: string) => _arg(name) === undefined ? undefined : Number(_arg(name));
  const result = await runHttpBench({
    ...(num("rounds") === undefined ? {} : { rounds: num("rounds"), freshRounds: num("rounds") }),
    ...(num("seconds") === undefined ? {} : { proxySeconds: num("seconds"), freshSeconds: num("seconds") }),
    ...(_arg("tokens") === undefined ? {} : { freshTokensPerRun: _tokensOption(_arg("tokens")!) }),
    ...(num("stream-mb") === undefined ? {} : { streamMB: num("stream-mb") }),
    ...(_arg("only") === undefined
      ? {}
      : { only: _arg("only")!.split(",") as ("proxy" | "fresh" | "stream")[] }),
    ...(_arg("cpu-prof") === undefined ? {} : { cpuProfDir: _arg("cpu-prof") }),
    ...(_arg("algs") === undefined ? {} : { freshAlgs: _arg("algs")!.split(",") as Alg[] }),
    ...(Deno.args.includes("--no-pin") ? { pin: false } : {}),
  });
  const text = JSON.stringify(result, null, 2);
  const json = _arg("json");
  if (json !== undefined) await Deno.writeTextFile(json, text + "\n");
  else console.log(text);
}
