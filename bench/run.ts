/**
 * `deno task bench`: runs every benchmark one after the other (never two at once: they would share the CPU) and
 * writes `BENCHMARKS.md` with, for each figure, the measured value, the baseline measured in the same run, the
 * ratio, the target and pass/fail.
 *
 * - The figures that count come from real servers over loopback loaded by Debian's `wrk` (installed with apt by
 *   `scripts/ensure_wrk.sh` when missing): `bench/http_bench.ts` (Deno: the proxy's three arms, fresh tokens,
 *   memory while streaming) and `bench/workerd_bench.ts` (the same arms under `wrangler dev`).
 * - `bench/credentials_bench.ts`: `/credentials` and the token cache (cold bursts: call counts).
 * - `bench/auth_bench.ts` and `bench/proxy_bench.ts`: the older in-process figures, kept for information only.
 * - The Workers bundle: `npx wrangler deploy --dry-run --outdir <tmp>`, the output JS gzipped.
 *
 * Run: `deno task bench` (= `deno run -A bench/run.ts`). Options: `--out=<file>` (default `BENCHMARKS.md`),
 * `--json=<file>` (every raw result, for keeping), `--only=http,workerd,auth,credentials,proxy,bundle`,
 * `--from=<file>` (no run: BENCHMARKS.md again from a `--json` output),
 * `--compare=<file>` (an earlier `--json` output shown beside each figure; default
 * `bench/results/before-reshape-rerun.json`, else `before-reshape.json`: the figures before the reshaping of
 * issue 8, when they exist).
 *
 * @module
 */
import { runCredentialsBench } from "./credentials_bench.ts";
import type { CredentialsBenchResult } from "./credentials_bench.ts";
import { round } from "./_stats.ts";
import { type HttpBenchResult, runHttpBench } from "./http_bench.ts";
import { runWorkerdBench, type WorkerdBenchResult } from "./workerd_bench.ts";

const ROOT = new URL("../", import.meta.url);
const SUBPROCESS_TIMEOUT_MS = 150_000;
const BUNDLE_TARGET_BYTES = 100 * 1024;
/** "Flat" memory while streaming: the process grows by less than this while 200 MB pass through. */
const STREAM_GROWTH_LIMIT_MB = 64;

type Outcome<T> =
  | { status: "ok"; data: T; how: string; seconds: number }
  | { status: "missing" | "failed"; reason: string };

/** One row of the summary table. */
interface Figure {
  group: string;
  name: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
  /** true: pass, false: fail, null: no target or not measured. */
  pass: boolean | null;
}

function _arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** "16,000 RS256, 12,000 ES256 and 40,000 EdDSA" (older `--json` outputs hold one number). */
function _tokensPerRun(perRun: number | Record<string, number> | undefined): string {
  if (perRun === undefined) return "?";
  if (typeof perRun === "number") return perRun.toLocaleString("en-US");
  const parts = Object.entries(perRun).map(([alg, n]) => `${n.toLocaleString("en-US")} ${alg}`);
  return parts.length < 2 ? parts.join("") : `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

function _path(relative: string): string {
  return new URL(relative, ROOT).pathname;
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function _command(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT.pathname,
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(SUBPROCESS_TIMEOUT_MS),
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The last JSON object in `text`: the whole text, or from the last line that starts with `{`. */
function _lastJson(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    const lines = trimmed.split("\n");
    for (let i = lines.length - 1; i >= 0; i--) {
      if (!lines[i].startsWith("{")) continue;
      try {
        return JSON.parse(lines.slice(i).join("\n"));
      } catch {
        // keep looking further up
      }
    }
  }
  throw new Error("no JSON object in the output");
}

function _tail(text: string, lines = 6): string {
  return text.trim().split("\n").slice(-lines).join(" / ").slice(0, 600);
}

/** Runs another helper's benchmark file, whatever its shape (exported function, Deno.bench file, or script). */
async function _runExternal(
  relative: string,
  exportName: string,
  args: (source: string) => string[] = () => [],
): Promise<Outcome<unknown>> {
  const path = _path(relative);
  if (!(await _exists(path))) return { status: "missing", reason: `${relative} does not exist` };
  const source = await Deno.readTextFile(path);
  const started = performance.now();
  const seconds = (): number => round((performance.now() - started) / 1000, 1);
  try {
    if (new RegExp(`export\\s+(async\\s+)?function\\s+${exportName}\\b`).test(source)) {
      const module = await import(new URL(relative, ROOT).href) as Record<string, () => Promise<unknown>>;
      const data = await module[exportName]();
      return { status: "ok", data, how: `imported ${exportName}()`, seconds: seconds() };
    }
    if (/Deno\.bench\s*\(/.test(source)) {
      const out = await _command(Deno.execPath(), ["bench", "-A", "--json", relative]);
      if (out.code !== 0) {
        return { status: "failed", reason: `deno bench exited ${out.code}: ${_tail(out.stderr)}` };
      }
      return { status: "ok", data: _lastJson(out.stdout), how: "deno bench --json", seconds: seconds() };
    }
    const jsonFile = await Deno.makeTempFile({ suffix: ".json" });
    try {
      const extra = args(source);
      const out = await _command(Deno.execPath(), ["run", "-A", relative, ...extra, `--json=${jsonFile}`]);
      if (out.code !== 0) {
        return { status: "failed", reason: `exited ${out.code}: ${_tail(out.stderr || out.stdout)}` };
      }
      const written = (await Deno.readTextFile(jsonFile)).trim();
      const data = written.length > 0 ? JSON.parse(written) : _lastJson(out.stdout);
      return {
        status: "ok",
        data,
        how: `deno run -A ${[relative, ...extra].join(" ")} (subprocess)`,
        seconds: seconds(),
      };
    } finally {
      await Deno.remove(jsonFile).catch(() => {});
    }
  } catch (error) {
    return { status: "failed", reason: String(error instanceof Error ? error.message : error) };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading other benches' JSON without trusting its shape.

function _get(data: unknown, ...path: (string | number)[]): unknown {
  let value: unknown = data;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

function _num(data: unknown, ...path: (string | number)[]): number | undefined {
  const value = _get(data, ...path);
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function _fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function _notMeasured(group: string, name: string, target: string, why: string): Figure {
  return { group, name, value: `not measured (${why})`, baseline: "—", ratio: "—", target, pass: null };
}

// ---------------------------------------------------------------------------------------------------------------
// Figures.

function _authFigures(outcome: Outcome<unknown>): Figure[] {
  const group = "IdP token validation";
  const repeatTarget = "≥ 10× `verifyWithJwks`";
  const freshTarget = "≤ 1.5× raw `crypto.subtle.verify`";
  if (outcome.status !== "ok") {
    return [
      _notMeasured(group, "`authenticate()` on a repeated token", repeatTarget, outcome.reason),
      _notMeasured(group, "`authenticate()` on a fresh token", freshTarget, outcome.reason),
    ];
  }
  const results = _get(outcome.data, "results");
  const list = Array.isArray(results) ? results : [];
  if (list.length === 0) {
    return [_notMeasured(group, "every case", repeatTarget, "no `results` array in the auth bench output")];
  }
  const figures: Figure[] = [];
  for (const r of list) {
    const alg = String(_get(r, "alg") ?? "?");
    const ops = (c: string) => _num(r, "cases", c, "opsPerSecond");
    const micros = (c: string) => _num(r, "cases", c, "meanMicros");
    const repeat = (name: string, ours: string, base: string, baseLabel: string, target: string | null) => {
      const o = ops(ours);
      const b = ops(base);
      if (o === undefined || b === undefined) {
        figures.push(
          _notMeasured(group, `${alg}: ${name}`, target ?? "—", `no ${ours}/${base} in the output`),
        );
        return;
      }
      const ratio = o / b;
      figures.push({
        group,
        name: `${alg}: ${name}`,
        value: `${_fmt(o)} /s`,
        baseline: `${_fmt(b)} /s (${baseLabel})`,
        ratio: `${_fmt(ratio, 2)}×`,
        target: target ?? "— (information)",
        pass: target === null ? null : ratio >= 10,
      });
    };
    const fresh = (name: string, ours: string, target: string | null) => {
      const o = micros(ours);
      const b = micros("rawSubtleVerify");
      if (o === undefined || b === undefined) {
        figures.push(_notMeasured(group, `${alg}: ${name}`, target ?? "—", `no ${ours}/rawSubtleVerify`));
        return;
      }
      const ratio = o / b;
      figures.push({
        group,
        name: `${alg}: ${name}`,
        value: `${_fmt(o, 1)} µs/op`,
        baseline: `${_fmt(b, 1)} µs/op (raw verify)`,
        ratio: `${_fmt(ratio, 2)}×`,
        target: target ?? "— (information)",
        pass: target === null ? null : ratio <= 1.5,
      });
    };
    repeat(
      "`authenticate()` in a Hono app, repeated token",
      "authenticateMemoHit",
      "honoVerifyWithJwks",
      "`verifyWithJwks`",
      repeatTarget,
    );
    repeat(
      "`authenticate()` in a Hono app, repeated token, vs Hono's `jwk` middleware in the same app",
      "authenticateMemoHit",
      "honoJwkMiddleware",
      "Hono `jwk`",
      null,
    );
    fresh("`authenticate()` in a Hono app, fresh token", "authenticateFresh", freshTarget);
    fresh("verifier alone (`verify()`), fresh token", "verifierFresh", null);
    const cpu = _num(r, "cases", "authenticateFresh", "cpuMicros");
    const cpuRaw = _num(r, "cases", "rawSubtleVerify", "cpuMicros");
    if (cpu !== undefined && cpuRaw !== undefined) {
      figures.push({
        group,
        name: `${alg}: \`authenticate()\` in a Hono app, fresh token, process CPU time per call`,
        value: `${_fmt(cpu, 1)} µs CPU/op`,
        baseline: `${_fmt(cpuRaw, 1)} µs CPU/op (raw verify)`,
        ratio: `${_fmt(cpu / cpuRaw, 2)}×`,
        target: "— (information: steadier than wall time on a busy machine)",
        pass: null,
      });
    }
  }
  return figures;
}

