import assert from "node:assert/strict";
import { formattedProxyOperationsDoc } from "../../scripts/proxy_operations_doc.ts";

Deno.test("docs/proxy-operations.md is generated from the read-operation table and has not drifted", async () => {
  const written = await Deno.readTextFile(new URL("../../docs/proxy-operations.md", import.meta.url));
  assert.equal(
    written,
    await formattedProxyOperationsDoc(),
    "run ./node_modules/deno/deno run --allow-run --allow-write=docs scripts/proxy_operations_doc.ts",
  );
});
