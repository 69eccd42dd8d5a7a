/**
 * The load generator of the HTTP benchmarks: Debian's `wrk` (installed by `scripts/ensure_wrk.sh` when missing),
 * driven with a Lua script whose `done()` prints the figures as one JSON line. Also the per-process readings the
 * benches take around a run (CPU time and RSS from `/proc`).
 *
 * @module
 */

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
/** wrk's connections (`-c`) unless a run says otherwise. */
export const WRK_CONNECTIONS = 8;
/** Where Debian installs wrk. */
export const WRK = "/usr/bin/wrk";

/** Makes sure `wrk` is installed (apt, once), like the tests do for Chromium. */
export async function ensureWrk(): Promise<void> {
  const out = await new Deno.Command("sh", {
    args: [`${ROOT}scripts/ensure_wrk.sh`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("scripts/ensure_wrk.sh could not install wrk");
}

/** The version line of the installed wrk. */
export async function wrkVersion(): Promise<string> {
  const out = await new Deno.Command(WRK, { args: ["-v"], stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return /wrk [^\s]+/.exec(text)?.[0] ?? "wrk (version unknown)";
}

const STATS_LUA = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"durationUs":%d,"bytes":%d,"connectErrors":%d,"readErrors":%d,' ..
    '"writeErrors":%d,"statusErrors":%d,"timeouts":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"meanUs":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
`;

/**
 * Cycles through the bearer tokens of a file (one a line); thread i of n takes lines i, i+n, i+2n, …. With
 * "once", a thread stops when its share is used up: no token is sent twice in one run.
 */
const TOKENS_LUA = `
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
local tokens = {}
local index = 1
local once = false
function init(args)
  local path, stride = args[1], tonumber(args[2])
  once = args[3] == "once"
  local i = 0
  for line in io.lines(path) do
    if i % stride == tid then table.insert(tokens, "Bearer " .. line) end
    i = i + 1
  end
end
function request()
  if index > #tokens then
    if once then wrk.thread:stop() end
    index = 1
  end
  local token = tokens[index]
  index = index + 1
  return wrk.format(nil, nil, { ["Authorization"] = token })
end
` + STATS_LUA;

/** What one wrk run measured. */
export interface WrkResult {
  /** Requests completed. */
  requests: number;
  /** Run time, s. */
  seconds: number;
  /** Requests per second. */
  rps: number;
  /** Response bytes per second (headers included), MB/s. */
  mbPerSecond: number;
  /** Latency percentiles, ms. */
  p50Ms: number;
  /** 90th percentile, ms. */
  p90Ms: number;
  /** 99th percentile, ms. */
  p99Ms: number;
  /** Socket errors and timeouts. */
  errors: number;
  /** Answers that were not 2xx or 3xx. */
  non2xx: number;
}

/** Options of {@link runWrk}. */
export interface WrkOptions {
  /** wrk threads (`-t`). @default 2 */
  threads?: number;
  /** Connections kept open (`-c`). @default 8 */
  connections?: number;
  /** Run length (`-d`), whole seconds (rounded: wrk takes no fractions). @default 3 */
  durationSeconds?: number;
  /** Extra request headers (`-H`). @default none */
  headers?: Record<string, string>;
  /** A file of bearer tokens, one a line, cycled through (one per request). @default none */
  tokensFile?: string;
  /** With `tokensFile`: stop each wrk thread when its share of the tokens is used (never repeat one). */
  tokensOnce?: boolean;
  /** Run wrk on these CPUs only (`taskset -c`, e.g. `"0"`). @default any CPU */
  cpus?: string;
}

let _luaFiles: { stats: string; tokens: string } | undefined;

async function _lua(): Promise<{ stats: string; tokens: string }> {
  if (_luaFiles === undefined) {
    const stats = await Deno.makeTempFile({ prefix: "atb-wrk-", suffix: ".lua" });
    const tokens = await Deno.makeTempFile({ prefix: "atb-wrk-", suffix: ".lua" });
    await Deno.writeTextFile(stats, STATS_LUA);
    await Deno.writeTextFile(tokens, TOKENS_LUA);
    _luaFiles = { stats, tokens };
  }
  return _luaFiles;
}

/** Removes the Lua files {@link runWrk} wrote. */
export async function cleanupWrk(): Promise<void> {
  if (_luaFiles === undefined) return;
  await Deno.remove(_luaFiles.stats).catch(() => {});
  await Deno.remove(_luaFiles.tokens).catch(() => {});
  _luaFiles = undefined;
}

/** One bounded `wrk` run against `url`. Throws when wrk fails or prints no figures. */
export async function runWrk(url: string, options: WrkOptions = {}): Promise<WrkResult> {
  const threads = options.threads ?? 2;
  const duration = Math.max(1, Math.round(options.durationSeconds ?? 3));
  const lua = await _lua();
  const args = [
    "-t",
    String(threads),
    "-c",
    String(options.connections ?? WRK_CONNECTIONS),
    "-d",
    `${duration}s`,
  ];
  args.push("--timeout", "10s");
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push("-H", `${name}: ${value}`);
  if (options.tokensFile !== undefined) {
    args.push("-s", lua.tokens, url, "--", options.tokensFile, String(threads));
    if (options.tokensOnce === true) args.push("once");
  } else {
    args.push("-s", lua.stats, url);
  }
  const out = await new Deno.Command(options.cpus === undefined ? WRK : "taskset", {
    args: options.cpus === undefined ? args : ["-c", options.cpus, WRK, ...args],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((duration + 30) * 1000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("WRKJSON "));
  if (!out.success || line === undefined) {
    throw new Error(`wrk failed (${out.code}): ${text.slice(-500)} ${new TextDecoder().decode(out.stderr)}`);
  }
  const r = JSON.parse(line.slice("WRKJSON ".length));
  const seconds = r.durationUs / 1e6;
  return {
    requests: r.requests,
    seconds: Number(seconds.toFixed(3)),
    rps: Math.round(r.requests / seconds),
    mbPerSecond: Number((r.bytes / seconds / 1e6).toFixed(1)),
    p50Ms: r.p50Us / 1000,
    p90Ms: r.p90Us / 1000,
    p99Ms: r.p99Us / 1000,
    errors: r.connectErrors + r.readErrors + r.writeErrors + r.timeouts,
    non2xx: r.statusErrors,
  };
}

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system, all threads) a process has used so far, s; NaN when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Resident set size of a process, MB; NaN when it cannot be read. */
export function rssMB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
  } catch {
    return NaN;
  }
}

/** Every descendant process of `pid` (children, their children, …). */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const parent = queue.shift()!;
    let tasks: string[] = [];
    try {
      tasks = [...Deno.readDirSync(`/proc/${parent}/task`)].map((e) => e.name);
    } catch {
      continue;
    }
    for (const task of tasks) {
      let children = "";
      try {
        children = Deno.readTextFileSync(`/proc/${parent}/task/${task}/children`);
      } catch {
        continue;
      }
      for (const child of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** The command name of a process (`/proc/<pid>/comm`), or "" when gone. */
export function commandName(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return "";
  }
}

/** The median of `values` (the mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