function _credentialsFigures(outcome: Outcome<CredentialsBenchResult>): Figure[] {
  const group = "`/credentials` and the token cache";
  if (outcome.status !== "ok") {
    return [
      _notMeasured(group, "warm vs uncached", "—", outcome.reason),
      _notMeasured(group, "cold burst", "exactly 1 ArcGIS token call", outcome.reason),
    ];
  }
  const figures: Figure[] = [];
  for (const level of outcome.data.levels) {
    figures.push({
      group,
      name: `\`/credentials\` warm cache, ${level.concurrency} in flight`,
      value: `${
        _fmt(level.warm.rps)
      } /s (p50 ${level.warm.p50Ms} ms, ${level.warmArcgisCallsPerRequest} ArcGIS calls/req)`,
      baseline: `${_fmt(level.noCache.rps)} /s cache disabled (p50 ${level.noCache.p50Ms} ms, ` +
        `${level.noCacheArcgisCallsPerRequest} ArcGIS calls/req)`,
      ratio: `${_fmt(level.warmOverNoCache, 1)}×`,
      target: "— (figures only)",
      pass: null,
    });
  }
  const proxy = outcome.data.proxyWarm;
  figures.push({
    group,
    name: "ArcGIS token calls per proxied request once warm (full broker, fake ArcGIS log)",
    value: `${proxy.arcgisTokenCalls} token calls / ${proxy.requests} proxied requests (${proxy.ok} × 200)`,
    baseline: `${proxy.serviceRequests} service requests reached ArcGIS`,
    ratio: `${proxy.tokenCallsPerRequest} per request`,
    target: "0",
    pass: proxy.arcgisTokenCalls === 0 && proxy.ok === proxy.requests,
  });
  for (const burst of outcome.data.coldBursts) {
    const calls = Object.entries(burst.tokenCalls).map(([kind, n]) => `${kind}: ${n}`).join(", ");
    figures.push({
      group,
      name: `cold burst, ${burst.scenario}`,
      value: calls,
      baseline:
        `${burst.requests} concurrent requests, ${burst.ok} × 200, ${burst.distinctPortalTokens} distinct token(s)`,
      ratio: "—",
      target: "exactly 1 call per token, per isolate",
      pass: burst.pass,
    });
  }
  return figures;
}

