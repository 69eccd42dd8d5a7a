/**
 * Writes `src/config/types.ts` and the README's config table from the schema (types, defaults, bounds) and
 * `src/config/field_docs.ts` (the words), so a default is written once. `--check` writes nothing and exits 1
 * when either file differs from what it would write (`tests/config/config_docs_test.ts` runs the same check).
 *
 *     ./node_modules/deno/deno run -A scripts/config_docs.ts [--check]
 *
 * @module
 */
import { brokerConfigSchema } from "../src/config/schema.ts";
import { FIELD_DOCS, TYPE_DOCS } from "../src/config/field_docs.ts";

// zod keeps a schema's definition in `_zod.def`; this reads only the parts the schema uses.
// deno-lint-ignore no-explicit-any
type Def = any;

/** The repository root. */
export const ROOT: string = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");

/** The README markers around the generated table. */
export const TABLE_BEGIN =
  "<!-- config-table:begin (generated from src/config/schema.ts and field_docs.ts by scripts/config_docs.ts) -->";
/** The marker after the generated table. */
export const TABLE_END = "<!-- config-table:end -->";

/** The definition of a schema (a definition is returned as it is). */
function _def(schema: unknown): Def {
  const zod = (schema as { _zod?: { def: Def } })._zod;
  return zod === undefined ? schema : zod.def;
}

interface _Unwrapped {
  core: Def;
  optional: boolean;
  hasDefault: boolean;
  defaultValue?: unknown;
}

function _unwrap(schema: unknown): _Unwrapped {
  let def = _def(schema);
  let optional = false;
  let hasDefault = false;
  let defaultValue: unknown;
  while (def.type === "optional" || def.type === "default") {
    if (def.type === "optional") optional = true;
    else {
      hasDefault = true;
      defaultValue = def.defaultValue;
    }
    def = _def(def.innerType);
  }
  return { core: def, optional, hasDefault, ...(hasDefault ? { defaultValue } : {}) };
}

/** One field of the schema, with its path and, inside a union, the variant it belongs to. */
export interface SchemaField {
  /** `issuers[].jwks.cacheMaxAgeSeconds`, `profiles.<name>.clientId`. */
  path: string;
  /** The path of its object, `profiles.<name>(user)` inside a variant. */
  owner: string;
  /** The field's name. */
  name: string;
  /** The variant (discriminator value) of the object holding it, if any. */
  variant?: string;
  /** The field as the schema declares it (with its default or optional wrapper). */
  schema: unknown;
  /** True for a discriminated union's discriminator. */
  discriminator: boolean;
}

/** The words of a field, looked up variant first. */
export function fieldDocOf(field: SchemaField): { key: string; doc: string; absent?: string } | undefined {
  const keys = field.variant === undefined ? [field.path] : [`${field.owner}.${field.name}`, field.path];
  for (const key of keys) {
    const doc = FIELD_DOCS[key];
    if (doc !== undefined) return { key, ...doc };
  }
  return undefined;
}

/** Every field of the schema, depth first, in declaration order. */
export function schemaFields(): SchemaField[] {
  const out: SchemaField[] = [];
  const visitObject = (def: Def, owner: string, path: string, variant?: string, discriminator?: string) => {
    for (const [name, schema] of Object.entries(def.shape as Record<string, unknown>)) {
      const fieldPath = path === "" ? name : `${path}.${name}`;
      out.push({
        path: fieldPath,
        owner,
        name,
        ...(variant === undefined ? {} : { variant }),
        schema,
        discriminator: name === discriminator,
      });
      visit(schema, fieldPath);
    }
  };
  const visit = (schema: unknown, path: string): void => {
    const { core } = _unwrap(schema);
    if (core.type === "object") visitObject(core, path, path);
    else if (core.type === "array") visit(core.element, `${path}[]`);
    else if (core.type === "record") visit(core.valueType, `${path}.<name>`);
    else if (core.type === "union" && core.discriminator !== undefined) {
      for (const option of core.options) {
        const def = _def(option);
        const variant = String(_def(def.shape[core.discriminator]).values[0]);
        visitObject(def, `${path}(${variant})`, path, variant, core.discriminator);
      }
    }
  };
  visit(brokerConfigSchema, "");
  return out;
}

