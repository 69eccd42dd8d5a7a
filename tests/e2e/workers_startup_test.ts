/**
 * A config that cannot work, under the real Workers runtime (`npx wrangler dev`, workerd): clients get a plain
 * 503, and the Worker's log (what `wrangler dev` and `wrangler tail` show) names the field, the problem and the
 * fix, on one line, with no stack trace and no secret.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort, stopProcessGroup } from "./_harness.ts";
import { STACK_LINE, startupCases } from "./_startup_cases.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const WRANGLER = `${ROOT}node_modules/wrangler/bin/wrangler.js`;
/** Bound on wrangler dev's start (bundling with esbuild, starting workerd). */
const READY_TIMEOUT_MS = 90_000;
/** Bound on the wait for the Worker's log line after its answer. */
const LOG_TIMEOUT_MS = 20_000;

/** Collects a child's output and lets a caller wait (bounded, without polling) until it matches a pattern. */
class OutputWatch {
  text = "";
  #waiters: Array<() => void> = [];

  push(chunk: string): void {
    this.text += chunk;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"timeout">((resolve) =>
      timer = setTimeout(() => resolve("timeout"), timeoutMs)
    );
    try {
      for (let i = 0; i < 100_000; i++) {
        const match = this.text.match(pattern);
        if (match) return match;
        const next = new Promise<"chunk">((resolve) => this.#waiters.push(() => resolve("chunk")));
        if (await Promise.race([next, expired]) === "timeout") break;
      }
      throw new Error(`No ${pattern} in ${timeoutMs} ms. Output:\n${this.text.slice(-4000)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

Deno.test({
  name:
    "the Workers entry under wrangler dev refuses a malformed keyring: a 503, and one log line with the fix",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const broken = startupCases().find((c) => c.name === "a malformed keyring")!;
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "atb-wrangler-startup-" });
  const env = Object.entries(broken.env).map(([name, value]) => `${name}='${value}'`).join("\n");
  assert.ok(!Object.values(broken.env).some((v) => v.includes("'")), "each value fits in single quotes");
  await Deno.writeTextFile(`${dir}/.env`, `${env}\n`);
  const watch = new OutputWatch();
  const child = new Deno.Command("setsid", {
    args: [
      "node",
      WRANGLER,
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(freePort()),
      "--persist-to",
      `${dir}/state`,
      "--env-file",
      `${dir}/.env`,
      "--show-interactive-dev-session=false",
      "--log-level",
      "info",
    ],
    cwd: ROOT,
    env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const drains = [child.stdout, child.stderr].map((stream) => {
    const decoder = new TextDecoder();
    return stream.pipeTo(
      new WritableStream({ write: (chunk) => watch.push(decoder.decode(chunk, { stream: true })) }),
    )
      .catch(() => {});
  });
  try {
    await watch.waitFor(/Ready on http:\/\/127\.0\.0\.1:\d+/, READY_TIMEOUT_MS);
    const response = await fetch(`http://127.0.0.1:${port}/arcgis/health`, {
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get("retry-after"), "60");
    const body = await response.text();
    assert.deepEqual(JSON.parse(body), {
      error: "temporarily_unavailable",
      error_description: "The broker is not configured",
    });
    assert.doesNotMatch(body, /sealing|keyring|BROKER_/, "the client learns nothing about the config");
    // The Worker's JSON line, wherever wrangler's own lines (on the other stream) interleave with it.
    const [line] = await watch.waitFor(
      /\{"level":"error","msg":"Refusing to serve: [^\n]*?"issues":\[[^\n]*?\]\}/,
      LOG_TIMEOUT_MS,
    );
    const entry = JSON.parse(line);
    assert.equal(entry.level, "error");
    const issues = entry.issues.map((i: { path: string; message: string; fix?: string }) =>
      `${i.path}: ${i.message}\nfix: ${i.fix}`
    ).join("\n");
    for (const pattern of broken.expect) assert.match(issues, pattern);
    // wrangler's own offline warning (it cannot fetch `Request.cf` without network) carries a Node stack; the
    // Worker's output must carry none.
    const workerOutput = watch.text.replace(
      /^Error: getaddrinfo \S+ workers\.cloudflare\.com\n(\s+at .*\n)*/gm,
      "",
    );
    assert.doesNotMatch(
      workerOutput,
      STACK_LINE,
      `no stack trace in the output:\n${workerOutput.slice(-3000)}`,
    );
    assert.ok(!watch.text.includes(broken.secret!), "the key never appears in the output");
  } finally {
    await stopProcessGroup(child);
    await Promise.all(drains);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
