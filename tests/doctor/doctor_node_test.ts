/**
 * The doctor as the npm `bin` runs it: compiled by the repository's TypeScript compiler with the package's build
 * settings, then executed by Node against the test IdP and the fake ArcGIS (exit 0 on a working config file, 1
 * with the finding and its fix on a broken one).
 *
 * @module
 */
import assert from "node:assert/strict";
import { startOidcIdp } from "../../src/testing/oidc_idp.ts";
import { serveFakeArcGIS } from "../../src/testing/mod.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");
const TSC = `${ROOT}/node_modules/typescript/bin/tsc`;
/** Bound on the compile and on each Node run. */
const STEP_TIMEOUT_MS = 180_000;

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const output = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { PATH: Deno.env.get("PATH") ?? "", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, out: decode(output.stdout), err: decode(output.stderr) };
}

Deno.test("the doctor bin runs under Node: exit 0 on a working config, 1 with the fix on a broken one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "atb-doctor-node-" });
  const idp = await startOidcIdp({ users: [{ sub: "alice" }] });
  const arcgis = serveFakeArcGIS({ apps: [{ clientId: "broker-app", clientSecret: "node-app-secret" }] });
  try {
    await Deno.writeTextFile(
      `${dir}/tsconfig.json`,
      JSON.stringify({
        extends: `${ROOT}/tsconfig.build.json`,
        compilerOptions: { outDir: `${dir}/out`, rootDir: ROOT, declaration: false },
        files: [`${ROOT}/src/doctor/bin.ts`, `${ROOT}/scripts/tsc_globals.d.ts`],
      }),
    );
    // tsc finds @types/node, and Node finds zod and jose, in the repository's node_modules, as an installed
    // package would find them in its project's.
    await Deno.symlink(`${ROOT}/node_modules`, `${dir}/node_modules`);
    const compiled = await run("node", [TSC, "-p", `${dir}/tsconfig.json`]);
    assert.equal(compiled.code, 0, compiled.out + compiled.err);
    const bin = `${dir}/out/src/doctor/bin.js`;
    assert.match(await Deno.readTextFile(bin), /^#!\/usr\/bin\/env node\n/);
    const config = {
      issuers: [{ issuer: idp.issuer, audience: idp.audience, allowInsecureLoopback: true }],
      arcgis: { portalUrl: arcgis.urls.sharingRest, orgId: arcgis.fake.orgId, allowInsecureLoopback: true },
      profiles: { viewer: { mode: "app", clientId: "broker-app", clientSecretEnv: "APP_SECRET" } },
      rules: [{ profile: "viewer" }],
      sealing: { keysEnv: "KEYS" },
    };
    const env = { APP_SECRET: "node-app-secret", KEYS: `k1:${btoa("k".repeat(32))}` };
    await Deno.writeTextFile(`${dir}/good.json`, JSON.stringify(config));
    const good = await run("node", [bin, "doctor", "--config", `${dir}/good.json`], env);
    assert.equal(good.code, 0, good.out + good.err);
    assert.match(good.out, /No problem found/);
    await Deno.writeTextFile(
      `${dir}/bad.json`,
      JSON.stringify({ ...config, arcgis: { ...config.arcgis, orgId: "WrongOrg" } }),
    );
    const bad = await run("node", [bin, "doctor", "--config", `${dir}/bad.json`], env);
    assert.equal(bad.code, 1, bad.out + bad.err);
    assert.match(bad.out, /FAIL org id: The portal's organization id is ".+", not arcgis\.orgId "WrongOrg"/);
    assert.match(bad.out, /fix: set arcgis\.orgId to/);
    assert.equal(bad.err, "");
  } finally {
    await arcgis.close();
    await idp.close();
    await Deno.remove(dir, { recursive: true });
  }
});
