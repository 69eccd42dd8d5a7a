/**
 * Where the time goes: the broker's server process (`bench/http_servers.ts --role=broker`) run with `--cpu-prof`
 * while `wrk -t2 -c8` loads one of its routes, then a summary of the profile (self and inclusive time per
 * function, as a share of the busy time). The profile itself stays in `--dir` for Chrome DevTools. `bare-small`
 * profiles the bare pass-through proxy instead, for comparison.
 *
 * Run: `deno run -A bench/profile.ts [--target=small|tile|fresh-RS256|fresh-ES256|fresh-EdDSA|raw-RS256|raw-ES256|raw-EdDSA|none|bare-small]
 * [--seconds=15] [--dir=<dir>] [--top=40]`.
 *
 * @module
 */
import { cleanupWrk, ensureWrk, runWrk } from "./_wrk.ts";
import { startServer } from "./http_bench.ts";
import { AUDIENCE, issuerOf, SMALL_PATH, TILE_PATH } from "./http_servers.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self and inclusive time per function of a `.cpuprofile`, as shares of the non-idle time. */
export function summarizeProfile(
  profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] },
  top: number,
): string {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const timeOf = new Map<number, number>();
  profile.samples.forEach((id, i) => timeOf.set(id, (timeOf.get(id) ?? 0) + profile.timeDeltas[i]));
  const key = (n: ProfileNode) => {
    const file = n.callFrame.url.split("/").pop() ?? "";
    return `${n.callFrame.functionName || "(anonymous)"} ${file}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, t] of timeOf) {
    const node = nodes.get(id)!;
    total += t;
    if (node.callFrame.functionName === "(idle)") idle += t;
    self.set(key(node), (self.get(key(node)) ?? 0) + t);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const k = key(nodes.get(x)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
  }
  const busy = total - idle;
  const rows = (map: Map<string, number>) =>
    [...map].filter(([k]) => !k.startsWith("(idle)") && !k.startsWith("(root)")).sort((a, b) => b[1] - a[1])
      .slice(0, top).map(([k, t]) => `${(100 * t / busy).toFixed(1).padStart(5)}% ${k}`);
  return [
    `profiled ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s`,
    "--- self time, % of busy",
    ...rows(self),
    "--- inclusive time, % of busy",
    ...rows(inclusive),
  ].join("\n");
}

function _arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

async function _main(): Promise<void> {
  const target = _arg("target") ?? "small";
  const seconds = Number(_arg("seconds") ?? 15);
  const dir = _arg("dir") ?? await Deno.makeTempDir({ prefix: "atb-profile-" });
  await ensureWrk();
  const work = await Deno.makeTempDir({ prefix: "atb-profile-work-" });
  const poolFile = `${work}/pool.json`;
  const upstream = await startServer("upstream", [`--jwks-file=${poolFile}`]);
  let broker: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    const freshMatch = /^(fresh|raw)-(.+)$/.exec(target);
    const fresh = freshMatch?.[2];
    // Enough distinct tokens to keep the server busy for the whole run (an idle rest would dilute the profile).
    const count = fresh === undefined ? 1 : 16_000 * seconds;
    const signed = await new Deno.Command("node", {
      args: [`${ROOT}bench/token_pool.mjs`, issuerOf(upstream.origin), AUDIENCE, String(count), poolFile],
    }).output();
    if (!signed.success) throw new Error("bench/token_pool.mjs failed");
    const pool = JSON.parse(await Deno.readTextFile(poolFile)) as { tokens: Record<string, string[]> };
    broker = target === "bare-small"
      ? await startServer("bare", [], { cpuProfDir: dir })
      : await startServer("broker", [`--upstream=${upstream.origin}`, `--jwks-file=${poolFile}`], {
        cpuProfDir: dir,
      });
    const bearer = { authorization: `Bearer ${pool.tokens.ES256[0]}` };
    let url: string;
    let options: Parameters<typeof runWrk>[1] = { durationSeconds: seconds, headers: bearer };
    if (fresh !== undefined) {
      const file = `${work}/tokens.txt`;
      await Deno.writeTextFile(file, pool.tokens[fresh].join("\n") + "\n");
      url = `${broker.origin}/fresh/${freshMatch![1] === "raw" ? "raw" : "auth"}/${fresh}`;
      options = { durationSeconds: seconds, tokensFile: file, tokensOnce: true };
    } else if (target === "bare-small") {
      url = `${broker.origin}/proxy?${upstream.origin}${SMALL_PATH}`;
    } else if (target === "none") {
      url = `${broker.origin}/fresh/none/ES256`;
    } else {
      url = `${broker.origin}/arcgis/proxy?${upstream.origin}${target === "tile" ? TILE_PATH : SMALL_PATH}`;
    }
    const run = await runWrk(url, options);
    console.error(`wrk: ${run.requests} requests, ${run.rps} /s, p50 ${run.p50Ms} ms, ${run.non2xx} non-2xx`);
  } finally {
    await broker?.stop();
    await upstream.stop();
    await cleanupWrk();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile")).map((e) => e.name);
  const newest = files.sort().pop();
  if (newest === undefined) throw new Error(`No profile written in ${dir}`);
  console.log(`${dir}/${newest}`);
  console.log(
    summarizeProfile(JSON.parse(await Deno.readTextFile(`${dir}/${newest}`)), Number(_arg("top") ?? 40)),
  );
}

if (import.meta.main) await _main();
