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
import {
  configureSdk,
  loadPageConfig,
  reportError,
  setStatus,
  showLayer,
  signIn,
  type TestHooks,
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
    const oidc = await signIn(config, hooks);
    const getIdpToken = async (): Promise<string> => {
      const token = await oidc.getAccessToken();
      if (token === null) return await oidc.signIn();
      return token;
    };
    const brokerUrl = config.brokerUrl.replace(/\/$/, "");
    const options: ProxyInterceptorOptions = {
      brokerProxyUrl: `${brokerUrl}/proxy`,
      urlPrefixes: [serviceUrlOf(config.layerUrl)],
      getIdpToken,
    };
    if (!await ensureLinked(brokerUrl, options, config.layerUrl, hooks)) return;
    addProxyRules(urlUtils, options);
    // The helper's interceptor is typed structurally (it does not import @arcgis/core), hence the cast.
    esriConfig.request.interceptors?.push(proxyInterceptor(options) as unknown as RequestInterceptor);
    setStatus(hooks, "Loading the layer through the broker's proxy…");
    const layer = new FeatureLayer({ url: config.layerUrl, outFields: ["*"] });
    await showLayer(config, layer, hooks);
  } catch (error) {
    reportError(hooks, error);
  }
}

async function _brokerCall(
  url: string,
  getIdpToken: () => Promise<string>,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${await getIdpToken()}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  const json = await response.json().catch(() => ({})) as Record<string, unknown>;
  return { status: response.status, json };
}

/**
 * Makes sure the user's ArcGIS account is linked, without any ArcGIS token reaching the page: completes a link
 * on return (`?linkId=`), then asks for the layer's metadata through the proxy; a `link_required` answer starts
 * the one-time link (`POST {broker}/link`, then a full-page redirect to ArcGIS). Resolves to false when the page
 * is navigating away.
 */
async function ensureLinked(
  brokerUrl: string,
  options: ProxyInterceptorOptions,
  layerUrl: string,
  hooks: TestHooks,
): Promise<boolean> {
  const here = new URL(location.href);
  const linkId = here.searchParams.get("linkId");
  if (linkId !== null) {
    here.searchParams.delete("linkId");
    history.replaceState(history.state, "", here.href);
    setStatus(hooks, "Completing the ArcGIS link…");
    const done = await _brokerCall(`${brokerUrl}/link/complete`, options.getIdpToken, { linkId });
    if (done.status !== 200) throw new Error(`Cannot complete the ArcGIS link: ${String(done.json.error)}`);
  }
  const probe = await fetch(`${options.brokerProxyUrl}?${layerUrl}?f=json`, {
    headers: { authorization: `Bearer ${await options.getIdpToken()}` },
    cache: "no-store",
    credentials: "omit",
  });
  const body = await probe.json().catch(() => ({})) as Record<string, unknown>;
  if (probe.status === 200) return true;
  if (probe.status !== 403 || body.error !== "link_required") {
    throw new Error(`The broker's proxy answered ${probe.status} ${String(body.error ?? "")}`);
  }
  if (linkId !== null) throw new Error("The ArcGIS link could not be completed");
  setStatus(hooks, "Linking your ArcGIS account (one time)…");
  const started = await _brokerCall(`${brokerUrl}/link`, options.getIdpToken, { returnTo: here.href });
  if (started.status !== 200 || typeof started.json.authorizeUrl !== "string") {
    throw new Error(`Cannot start the ArcGIS link: ${String(started.json.error)}`);
  }
  location.assign(started.json.authorizeUrl);
  return false;
}

void main();
