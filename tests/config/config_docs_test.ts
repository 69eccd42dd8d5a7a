/**
 * Every default is written once, in the schema: `src/config/types.ts` and the README's config table are generated
 * from it (and from the words in `field_docs.ts`) by `scripts/config_docs.ts`, and fail here when they drift.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  expectedFiles,
  fieldDocOf,
  renderTable,
  renderTypes,
  ROOT,
  schemaFields,
  TABLE_BEGIN,
  TABLE_END,
  withTable,
} from "../../scripts/config_docs.ts";
import { FIELD_DOCS, TYPE_DOCS } from "../../src/config/field_docs.ts";
import { parseConfig } from "../../src/config/mod.ts";
import { minimalConfig } from "../support/config_fixtures.ts";

Deno.test("src/config/types.ts and the README's config table are what scripts/config_docs.ts generates", async () => {
  for (const { path, text } of await expectedFiles()) {
    const current = await Deno.readTextFile(`${ROOT}/${path}`);
    assert.ok(
      current === text,
      `${path} drifted from the schema: run ./node_modules/deno/deno run -A scripts/config_docs.ts`,
    );
  }
});

Deno.test("every schema field has its words in field_docs.ts, and no words name a missing field", () => {
  const fields = schemaFields();
  const undocumented = fields.filter((f) => fieldDocOf(f) === undefined).map((f) => f.path);
  assert.deepEqual(undocumented, []);
  const used = new Set(fields.map((f) => fieldDocOf(f)!.key));
  assert.deepEqual(Object.keys(FIELD_DOCS).filter((key) => !used.has(key)), []);
  const types = renderTypes();
  for (const { name } of Object.values(TYPE_DOCS)) {
    assert.match(types, new RegExp(`export (interface|type) ${name}\\b`), `${name} is not generated`);
  }
});

Deno.test("the generated docs carry the defaults parseConfig() applies", () => {
  const config = parseConfig(minimalConfig());
  const table = renderTable();
  const types = renderTypes();
  const cases: Array<[string, unknown]> = [
    ["issuers[].clockToleranceSeconds", config.issuers[0].clockToleranceSeconds],
    ["issuers[].jwks.staleMaxAgeSeconds", config.issuers[0].jwks.staleMaxAgeSeconds],
    ["cache.safetyMarginSeconds", config.cache.safetyMarginSeconds],
    ["mountPath", config.mountPath],
  ];
  for (const [path, value] of cases) {
    const row = table.split("\n").find((line) => line.startsWith(`| \`${path}\` |`));
    assert.ok(row !== undefined, `no row for ${path}`);
    assert.ok(row.endsWith(`| \`${JSON.stringify(value)}\` |`), row);
    assert.ok(types.includes(`@default ${JSON.stringify(value)}`), `no @default ${JSON.stringify(value)}`);
  }
  const required = table.split("\n").find((line) => line.startsWith("| `issuers[].issuer` |"));
  assert.ok(required?.endsWith("| required |"), required);
  const bounded = table.split("\n").find((line) => line.startsWith("| `validation.maxTokenBytes` |"));
  assert.match(bounded ?? "", /512 to 65536/);
});

Deno.test("withTable() replaces exactly the text between the markers", () => {
  const readme =
    `# Title\n\nintro\n\n${TABLE_BEGIN}\n\n| obsolete-row-xyz | table |\n\n${TABLE_END}\n\n## Next\n`;
  const updated = withTable(readme);
  assert.ok(!updated.includes("obsolete-row-xyz"));
  assert.ok(updated.startsWith("# Title\n\nintro\n\n"));
  assert.ok(updated.endsWith(`${TABLE_END}\n\n## Next\n`));
  assert.ok(updated.includes("| `sealing.keysEnv` |"));
  assert.throws(() => withTable("# no markers\n"), /no config table markers/);
});
