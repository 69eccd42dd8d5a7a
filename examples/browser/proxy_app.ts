/// <reference lib="dom" />
/**
 * The proxy page: no ArcGIS token ever reaches the browser. The SDK sends every request for the secured service
 * through the broker's proxy (`urlUtils.addProxyRule`), and one request interceptor adds the app's IdP bearer
 * token to exactly those requests; the broker injects the ArcGIS token on the server. The first time, the user
 * links their ArcGIS account (one visible bounce), since the proxy acts for that named user.
 *
 * @module
 */
import esriConfig from "@arcgis/core/config.js";
import * as urlUtils from "@arcgis/core/core/urlUtils.js";
import FeatureLayer from "@arcgis/core/layers/FeatureLayer.js";
import type { RequestInterceptor } from "@arcgis/core/request/types.js";
import { addProxyRules, proxyInterceptor, type ProxyInterceptorOptions } from "arcgis-token-broker/client";
import { ensureLinked, fetchArcGISUser } from "./broker_flows.ts";
import { setStep, showArcGISUser, showIdpUser, showLifetime, wireButtons } from "./demo_panel.ts";
import {
  configureSdk,
  loadPageConfig,
  reportError,
  setStatus,
  showLayer,
  signIn,
  testHooks,
} from "./page_common.ts";

/** The FeatureServer URL of a layer URL (`…/FeatureServer/0` → `…/FeatureServer`). */
function serviceUrlOf(layerUrl: string): string {
  return layerUrl.replace(/\/\d+\/?$/, "");
}

async function main(): Promise<void> {
  const hooks = testHooks("proxy");
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
    wireButtons(hooks, { oidc, config, getIdpToken, endBrokerState: () => Promise.resolve() });
    const brokerUrl = config.brokerUrl.replace(/\/$/, "");
    const options: ProxyInterceptorOptions = {
      brokerProxyUrl: `${brokerUrl}/proxy`,
      urlPrefixes: [serviceUrlOf(config.layerUrl)],
      getIdpToken,
    };
    const probeUrl = `${options.brokerProxyUrl}?${config.layerUrl}?f=json`;
    if (!await ensureLinked({ brokerUrl, getIdpToken, probeUrl, hooks })) return;
    const arcgis = await fetchArcGISUser(getIdpToken);
    if (arcgis !== undefined) {
      showArcGISUser(arcgis.userId, hooks);
      const tokens = oidc.tokens();
      showLifetime(hooks, {
        label: `IdP token only; the ArcGIS token stays at the broker (until ${
          new Date(arcgis.expires).toLocaleTimeString()
        })`,
        expires: tokens?.expiresAt ?? arcgis.expires,
        renewAt: (tokens?.expiresAt ?? arcgis.expires) - 30_000,
        renewal: "IdP token refresh",
      });
    }
    addProxyRules(urlUtils, options);
    // The helper's interceptor is typed structurally (it does not import @arcgis/core), hence the cast.
    esriConfig.request.interceptors?.push(proxyInterceptor(options) as unknown as RequestInterceptor);
    setStep(hooks, "layer", "active", "Loading the secured layer through the broker's proxy…");
    setStatus(hooks, "Loading the layer through the broker's proxy…");
    const layer = new FeatureLayer({ url: config.layerUrl, outFields: ["*"] });
    await showLayer(config, layer, hooks);
    setStep(hooks, "layer", "done", `${hooks.featureCount} features through the proxy, no ArcGIS token here`);
  } catch (error) {
    reportError(hooks, error);
  }
}

void main();