function _hasDefaults(schema: unknown): boolean {
  const { core, hasDefault } = _unwrap(schema);
  if (hasDefault) return true;
  if (core.type === "object") return Object.values(core.shape).some(_hasDefaults);
  if (core.type === "array") return _hasDefaults(core.element);
  if (core.type === "record") return _hasDefaults(core.valueType);
  if (core.type === "union") return core.options.some(_hasDefaults);
  return false;
}

function _typeName(path: string, schema: unknown, input: boolean): string {
  const named = TYPE_DOCS[path];
  if (named === undefined) throw new Error(`No name in TYPE_DOCS for the type at "${path}"`);
  return input && _hasDefaults(schema) ? `${named.name}Input` : named.name;
}

function _literal(value: unknown): string {
  return JSON.stringify(value);
}

function _renderType(schema: unknown, path: string, input: boolean): string {
  const { core } = _unwrap(schema);
  switch (core.type) {
    case "string":
    case "number":
    case "boolean":
      return core.type;
    case "literal":
      return (core.values as unknown[]).map(_literal).join(" | ");
    case "enum":
      return TYPE_DOCS[path]?.name ?? Object.values(core.entries).map(_literal).join(" | ");
    case "array": {
      const element = _renderType(core.element, `${path}[]`, input);
      return element.includes(" ") ? `(${element})[]` : `${element}[]`;
    }
    case "union":
      if (core.discriminator !== undefined) return _typeName(path, core, input);
      return (core.options as unknown[]).map((o) => _renderType(o, path, input)).join(" | ");
    case "object":
      return _typeName(path, core, input);
    case "record":
      return `Record<string, ${_renderType(core.valueType, `${path}.<name>`, input)}>`;
    default:
      throw new Error(`Cannot describe the schema type "${core.type}" at "${path}"`);
  }
}

/** The bounds the schema checks, in words (`at most 300`, `512 to 65536`, `at least one`), or "". */
export function boundsOf(schema: unknown): string {
  const { core } = _unwrap(schema);
  const checks = ((core.checks ?? []) as unknown[]).map((c) => _def(c));
  if (core.type === "number") {
    let lower: string | undefined;
    let upper: string | undefined;
    for (const check of checks) {
      if (check.check === "greater_than" && !(check.value === 0)) {
        lower = String(check.inclusive ? check.value : `more than ${check.value}`);
      }
      if (check.check === "less_than") {
        upper = String(check.inclusive ? check.value : `less than ${check.value}`);
      }
    }
    if (lower !== undefined && upper !== undefined) return `${lower} to ${upper}`;
    if (lower !== undefined) return `at least ${lower}`;
    if (upper !== undefined) return `at most ${upper}`;
    return "";
  }
  if (core.type === "array") {
    const element = _unwrap(core.element).core;
    return _sentence([
      checks.some((c) => c.check === "min_length" && c.minimum === 1) ? "at least one" : "",
      element.type === "enum" ? `each ${boundsOf(element)}` : "",
    ]);
  }
  if (core.type === "enum") {
    return `one of ${Object.values(core.entries).map((v) => `\`${v}\``).join(", ")}`;
  }
  return "";
}

function _defaultText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(_literal).join(", ")}]`;
  if (typeof value === "object" && value !== null) return "{}";
  return _literal(value);
}

function _sentence(parts: string[]): string {
  return parts.filter((p) => p !== "").join("; ");
}

function _fieldComment(field: SchemaField): string {
  const words = fieldDocOf(field);
  if (words === undefined) throw new Error(`No words in FIELD_DOCS for "${field.path}"`);
  const { optional, hasDefault, defaultValue } = _unwrap(field.schema);
  const absent = optional && !hasDefault ? `${words.absent ?? "none"} when absent` : "";
  const text = `${_sentence([words.doc, boundsOf(field.schema), absent])}.`;
  return hasDefault ? `${text} @default ${_defaultText(defaultValue)}` : text;
}

interface _NamedType {
  path: string;
  schema: unknown;
}

