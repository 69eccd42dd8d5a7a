/**
 * Recognizes ArcGIS REST operations that change data. Allowlist entries are read-only unless they set `allowEdits`.
 *
 * @module
 */
import { EDIT_OPERATIONS } from "./constants.ts";
import { _comparableSegments } from "./_path_segments.ts";

/** True when any segment of `pathname` (normalized) names an edit operation, in any case or percent-encoding. */
export function isEditOperationPath(pathname: string): boolean {
  return _comparableSegments(pathname).some((segment) => EDIT_OPERATIONS.includes(segment));
}
