/**
 * Writes `docs/proxy-operations.md` from `src/proxy/read_operations.ts`, the one table of what a read-only proxy
 * entry forwards. `tests/proxy/proxy_operations_doc_test.ts` fails when the file and the table drift apart.
 *
 * Run: `./node_modules/deno/deno run --allow-run --allow-write=docs scripts/proxy_operations_doc.ts`
 *
 * @module
 */
import { PORTAL_READS, SERVICE_READS, WRITE_OPERATION_NAMES } from "../src/proxy/read_operations.ts";
import { MAX_TARGET_CHARS } from "../src/proxy/constants.ts";

const code = (names: readonly string[]): string =>
  names.length === 0 ? "none" : names.map((n) => `\`${n}\``).join(", ");

/** The Markdown text of `docs/proxy-operations.md`. */
export function renderProxyOperationsDoc(): string {
  const lines = [
    "# What a read-only proxy entry forwards",
    "",
    "<!-- Generated from src/proxy/read_operations.ts by scripts/proxy_operations_doc.ts: edit those, not this. -->",
    "",
    "A proxy entry without `allowEdits` forwards only the ArcGIS REST reads below (GET and HEAD, and POST for reads",
    "whose parameters are too long for a URL); anything else is answered 403 before a request goes upstream, and the",
    "log names the resource type and operation. An entry with `allowEdits` forwards every operation but the denied",
    "ones. Names are compared on the percent-decoded, lower-cased path segment.",
    "",
    "## Denied for every entry",
    "",
    "Token minting and administration, even with `allowEdits`: any `generateToken`, `oauth2`, `tokens` or `admin`",
    "segment; `community/self` and `portals/self`; `accounts/…`; and every `portals/<id>/…` path that is not a",
    "portal read below (`update`, `updateUserRole`, …).",
    "",
    "## Refused before any check",
    "",
    "- 400: empty path segments (`community//self`; one trailing `/` is fine), percent-encoded bytes of 0x80 or",
    "  more in the path (`applyEd%C4%B1ts`), encoded separators and dot segments, control characters.",
    `- 414: a target (everything after the proxy path's \`?\`) longer than ${MAX_TARGET_CHARS} characters.`,
    "",
    "## Services",
    "",
    "After the segment naming the service type, every segment must be a layer or feature id (digits), a read",
    "operation (which ends the path) or a child resource; below a child resource the segments address data",
    "(tiles, files, job results, scene nodes). Other service types (`VersionManagementServer`,",
    "`UtilityNetworkServer`, OGC `WMSServer`/`WFSServer`/…) forward only their own description (OGC ones by GET).",
    "",
    "| type | path segment | read operations | child resources |",
    "|---|---|---|---|",
  ];
  for (const s of SERVICE_READS) {
    const marker = s.named === true ? `\`${s.marker}/<name>\`` : `\`${s.marker}\``;
    lines.push(`| ${s.title} | ${marker} | ${code(s.operations)} | ${code(s.resources)} |`);
  }
  lines.push(
    "",
    "## Portal (below `sharing/rest`)",
    "",
    "`{id}` is a 32-digit hex item, group, folder or comment id; `{name}` a user name or portal id (not `self`);",
    "`**` any further segments. Paths marked raw hold user-authored content and are never read as an ArcGIS error",
    "envelope (so their text cannot make the broker refresh its token).",
    "",
    "| path | raw |",
    "|---|---|",
  );
  for (const read of PORTAL_READS) {
    lines.push(
      `| \`${read.pattern === "" ? "(root)" : read.pattern}\` | ${read.raw === true ? "yes" : ""} |`,
    );
  }
  lines.push(
    "",
    "## Write names",
    "",
    "Refused by read-only entries wherever they stand in the path (as a folder or service name too, and below a",
    "child resource):",
    "",
    `${code(WRITE_OPERATION_NAMES)}.`,
    "",
  );
  return lines.join("\n");
}

/** {@link renderProxyOperationsDoc} as `deno fmt` lays it out (the repository's `deno.json` settings). */
export async function formattedProxyOperationsDoc(): Promise<string> {
  const fmt = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    cwd: new URL("..", import.meta.url),
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = fmt.stdin.getWriter();
  await writer.write(new TextEncoder().encode(renderProxyOperationsDoc()));
  await writer.close();
  const { success, stdout } = await fmt.output();
  if (!success) throw new Error("Cannot format the proxy operations document");
  return new TextDecoder().decode(stdout);
}

if (import.meta.main) {
  await Deno.writeTextFile(
    new URL("../docs/proxy-operations.md", import.meta.url),
    await formattedProxyOperationsDoc(),
  );
}
