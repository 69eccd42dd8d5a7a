/**
 * Stage 1 of the proxy, the target: the request URL's `?<targetUrl>` parsed and checked (400, 414), matched
 * against the allowlist, and its operation classified (`read_operations.ts`): token minting and administration
 * are refused here for every entry (403).
 *
 * @module
 */
import type { ProxyEntryConfig } from "../config/types.ts";
import { _notAllowed, type _ProxySettings } from "./_proxy_settings.ts";
import { _comparableSegments } from "./_path_segments.ts";
import { classifyOperation, type OperationClass } from "./read_operations.ts";
import { parseProxyTarget } from "./proxy_target.ts";

/** A target the allowlist admits. */
export interface ResolvedTarget {
  /** The normalized target URL (still with the caller's query). */
  url: URL;
  /** The path of the proxy route itself, for rewriting redirects. */
  proxyPath: string;
  /** The allowlist entry that admits it. */
  entry: ProxyEntryConfig;
  /** The operation the path names (see `read_operations.ts`); never `denied`. */
  operation: OperationClass;
}

/** Parses the target of `request` and finds its allowlist entry; throws a `BrokerError` (400/403) otherwise. */
export async function resolveTarget(request: Request, settings: _ProxySettings): Promise<ResolvedTarget> {
  const { url, proxyPath } = parseProxyTarget(request.url, {
    allowInsecureLoopback: settings.allowInsecureLoopback,
  });
  const entry = settings.allowlist.match(url);
  if (entry === undefined) {
    await settings.logTarget("info", "Proxy target refused: on no allowlist entry", url);
    throw _notAllowed();
  }
  const operation = classifyOperation(_comparableSegments(url.pathname));
  if (operation.kind === "denied") {
    await settings.logTarget("info", "Proxy target refused: token minting or administration", url, {
      resourceType: operation.type,
      operation: operation.operation,
    });
    throw _notAllowed();
  }
  return { url, proxyPath, entry, operation };
}
