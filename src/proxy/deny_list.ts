/**
 * The built-in deny list no configuration can lift: token-minting and administrative endpoints. A proxied
 * `generateToken` with `serverUrl` would mint a fresh token for the browser; `community/self` and `portals/self`
 * would hand out the identity behind the proxy.
 *
 * @module
 */
import { DENIED_SEGMENT_PAIRS, DENIED_SEGMENTS } from "./constants.ts";
import { _comparableSegments } from "./_path_segments.ts";

/** True when `pathname` (normalized) names a denied endpoint, in any case or percent-encoding. */
export function isDeniedPath(pathname: string): boolean {
  return isDeniedSegments(_comparableSegments(pathname));
}

/** {@link isDeniedPath} on segments from `_comparableSegments` (computed once for several checks). */
export function isDeniedSegments(segments: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    if (DENIED_SEGMENTS.includes(segments[i])) return true;
    for (const [first, second] of DENIED_SEGMENT_PAIRS) {
      if (segments[i] === first && segments[i + 1] === second) return true;
    }
  }
  return false;
}
