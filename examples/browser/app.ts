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
import { linger, setStep, showArcGISUser, showIdpUser, showLifetime, wireButtons } from "./demo_panel.ts";
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

/** Re-register this long before the earliest token expiry. */
const REFRESH_MARGIN_MS = 120_000;

async function main(): Promise<void> {
  const hooks = testHooks("register");
  try {
    const config = await loadPageConfig();
    configureSdk(config, hooks);
    setStep(hooks, "signin", "active", "Signing in at the identity provider…");
    const oidc = await signIn(config, hooks);
    setStep(hooks, "signin", "done", "Signed in at the identity provider");
    showIdpUser(oidc, hooks);
    const getIdpToken = async (): Promise<string> => {
      const token = await oidc.getAccessToken();
      if (token === null) return await oidc.signIn();
      return token;
    };
    const returning = new URL(location.href).searchParams.has("linkId");
    const stats = window.__credentials = { refreshes: 0, expires: null as number | null };
    const client = createArcGISCredentialsClient({
      brokerUrl: config.brokerUrl,
      getIdpToken,
      identityManager: IdentityManager,
      refreshMarginMs: REFRESH_MARGIN_MS,
      onLinkRequired: async () => {
        setStep(hooks, "link", "active", "One-time link: going to ArcGIS sign-in (SSO through your IdP)…");
        setStatus(hooks, "Linking your ArcGIS account (one time)…");
        await linger(900);
      },
      onCredentials: (credentials) => {
        stats.refreshes++;
        stats.expires = credentials.expires;
        showArcGISUser(credentials.userId, hooks);
        showLifetime(hooks, {
          label:
            `ArcGIS tokens for ${credentials.credentials.length} server(s), registered with IdentityManager`,
          expires: credentials.expires,
          renewAt: credentials.expires - REFRESH_MARGIN_MS,
          renewal: `Re-registration #${stats.refreshes + 1}`,
        });
      },
      onError: (error) => reportError(hooks, error),
    });
    wireButtons(hooks, {
      oidc,
      config,
      getIdpToken,
      endBrokerState: () => {
        client.stop();
        IdentityManager.destroyCredentials();
        return Promise.resolve();
      },
    });
    setStatus(hooks, "Getting ArcGIS credentials from the broker…");
    await client.start();
    if (client.current === undefined) return; // navigating away to link, or failed (reported)
    setStep(
      hooks,
      "link",
      returning ? "done" : "skipped",
      returning ? "Linked: ArcGIS → IdP → broker, no prompt" : "Already linked (no bounce needed)",
    );
    setStep(hooks, "layer", "active", "Loading the secured layer…");
    setStatus(hooks, `Signed in to ArcGIS as ${client.current.userId}; loading the layer…`);
    const layer = new FeatureLayer({ url: config.layerUrl, outFields: ["*"] });
    await showLayer(config, layer, hooks);
    setStep(hooks, "layer", "done", `${hooks.featureCount} features, no sign-in dialog`);
  } catch (error) {
    reportError(hooks, error);
  }
}

void main();