function _proxyFigures(outcome: Outcome<unknown>): Figure[] {
  const group = "Proxy";
  if (outcome.status !== "ok") {
    return [
      _notMeasured(group, "(c) ours vs (b) bare, small JSON", "≥ 0.8× (b), ≤ +0.5 ms p50", outcome.reason),
      _notMeasured(group, "memory while streaming 200 MB", "flat", outcome.reason),
    ];
  }
  const d = outcome.data;
  // (c) of the issue is "our proxy with a valid IdP token": the whole broker when the bench measures it
  // (`broker`), else the proxy handler alone (`ours`). The other one is shown for information.
  const hasBroker = _get(d, "small", "broker") !== undefined;
  const variants = [
    { key: "broker", label: "(c) whole broker, IdP bearer verified", judged: true },
    {
      key: "ours",
      label: hasBroker ? "proxy handler alone (no IdP check)" : "(c) proxy handler",
      judged: !hasBroker,
    },
  ].filter((v) => _get(d, "small", v.key) !== undefined);
  const figures: Figure[] = [];
  for (const kind of ["small", "tile"] as const) {
    const label = kind === "small" ? "small JSON" : "1 MB tile";
    const bare = _num(d, kind, "bare", "throughputRps");
    const direct = _num(d, kind, "direct", "throughputRps");
    const p50Bare = _num(d, kind, "bare", "p50Ms");
    const p99Bare = _num(d, kind, "bare", "p99Ms");
    if (bare === undefined || variants.length === 0) {
      figures.push(
        _notMeasured(group, `${label}: throughput`, "≥ 0.8× (b)", `no ${kind} figures in the output`),
      );
      continue;
    }
    for (const v of variants) {
      const rps = _num(d, kind, v.key, "throughputRps");
      const p50 = _num(d, kind, v.key, "p50Ms");
      const p99 = _num(d, kind, v.key, "p99Ms");
      if (rps === undefined) continue;
      figures.push({
        group,
        name: `${label}: throughput, ${v.label} vs (b) bare pass-through`,
        value: `${_fmt(rps)} /s`,
        baseline: `${_fmt(bare)} /s (b)`,
        ratio: `${_fmt(rps / bare, 2)}×`,
        target: v.judged ? "≥ 0.8× (b)" : "— (information)",
        pass: v.judged ? rps / bare >= 0.8 : null,
      });
      if (direct !== undefined) {
        figures.push({
          group,
          name: `${label}: throughput, ${v.label} vs (a) direct`,
          value: `${_fmt(rps)} /s`,
          baseline: `${_fmt(direct)} /s (a); (b)/(a) = ${_fmt(bare / direct, 2)}×`,
          ratio: `${_fmt(rps / direct, 2)}×`,
          target: "— (information)",
          pass: null,
        });
      }
      // The added-latency target is judged on requests sent one at a time when the bench measures them (the
      // latency a request pays); under 16 in flight the p50 is mostly queueing, so it is shown for information.
      const serial = _num(d, kind, v.key, "serialP50Ms");
      const serialBare = _num(d, kind, "bare", "serialP50Ms");
      const latencyRows: {
        mode: string;
        p50: number;
        p99?: number;
        p50b: number;
        p99b?: number;
        judged: boolean;
      }[] = [];
      const hasSerial = serial !== undefined && serialBare !== undefined;
      if (hasSerial) {
        latencyRows.push({
          mode: "one request at a time",
          p50: serial,
          p99: _num(d, kind, v.key, "serialP99Ms"),
          p50b: serialBare,
          p99b: _num(d, kind, "bare", "serialP99Ms"),
          judged: true,
        });
      }
      if (p50 !== undefined && p50Bare !== undefined) {
        latencyRows.push({
          mode: "16 in flight",
          p50,
          ...(p99 === undefined ? {} : { p99 }),
          p50b: p50Bare,
          ...(p99Bare === undefined ? {} : { p99b: p99Bare }),
          judged: !hasSerial,
        });
      }
      for (const row of latencyRows) {
        const added = row.p50 - row.p50b;
        const judged = v.judged && kind === "small" && row.judged;
        const ms = (n: number | undefined) => (n === undefined ? "?" : _fmt(n, 3));
        figures.push({
          group,
          name: `${label}: latency ${row.mode}, ${v.label} vs (b)`,
          value: `p50 ${ms(row.p50)} ms, p99 ${ms(row.p99)} ms`,
          baseline: `p50 ${ms(row.p50b)} ms, p99 ${ms(row.p99b)} ms (b)`,
          ratio: `${added >= 0 ? "+" : ""}${_fmt(added, 3)} ms at p50`,
          target: judged ? "≤ +0.5 ms at p50" : "— (information)",
          pass: judged ? added <= 0.5 : null,
        });
      }
    }
  }
  const arcgisCalls = _num(d, "brokerArcgisTokenCallsPerRequest");
  if (arcgisCalls !== undefined) {
    figures.push({
      group,
      name: "ArcGIS token calls per proxied request once warm, whole broker (upstream's count)",
      value: String(arcgisCalls),
      baseline: "—",
      ratio: "—",
      target: "0",
      pass: arcgisCalls === 0,
    });
  }
  const calls = _num(d, "tokenFunctionCallsPerRequest");
  if (calls !== undefined) {
    figures.push({
      group,
      name:
        "token-function calls per proxied request, proxy handler alone (a cached token; not ArcGIS calls)",
      value: String(calls),
      baseline: "—",
      ratio: "—",
      target: "— (information)",
      pass: null,
    });
  }
  const grownBare = _num(d, "stream", "bare", "rssMaxMinusMinMB");
  let streamFigures = 0;
  for (const v of variants) {
    const grown = _num(d, "stream", v.key, "rssMaxMinusMinMB");
    const streamed = _num(d, "stream", v.key, "streamedMB");
    if (grown === undefined) continue;
    streamFigures++;
    figures.push({
      group,
      name: `RSS growth while streaming ${streamed ?? "?"} MB, ${v.label}`,
      value: `+${_fmt(grown, 1)} MB`,
      baseline: grownBare === undefined ? "—" : `+${_fmt(grownBare, 1)} MB through (b)`,
      ratio: streamed === undefined ? "—" : `${_fmt(grown / streamed, 2)} MB per MB streamed`,
      target: `flat: < ${STREAM_GROWTH_LIMIT_MB} MB growth`,
      pass: grown < STREAM_GROWTH_LIMIT_MB,
    });
  }
  if (streamFigures === 0) {
    figures.push(
      _notMeasured(group, "memory while streaming 200 MB", "flat", "no stream figures in the output"),
    );
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------------------------
// The figures that count: real servers, real HTTP, wrk.

const TARGET = {
  smallRps: 0.9,
  smallP50Ms: 0.3,
  tileRps: 0.95,
  freshRatio: 1.25,
  workerdRps: 0.8,
} as const;

function _httpFigures(outcome: Outcome<HttpBenchResult>): Figure[] {
  const proxyGroup = "Proxy over HTTP on Deno (wrk)";
  const freshGroup = "Fresh IdP token over HTTP on Deno (wrk)";
  if (outcome.status !== "ok") {
    return [
      _notMeasured(proxyGroup, "every proxy figure", `≥ ${TARGET.smallRps}× (b)`, outcome.reason),
      _notMeasured(
        freshGroup,
        "every fresh-token figure",
        `≤ ${TARGET.freshRatio}× raw verify`,
        outcome.reason,
      ),
    ];
  }
  const d = outcome.data;
  const figures: Figure[] = [];
  const ms = (n: number) => `${_fmt(n, 3)} ms`;
  if (d.proxy !== undefined) {
    for (const kind of ["small", "tile"] as const) {
      const k = d.proxy[kind];
      const label = kind === "small" ? "small JSON" : "1 MB tile";
      const m = k.medians;
      const rpsTarget = kind === "small" ? TARGET.smallRps : TARGET.tileRps;
      figures.push({
        group: proxyGroup,
        name: `${label}: throughput, (c) whole broker vs (b) bare pass-through`,
        value: `${_fmt(m.broker.rps)} /s`,
        baseline: `${_fmt(m.bare.rps)} /s (b)`,
        ratio: `${_fmt(k.brokerOverBareRps, 2)}×`,
        target: `≥ ${rpsTarget}× (b)`,
        pass: k.brokerOverBareRps >= rpsTarget,
      });
      figures.push({
        group: proxyGroup,
        name: `${label}: latency under load (8 connections), (c) vs (b)`,
        value: `p50 ${ms(m.broker.p50Ms)}, p99 ${ms(m.broker.p99Ms)}`,
        baseline: `p50 ${ms(m.bare.p50Ms)}, p99 ${ms(m.bare.p99Ms)} (b)`,
        ratio: `${k.brokerMinusBareP50Ms >= 0 ? "+" : ""}${_fmt(k.brokerMinusBareP50Ms, 3)} ms at p50`,
        target: kind === "small" ? `≤ +${TARGET.smallP50Ms} ms at p50` : "— (information)",
        pass: kind === "small" ? k.brokerMinusBareP50Ms <= TARGET.smallP50Ms : null,
      });
      figures.push({
        group: proxyGroup,
        name: `${label}: CPU time of the proxy's process per request, (c) vs (b)`,
        value: `${_fmt(m.broker.cpuMsPerRequest * 1000, 0)} µs`,
        baseline: `${_fmt(m.bare.cpuMsPerRequest * 1000, 0)} µs (b)`,
        ratio: `${_fmt(k.brokerOverBareCpu, 2)}×`,
        target: "— (information: steadier than throughput on a busy machine)",
        pass: null,
      });
      if (k.floorOverBareRps !== undefined && m.floor !== undefined) {
        figures.push({
          group: proxyGroup,
          name: `${label}: throughput, (f) floor (ArcGIS's contract alone) vs (b) bare pass-through`,
          value: `${_fmt(m.floor.rps)} /s (f), CPU ${_fmt(m.floor.cpuMsPerRequest * 1000, 0)} µs a request`,
          baseline: `${_fmt(m.bare.rps)} /s (b), CPU ${_fmt(m.bare.cpuMsPerRequest * 1000, 0)} µs`,
          ratio: `${_fmt(k.floorOverBareRps, 2)}× (CPU ${_fmt(k.floorOverBareCpu, 2)}×)`,
          target: "— (information: the best any token-injecting proxy can do on this runtime)",
          pass: null,
        });
      }
      figures.push({
        group: proxyGroup,
        name: `${label}: throughput, (b) bare pass-through vs (a) direct to the upstream`,
        value: `${_fmt(m.bare.rps)} /s (b)`,
        baseline: `${_fmt(m.direct.rps)} /s (a)`,
        ratio: `${_fmt(k.bareOverDirectRps, 2)}×`,
        target: "— (information: what any proxy on this runtime costs)",
        pass: null,
      });
    }
    figures.push({
      group: proxyGroup,
      name: "ArcGIS token calls per proxied request once warm (the upstream's count)",
      value: _fmt(d.proxy.arcgisTokenCallsPerRequest, 4),
      baseline: "—",
      ratio: "—",
      target: "0",
      pass: d.proxy.arcgisTokenCallsPerRequest === 0,
    });
    if (d.proxy.jwksFetches !== undefined) {
      figures.push({
        group: proxyGroup,
        name: "IdP JWKS fetches while the broker served the measured proxy runs (one bearer, reused)",
        value: `${d.proxy.jwksFetches} fetches`,
        baseline: `${_fmt(d.proxy.brokerRequests)} broker requests`,
        ratio: "—",
        target: "— (information)",
        pass: null,
      });
    }
  }
  if (d.streamError !== undefined) {
    figures.push(_notMeasured(proxyGroup, "memory while streaming", "flat", d.streamError));
  }
  if (d.stream !== undefined) {
    const s = d.stream;
    figures.push({
      group: proxyGroup,
      name: `RSS growth of the proxy's process while streaming ${s.broker.streamedMB} MB, (c)`,
      value: `+${_fmt(s.broker.rssGrowthMB, 1)} MB (from ${_fmt(s.broker.rssStartMB, 0)} MB)`,
      baseline: `+${_fmt(s.bare.rssGrowthMB, 1)} MB (b)`,
      ratio: `${_fmt(s.broker.rssGrowthMB / s.broker.streamedMB, 3)} MB per MB streamed`,
      target: `flat: < ${STREAM_GROWTH_LIMIT_MB} MB growth`,
      pass: s.broker.rssGrowthMB < STREAM_GROWTH_LIMIT_MB,
    });
  }
  if (d.fresh !== undefined) {
    for (const [alg, a] of Object.entries(d.fresh.algs)) {
      const added = a.cpuUs.auth - a.cpuUs.none;
      const raw = a.cpuUs.raw - a.cpuUs.none;
      figures.push({
        group: freshGroup,
        name:
          `${alg}: \`authenticate()\` on a never-seen token, CPU per request over the same route without auth`,
        value: `+${_fmt(added, 1)} µs (${_fmt(a.cpuUs.auth, 1)} − ${_fmt(a.cpuUs.none, 1)})`,
        baseline: `+${_fmt(raw, 1)} µs raw \`crypto.subtle.verify\` (${_fmt(a.cpuUs.raw, 1)} − ${
          _fmt(a.cpuUs.none, 1)
        })`,
        ratio: `${_fmt(a.ratio, 2)}×`,
        target: `≤ ${TARGET.freshRatio}× raw verify`,
        pass: a.ratio <= TARGET.freshRatio,
      });
    }
  }
  return figures;
}

function _workerdFigures(outcome: Outcome<WorkerdBenchResult>): Figure[] {
  const group = "workerd (`wrangler dev`, local) (wrk)";
  if (outcome.status !== "ok") {
    return [
      _notMeasured(group, "every workerd figure", `≥ ${TARGET.workerdRps}× the bare Worker`, outcome.reason),
    ];
  }
  const d = outcome.data;
  const p = d.proxy;
  const c = d.credentials;
  const ms = (n: number) => `${_fmt(n, 3)} ms`;
  const cpu = (n: number) => `${_fmt(n * 1000, 0)} µs CPU/request`;
  return [
    {
      group,
      name: "warm proxied request (small JSON): throughput, broker's Worker vs the bare pass-through Worker",
      value: `${_fmt(p.medians.broker.rps)} /s`,
      baseline: `${_fmt(p.medians.bare.rps)} /s (bare Worker); direct ${_fmt(p.medians.direct.rps)} /s`,
      ratio: `${_fmt(p.brokerOverBareRps, 2)}×`,
      target: `≥ ${TARGET.workerdRps}× (bare Worker)`,
      pass: p.brokerOverBareRps >= TARGET.workerdRps,
    },
    {
      group,
      name: "warm proxied request: workerd CPU time per request",
      value: cpu(p.medians.broker.workerdCpuMsPerRequest),
      baseline: cpu(p.medians.bare.workerdCpuMsPerRequest) + " (bare Worker)",
      ratio: `${_fmt(p.brokerOverBareCpu, 2)}×`,
      target: "— (information: Workers bill CPU time)",
      pass: null,
    },
    {
      group,
      name: "warm proxied request: latency under load (8 connections)",
      value: `p50 ${ms(p.medians.broker.p50Ms)}, p99 ${ms(p.medians.broker.p99Ms)}`,
      baseline: `p50 ${ms(p.medians.bare.p50Ms)}, p99 ${ms(p.medians.bare.p99Ms)} (bare Worker)`,
      ratio: `${p.brokerMinusBareP50Ms >= 0 ? "+" : ""}${_fmt(p.brokerMinusBareP50Ms, 3)} ms at p50`,
      target: "— (information)",
      pass: null,
    },
    {
      group,
      name:
        "warm `/credentials`: throughput, broker's Worker vs the bare Worker answering a small JSON itself",
      value: `${_fmt(c.medians.credentials.rps)} /s`,
      baseline: `${_fmt(c.medians.bareJson.rps)} /s (bare Worker)`,
      ratio: `${_fmt(c.credentialsOverBareRps, 2)}×`,
      target: "— (information)",
      pass: null,
    },
    {
      group,
      name: "warm `/credentials`: workerd CPU time per request",
      value: cpu(c.medians.credentials.workerdCpuMsPerRequest),
      baseline: cpu(c.medians.bareJson.workerdCpuMsPerRequest) + " (bare Worker)",
      ratio: `${_fmt(c.credentialsOverBareCpu, 2)}×`,
      target: "— (information: Workers bill CPU time)",
      pass: null,
    },
  ];
}

/** Figures of the in-process benches: kept for information only (they measure without a real HTTP client). */
function _informationOnly(figures: Figure[], group: string): Figure[] {
  return figures.map((f) => ({
    ...f,
    group,
    target: f.target.startsWith("—") ? f.target : `— (information; was ${f.target})`,
    pass: null,
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// The Workers bundle.

interface BundleResult {
  file: string;
  rawBytes: number;
  gzipBytes: number;
  minifiedRawBytes?: number;
  minifiedGzipBytes?: number;
  /** Largest contributors to the bundle as configured (bytes in the output, before gzip), from esbuild's metafile. */
  topInputs: { input: string; bytes: number }[];
  wranglerSays?: string;
}

async function _gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

async function _wranglerBuild(
  minify: boolean,
): Promise<{ js: Uint8Array<ArrayBuffer>; file: string; meta: unknown; says?: string }> {
  const outdir = await Deno.makeTempDir({ prefix: "atb-bundle-" });
  try {
    const args = ["wrangler", "deploy", "--dry-run", "--outdir", outdir, "--metafile"];
    if (minify) args.push("--minify");
    const out = await _command("npx", args, { WRANGLER_SEND_METRICS: "false", CI: "1" });
    if (out.code !== 0) throw new Error(`wrangler exited ${out.code}: ${_tail(out.stderr || out.stdout)}`);
    const files = [];
    for await (const entry of Deno.readDir(outdir)) {
      if (entry.isFile && /\.m?js$/.test(entry.name)) files.push(entry.name);
    }
    if (files.length !== 1) {
      throw new Error(`expected one JS file in the wrangler output, found ${files.length}`);
    }
    const js = await Deno.readFile(`${outdir}/${files[0]}`);
    const metaPath = `${outdir}/bundle-meta.json`;
    const meta = (await _exists(metaPath)) ? JSON.parse(await Deno.readTextFile(metaPath)) : undefined;
    const says = /Total Upload:[^\n]*/.exec(out.stdout)?.[0];
    return { js, file: files[0], meta, ...(says === undefined ? {} : { says }) };
  } finally {
    await Deno.remove(outdir, { recursive: true }).catch(() => {});
  }
}

function _topInputs(meta: unknown, file: string): { input: string; bytes: number }[] {
  const outputs = _get(meta, "outputs");
  if (outputs === null || typeof outputs !== "object") return [];
  const entry = Object.entries(outputs as Record<string, unknown>).find(([name]) =>
    name.endsWith(`/${file}`)
  );
  const inputs = _get(entry?.[1], "inputs");
  if (inputs === null || typeof inputs !== "object") return [];
  const byPackage = new Map<string, number>();
  for (const [input, info] of Object.entries(inputs as Record<string, unknown>)) {
    const bytes = _num(info, "bytesInOutput") ?? 0;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
    const key = pkg === undefined ? input.replace(/^(\.\.\/)+/, "") : `npm:${pkg}`;
    byPackage.set(key, (byPackage.get(key) ?? 0) + bytes);
  }
  return [...byPackage].map(([input, bytes]) => ({ input, bytes })).sort((a, b) => b.bytes - a.bytes).slice(
    0,
    8,
  );
}

async function _runBundle(): Promise<Outcome<BundleResult>> {
  if (!(await _exists(_path("wrangler.toml")))) return { status: "missing", reason: "no wrangler.toml" };
  const started = performance.now();
  try {
    const built = await _wranglerBuild(false);
    const result: BundleResult = {
      file: built.file,
      rawBytes: built.js.byteLength,
      gzipBytes: await _gzipSize(built.js),
      topInputs: _topInputs(built.meta, built.file),
      ...(built.says === undefined ? {} : { wranglerSays: built.says }),
    };
    try {
      const minified = await _wranglerBuild(true);
      result.minifiedRawBytes = minified.js.byteLength;
      result.minifiedGzipBytes = await _gzipSize(minified.js);
    } catch {
      // the minified build is information only
    }
    return { status: "ok", data: result, how: "npx wrangler deploy --dry-run", seconds: _since(started) };
  } catch (error) {
    return { status: "failed", reason: String(error instanceof Error ? error.message : error) };
  }
}

function _bundleFigures(outcome: Outcome<BundleResult>): Figure[] {
  const group = "Cloudflare Workers bundle";
  const target = "< 100 KB gzipped";
  if (outcome.status !== "ok") return [_notMeasured(group, "bundle size", target, outcome.reason)];
  const b = outcome.data;
  const kb = (n: number) => `${_fmt(n / 1024, 1)} KB`;
  const figures: Figure[] = [{
    group,
    name: "`wrangler deploy --dry-run` bundle as configured, gzipped",
    value: `${_fmt(b.gzipBytes)} B (${kb(b.gzipBytes)})`,
    baseline: `${_fmt(b.rawBytes)} B raw (${kb(b.rawBytes)})`,
    ratio: `${_fmt(b.gzipBytes / BUNDLE_TARGET_BYTES, 2)}× the target`,
    target,
    pass: b.gzipBytes < BUNDLE_TARGET_BYTES,
  }];
  // Shown only when it differs: when wrangler.toml already says `minify = true`, the two builds are the same.
  if (
    b.minifiedGzipBytes !== undefined && b.minifiedRawBytes !== undefined && b.minifiedRawBytes !== b.rawBytes
  ) {
    figures.push({
      group,
      name: "same with `--minify` (information: `minify = true` in wrangler.toml)",
      value: `${_fmt(b.minifiedGzipBytes)} B (${kb(b.minifiedGzipBytes)})`,
      baseline: `${_fmt(b.minifiedRawBytes)} B raw (${kb(b.minifiedRawBytes)})`,
      ratio: `${_fmt(b.minifiedGzipBytes / BUNDLE_TARGET_BYTES, 2)}× the target`,
      target,
      pass: null,
    });
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------------------------

async function _commit(): Promise<string> {
  try {
    const out = await _command("git", ["log", "-1", "--format=%h %s"]);
    return out.stdout.trim();
  } catch {
    return "unknown";
  }
}

function _since(startedMs: number): number {
  return round((performance.now() - startedMs) / 1000, 1);
}

async function _machine(): Promise<Record<string, string>> {
  const read = async (path: string): Promise<string> => await Deno.readTextFile(path).catch(() => "");
  let nproc = String(navigator.hardwareConcurrency);
  try {
    const out = await _command("nproc", []);
    if (out.code === 0) nproc = out.stdout.trim();
  } catch {
    // navigator.hardwareConcurrency stays
  }
  const cpu = /model name\s*:\s*(.+)/.exec(await read("/proc/cpuinfo"))?.[1] ?? "unknown";
  const memKb = Number(/MemTotal:\s*(\d+)/.exec(await read("/proc/meminfo"))?.[1] ?? NaN);
  return {
    date: new Date().toISOString(),
    nproc,
    cpu,
    memory: Number.isFinite(memKb) ? `${_fmt(memKb / 1024 / 1024, 1)} GiB` : "unknown",
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`,
    os: `${Deno.build.os}/${Deno.build.arch}`,
    loadAverage: (await read("/proc/loadavg")).split(" ").slice(0, 3).join(" ") || "unknown",
  };
}

function _cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function _verdict(pass: boolean | null): string {
  return pass === null ? "—" : pass ? "✅ pass" : "❌ fail";
}

function _how(outcome: Outcome<unknown>): string {
  return outcome.status === "ok"
    ? `${outcome.how}, ${outcome.seconds} s`
    : `${outcome.status === "missing" ? "missing" : "failed"}: ${outcome.reason}`;
}

interface Runs {
  http: Outcome<HttpBenchResult>;
  workerd: Outcome<WorkerdBenchResult>;
  auth: Outcome<unknown>;
  credentials: Outcome<CredentialsBenchResult>;
  proxy: Outcome<unknown>;
  bundle: Outcome<BundleResult>;
}

function _figures(runs: Runs): Figure[] {
  return [
    ..._httpFigures(runs.http),
    ..._workerdFigures(runs.workerd),
    ..._credentialsFigures(runs.credentials),
    ..._bundleFigures(runs.bundle),
    ..._informationOnly(_authFigures(runs.auth), "In-process, for information: IdP token validation"),
    ..._informationOnly(_proxyFigures(runs.proxy), "In-process, for information: proxy"),
  ];
}

/** An earlier run kept with `--json` (`bench/results/*.json`), shown beside each figure. */
interface Earlier {
  label: string;
  figures: Map<string, Figure>;
}

async function _earlier(path: string): Promise<Earlier | undefined> {
  let data: unknown;
  try {
    data = JSON.parse(await Deno.readTextFile(path));
  } catch {
    return undefined;
  }
  const runs = _get(data, "runs") as Partial<Runs> | undefined;
  if (runs === undefined) return undefined;
  const missing = { status: "missing", reason: "not in the earlier run" } as const;
  const full: Runs = {
    http: runs.http ?? missing,
    workerd: runs.workerd ?? missing,
    auth: runs.auth ?? missing,
    credentials: runs.credentials ?? missing,
    proxy: runs.proxy ?? missing,
    bundle: runs.bundle ?? missing,
  };
  const commit = String(_get(data, "commit") ?? "?").split(" ")[0];
  const load = String(_get(data, "machine", "loadAverage") ?? "?").split(" ")[0];
  return {
    label: `\`${commit}\` (load ${load})`,
    figures: new Map(_figures(full).map((f) => [`${f.group}|${f.name}`, f])),
  };
}

function _markdown(
  machine: Record<string, string>,
  loadAfter: string,
  totalSeconds: number,
  runs: Runs,
  earlier?: Earlier,
): string {
  const figures = _figures(runs);
  const withTarget = figures.filter((f) => f.pass !== null);
  const passed = withTarget.filter((f) => f.pass === true).length;
  const unmeasured = figures.filter((f) => f.value.startsWith("not measured")).length;
  const out: string[] = [];
  out.push("# Benchmarks", "");
  out.push(
    "Generated by `npm run bench` (`bench/run.ts`); do not edit by hand. One run, on one machine: every",
    "baseline below was measured in the same run as the figure it is compared with (interleaved where the bench",
    "says so), so the ratios are the figures to read; absolute rates depend on the machine and on what else it",
    "was doing.",
    "",
  );
  out.push("| machine | |", "|---|---|");
  out.push(`| date | ${machine.date} |`);
  out.push(`| CPUs (\`nproc\`) | ${machine.nproc} × ${_cell(machine.cpu)} |`);
  out.push(`| memory | ${machine.memory} |`);
  out.push(`| Deno | ${machine.deno} |`);
  out.push(`| OS | ${machine.os} |`);
  out.push(`| load average (1, 5, 15 min) at start / end | ${machine.loadAverage} / ${loadAfter} |`);
  out.push(`| whole run | ${totalSeconds} s |`);
  out.push("");
  out.push(
    `**${passed} of ${withTarget.length} figures with a target pass**` +
      (unmeasured > 0 ? `; ${unmeasured} not measured.` : "."),
    "",
  );
  for (const group of [...new Set(figures.map((f) => f.group))]) {
    out.push(`## ${group}`, "");
    const before = earlier === undefined ? "" : ` earlier run, ${earlier.label}: ratio (measured) |`;
    out.push(`| figure | measured | baseline (same run) | ratio | target | result |${before}`);
    out.push(`|---|---|---|---|---|---|${earlier === undefined ? "" : "---|"}`);
    for (const f of figures.filter((f) => f.group === group)) {
      const e = earlier?.figures.get(`${f.group}|${f.name}`);
      const then = earlier === undefined
        ? ""
        : ` ${e === undefined ? "—" : _cell(`${e.ratio} (${e.value})`)} |`;
      out.push(
        `| ${_cell(f.name)} | ${_cell(f.value)} | ${_cell(f.baseline)} | ${_cell(f.ratio)} | ${
          _cell(f.target)
        } | ` +
          `${_verdict(f.pass)} |${then}`,
      );
    }
    out.push("");
  }
  out.push("## How each figure was measured", "");
  const http = runs.http.status === "ok" ? runs.http.data : undefined;
  const workerd = runs.workerd.status === "ok" ? runs.workerd.data : undefined;
  out.push(
    `- **Load generator**: ${
      http?.loadGenerator ?? workerd?.loadGenerator ?? "wrk (not run)"
    }; every server a`,
    "  real process on 127.0.0.1, stopped by PID. Throughput and latency are wrk's; CPU per request is the serving",
    "  process's user + system time (`/proc/<pid>/stat`) over the run divided by the requests wrk completed.",
  );
  if (earlier !== undefined) {
    out.push(
      `- **Earlier run** (last column): the same figure from ${earlier.label}, kept under \`bench/results/\`,`,
      "  measured the same way: the state before the reshaping of issue 8, for comparing before and after.",
    );
  }
  out.push(
    `- **Proxy over HTTP on Deno** (\`bench/http_bench.ts\`, ${_how(runs.http)}). ${http?.setup ?? ""}`,
    "  (a) direct to a small fake upstream (`bench/http_servers.ts`), (b) a bare pass-through proxy on the same",
    "  runtime (serve, `fetch`, stream back, nothing else), (f) the floor: (b) plus only what ArcGIS's contract forces",
    "  on any proxy that injects a token and must not relay a token error (the token in a header, a timeout, a small",
    "  body read whole and searched for a 498/499 envelope, a new response with a few filtered headers; no routing,",
    "  no caller authentication, no allowlist, no token lookup), (c) the whole broker (`createBroker()` routes on Hono,",
    "  `Deno.serve`): an ES256 IdP bearer verified on every request (the same token, as a client reuses it), the",
    "  allowlisted federated server's service, the app profile's token from the warm cache. Ratios and p50",
    "  differences are taken within a round, then the median over the rounds.",
    `  "Flat" memory: the proxy process grows by less than ${STREAM_GROWTH_LIMIT_MB} MB while the body streams`,
    "  through (a proxy that buffered it would grow by at least the body).",
  );
  out.push(
    "- **Fresh IdP token over HTTP on Deno** (same run). Three routes of the broker's process, per algorithm:",
    "  the same Hono route without authentication, a raw `crypto.subtle.verify` of the bearer's signature (key",
    "  imported once) and `broker.authenticate()`. wrk's Lua script sends each request of an `authenticate()` run a",
    "  token the broker has never seen (pre-signed by `bench/token_pool.mjs` under Node, a distinct `jti` each; a",
    `  run has ${_tokensPerRun(http?.fresh?.tokensPerRun)} tokens, more than the broker checks in the run's`,
    "  length: a run that used them up would leave the process idle for the rest of it, and that idle CPU (timers,",
    "  V8's idle-time GC) divided over fewer requests would count as token cost; such a run fails the bench), so",
    "  the memo never answers. Measured over HTTP, as CPU time of the broker's process per request:",
    "  (`authenticate()` − no auth) ÷ (raw verify − no auth), median over the rounds.",
  );
  out.push(
    `- **workerd** (\`bench/workerd_bench.ts\`, ${_how(runs.workerd)}). ${workerd?.setup ?? ""}`,
    `  ${
      workerd?.runtime ?? "wrangler dev"
    }: the bare Worker is \`bench/workers/bare_worker.ts\`; the broker's`,
    "  Worker is the repository's `wrangler.toml` entry with a `BROKER_CONFIG` for the bench's upstream and IdP.",
    "  `wrangler dev` runs workerd with its dev tooling (an entry worker, the inspector): absolute figures are",
    "  far from production Workers; the ratio to the bare Worker under the same tooling is the figure to read.",
  );
  out.push(
    `- **In-process, for information: IdP token validation** (\`bench/auth_bench.ts\`, ${_how(runs.auth)}).`,
  );
  out.push(
    '  Per algorithm, on one token: rates of sequential calls. "Repeated token" is `authenticate()` of',
    '  `createBroker()` in a Hono app with the verified-token memo on; "fresh token" is the same with the memo',
    "  off (every call parses, checks claims and verifies the signature), against a raw `crypto.subtle.verify` of",
    "  the same signature with an imported key. The Hono-app cases include Hono's routing and response cost; the",
    '  "verifier alone" row is the validation work without it.',
  );
  out.push(`- **\`/credentials\`** (\`bench/credentials_bench.ts\`, ${_how(runs.credentials)}).`);
  if (runs.credentials.status === "ok") out.push(`  ${runs.credentials.data.setup}`);
  out.push(
    '  The uncached figure is a best case for "no cache": the fake ArcGIS answers in well under a millisecond',
    "  on loopback, a real ArcGIS token call takes tens to hundreds of ms, so the real gap is much larger.",
    "  Cold bursts: a fresh broker (a new isolate's caches, an empty store), 200 concurrent first requests with one",
    '  IdP token, token calls counted in the fake\'s request log; "exactly one per token" counts each distinct',
    "  token (the portal token and the federated server's token are two tokens, each fetched once).",
  );
  out.push(`- **In-process, for information: proxy** (\`bench/proxy_bench.ts\`, ${_how(runs.proxy)}).`);
  const proxyData = runs.proxy.status === "ok" ? runs.proxy.data : undefined;
  const brokerIs = _get(proxyData, "brokerIs");
  const oursIs = _get(proxyData, "oursIs");
  if (typeof brokerIs === "string") out.push(`  "Whole broker" (the issue's (c)): ${brokerIs}.`);
  if (typeof oursIs === "string") out.push(`  "Proxy handler alone": ${oursIs}.`);
  out.push(
    "  (a) direct to the upstream, (b) a bare pass-through proxy on the same runtime, (c) our proxy with a valid",
    "  IdP token; on a 2-core machine the load generator takes one core, so (c) against (b) is the measure of our",
    "  cost. Targets are judged on the whole broker when the bench measures it, else on the handler alone; the",
    "  added p50 on requests sent one at a time when the bench measures them (under 16 in flight the p50 is",
    "  mostly queueing behind the other requests, shown for information).",
    `  \"Flat\" memory: the process grows by less than ${STREAM_GROWTH_LIMIT_MB} MB while 200 MB stream through`,
    "  (a proxy that buffered the body would grow by at least the body).",
  );
  out.push(`- **Workers bundle** (${_how(runs.bundle)}).`);
  out.push(
    "  `npx wrangler deploy --dry-run --outdir <tmp>` with the repository's `wrangler.toml`, the output JS gzipped",
    '  with `CompressionStream("gzip")`. wrangler does not report the Worker\'s startup time on a dry run.',
  );
  if (runs.bundle.status === "ok") {
    if (runs.bundle.data.wranglerSays !== undefined) {
      out.push(`  wrangler: \`${runs.bundle.data.wranglerSays}\`.`);
    }
    if (runs.bundle.data.topInputs.length > 0) {
      out.push(
        "  Largest parts of the bundle as configured (bytes in the output before gzip, from esbuild's metafile):",
      );
      out.push(
        `  ${
          runs.bundle.data.topInputs.map((i) => `\`${i.input}\` ${_fmt(i.bytes / 1024, 1)} KB`).join(", ")
        }.`,
      );
    }
  }
  out.push("", "## Raw output", "");
  for (const [name, outcome] of Object.entries(runs)) {
    out.push(`<details><summary>${name}</summary>`, "", "```json");
    out.push(JSON.stringify(outcome.status === "ok" ? outcome.data : outcome, null, 2));
    out.push("```", "", "</details>", "");
  }
  return out.join("\n");
}

async function _main(): Promise<void> {
  const only = _arg("only")?.split(",");
  const wanted = (name: string) => only === undefined || only.includes(name);
  const skipped = { status: "missing", reason: "skipped (--only)" } as const;
  const outFile = _arg("out") ?? _path("BENCHMARKS.md");
  const from = _arg("from");
  if (from !== undefined) {
    // Only the rendering: BENCHMARKS.md again from a run kept with --json.
    const kept = JSON.parse(await Deno.readTextFile(from));
    await _render({ ...kept, seconds: Number(kept.seconds ?? NaN) }, outFile);
    return;
  }
  const started = performance.now();
  const machine = await _machine();
  console.error(`bench: ${machine.nproc} CPUs, Deno ${Deno.version.deno}, load ${machine.loadAverage}`);

  const step = async <T>(name: string, run: () => Promise<Outcome<T>>): Promise<Outcome<T>> => {
    if (!wanted(name)) return skipped;
    console.error(`bench: ${name}…`);
    const outcome = await run();
    console.error(`bench: ${name}: ${_how(outcome)}`);
    return outcome;
  };
  const http = await step("http", async (): Promise<Outcome<HttpBenchResult>> => {
    const t0 = performance.now();
    try {
      return { status: "ok", data: await runHttpBench(), how: "runHttpBench()", seconds: _since(t0) };
    } catch (error) {
      return { status: "failed", reason: String(error instanceof Error ? error.message : error) };
    }
  });
  const workerd = await step("workerd", async (): Promise<Outcome<WorkerdBenchResult>> => {
    const t0 = performance.now();
    try {
      return { status: "ok", data: await runWorkerdBench(), how: "runWorkerdBench()", seconds: _since(t0) };
    } catch (error) {
      return { status: "failed", reason: String(error instanceof Error ? error.message : error) };
    }
  });
  const auth = await step(
    "auth",
    () => _runExternal("bench/auth_bench.ts", "runAuthBench", () => ["--duration-ms=600", "--rounds=3"]),
  );

  const credentials = await step("credentials", async (): Promise<Outcome<CredentialsBenchResult>> => {
    const t0 = performance.now();
    try {
      return {
        status: "ok",
        data: await runCredentialsBench(),
        how: "runCredentialsBench()",
        seconds: _since(t0),
      };
    } catch (error) {
      return { status: "failed", reason: String(error instanceof Error ? error.message : error) };
    }
  });
  const proxy = await step(
    "proxy",
    () =>
      _runExternal(
        "bench/proxy_bench.ts",
        "runProxyBench",
        () => ["--rounds=1", "--small=500", "--tiles=30", "--stream-mb=50"],
      ),
  );
  const bundle = await step("bundle", _runBundle);

  const loadAfter = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3).join(
    " ",
  );
  const runs: Runs = { http, workerd, auth, credentials, proxy, bundle };
  const seconds = _since(started);
  const jsonOut = _arg("json");
  if (jsonOut !== undefined) {
    await Deno.writeTextFile(
      jsonOut,
      JSON.stringify({ machine, loadAfter, seconds, commit: await _commit(), runs }, null, 2) + "\n",
    );
  }
  await _render({ machine, loadAfter: loadAfter || "unknown", seconds, runs }, outFile);
}

/** Writes `BENCHMARKS.md` (or `outFile`) from the results of one run, and prints its summary. */
async function _render(
  run: { machine: Record<string, string>; loadAfter: string; seconds: number; runs: Runs },
  outFile: string,
): Promise<void> {
  const earlier = await _earlier(_arg("compare") ?? _path("bench/results/before-reshape-rerun.json")) ??
    await _earlier(_path("bench/results/before-reshape.json"));
  const markdown = _markdown(run.machine, run.loadAfter, run.seconds, run.runs, earlier);
  await Deno.writeTextFile(outFile, `${markdown}\n`);
  // The repository's `deno fmt --check` covers Markdown too: write the file the way the formatter wants it.
  await _command(Deno.execPath(), ["fmt", "--quiet", outFile]).catch(() => undefined);
  const summary = markdown.slice(0, markdown.indexOf("## How each")).split("\n")
    .filter((line) => /^(## |\| |\*\*)/.test(line) && !line.includes("---"));
  console.log(summary.join("\n"));
  console.error(`bench: wrote ${outFile}`);
}

if (import.meta.main) await _main();
