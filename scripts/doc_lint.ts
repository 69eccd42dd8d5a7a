/**
 * `deno task doc`: `deno doc --lint` over every entry point of the package (the `exports` of `deno.json`).
 *
 * One kind of finding is not ours to fix and is tolerated, by name: `private-type-ref` for the `hono` types the
 * API returns (`Broker.routes()` is a `Hono`, `Broker.authenticate()` a `MiddlewareHandler`). Deno 2.9 reports every
 * type from another package as "private" (denoland/deno#27364); re-exporting them would drag all of hono's types
 * into this package's documentation. Any other finding, including a private-type-ref to any other type, fails.
 *
 * @module
 */

/** Types of the `hono` peer dependency that the public API names. */
const HONO_TYPES = new Set(["Hono", "MiddlewareHandler"]);

const ROOT = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const entries = Object.values(config.exports as Record<string, string>);
const output = await new Deno.Command(Deno.execPath(), {
  args: ["doc", "--lint", ...entries],
  cwd: decodeURIComponent(ROOT.pathname),
  env: { NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).output();
const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
const findings = text.split(/\n(?=error\[)/).filter((block) => block.startsWith("error["));
let tolerated = 0;
const failures: string[] = [];
for (const finding of findings) {
  const ref = finding.match(
    /^error\[private-type-ref\]: public type '[^']+' references private type '([^']+)'/,
  );
  if (ref !== null && HONO_TYPES.has(ref[1])) tolerated++;
  else failures.push(finding.trim());
}
if (failures.length > 0 || (findings.length === 0 && !output.success)) {
  console.error(failures.length > 0 ? failures.join("\n\n") : text);
  console.error(`doc lint: ${failures.length} finding(s) in ${entries.join(", ")}`);
  Deno.exit(1);
}
console.log(
  `doc lint: clean for ${entries.length} entry points (${tolerated} reference(s) to hono's own types tolerated)`,
);
