/**
 * The folders of `src/` form a layered graph: no folder imports, even for types only, a folder that imports it
 * back (directly or around a loop). The core knows nothing of Hono.
 *
 * @module
 */
import assert from "node:assert/strict";
import { cyclesOf, type ImportEdge, importGraph, importsOf, nodeOf } from "./_import_graph.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname).replace(/\/$/, "");

function folderGraph(edges: readonly ImportEdge[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const edge of edges) {
    if (edge.to === undefined || !edge.to.startsWith("src/")) continue;
    const from = nodeOf(edge.from);
    const to = nodeOf(edge.to);
    if (!graph.has(from)) graph.set(from, new Set());
    if (!graph.has(to)) graph.set(to, new Set());
    if (from !== to) graph.get(from)!.add(to);
  }
  return graph;
}

function example(edges: readonly ImportEdge[], from: string, to: string): string {
  const edge = edges.find((e) => e.to !== undefined && nodeOf(e.from) === from && nodeOf(e.to) === to);
  return edge === undefined ? `${from} → ${to}` : `${edge.from} imports ${edge.specifier}`;
}

Deno.test("importsOf() reads value, type, multi-line, re-export, side-effect and dynamic imports", () => {
  const text = [
    'import { a } from "../x/a.ts";',
    'import type { B } from "../y/b.ts";',
    "import {",
    "  type C,",
    "  type D,",
    '} from "./c.ts";',
    'export * from "../z/mod.ts";',
    'export type { E } from "../w/e.ts";',
    'import "../side/effect.ts";',
    'const m = await import("../dyn/m.ts");',
    ' * import { notCode } from "../comment/example.ts";',
    'import * as z from "zod/mini";',
  ].join("\n");
  const edges = importsOf("src/p/q.ts", text);
  assert.deepEqual(
    edges.map((e) => [e.to ?? e.specifier, e.typeOnly]),
    [
      ["src/x/a.ts", false],
      ["src/y/b.ts", true],
      ["src/p/c.ts", true],
      ["src/z/mod.ts", false],
      ["src/w/e.ts", true],
      ["zod/mini", false],
      ["src/side/effect.ts", false],
      ["src/dyn/m.ts", false],
    ],
  );
});

Deno.test("cyclesOf() finds a loop through three folders once, and none in a layered graph", () => {
  const loop = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])], [
    "d",
    new Set(["a"]),
  ]]);
  assert.deepEqual(cyclesOf(loop), [["a", "b", "c"]]);
  const layered = new Map([["a", new Set(["b", "c"])], ["b", new Set(["c"])], ["c", new Set<string>()]]);
  assert.deepEqual(cyclesOf(layered), []);
});

Deno.test("no two folders of src/ import each other, directly or around a loop, types included", () => {
  const edges = importGraph(ROOT, "src");
  const graph = folderGraph(edges);
  // The reader sees the real tree: the composition layer reaches the core and the core reaches the config.
  assert.ok(graph.get("src/hono")?.has("src/config"), "expected src/hono to import src/config");
  assert.ok(graph.get("src/idp")?.has("src/config"), "expected src/idp to import src/config");
  const cycles = cyclesOf(graph);
  const described = cycles.map((cycle) =>
    cycle.map((node, i) => example(edges, node, cycle[(i + 1) % cycle.length])).join("; ")
  );
  assert.deepEqual(described, [], `import loops between folders:\n${described.join("\n")}`);
});

Deno.test("the core folders never import hono", () => {
  const core = ["src/config", "src/idp", "src/arcgis", "src/policy", "src/proxy", "src/store"];
  const offending = importGraph(ROOT, "src")
    .filter((e) => core.includes(nodeOf(e.from)) && /^(npm:)?hono(\/|$)/.test(e.specifier))
    .map((e) => `${e.from} imports ${e.specifier}`);
  assert.deepEqual(offending, []);
});

/** Every file and bare specifier reached from `entry` through imports that survive to runtime. */
function runtimeClosure(
  edges: readonly ImportEdge[],
  entry: string,
): { files: Set<string>; bare: Set<string> } {
  const byFile = new Map<string, ImportEdge[]>();
  for (const edge of edges) byFile.set(edge.from, [...(byFile.get(edge.from) ?? []), edge]);
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const edge of byFile.get(file) ?? []) {
      if (edge.typeOnly) continue;
      if (edge.to === undefined) bare.add(edge.specifier);
      else visit(edge.to);
    }
  };
  visit(entry);
  return { files, bare };
}

Deno.test("the proxy does not load the config schema (nor zod) at runtime", () => {
  const edges = importGraph(ROOT, "src");
  const { files, bare } = runtimeClosure(edges, "src/proxy/mod.ts");
  assert.ok(files.size > 5, "expected the proxy's modules to be found");
  assert.ok(!files.has("src/config/schema.ts"), "src/proxy reaches src/config/schema.ts");
  assert.deepEqual([...bare].filter((s) => /^(npm:)?zod(\/|$)/.test(s)), []);
  // The same walk does see zod where it is loaded, so the check above can fail.
  assert.ok(runtimeClosure(edges, "src/config/mod.ts").bare.has("zod/mini"));
});
