/**
 * Upstream redirects are never followed (the token would travel with them). A `Location` that resolves, against
 * the target, to a URL the allowlist admits (and the deny list does not refuse) is rewritten to the proxy form
 * `<proxyPath>?<url>`, so the browser's next request goes through every check again; any other is refused.
 *
 * @module
 */
import type { Allowlist } from "./allowlist.ts";
import { isDeniedPath } from "./deny_list.ts";
import { filterQueryString } from "./form_filter.ts";
import { checkTargetUrl } from "./proxy_target.ts";

/** Options for {@link rewriteRedirect}. */
export interface RewriteRedirectOptions {
  /** The compiled allowlist. */
  allowlist: Allowlist;
  /** The path of the proxy route (the request path before the first `?`). */
  proxyPath: string;
  /** Accept http and IP-literal loopback locations (tests only). @default false */
  allowInsecureLoopback?: boolean;
}

/**
 * The rewritten `Location` (a path-absolute reference to the proxy, with any `token` parameter removed from the
 * redirect target), or `undefined` when the location is outside the allowlist or malformed.
 */
export function rewriteRedirect(
  location: string,
  target: URL,
  options: RewriteRedirectOptions,
): string | undefined {
  try {
    const resolved = new URL(location, target);
    resolved.hash = "";
    const checked = checkTargetUrl(resolved.href, { allowInsecureLoopback: options.allowInsecureLoopback });
    if (options.allowlist.match(checked) === undefined || isDeniedPath(checked.pathname)) return undefined;
    checked.search = filterQueryString(checked.search);
    return `${options.proxyPath}?${checked.href}`;
  } catch {
    return undefined;
  }
}
