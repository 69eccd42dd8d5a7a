/**
 * Loopback hosts: the only ones that may use plain http (and IP literals), and only where the configuration allows
 * it (tests and the local demo). Shared by the config checks, the IdP fetch, the ArcGIS URL rules and the proxy.
 *
 * @module
 */

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** True when `url` is on a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`). */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname);
}
