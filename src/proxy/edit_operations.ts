/**
 * Recognizes ArcGIS REST paths that are not reads (see `read_operations.ts`, the one table). Allowlist entries are
 * read-only unless they set `allowEdits`.
 *
 * @module
 */
import { _comparableSegments } from "./_path_segments.ts";
import { classifyOperation } from "./read_operations.ts";

/** True when `pathname` (normalized) names an operation that may change data, in any case or percent-encoding. */
export function isEditOperationPath(pathname: string): boolean {
  return classifyOperation(_comparableSegments(pathname)).kind === "write";
}
