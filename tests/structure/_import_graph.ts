/**
 * Reads the import graph of `src/` from the source text: every `import`/`export … from` line (value and `type`
 * alike), side-effect imports and dynamic `import("…")` calls.
 *
 * @module
 */

/** One import of one file. */
export interface ImportEdge {
  /** The importing file, relative to the repository root (`src/idp/claims.ts`). */
  from: string;
  /** The specifier as written (`../config/schema.ts`, `zod/mini`). */
  specifier: string;
  /** The imported file relative to the repository root, for relative specifiers; undefined otherwise. */
  to?: string;
  /** True for `import type` / `export type … from` (erased at runtime). */
  typeOnly: boolean;
}

const STATIC = /^[ \t]*(import|export)[ \t]+(type[ \t]+)?([^;=()]*?)\bfrom[ \t]*["']([^"']+)["']/gm;
const SIDE_EFFECT = /^[ \t]*import[ \t]*["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

function _resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined;
  const parts = from.split("/").slice(0, -1);
  for (const segment of specifier.split("/")) {
    if (segment === "." || segment === "") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  return parts.join("/");
}

/** The imports of one file's text. */
export function importsOf(file: string, text: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const add = (specifier: string, typeOnly: boolean): void => {
    const to = _resolve(file, specifier);
    edges.push({ from: file, specifier, typeOnly, ...(to === undefined ? {} : { to }) });
  };
  for (const m of text.matchAll(STATIC)) {
    // `import { type A, type B } from` is erased too; `import { type A, b }` is not.
    const names = m[3].trim();
    const allTypes = names.startsWith("{") &&
      names.replace(/[{}]/g, "").split(",").map((s) => s.trim()).filter((s) => s !== "")
        .every((s) => s.startsWith("type "));
    add(m[4], m[2] !== undefined || allTypes);
  }
  for (const m of text.matchAll(SIDE_EFFECT)) add(m[1], false);
  for (const m of text.matchAll(DYNAMIC)) add(m[1], false);
  return edges;
}

/** Every `.ts` file below `dir` (relative to `root`), sorted. */
export function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of Deno.readDirSync(`${root}/${rel}`)) {
      const path = `${rel}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.isFile && path.endsWith(".ts")) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

/** Every import of every `.ts` file below `dir`. */
export function importGraph(root: string, dir: string): ImportEdge[] {
  return sourceFiles(root, dir).flatMap((file) => importsOf(file, Deno.readTextFileSync(`${root}/${file}`)));
}

/**
 * The node of a file in the folder-level graph: `src/<folder>` for a file inside a folder of `src/`, the file
 * itself for a file directly in `src/` (`src/errors.ts`, `src/deps.ts`: each a small contract of its own).
 */
export function nodeOf(file: string): string {
  const parts = file.split("/");
  return parts.length > 2 ? parts.slice(0, 2).join("/") : file;
}

/** Every elementary cycle found by a depth-first search, each listed once from its smallest node. */
export function cyclesOf(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const cycles = new Map<string, string[]>();
  const nodes = [...edges.keys()].sort();
  for (const start of nodes) {
    const path: string[] = [start];
    const onPath = new Set(path);
    const visit = (node: string): void => {
      for (const next of [...(edges.get(node) ?? [])].sort()) {
        if (next === start) {
          const cycle = [...path];
          const min = cycle.indexOf([...cycle].sort()[0]);
          const rotated = [...cycle.slice(min), ...cycle.slice(0, min)];
          cycles.set(rotated.join(" → "), rotated);
        } else if (!onPath.has(next) && next > start) {
          path.push(next);
          onPath.add(next);
          visit(next);
          onPath.delete(next);
          path.pop();
        }
      }
    };
    visit(start);
  }
  return [...cycles.values()];
}
