/**
 * `deno task doc`: `deno doc --lint` over every entry point of the package (the `exports` of `deno.json`).
 *
 * One kind of finding is not ours to fix and is tolerated, by name: `private-type-ref` for the types of npm
 * dependencies that the API names (`Broker.routes()` is a hono `Hono`, `Broker.authenticate()` a hono
 * `MiddlewareHandler`, the test IdP's client key a jose `JWK`). Deno 2.9 reports every type from another package as
 * "private" (denoland/deno#27364); re-exporting them would drag those packages' types into this package's
 * documentation. Any other finding, including a private-type-ref to any other type, fails.
 *
 * @module
 */

/** Types of npm dependencies that the public API names, with their package (no type of `src/` has these names). */
const DEPENDENCY_TYPES = new Map([["Hono", "hono"], ["MiddlewareHandler", "hono"], ["JWK", "jose"]]);

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
  if (ref !== null && DEPENDENCY_TYPES.has(ref[1])) tolerated++;
  else failures.push(finding.trim());
}
if (failures.length > 0 || (findings.length === 0 && !output.success)) {
  console.error(failures.length > 0 ? failures.join("\n\n") : text);
  console.error(`doc lint: ${failures.length} finding(s) in ${entries.join(", ")}`);
  Deno.exit(1);
}
console.log(
  `doc lint: clean for ${entries.length} entry points (${tolerated} reference(s) to dependencies' types tolerated)`,
);
