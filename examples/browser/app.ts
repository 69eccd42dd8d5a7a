/// <reference lib="dom" />
/**
 * The `registerToken` page: the app signs in at its IdP, the browser helper fetches ArcGIS credentials from the
 * broker (`GET {broker}/credentials`), registers them with the SDK's IdentityManager and registers fresh ones
 * before they expire; the first time, it links the user's ArcGIS account (one visible bounce to ArcGIS). Then the
 * secured FeatureLayer loads with no sign-in dialog.
 *
 * @module
 */
import IdentityManager from "@arcgis/core/identity/IdentityManager.js";
import FeatureLayer from "@arcgis/core/layers/FeatureLayer.js";
import { createArcGISCredentialsClient } from "arcgis-token-broker/client";
import {
  configureSdk,
  loadPageConfig,
  reportError,
  setStatus,
  showLayer,
  signIn,
  testHooks,
} from "./page_common.ts";

declare const window: Window & { __credentials?: { refreshes: number; expires: number | null } };

async function main(): Promise<void> {
  const hooks = testHooks("register");
  try {
    const config = await loadPageConfig();
    configureSdk(config, hooks);
    const oidc = await signIn(config, hooks);
    const stats = window.__credentials = { refreshes: 0, expires: null as number | null };
    const client = createArcGISCredentialsClient({
      brokerUrl: config.brokerUrl,
      getIdpToken: async () => {
        const token = await oidc.getAccessToken();
        if (token === null) return await oidc.signIn();
        return token;
      },
      identityManager: IdentityManager,
      onLinkRequired: () => setStatus(hooks, "Linking your ArcGIS account (one time)…"),
      onCredentials: (credentials) => {
        stats.refreshes++;
        stats.expires = credentials.expires;
      },
      onError: (error) => reportError(hooks, error),
    });
    setStatus(hooks, "Getting ArcGIS credentials from the broker…");
    await client.start();
    if (client.current === undefined) return; // navigating away to link, or failed (reported)
    setStatus(hooks, `Signed in to ArcGIS as ${client.current.userId}; loading the layer…`);
    const layer = new FeatureLayer({ url: config.layerUrl, outFields: ["*"] });
    await showLayer(config, layer, hooks);
  } catch (error) {
    reportError(hooks, error);
  }
}

void main();
