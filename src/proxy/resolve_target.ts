/**
 * Stage 1 of the proxy, the target: the request URL's `?<targetUrl>` parsed and checked (400), matched against
 * the allowlist and the built-in deny list (403).
 *
 * @module
 */
import type { ProxyEntryConfig } from "../config/types.ts";
import { _notAllowed, type _ProxySettings } from "./_proxy_settings.ts";
import { _comparableSegments } from "./_path_segments.ts";
import { isDeniedSegments } from "./deny_list.ts";
import { parseProxyTarget } from "./proxy_target.ts";

/** A target the allowlist admits. */
export interface ResolvedTarget {
  /** The normalized target URL (still with the caller's query). */
  url: URL;
  /** The path of the proxy route itself, for rewriting redirects. */
  proxyPath: string;
  /** The allowlist entry that admits it. */
  entry: ProxyEntryConfig;
  /** The path's segments, decoded and lower-cased for comparisons. */
  segments: readonly string[];
}

/** Parses the target of `request` and finds its allowlist entry; throws a `BrokerError` (400/403) otherwise. */
export async function resolveTarget(request: Request, settings: _ProxySettings): Promise<ResolvedTarget> {
  const { url, proxyPath } = parseProxyTarget(request.url, {
    allowInsecureLoopback: settings.allowInsecureLoopback,
  });
  const entry = settings.allowlist.match(url);
  const segments = _comparableSegments(url.pathname);
  if (entry === undefined || isDeniedSegments(segments)) {
    await settings.logTarget("info", "Proxy target refused", url);
    throw _notAllowed();
  }
  return { url, proxyPath, entry, segments };
}
