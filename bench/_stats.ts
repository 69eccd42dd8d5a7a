/**
 * Shared helpers of the benchmarks: a bounded closed-loop load runner, percentiles and rounding.
 *
 * @module
 */

/** Options of {@link runClosedLoop}. */
export interface ClosedLoopOptions {
  /** Requests kept in flight. */
  concurrency: number;
  /** Stop after this many requests. */
  maxRequests: number;
  /** Stop starting new requests after this long, in ms. */
  maxMs: number;
  /** One request; rejects (or throws) to abort the run. */
  request: () => Promise<void>;
}

/** What one {@link runClosedLoop} measured. */
export interface LoopResult {
  /** Requests completed. */
  requests: number;
  /** Wall time, ms. */
  elapsedMs: number;
  /** Latency of each request, ms, in completion order. */
  latenciesMs: number[];
}

/** Runs `request` with `concurrency` in flight until `maxRequests` are done or `maxMs` has passed. */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoopResult> {
  const latenciesMs: number[] = [];
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + options.maxMs;
  const lane = async (): Promise<void> => {
    while (started < options.maxRequests && performance.now() < deadline) {
      started++;
      const begin = performance.now();
      await options.request();
      latenciesMs.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, lane));
  return { requests: latenciesMs.length, elapsedMs: performance.now() - t0, latenciesMs };
}

/** Summary of several {@link LoopResult}s of one variant. */
export interface LoopSummary {
  /** Requests completed in total. */
  requests: number;
  /** Requests per second over the summed wall time. */
  rps: number;
  /** Median latency, ms. */
  p50Ms: number;
  /** 99th percentile latency, ms. */
  p99Ms: number;
}

/** Sums several runs of one variant: throughput over the total time, percentiles over every latency. */
export function summarize(results: readonly LoopResult[]): LoopSummary {
  const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const elapsedMs = results.reduce((n, r) => n + r.elapsedMs, 0);
  return {
    requests,
    rps: round(requests / (elapsedMs / 1000), 0),
    p50Ms: round(percentile(latencies, 50), 3),
    p99Ms: round(percentile(latencies, 99), 3),
  };
}

/** The `p`-th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** `value` rounded to `digits` decimals. */
export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
