/**
 * The Workers entry under the real runtime: `npx wrangler dev` (workerd, local KV and Durable Objects) with the
 * repository's `wrangler.toml`, in front of the `oidc-provider` IdP and the fake ArcGIS on loopback. Everything is
 * driven over HTTP: validation, `/credentials`, `/token`, the proxy, the link flow (redirects followed by hand), the
 * cache shared across requests (upstream call counts), concurrency without hangs or cross-request I/O errors, and
 * KV TTLs of at least 60 s.
 *
 * One `wrangler dev` for the whole file, in its own process group, killed at the end. Its config and secrets go in
 * a temporary `--env-file`; its state in a temporary `--persist-to`; nothing is written into the repository except
 * wrangler's own `.wrangler/tmp` bundle directory (gitignored).
 *
 * @module
 */
import assert from "node:assert/strict";
import { DEMO_IDP_USER } from "../../examples/demo/stack.ts";
import type { FakeEndpoint } from "../../src/testing/mod.ts";
import {
  bearer,
  e2eConfig,
  freePort,
  linkOverHttp,
  SEALING_ENV,
  sealingKeyring,
  startUpstreams,
  stopProcessGroup,
  waitForOutput,
} from "./_harness.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const WRANGLER = `${ROOT}node_modules/wrangler/bin/wrangler.js`;
/** Bound on wrangler dev's start (bundling with esbuild, starting workerd). */
const READY_TIMEOUT_MS = 90_000;
/** Bound on any one request to the Worker. */
const REQUEST_TIMEOUT_MS = 20_000;
/** Runtime errors that mean a promise or an I/O object crossed requests. */
const CROSS_REQUEST_ERRORS = [
  /Cannot perform I\/O on behalf of a different request/i,
  /will never generate a response/i,
  /hung/i,
  /Uncaught/i,
];

