/**
 * `examples/deno/main.ts` as a separate process (`deno run`), with Deno KV in a temporary file, in front of the
 * `oidc-provider` IdP and the fake ArcGIS on loopback: it fails closed without its config, refuses a config that
 * cannot work (naming the field and the fix, before opening Deno KV), and serves the link
 * flow, `/credentials` and the proxy over HTTP.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DEMO_IDP_USER } from "../../examples/demo/stack.ts";
import {
  bearer,
  e2eConfig,
  freePort,
  linkOverHttp,
  SEALING_ENV,
  sealingKeyring,
  startUpstreams,
  waitForOutput,
} from "./_harness.ts";
import { STACK_LINE, startupCases } from "./_startup_cases.ts";

const ENTRY = decodeURIComponent(new URL("../../examples/deno/main.ts", import.meta.url).pathname);
const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
/** Bound on the child's start (type checking is skipped; the first run may still compile npm packages). */
const READY_TIMEOUT_MS = 60_000;

/** Runs the entry to completion with exactly `env` (plus PATH/HOME/DENO_DIR), expecting it to exit. */
async function runToExit(
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "--unstable-kv", ENTRY],
    cwd: ROOT,
    clearEnv: true,
    env: { ...base, ...env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), READY_TIMEOUT_MS);
  try {
    const output = await child.output();
    return {
      code: output.code,
      stdout: new TextDecoder().decode(output.stdout),
      stderr: new TextDecoder().decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("examples/deno/main.ts refuses to start without BROKER_CONFIG", async () => {
  const kvDir = await Deno.makeTempDir({ prefix: "atb-deno-e2e-" });
  try {
    const result = await runToExit({ PORT: "0", HOSTNAME: "127.0.0.1", DENO_KV_PATH: `${kvDir}/kv.sqlite3` });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /refusing to start/);
    assert.match(result.stderr, /BROKER_CONFIG/);
    assert.doesNotMatch(result.stdout, /listening/);
    // Validation runs before anything is opened: no database was created.
    assert.deepEqual([...Deno.readDirSync(kvDir)], []);
  } finally {
    await Deno.remove(kvDir, { recursive: true });
  }
});

Deno.test("examples/deno/main.ts names a missing secret without printing any value", async () => {
  const up = await startUpstreams({ callbackUrl: "http://127.0.0.1:9/arcgis/link/callback" });
  try {
    const config = JSON.stringify(e2eConfig(up, "http://127.0.0.1:9"));
    const result = await runToExit({ BROKER_CONFIG: config, PORT: "0", HOSTNAME: "127.0.0.1" });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(SEALING_ENV));
    assert.doesNotMatch(result.stderr, new RegExp(up.idp.issuer.replace(/[.:/]/g, "\\$&")));
  } finally {
    await up.close();
  }
});

for (const broken of startupCases()) {
  Deno.test(`examples/deno/main.ts refuses ${broken.name} before opening Deno KV, naming the field and the fix`, async () => {
    const kvDir = await Deno.makeTempDir({ prefix: "atb-deno-e2e-" });
    try {
      const result = await runToExit({
        ...broken.env,
        PORT: "0",
        HOSTNAME: "127.0.0.1",
        DENO_KV_PATH: `${kvDir}/kv.sqlite3`,
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^arcgis-token-broker: refusing to start: the config cannot work\n/);
      for (const pattern of broken.expect) assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, STACK_LINE);
      assert.doesNotMatch(result.stderr, /Uncaught|error: /);
      if (broken.secret !== undefined) {
        assert.ok(!result.stderr.includes(broken.secret), "a secret was printed");
      }
      assert.doesNotMatch(result.stdout, /listening/);
      // The config is checked before anything is opened: no database was created.
      assert.deepEqual([...Deno.readDirSync(kvDir)], []);
    } finally {
      await Deno.remove(kvDir, { recursive: true });
    }
  });
}

Deno.test({
  name: "examples/deno/main.ts serves the link flow, /credentials and the proxy with Deno KV",
  // The child's pipes are read by a background drain until the process is killed in `finally`.
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const port = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const brokerUrl = `${origin}/arcgis`;
  const up = await startUpstreams({ callbackUrl: `${brokerUrl}/link/callback` });
  const kvDir = await Deno.makeTempDir({ prefix: "atb-deno-e2e-" });
  const output: string[] = [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "--unstable-kv", ENTRY],
    cwd: ROOT,
    env: {
      BROKER_CONFIG: JSON.stringify(e2eConfig(up, origin)),
      [SEALING_ENV]: sealingKeyring(),
      PORT: String(port),
      HOSTNAME: "127.0.0.1",
      DENO_KV_PATH: `${kvDir}/kv.sqlite3`,
    },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const stderrDecoder = new TextDecoder();
  const stderrDrain = child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => void output.push(stderrDecoder.decode(chunk, { stream: true })) }),
  ).catch(() => {});
  try {
    await waitForOutput(child.stdout, /listening on (http:\/\/\S+)/, READY_TIMEOUT_MS, output);

    assert.deepEqual(await (await fetch(`${brokerUrl}/health`)).json(), { ok: true });
    const unauthenticated = await fetch(`${brokerUrl}/credentials`);
    await unauthenticated.body?.cancel();
    assert.equal(unauthenticated.status, 401);

    const { accessToken } = await up.idp.login({ sub: DEMO_IDP_USER.sub });
    const before = await fetch(`${brokerUrl}/credentials`, { headers: bearer(accessToken) });
    const beforeBody = await before.json();
    assert.equal(before.status, 403);
    assert.equal(beforeBody.error, "link_required");

    const link = await linkOverHttp(brokerUrl, accessToken, `${origin}/app/`);
    assert.equal(link.userId, "demo_user");

    const credentials = await fetch(`${brokerUrl}/credentials`, { headers: bearer(accessToken) });
    const body = await credentials.json();
    assert.equal(credentials.status, 200, JSON.stringify(body));
    assert.equal(credentials.headers.get("cache-control"), "no-store");
    assert.equal(body.userId, "demo_user");
    assert.deepEqual(
      body.credentials.map((c: { server: string }) => c.server).sort(),
      [up.arcgis.urls.sharingRest, up.arcgis.urls.servers["/server"].restServices].sort(),
    );

    const tokenCalls = (): number[] => [
      up.arcgis.fake.count("portal:oauth2/token"),
      up.arcgis.fake.count("portal:generateToken"),
    ];
    let afterFirst: number[] = [];
    for (let i = 0; i < 5; i++) {
      const query = `${up.layerUrl}/query?f=json&where=1%3D1&returnCountOnly=true`;
      const proxied = await fetch(`${brokerUrl}/proxy?${query}`, { headers: bearer(accessToken) });
      assert.equal(proxied.status, 200);
      assert.deepEqual(await proxied.json(), { count: 36 });
      if (i === 0) afterFirst = tokenCalls();
    }
    // The proxy's tokens were fetched for the first request, then served from the cache.
    assert.deepEqual(tokenCalls(), afterFirst);

    const health = await fetch(`${brokerUrl}/health/details`, { headers: bearer(accessToken) });
    const details = await health.json();
    assert.equal(health.status, 200, JSON.stringify(details));
    assert.equal(JSON.stringify(details).includes(accessToken), false);
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await stderrDrain;
    await up.close();
    await Deno.remove(kvDir, { recursive: true });
  }
});
