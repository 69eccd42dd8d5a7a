// Builds the npm package: ESM JavaScript and .d.ts files in dist/ (gitignored), emitted by the TypeScript
// compiler from the same sources Deno and JSR use (tsconfig.build.json; `.ts` import specifiers become `.js`).
// Usage: `npm run build` (`npm pack` and `npm publish` run it through `prepack`).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const started = performance.now();
rmSync(join(root, "dist"), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  cwd: root,
  stdio: "inherit",
});
if (result.status !== 0) {
  console.error("build: tsc failed; dist/ is incomplete");
  process.exit(result.status ?? 1);
}
console.log(`build: dist/ written in ${Math.round(performance.now() - started)} ms`);
