/**
 * What a change bought: the broker of an earlier commit (A) and of this working tree (B), each in its own
 * process against the same upstream, loaded by `wrk -t2 -c8` in alternating runs (order rotated every round) on
 * one proxied route or one fresh-token route. Reports, per side, the median over the rounds of the broker
 * process's CPU time per request (from `/proc`) and of wrk's rate, and B ÷ A of both. Alternating two processes
 * under the same conditions is much steadier than comparing two bench runs on a shared machine.
 *
 * Run: `deno run -A bench/ab.ts --base=<commit> [--target=small|tile|fresh-RS256|fresh-ES256|fresh-EdDSA]
 * [--rounds=8] [--seconds=2] [--pin]`. The base commit is checked out in a temporary git worktree (removed afterwards)
 * that shares this checkout's `node_modules`.
 *
 * @module
 */
import { cleanupWrk, cpuSeconds, ensureWrk, median, runWrk } from "./_wrk.ts";
import { startServer } from "./http_bench.ts";
import { AUDIENCE, issuerOf, SMALL_PATH, TILE_PATH } from "./http_servers.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
/** Distinct tokens per second of a fresh-token run (more than the broker checks in a second here). */
const FRESH_TOKENS_PER_SECOND = 16_000;

function _arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

async function _git(args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: ROOT, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).trim();
}

async function _main(): Promise<void> {
  const base = _arg("base");
  if (base === undefined) throw new Error("Usage: deno run -A bench/ab.ts --base=<commit> [--target=small]");
  const target = _arg("target") ?? "small";
  const rounds = Number(_arg("rounds") ?? 8);
  const seconds = Number(_arg("seconds") ?? 2);
  const fresh = /^fresh-(RS256|ES256|EdDSA)$/.exec(target)?.[1];
  if (fresh === undefined && target !== "small" && target !== "tile") {
    throw new Error(`Unknown --target=${target}`);
  }
  await ensureWrk();
  const commit = await _git(["rev-parse", "--short", base]);
  const work = await Deno.makeTempDir({ prefix: "atb-ab-" });
  const tree = `${work}/base/`;
  await _git(["worktree", "add", "--detach", tree, commit]);
  const stops: (() => Promise<void>)[] = [];
  try {
    await Deno.symlink(`${ROOT}node_modules`, `${tree}node_modules`);
    const poolFile = `${work}/pool.json`;
    // --pin: the brokers on CPU 1, the upstream and wrk on CPU 0, so that the brokers' CPU time is not stretched
    // by contention with the load generator.
    const pin = Deno.args.includes("--pin");
    const upstream = await startServer("upstream", [`--jwks-file=${poolFile}`], pin ? { cpus: "0" } : {});
    stops.push(() => upstream.stop());
    // Each round's fresh-token runs need their own never-seen tokens, for each side.
    const perRun = fresh === undefined ? 1 : FRESH_TOKENS_PER_SECOND * seconds;
    const count = fresh === undefined ? 1 : perRun * rounds * 2;
    const signed = await new Deno.Command("node", {
      args: [`${ROOT}bench/token_pool.mjs`, issuerOf(upstream.origin), AUDIENCE, String(count), poolFile],
    }).output();
    if (!signed.success) throw new Error("bench/token_pool.mjs failed");
    const pool = JSON.parse(await Deno.readTextFile(poolFile)) as { tokens: Record<string, string[]> };
    const brokerArgs = [`--upstream=${upstream.origin}`, `--jwks-file=${poolFile}`];
    const sides = {
      A: await startServer("broker", brokerArgs, { root: tree, ...(pin ? { cpus: "1" } : {}) }),
      B: await startServer("broker", brokerArgs, pin ? { cpus: "1" } : {}),
    };
    stops.push(() => sides.A.stop(), () => sides.B.stop());
    const bearer = { authorization: `Bearer ${pool.tokens.ES256[0]}` };
    const path = target === "tile" ? TILE_PATH : SMALL_PATH;
    const url = (side: "A" | "B") =>
      fresh === undefined
        ? `${sides[side].origin}/arcgis/proxy?${upstream.origin}${path}`
        : `${sides[side].origin}/fresh/auth/${fresh}`;
    let slice = 0;
    const run = async (side: "A" | "B", durationSeconds: number) => {
      const cpus = pin ? { cpus: "0" } : {};
      if (fresh === undefined) return await runWrk(url(side), { durationSeconds, headers: bearer, ...cpus });
      const file = `${work}/tokens-${slice}.txt`;
      const tokens = pool.tokens[fresh].slice(slice * perRun, (slice + 1) * perRun);
      slice++;
      await Deno.writeTextFile(file, tokens.join("\n") + "\n");
      const result = await runWrk(url(side), {
        durationSeconds,
        tokensFile: file,
        tokensOnce: true,
        ...cpus,
      });
      if (result.requests >= perRun - 16) throw new Error("A fresh-token run used up its tokens");
      return result;
    };
    if (fresh === undefined) { for (const side of ["A", "B"] as const) await run(side, 1); }
    const results = { A: [] as { cpuUs: number; rps: number }[], B: [] as { cpuUs: number; rps: number }[] };
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? ["A", "B"] as const : ["B", "A"] as const) {
        const cpu0 = cpuSeconds(sides[side].pid);
        const r = await run(side, seconds);
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${side}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        results[side].push({ cpuUs: (cpuSeconds(sides[side].pid) - cpu0) * 1e6 / r.requests, rps: r.rps });
      }
    }
    const summary = (side: "A" | "B") => ({
      cpuUs: Number(median(results[side].map((r) => r.cpuUs)).toFixed(1)),
      rps: Math.round(median(results[side].map((r) => r.rps))),
    });
    const a = summary("A");
    const b = summary("B");
    const pairs = results.A.map((r, i) => results.B[i].cpuUs / r.cpuUs);
    console.log(JSON.stringify({
      target,
      rounds,
      A: { commit, ...a },
      B: { commit: "working tree", ...b },
      cpuBOverA: Number(median(pairs).toFixed(3)),
      rpsBOverA: Number((b.rps / a.rps).toFixed(3)),
      cpuSavedUs: Number((a.cpuUs - b.cpuUs).toFixed(1)),
    }));
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await cleanupWrk();
    await _git(["worktree", "remove", "--force", tree]).catch(() => {});
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await _main();