function _namedTypes(): _NamedType[] {
  const out: _NamedType[] = [];
  const seen = new Set<string>();
  const add = (path: string, schema: unknown): void => {
    if (seen.has(path)) return;
    seen.add(path);
    out.push({ path, schema });
  };
  const visit = (schema: unknown, path: string): void => {
    const { core } = _unwrap(schema);
    if (core.type === "object") {
      for (const [name, field] of Object.entries(core.shape as Record<string, unknown>)) {
        visit(field, path === "" ? name : `${path}.${name}`);
      }
      add(path, core);
    } else if (core.type === "array") visit(core.element, `${path}[]`);
    else if (core.type === "record") visit(core.valueType, `${path}.<name>`);
    else if (core.type === "enum" && TYPE_DOCS[path] !== undefined) add(path, core);
    else if (core.type === "union" && core.discriminator !== undefined) {
      for (const option of core.options) {
        const def = _def(option);
        const variant = String(_def(def.shape[core.discriminator]).values[0]);
        for (const [name, field] of Object.entries(def.shape as Record<string, unknown>)) {
          visit(field, `${path}.${name}`);
        }
        add(`${path}(${variant})`, def);
      }
      add(path, core);
    }
  };
  visit(brokerConfigSchema, "");
  return out;
}

const _WIDTH = 110;

/** A doc comment, on one line when it fits, else wrapped at the formatter's line width. */
function _doc(text: string, indent = ""): string {
  const oneLine = `${indent}/** ${text} */`;
  if (oneLine.length <= _WIDTH) return `${oneLine}\n`;
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && `${indent} * ${line} ${word}`.length > _WIDTH) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  lines.push(line);
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}\n`).join("")}${indent} */\n`;
}

function _declaration(named: _NamedType, input: boolean, fields: readonly SchemaField[]): string {
  const words = TYPE_DOCS[named.path];
  if (words === undefined) throw new Error(`No name in TYPE_DOCS for the type at "${named.path}"`);
  const name = _typeName(named.path, named.schema, input);
  const doc = input ? (words.inputDoc ?? `{@link ${words.name}} as written.`) : words.doc;
  const def = _def(named.schema);
  if (def.type === "enum") {
    const values = Object.values(def.entries).map(_literal).join(" | ");
    return `${_doc(doc)}export type ${name} = ${values};\n`;
  }
  if (def.type === "union") {
    const variants = (def.options as unknown[]).map((option) => {
      const variant = String(_def(_def(option).shape[def.discriminator]).values[0]);
      return _typeName(`${named.path}(${variant})`, option, input);
    });
    return `${_doc(doc)}export type ${name} =\n  | ${variants.join("\n  | ")};\n`;
  }
  let body = "";
  for (const field of fields.filter((f) => f.owner === named.path)) {
    const { optional, hasDefault } = _unwrap(field.schema);
    const mark = optional || (input && hasDefault) ? "?" : "";
    body += _doc(_fieldComment(field), "  ");
    body += `  ${field.name}${mark}: ${_renderType(field.schema, field.path, input)};\n`;
  }
  return `${_doc(doc)}export interface ${name} {\n${body}}\n`;
}

const TYPES_HEADER = `/**
 * The broker's configuration as TypeScript types: \`XConfig\` is what validation returns (defaults applied),
 * \`XConfigInput\` is what users write (fields with a default are optional). \`schema.ts\` proves at compile time
 * that its zod schema produces and accepts exactly these shapes.
 *
 * Generated by \`scripts/config_docs.ts\` from \`schema.ts\` (types, defaults, bounds) and \`field_docs.ts\` (the
 * words): do not edit by hand; run \`./node_modules/deno/deno run -A scripts/config_docs.ts\`.
 *
 * Secrets are never inlined: fields ending in \`Env\` name an environment variable that holds the secret.
 *
 * @module
 */
`;

/** The text of `src/config/types.ts`, before formatting. */
export function renderTypes(): string {
  const fields = schemaFields();
  const named = _namedTypes();
  const rule = "// " + "-".repeat(111);
  let out = `${TYPES_HEADER}\n${rule}\n// Validated configuration (defaults applied)\n${rule}\n`;
  for (const type of named) out += `\n${_declaration(type, false, fields)}`;
  out += `\n${rule}\n// Configuration as written (fields with a default are optional)\n${rule}\n`;
  for (const type of named.filter((t) => _hasDefaults(t.schema))) {
    out += `\n${_declaration(type, true, fields)}`;
  }
  return out;
}

