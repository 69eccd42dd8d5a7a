/// <reference lib="dom" />
/**
 * The start both session-cookie pages share (Leaflet, OpenLayers): sign in at the IdP, link the ArcGIS account
 * once if needed, open the broker's session cookie (renewed before it ends) and show who is signed in. The page
 * then only adds its own map client.
 *
 * @module
 */
import { ensureLinked, fetchArcGISUser, type SessionCookie, startSessionCookie } from "./broker_flows.ts";
import { setStep, showArcGISUser, showIdpUser, showLifetime, wireButtons } from "./demo_panel.ts";
import { loadPageConfig, type PageConfig, reportError, signIn, type TestHooks } from "./page_common.ts";

/** What a session-cookie page has once the cookie is set. */
export interface CookiePage {
  config: PageConfig;
  /** The broker's proxy URL, `{broker}/proxy`. */
  proxy: string;
}

/**
 * Runs the shared start of a session-cookie page; undefined when the page left for the link bounce (it comes
 * back with the link done).
 */
export async function startCookiePage(hooks: TestHooks): Promise<CookiePage | undefined> {
  const config = await loadPageConfig();
  setStep(hooks, "signin", "active", "Signing in at the identity provider…");
  const oidc = await signIn(config, hooks);
  setStep(hooks, "signin", "done", "Signed in at the identity provider");
  showIdpUser(oidc, hooks);
  const getIdpToken = async (): Promise<string> => {
    const token = await oidc.getAccessToken();
    if (token === null) return await oidc.signIn();
    return token;
  };
  const brokerUrl = config.brokerUrl.replace(/\/$/, "");
  const proxy = `${brokerUrl}/proxy`;
  const held: { session?: SessionCookie } = {};
  wireButtons(hooks, { oidc, config, getIdpToken, endBrokerState: async () => await held.session?.end() });
  if (
    !await ensureLinked({ brokerUrl, getIdpToken, probeUrl: `${proxy}?${config.layerUrl}?f=json`, hooks })
  ) {
    return undefined;
  }
  held.session = await startSessionCookie({
    brokerUrl,
    getIdpToken,
    onSession: (cookie) =>
      showLifetime(hooks, {
        label: "Broker session cookie (HttpOnly, no token inside); the ArcGIS token stays at the broker",
        expires: cookie.expires,
        renewAt: cookie.renewAt,
        renewal: `New session #${cookie.count + 1}`,
      }),
    onError: (error) => reportError(hooks, error),
  });
  const arcgis = await fetchArcGISUser(getIdpToken);
  if (arcgis !== undefined) showArcGISUser(arcgis.userId, hooks);
  setStep(hooks, "layer", "active", "Loading the layers through the broker's proxy (session cookie)…");
  return { config, proxy };
}
