/**
 * The ArcGIS URLs the broker talks to, all derived from the configuration: the portal's sharing API, its
 * endpoints, the configured server roots, and which token a target URL takes. Nothing here is ever learned from
 * an ArcGIS answer. It lives with the config because the config's own checks use it: a proxy entry whose URL no
 * token applies to is refused when the config is read.
 *
 * @module
 */
import type { ArcGISConfig } from "./types.ts";
import { isLoopbackUrl } from "../util/loopback.ts";
import { AGOL_HOSTED_HOST_PATTERN, AGOL_PORTAL_HOST_PATTERN } from "./constants.ts";

/** One configured server site. */
export interface ServerRoot {
  /** The site root without a trailing slash, e.g. `https://gis.example.com/server`. */
  root: string;
  /** `{root}/rest/services`, the `server` of its `registerToken` credential. */
  restServices: string;
  /** True for an ArcGIS Online hosted-services root (`services*.arcgis.com/<orgId>/arcgis`). */
  agolHosted: boolean;
  /** The org id segment of an ArcGIS Online hosted root. */
  agolOrgId?: string;
}

/** The portal and server URLs of one configuration. */
export interface ArcGISUrls {
  /** The sharing REST root without a trailing slash, e.g. `https://org.maps.arcgis.com/sharing/rest`. */
  sharingRest: string;
  /** The portal URL (`owningSystemUrl` of federated servers): the sharing root minus `/sharing/rest`. */
  portal: string;
  /** True when the portal is ArcGIS Online (`*.arcgis.com`). */
  isArcGISOnline: boolean;
  /** Configured server sites, in configuration order. */
  servers: readonly ServerRoot[];
  /** `{sharingRest}/{path}`. */
  endpoint(path: string): string;
}

/** Where a target URL's token comes from. */
export type TargetKind =
  | { kind: "portal" }
  | { kind: "agolHosted"; orgId: string }
  | { kind: "server"; server: ServerRoot };

/** `text` without trailing slashes (a loop: `/\/+$/` backtracks quadratically on a long run of inner slashes). */
function _stripSlash(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x2f) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** Normalizes a URL for comparison: lower-case host, no trailing slash, no query or fragment. */
function _normal(url: URL): { origin: string; path: string } {
  return { origin: `${url.protocol}//${url.host.toLowerCase()}`, path: _stripSlash(url.pathname) };
}

/** True when `path` is `prefix` or below it, segment-wise (case-insensitive, as ArcGIS paths are). */
function _underPath(path: string, prefix: string): boolean {
  const p = path.toLowerCase();
  const q = prefix.toLowerCase();
  return q === "" || p === q || p.startsWith(`${q}/`);
}

/** The org id of an ArcGIS Online hosted-services URL, or undefined. */
export function agolHostedOrgId(url: URL): string | undefined {
  if (url.protocol !== "https:" || !AGOL_HOSTED_HOST_PATTERN.test(url.hostname)) return undefined;
  const segments = url.pathname.split("/").filter((s) => s !== "");
  const first = /^tiles\d*\./i.test(url.hostname) && segments[0]?.toLowerCase() === "tiles"
    ? segments[1]
    : segments[0];
  return first !== undefined && /^[A-Za-z0-9]+$/.test(first) ? first : undefined;
}

function _serverRoot(text: string): ServerRoot {
  const url = new URL(text);
  let path = _stripSlash(url.pathname).replace(/\/rest(\/services)?$/i, "");
  path = _stripSlash(path);
  const root = `${url.protocol}//${url.host.toLowerCase()}${path}`;
  const orgId = agolHostedOrgId(url);
  return {
    root,
    restServices: `${root}/rest/services`,
    agolHosted: orgId !== undefined,
    ...(orgId !== undefined ? { agolOrgId: orgId } : {}),
  };
}

/** Derives the {@link ArcGISUrls} of a validated `arcgis` config section. */
export function createArcGISUrls(config: Pick<ArcGISConfig, "portalUrl" | "servers">): ArcGISUrls {
  const portalUrl = new URL(config.portalUrl);
  const sharingRest = `${portalUrl.protocol}//${portalUrl.host.toLowerCase()}${
    _stripSlash(portalUrl.pathname)
  }`;
  const portal = sharingRest.replace(/\/sharing\/rest$/i, "");
  return {
    sharingRest,
    portal,
    isArcGISOnline: AGOL_PORTAL_HOST_PATTERN.test(portalUrl.hostname),
    servers: Object.freeze(config.servers.map(_serverRoot)),
    endpoint: (path: string) => `${sharingRest}/${path}`,
  };
}

/** True when two portal URLs (`owningSystemUrl` values) name the same system: host and path, scheme ignored. */
export function samePortal(a: string, b: string): boolean {
  if (!URL.canParse(a) || !URL.canParse(b)) return false;
  const x = _normal(new URL(a));
  const y = _normal(new URL(b));
  return x.origin.replace(/^https?:/, "") === y.origin.replace(/^https?:/, "") &&
    x.path.toLowerCase() === y.path.toLowerCase();
}

/** The configured server whose root contains `url` (longest root first), or undefined. */
export function serverFor(urls: ArcGISUrls, url: URL): ServerRoot | undefined {
  const target = _normal(url);
  let best: ServerRoot | undefined;
  for (const server of urls.servers) {
    const root = _normal(new URL(server.root));
    if (root.origin !== target.origin || !_underPath(target.path, root.path)) continue;
    if (best === undefined || server.root.length > best.root.length) best = server;
  }
  return best;
}

/**
 * Which token `url` takes: a configured server root (longest match) takes that server's token; the portal's
 * origin, and ArcGIS Online hosted services of `orgId` (when the portal is ArcGIS Online), take the portal token.
 * Anything else is `undefined`. Only https is accepted, and plain http on loopback when `allowInsecureLoopback`.
 */
export function classifyTarget(
  urls: ArcGISUrls,
  url: URL,
  options: { orgId?: string; allowInsecureLoopback: boolean },
): TargetKind | undefined {
  if (url.username !== "" || url.password !== "") return undefined;
  if (
    url.protocol !== "https:" &&
    !(url.protocol === "http:" && options.allowInsecureLoopback && isLoopbackUrl(url))
  ) {
    return undefined;
  }
  const server = serverFor(urls, url);
  if (server !== undefined) return { kind: "server", server };
  if (_normal(url).origin === _normal(new URL(urls.sharingRest)).origin) return { kind: "portal" };
  if (urls.isArcGISOnline && options.orgId !== undefined) {
    const orgId = agolHostedOrgId(url);
    if (orgId !== undefined && orgId === options.orgId) return { kind: "agolHosted", orgId };
  }
  return undefined;
}
