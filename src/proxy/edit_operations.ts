/**
 * Recognizes ArcGIS REST operations that change data. Allowlist entries are read-only unless they set `allowEdits`.
 *
 * @module
 */
import { EDIT_OPERATIONS } from "./constants.ts";
import { _comparableSegments } from "./_path_segments.ts";

/** True when any segment of `pathname` (normalized) names an edit operation, in any case or percent-encoding. */
export function isEditOperationPath(pathname: string): boolean {
  return isEditOperationSegments(_comparableSegments(pathname));
}

const _EDIT_OPERATIONS: ReadonlySet<string> = new Set(EDIT_OPERATIONS);

/** {@link isEditOperationPath} on segments from `_comparableSegments` (computed once for several checks). */
export function isEditOperationSegments(segments: readonly string[]): boolean {
  return segments.some((segment) => _EDIT_OPERATIONS.has(segment));
}
