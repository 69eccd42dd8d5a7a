/**
 * The npm package as a user gets it: `npm pack` (which builds `dist/` through `prepack`), the tarball installed
 * with `hono` and `oidc-provider` into a new Node project in a temporary folder, then
 * (a) `tsc` type-checks a TypeScript file that imports every subpath (and fails on a deep import),
 * (b) Node runs a Hono app with the broker against the fake ArcGIS (`./testing`) and the test IdP
 *     (`./testing-idp`) and gets `/credentials` 200,
 * (c) `wrangler deploy --dry-run` bundles a Worker that imports `arcgis-token-broker/cloudflare` by name.
 *
 * The installs come from npm's cache (`--prefer-offline`: the packages are the ones `npm install` of this
 * repository already fetched). The compiler and wrangler are this repository's own. Every step has a time bound.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const TSC = `${ROOT}node_modules/typescript/bin/tsc`;
const WRANGLER = `${ROOT}node_modules/wrangler/bin/wrangler.js`;
/** Bound on one command (pack with its build, install, type check, a Node run, a wrangler bundle). */
const STEP_TIMEOUT_MS = 180_000;

interface _Run {
  code: number;
  out: string;
}

/** Runs a command to completion, killing it after {@link STEP_TIMEOUT_MS}. */
async function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<_Run> {
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    env: { WRANGLER_SEND_METRICS: "false", NO_UPDATE_NOTIFIER: "1", npm_config_fund: "false", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), STEP_TIMEOUT_MS);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return { code: output.code, out: decoder.decode(output.stdout) + decoder.decode(output.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command and fails the test with its output when it does not exit 0. */
async function ok(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  const started = performance.now();
  const result = await run(cmd, args, cwd, env);
  assert.equal(result.code, 0, `${cmd} ${args.join(" ")} failed:\n${result.out.slice(-4000)}`);
  console.log(
    `  ${[cmd.split("/").pop(), ...args.slice(0, 2)].join(" ")}: ${
      Math.round(performance.now() - started)
    } ms`,
  );
  return result.out;
}

async function versionOf(pkg: string): Promise<string> {
  return JSON.parse(await Deno.readTextFile(`${ROOT}node_modules/${pkg}/package.json`)).version;
}

/** Imports every subpath; each line uses what it imports, so a missing or mistyped export fails. */
const CHECK_TS = `import { Hono } from "hono";
import {
  type Broker,
  type BrokerConfigInput,
  type BrokerEnv,
  brokerFromEnv,
  ConfigError,
  createBroker,
  createMemoryStore,
  createTieredStore,
  isBrokerError,
  type KvStore,
} from "arcgis-token-broker";
import { createArcGISCredentialsClient, proxyInterceptor } from "arcgis-token-broker/client";
import { createFakeArcGIS, type FakeArcGIS } from "arcgis-token-broker/testing";
import { type OidcIdp, startOidcIdp } from "arcgis-token-broker/testing-idp";
import {
  BrokerCoordinator,
  type BrokerWorker,
  createBrokerWorker,
  createCloudflareKvStore,
  createDurableObjectStore,
} from "arcgis-token-broker/cloudflare";
import { createDenoKvStore, serveBroker, type ServedBroker } from "arcgis-token-broker/deno";
// @ts-expect-error: internals are not reachable through the package's exports
import { getJson } from "arcgis-token-broker/dist/src/store/json_value.js";

const config: BrokerConfigInput = {
  issuers: [{ issuer: "https://idp.example.com", audience: "arcgis-broker" }],
  arcgis: { portalUrl: "https://myorg.maps.arcgis.com/sharing/rest" },
  profiles: { viewer: { mode: "app", clientId: "def", clientSecretEnv: "APP_SECRET" } },
  rules: [{ profile: "viewer" }],
  sealing: { keysEnv: "SEALING" },
};
const store: KvStore = createTieredStore({ memory: createMemoryStore(), shared: createMemoryStore() });
export const broker: Broker = createBroker(config, { store, secrets: { APP_SECRET: "s", SEALING: "k1:x" } });
export const app: Hono<BrokerEnv> = new Hono<BrokerEnv>().route("/arcgis", broker.routes());
app.get("/me", broker.authenticate(), (c) => c.json({ subject: c.var.identity.subject }));
export const fromEnv: (env: Record<string, string>) => Broker = (env) => brokerFromEnv(env);
export const isConfigError = (e: unknown): boolean => e instanceof ConfigError || isBrokerError(e);
export const worker: BrokerWorker = createBrokerWorker({ kvBinding: "KV" });
export { BrokerCoordinator };
export const stores = [createCloudflareKvStore, createDurableObjectStore, createDenoKvStore] as const;
export const serve: (env: Record<string, string>) => Promise<ServedBroker> = (env) => serveBroker(env);
export const fake: FakeArcGIS = createFakeArcGIS();
export const idp: () => Promise<OidcIdp> = () => startOidcIdp();
export const client = [createArcGISCredentialsClient, proxyInterceptor] as const;
export const internal: unknown = getJson;
`;

/** A Hono app with the broker under Node, against the fake ArcGIS (in process) and the test IdP (on loopback). */
const RUN_MJS = `import assert from "node:assert/strict";
import { Hono } from "hono";
import { createBroker, createMemoryStore } from "arcgis-token-broker";
import { createFakeArcGIS } from "arcgis-token-broker/testing";
import { OIDC_IDP_DEMO_USER, startOidcIdp } from "arcgis-token-broker/testing-idp";

const ARCGIS = "https://arcgis.consumer.test";
const fake = createFakeArcGIS({
  origin: ARCGIS,
  apps: [{ clientId: "consumer-app", clientSecret: "consumer-secret", redirectUris: [] }],
});
const idp = await startOidcIdp();
try {
  const urls = fake.urls();
  const seal = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  const broker = createBroker({
    issuers: [{
      issuer: idp.issuer,
      audience: idp.audience,
      typ: "at+jwt",
      requiredScopes: ["arcgis"],
      allowInsecureLoopback: true,
    }],
    arcgis: { portalUrl: urls.sharingRest, orgId: fake.orgId },
    profiles: {
      viewer: { mode: "app", clientId: "consumer-app", clientSecretEnv: "APP_SECRET", exposeToBrowser: true },
    },
    rules: [{ profile: "viewer" }],
    sealing: { keysEnv: "SEALING" },
  }, {
    store: createMemoryStore(),
    secrets: { APP_SECRET: "consumer-secret", SEALING: "c1:" + seal },
    // The fake ArcGIS answers in process; everything else (the IdP) goes over loopback.
    fetch: (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      return url.startsWith(ARCGIS + "/") ? fake.fetch(input, init) : fetch(input, init);
    },
  });
  const app = new Hono().route("/arcgis", broker.routes());
  const { accessToken } = await idp.login({ sub: OIDC_IDP_DEMO_USER.sub });
  const refused = await app.request("/arcgis/credentials");
  assert.equal(refused.status, 401);
  const res = await app.request("/arcgis/credentials", { headers: { authorization: "Bearer " + accessToken } });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.ok(body.credentials.length >= 1, JSON.stringify(body));
  assert.equal(fake.count("portal:oauth2/token"), 1);
  console.log("consumer: /credentials " + res.status + " with " + body.credentials.length + " credential(s)");
} finally {
  await idp.close();
}
`;

const WORKER_TS = `import { BrokerCoordinator, createBrokerWorker } from "arcgis-token-broker/cloudflare";

export { BrokerCoordinator };
export default createBrokerWorker();
`;

const WRANGLER_TOML = `name = "consumer-broker"
main = "worker.ts"
compatibility_date = "2026-04-26"
compatibility_flags = ["nodejs_als"]

[[kv_namespaces]]
binding = "BROKER_KV"
id = "00000000000000000000000000000000"

[[durable_objects.bindings]]
name = "BROKER_COORDINATOR"
class_name = "BrokerCoordinator"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["BrokerCoordinator"]
`;

/** A strict consumer; `ESNext.Disposable` because handles offer `await using` (`@types/node` brings it too). */
const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2022", "DOM", "DOM.Iterable", "ESNext.Disposable"],
    types: [],
    strict: true,
    noEmit: true,
  },
  files: ["check.ts"],
};