function request(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

/** Lists the keys of the local KV namespace with `wrangler kv key list --local` (a second wrangler process). */
async function listLocalKvKeys(persistDir: string): Promise<Array<{ name: string; expiration?: number }>> {
  const output = await new Deno.Command("node", {
    args: [WRANGLER, "kv", "key", "list", "--binding", "BROKER_KV", "--local", "--persist-to", persistDir],
    cwd: ROOT,
    env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  assert.ok(output.success, new TextDecoder().decode(output.stderr).slice(-2000));
  const start = text.indexOf("[");
  return JSON.parse(text.slice(start));
}

Deno.test({
  name:
    "the Workers entry under wrangler dev (workerd + local KV + Durable Object) serves the whole flow over HTTP",
  // wrangler's pipes are drained in the background until its process group is killed in `finally`.
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  const started = performance.now();
  const startedAtSeconds = Date.now() / 1000;
  let negativeWrittenAfter = Number.POSITIVE_INFINITY;
  const port = freePort();
  const inspectorPort = freePort();
  const origin = `http://127.0.0.1:${port}`;
  const brokerUrl = `${origin}/arcgis`;
  const up = await startUpstreams({ callbackUrl: `${brokerUrl}/link/callback` });
  const dir = await Deno.makeTempDir({ prefix: "atb-wrangler-" });
  const config = JSON.stringify(e2eConfig(up, origin));
  assert.ok(!config.includes("'"), "the config fits in a single-quoted .env value");
  await Deno.writeTextFile(`${dir}/.env`, `BROKER_CONFIG='${config}'\n${SEALING_ENV}=${sealingKeyring()}\n`);
  const output: string[] = [];
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
      String(inspectorPort),
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
  const stderrDecoder = new TextDecoder();
  const stderrDrain = child.stderr.pipeTo(
    new WritableStream({ write: (chunk) => void output.push(stderrDecoder.decode(chunk, { stream: true })) }),
  ).catch(() => {});
  try {
    await waitForOutput(child.stdout, /Ready on (http:\/\/127\.0\.0\.1:\d+)/, READY_TIMEOUT_MS, output);
    const readyMs = Math.round(performance.now() - started);
    const firstStarted = performance.now();
    const health = await request(`${brokerUrl}/health`);
    const firstMs = Math.round(performance.now() - firstStarted);
    assert.deepEqual(await health.json(), { ok: true });
    console.log(`  wrangler dev ready after ${readyMs} ms; first request ${firstMs} ms`);

    const { accessToken } = await up.idp.login({ sub: DEMO_IDP_USER.sub });

    await t.step(
      "validation: missing, malformed and bad tokens; JWKS fetched under concurrency",
      async () => {
        const missing = await request(`${brokerUrl}/credentials`);
        await missing.body?.cancel();
        assert.equal(missing.status, 401);
        assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer realm="[^"]*"$/);
        const malformed = await request(`${brokerUrl}/credentials`, {
          headers: { authorization: "Bearer a b" },
        });
        assert.equal(malformed.status, 400);
        assert.equal((await json(malformed)).error, "invalid_request");
        const [h, p] = accessToken.split(".");
        const forged = await request(`${brokerUrl}/credentials`, { headers: bearer(`${h}.${p}.AAAA`) });
        assert.equal(forged.status, 401);
        assert.equal((await json(forged)).error, "invalid_token");
        // Twenty concurrent first requests: each verifies the token with keys nobody cached yet. On Workers no
        // in-flight promise may cross requests; every one must answer (link_required: the user is not linked).
        const answers = await Promise.all(
          Array.from(
            { length: 20 },
            () => request(`${brokerUrl}/credentials`, { headers: bearer(accessToken) }),
          ),
        );
        const bodies = await Promise.all(answers.map(json));
        assert.deepEqual(
          answers.map((r) => r.status),
          Array(20).fill(403),
        );
        assert.ok(bodies.every((b) => b.error === "link_required"), JSON.stringify(bodies[0]));
      },
    );

    await t.step(
      "link flow: /link → ArcGIS authorize → /link/callback → return URL → /link/complete",
      async () => {
        const outcome = await linkOverHttp(brokerUrl, accessToken, `${origin}/app/`);
        assert.equal(outcome.userId, "demo_user");
        const callback = outcome.hops.find((hop) => hop.startsWith(`${brokerUrl}/link/callback`));
        assert.ok(callback, outcome.hops.join(" → "));
        // The state is single-use (Durable Object `take`): replaying the callback never links again.
        const replay = await request(callback, { redirect: "manual" });
        await replay.body?.cancel();
        assert.ok(replay.status >= 400 && replay.status < 500, `replayed callback answered ${replay.status}`);
      },
    );

    let tokenCallsAfterFirst = 0;
    await t.step("/credentials: portal and server tokens, cached across many requests", async () => {
      const first = await request(`${brokerUrl}/credentials`, { headers: bearer(accessToken) });
      const body = await json(first);
      assert.equal(first.status, 200, JSON.stringify(body));
      assert.equal(first.headers.get("cache-control"), "no-store");
      const credentials = body.credentials as Array<{ server: string; token: string; expires: number }>;
      assert.deepEqual(
        credentials.map((c) => c.server).sort(),
        [up.arcgis.urls.sharingRest, up.arcgis.urls.servers["/server"].restServices].sort(),
      );
      tokenCallsAfterFirst = up.arcgis.fake.count("portal:oauth2/token");
      const generateAfterFirst = up.arcgis.fake.count("portal:generateToken");
      const sequential: string[] = [];
      for (let i = 0; i < 10; i++) {
        const again = await json(await request(`${brokerUrl}/credentials`, { headers: bearer(accessToken) }));
        sequential.push(JSON.stringify(again.credentials));
      }
      const concurrent = await Promise.all(
        Array.from(
          { length: 20 },
          () => request(`${brokerUrl}/credentials`, { headers: bearer(accessToken) }),
        ),
      );
      assert.deepEqual(concurrent.map((r) => r.status), Array(20).fill(200));
      const concurrentBodies = await Promise.all(concurrent.map(json));
      assert.ok(
        sequential.every((s) => s === JSON.stringify(credentials)),
        "the same cached tokens every time",
      );
      assert.ok(concurrentBodies.every((b) => JSON.stringify(b.credentials) === JSON.stringify(credentials)));
      assert.equal(
        up.arcgis.fake.count("portal:oauth2/token"),
        tokenCallsAfterFirst,
        "no further token calls",
      );
      assert.equal(
        up.arcgis.fake.count("portal:generateToken"),
        generateAfterFirst,
        "no further server tokens",
      );
    });

    await t.step("/token: RFC 8693 token exchange and its errors", async () => {
      const form = (fields: Record<string, string>) => ({
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields),
      });
      const ok = await request(
        `${brokerUrl}/token`,
        form({
          grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
          subject_token: accessToken,
          subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        }),
      );
      const body = await json(ok);
      assert.equal(ok.status, 200, JSON.stringify(body));
      assert.equal(typeof body.access_token, "string");
      assert.equal(body.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");
      assert.equal(typeof body.expires_in, "number");
      const wrongGrant = await request(`${brokerUrl}/token`, form({ grant_type: "password" }));
      assert.equal(wrongGrant.status, 400);
      assert.equal((await json(wrongGrant)).error, "unsupported_grant_type");
      const badSubject = await request(
        `${brokerUrl}/token`,
        form({
          grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
          subject_token: "not-a-jwt",
          subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        }),
      );
      assert.equal(badSubject.status, 400);
      assert.equal((await json(badSubject)).error, "invalid_request");
    });

    await t.step(
      "proxy: GET and POST to the secured layer, concurrent cold requests, refused targets",
      async () => {
        const query = `${up.layerUrl}/query?f=json&where=1%3D1&outFields=*`;
        // Concurrent first use of the proxy's own token: no hang, every request answered.
        const answers = await Promise.all(
          Array.from(
            { length: 10 },
            () => request(`${brokerUrl}/proxy?${query}`, { headers: bearer(accessToken) }),
          ),
        );
        const bodies = await Promise.all(answers.map(json));
        assert.deepEqual(
          answers.map((r) => r.status),
          Array(10).fill(200),
          JSON.stringify(bodies[0]),
        );
        assert.ok(bodies.every((b) => Array.isArray(b.features) && b.features.length === 36));
        const calls = [
          up.arcgis.fake.count("portal:oauth2/token"),
          up.arcgis.fake.count("portal:generateToken"),
        ];
        const post = await request(`${brokerUrl}/proxy?${up.layerUrl}/query`, {
          method: "POST",
          headers: { ...bearer(accessToken), "content-type": "application/x-www-form-urlencoded" },
          body: "f=json&where=1%3D1&returnCountOnly=true",
        });
        assert.equal(post.status, 200);
        assert.deepEqual(await post.json(), { count: 36 });
        assert.deepEqual(
          [up.arcgis.fake.count("portal:oauth2/token"), up.arcgis.fake.count("portal:generateToken")],
          calls,
          "the proxy's tokens come from the cache after the first round",
        );
        const elsewhere = await request(
          `${brokerUrl}/proxy?https://example.com/arcgis/rest/services/X/FeatureServer/0`,
          {
            headers: bearer(accessToken),
          },
        );
        await elsewhere.body?.cancel();
        assert.equal(elsewhere.status, 403);
        const anonymous = await request(`${brokerUrl}/proxy?${query}`);
        await anonymous.body?.cancel();
        assert.equal(anonymous.status, 401);
      },
    );

    await t.step("unlink: DELETE /link, then /credentials asks for a link again", async () => {
      const unlink = await request(`${brokerUrl}/link`, { method: "DELETE", headers: bearer(accessToken) });
      assert.equal(unlink.status, 200, JSON.stringify(await json(unlink)));
      const after = await request(`${brokerUrl}/credentials`, { headers: bearer(accessToken) });
      assert.equal(after.status, 403);
      assert.equal((await json(after)).error, "link_required");
    });

    await t.step(
      "ArcGIS down after a relink: 503 with Retry-After, remembered in the negative cache",
      async () => {
        await linkOverHttp(brokerUrl, accessToken, `${origin}/app/`);
        const endpoints: FakeEndpoint[] = ["portal:oauth2/token", "portal:generateToken"];
        const failures = endpoints.map((match) =>
          up.arcgis.fake.injectFailure({ match, mode: { kind: "status", status: 503 } })
        );
        try {
          negativeWrittenAfter = Date.now() / 1000;
          const down = await request(`${brokerUrl}/credentials`, { headers: bearer(accessToken) });
          const body = await json(down);
          assert.ok(down.status === 502 || down.status === 503, `${down.status} ${JSON.stringify(body)}`);
          assert.ok(Number(down.headers.get("retry-after")) > 0);
          const hits = failures.reduce((n, f) => n + f.hits, 0);
          assert.ok(hits >= 1, "ArcGIS was asked once");
          const again = await request(`${brokerUrl}/credentials`, { headers: bearer(accessToken) });
          await again.body?.cancel();
          assert.ok(again.status === 502 || again.status === 503);
          assert.equal(
            failures.reduce((n, f) => n + f.hits, 0),
            hits,
            "the negative cache answered, not ArcGIS",
          );
        } finally {
          for (const failure of failures) failure.remove();
        }
      },
    );

    await t.step(
      "KV: every key is versioned and stored with a TTL of at least 60 s (15 s asked: clamped)",
      async () => {
        const keys = await listLocalKvKeys(`${dir}/state`);
        assert.ok(keys.length > 0, "the Worker wrote to KV");
        const negative = keys.filter((key) => key.name.startsWith("atb:v1:negative:"));
        assert.ok(negative.length >= 1, "the 15 s negative-cache entry reached KV");
        // Written after `negativeWrittenAfter` with 15 s asked: only the 60 s floor puts it this far out.
        assert.ok(
          negative.every((key) =>
            key.expiration !== undefined && key.expiration >= negativeWrittenAfter + 59
          ),
        );
        for (const key of keys) {
          assert.ok(key.name.startsWith("atb:v1:"), key.name);
          assert.ok(!key.name.includes(accessToken.split(".")[2]), "no token in a key");
          if (key.expiration !== undefined) {
            // Every key was written after the test started, with a TTL of at least 60 s (whole seconds).
            assert.ok(key.expiration >= startedAtSeconds + 59, `${key.name} expires too early`);
          }
        }
      },
    );

    await t.step("the runtime reported no cross-request I/O, hang or uncaught error", () => {
      const log = output.join("");
      for (const pattern of CROSS_REQUEST_ERRORS) assert.doesNotMatch(log, pattern);
      assert.doesNotMatch(log, /Cannot (set|delete) Cloudflare KV key/, "no KV write was refused");
      assert.ok(!log.includes(accessToken), "the IdP token never appears in the Worker's output");
    });
  } finally {
    await stopProcessGroup(child);
    await stderrDrain;
    await up.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    console.log(`  workers e2e took ${Math.round(performance.now() - started)} ms`);
  }
});
