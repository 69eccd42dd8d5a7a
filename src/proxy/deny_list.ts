/**
 * The built-in deny list no configuration can lift: token minting and administration (see `read_operations.ts`,
 * the one table). A proxied `generateToken` with `serverUrl` would mint a fresh token for the browser;
 * `community/self` and `portals/self` would hand out the identity behind the proxy; `portals/<id>/update` and
 * `accounts/…` administer the organization.
 *
 * @module
 */
import { _comparableSegments } from "./_path_segments.ts";
import { classifyOperation } from "./read_operations.ts";

/** True when `pathname` (normalized) names a denied endpoint, in any case or percent-encoding. */
export function isDeniedPath(pathname: string): boolean {
  return isDeniedSegments(_comparableSegments(pathname));
}

/** {@link isDeniedPath} on segments from `_comparableSegments` (computed once for several checks). */
export function isDeniedSegments(segments: readonly string[]): boolean {
  return classifyOperation(segments).kind === "denied";
}
