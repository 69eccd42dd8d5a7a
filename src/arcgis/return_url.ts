/**
 * The return URL after linking, checked against `link.returnUrls` (no open redirect, RFC 9700 §4.11).
 *
 * @module
 */
import { BrokerError } from "../errors.ts";

function _origin(url: URL): string {
  return `${url.protocol}//${url.host.toLowerCase()}`;
}

/**
 * The return URL to use: `requested` when it is allowlisted, else the first allowlisted URL when nothing was
 * requested. An allowlist entry admits itself and, when its path ends in `/`, every URL of the same origin below
 * that path (query allowed, fragment dropped). Throws `ERR_INVALID_REQUEST` for anything else, and
 * `ERR_NOT_CONFIGURED` when the allowlist is empty.
 */
export function resolveReturnUrl(allowlist: readonly string[], requested: string | undefined): string {
  if (allowlist.length === 0) {
    throw new BrokerError("ERR_NOT_CONFIGURED", "Linking is not configured: link.returnUrls is empty");
  }
  if (requested === undefined) return allowlist[0];
  if (typeof requested !== "string" || !URL.canParse(requested)) {
    throw new BrokerError("ERR_INVALID_REQUEST", "Invalid return URL");
  }
  const candidate = new URL(requested);
  candidate.hash = "";
  // deno-lint-ignore no-control-regex -- control characters and backslashes are refused on purpose
  if (candidate.username !== "" || candidate.password !== "" || /[\\\u0000-\u001f]/.test(requested)) {
    throw new BrokerError("ERR_INVALID_REQUEST", "Invalid return URL");
  }
  for (const entry of allowlist) {
    const allowed = new URL(entry);
    if (_origin(allowed) !== _origin(candidate)) continue;
    const path = candidate.pathname;
    if (path === allowed.pathname && (allowed.search === "" || allowed.search === candidate.search)) {
      return candidate.href;
    }
    if (allowed.pathname.endsWith("/") && path.startsWith(allowed.pathname)) return candidate.href;
  }
  throw new BrokerError("ERR_INVALID_REQUEST", "Return URL is not allowed");
}
