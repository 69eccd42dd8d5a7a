/**
 * OpenID Connect discovery (OIDC Discovery 1.0 §4): the `jwks_uri` of an issuer, from
 * `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal the configured one exactly (§4.3).
 *
 * @module
 */
import * as z from "zod/mini";
import { DISCOVERY_PATH } from "./constants.ts";
import { checkIdpUrl, fetchJson, type FetchJsonOptions, IdpFetchError } from "./fetch_json.ts";

const _discoverySchema = z.object({
  issuer: z.string(),
  jwks_uri: z.string(),
});

/** Options for {@link discoverJwksUri}. */
export type DiscoveryOptions = Omit<FetchJsonOptions, "what">;

/** The discovery URL of `issuer`: the issuer without a trailing `/`, then `/.well-known/openid-configuration`. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.endsWith("/") ? issuer.slice(0, -1) : issuer}${DISCOVERY_PATH}`;
}

/**
 * Fetches the discovery document of `issuer` and returns the checked URL of its endpoint `name`
 * (`introspection_endpoint`, …).
 */
export async function discoverEndpoint(
  fetchFn: typeof fetch,
  issuer: string,
  name: string,
  options: DiscoveryOptions,
): Promise<string> {
  const body = await fetchJson(fetchFn, discoveryUrl(issuer), { ...options, what: "discovery" });
  if (typeof body !== "object" || body === null || (body as Record<string, unknown>).issuer !== issuer) {
    throw new IdpFetchError("Discovery issuer does not equal the configured issuer");
  }
  const value = (body as Record<string, unknown>)[name];
  if (typeof value !== "string") throw new IdpFetchError(`Discovery document has no "${name}"`);
  return checkIdpUrl(value, options.allowInsecureLoopback, name).href;
}

/** Fetches the discovery document of `issuer` and returns its checked `jwks_uri`. */
export async function discoverJwksUri(
  fetchFn: typeof fetch,
  issuer: string,
  options: DiscoveryOptions,
): Promise<string> {
  const body = await fetchJson(fetchFn, discoveryUrl(issuer), { ...options, what: "discovery" });
  const parsed = _discoverySchema.safeParse(body);
  if (!parsed.success) throw new IdpFetchError("Invalid discovery document: expected issuer and jwks_uri");
  if (parsed.data.issuer !== issuer) {
    throw new IdpFetchError("Discovery issuer does not equal the configured issuer");
  }
  return checkIdpUrl(parsed.data.jwks_uri, options.allowInsecureLoopback, "jwks_uri").href;
}