function _cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** The README's config table (between the markers), before formatting. */
export function renderTable(): string {
  const fields = schemaFields();
  const variantsOf = new Map<string, string[]>();
  for (const field of fields) {
    if (field.variant === undefined) continue;
    const list = variantsOf.get(field.path.slice(0, field.path.lastIndexOf("."))) ?? [];
    if (!list.includes(field.variant)) list.push(field.variant);
    variantsOf.set(field.path.slice(0, field.path.lastIndexOf(".")), list);
  }
  interface Row {
    path: string;
    variants: string[];
    meaning: string;
    byDefault: string;
  }
  const rows: Row[] = [];
  for (const field of fields) {
    const words = fieldDocOf(field);
    if (words === undefined) throw new Error(`No words in FIELD_DOCS for "${field.path}"`);
    const { optional, hasDefault, defaultValue } = _unwrap(field.schema);
    const byDefault = hasDefault
      ? `\`${_defaultText(defaultValue)}\``
      : optional
      ? (words.absent ?? "none")
      : "required";
    let meaning = _sentence([words.doc, boundsOf(field.schema)]);
    if (field.discriminator) {
      const all = variantsOf.get(field.path.slice(0, field.path.lastIndexOf("."))) ?? [];
      meaning = `${meaning}: ${all.map((v) => `\`${v}\``).join(", ")}`;
    }
    const same = rows.find((r) =>
      r.path === field.path && r.meaning === meaning && r.byDefault === byDefault &&
      field.variant !== undefined
    );
    if (same !== undefined) same.variants.push(field.variant!);
    else {
      rows.push({
        path: field.path,
        variants: field.variant === undefined ? [] : [field.variant],
        meaning,
        byDefault,
      });
    }
  }
  const lines = ["| field | meaning | default |", "| --- | --- | --- |"];
  for (const row of rows) {
    const all = variantsOf.get(row.path.slice(0, row.path.lastIndexOf("."))) ?? [];
    const label = row.variants.length === 0 || row.variants.length === all.length
      ? ""
      : ` (${row.variants.map((v) => `\`${v}\``).join(", ")})`;
    lines.push(`| \`${row.path}\`${label} | ${_cell(row.meaning)} | ${_cell(row.byDefault)} |`);
  }
  return lines.join("\n");
}

/** `readme` with the text between the markers replaced by {@link renderTable}. Throws without the markers. */
export function withTable(readme: string): string {
  const begin = readme.indexOf(TABLE_BEGIN);
  const end = readme.indexOf(TABLE_END);
  if (begin < 0 || end < begin) throw new Error("The README has no config table markers");
  return `${readme.slice(0, begin)}${TABLE_BEGIN}\n\n${renderTable()}\n\n${readme.slice(end)}`;
}

/** Formats `text` with `deno fmt` and the repository's settings. */
export async function formatted(text: string, ext: "ts" | "md"): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", `--ext=${ext}`, "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  if (!output.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(output.stderr)}`);
  return new TextDecoder().decode(output.stdout);
}

/** The generated files and the text each should have. */
export async function expectedFiles(): Promise<Array<{ path: string; text: string }>> {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  return [
    { path: "src/config/types.ts", text: await formatted(renderTypes(), "ts") },
    { path: "README.md", text: await formatted(withTable(readme), "md") },
  ];
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  let drift = false;
  for (const { path, text } of await expectedFiles()) {
    const current = await Deno.readTextFile(`${ROOT}/${path}`);
    if (current === text) continue;
    if (check) {
      console.error(`${path} is out of date: run ./node_modules/deno/deno run -A scripts/config_docs.ts`);
      drift = true;
    } else {
      await Deno.writeTextFile(`${ROOT}/${path}`, text);
      console.log(`Wrote ${path}`);
    }
  }
  if (drift) Deno.exit(1);
}