Deno.test({
  name:
    "the npm tarball installs into a new Node project: types check, the broker serves, wrangler bundles it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "atb-consumer-" });
    try {
      const packed = await ok("npm", ["pack", "--pack-destination", tmp, "--silent"], ROOT);
      const tarball = `${tmp}/${packed.trim().split("\n").pop()}`;
      const files = await ok("tar", ["tzf", tarball], tmp);
      assert.match(files, /^package\/dist\/src\/cloudflare\/mod\.d\.ts$/m);
      assert.doesNotMatch(files, /^package\/(tests|bench|scripts|examples)\//m);
      assert.doesNotMatch(files, /_test\.(ts|js)$/m);

      const project = `${tmp}/consumer`;
      await Deno.mkdir(project);
      await Deno.writeTextFile(
        `${project}/package.json`,
        JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2),
      );
      await ok("npm", [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--ignore-scripts",
        tarball,
        `hono@${await versionOf("hono")}`,
        `oidc-provider@${await versionOf("oidc-provider")}`,
      ], project);

      // (a) the declarations: every subpath, under Node's own ESM resolution, library files checked too.
      await Deno.writeTextFile(`${project}/check.ts`, CHECK_TS);
      await Deno.writeTextFile(`${project}/tsconfig.json`, JSON.stringify(TSCONFIG, null, 2));
      await ok("node", [TSC, "-p", "tsconfig.json"], project);

      // (b) the JavaScript under Node.
      await Deno.writeTextFile(`${project}/run.mjs`, RUN_MJS);
      const ran = await ok("node", ["run.mjs"], project);
      assert.match(ran, /consumer: \/credentials 200 with \d+ credential/);

      // (c) a Worker bundled from the installed package.
      await Deno.writeTextFile(`${project}/worker.ts`, WORKER_TS);
      await Deno.writeTextFile(`${project}/wrangler.toml`, WRANGLER_TOML);
      await ok("node", [WRANGLER, "deploy", "--dry-run", "--outdir", `${tmp}/bundle`], project);
      const bundle = await Deno.readTextFile(`${tmp}/bundle/worker.js`);
      assert.match(bundle, /node_modules\/arcgis-token-broker\/dist\/src\/cloudflare\/worker\.js/);
      assert.match(bundle, /BrokerCoordinator/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
