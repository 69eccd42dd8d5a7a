/**
 * The proxy allowlist: scheme, host and port must be equal, and the entry's path must be a prefix of the target's
 * path on whole segments (`/a/b/` matches `/a/b` and `/a/b/c`, never `/a/bc`). Paths compare case-sensitively and
 * byte for byte on their normalized WHATWG form: ArcGIS itself is case-insensitive, so a differently cased target
 * is refused rather than widened; write entries in the case the app uses (the Maps SDK keeps the case of the
 * URLs it was given). For ArcGIS Online hosted services the organization id segment is part of the prefix. An empty
 * allowlist denies everything and there is no switch that turns matching off.
 *
 * @module
 */
import type { ProxyEntryConfig } from "../config/types.ts";

/** Matches target URLs against the configured entries. */
export interface Allowlist {
  /** The most specific entry (longest path prefix; the first on ties) that admits `url`, or `undefined`. */
  match(url: URL): ProxyEntryConfig | undefined;
}

interface _CompiledEntry {
  entry: ProxyEntryConfig;
  protocol: string;
  host: string;
  segments: string[];
}

/** Splits a normalized path into segments, dropping the empty one a trailing `/` leaves. */
function _segments(pathname: string): string[] {
  const segments = pathname.split("/");
  if (segments.length > 1 && segments[segments.length - 1] === "") segments.pop();
  return segments;
}

/** Compiles the allowlist entries once. */
export function createAllowlist(entries: readonly ProxyEntryConfig[]): Allowlist {
  const compiled: _CompiledEntry[] = entries.map((entry) => {
    const url = new URL(entry.url);
    return { entry, protocol: url.protocol, host: url.host, segments: _segments(url.pathname) };
  });
  return {
    match(url: URL): ProxyEntryConfig | undefined {
      const target = _segments(url.pathname);
      let best: _CompiledEntry | undefined;
      for (const candidate of compiled) {
        if (candidate.protocol !== url.protocol || candidate.host !== url.host) continue;
        if (candidate.segments.length > target.length) continue;
        if (!candidate.segments.every((segment, i) => segment === target[i])) continue;
        if (best === undefined || candidate.segments.length > best.segments.length) best = candidate;
      }
      return best?.entry;
    },
  };
}
