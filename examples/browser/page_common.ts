/// <reference lib="dom" />
/**
 * What both example pages share: the runtime config the server injects (`./config.json`), the sign-in at the
 * organization's IdP, the Maps SDK set up to run with no CDN, the map with the secured layer, and the hooks the
 * browser tests read (`window.__test`).
 *
 * @module
 */
import esriConfig from "@arcgis/core/config.js";
import IdentityManager from "@arcgis/core/identity/IdentityManager.js";
import type FeatureLayer from "@arcgis/core/layers/FeatureLayer.js";
import type Point from "@arcgis/core/geometry/Point.js";
import { createOidcClient, type OidcClient } from "./oidc_client.ts";

/** The page's runtime config, served by the host at `./config.json` (never baked into the bundle). */
export interface PageConfig {
  /** The IdP issuer URL. */
  issuer: string;
  /** The SPA's client id at the IdP. */
  clientId: string;
  /** Scopes to ask the IdP for. */
  scope: string;
  /** RFC 8707 resource indicator, when the IdP issues JWT access tokens per resource. */
  resource?: string;
  /** Extra authorize parameters for the IdP. */
  extraAuthorizeParams?: Record<string, string>;
  /** The broker's mount URL, e.g. `http://127.0.0.1:8080/arcgis`. */
  brokerUrl: string;
  /** The secured FeatureLayer (`…/FeatureServer/0`). */
  layerUrl: string;
  /** The ArcGIS portal (`…/sharing/rest` or its web-adaptor root). */
  portalUrl: string;
  /** Where the `@arcgis/core/assets` copy is served. */
  assetsPath: string;
  /** Where glyphs would be served (nothing is needed; keeps the SDK off the internet). */
  fontsUrl: string;
  /** Map centre, `[longitude, latitude]`. */
  center: [number, number];
  /** Map zoom level. */
  zoom: number;
  /** The IdP's end-session endpoint (RP-initiated logout). */
  endSessionEndpoint: string;
  /** The offline basemap: Natural Earth land as TopoJSON (`world-atlas`). */
  basemapUrl: string;
  /** A secured tiled MapServer (`…/MapServer`), for the Leaflet and OpenLayers pages. */
  tileServiceUrl?: string;
}

/** What the browser tests read from `window.__test`. */
export interface TestHooks {
  /** Which page this is. */
  page: "register" | "proxy" | "leaflet" | "openlayers";
  /** A short status line, also shown on the page. */
  status: string;
  /** True once the map has drawn the layer and the first query finished. */
  ready: boolean;
  /** Features returned by the last `queryFeatures()`. */
  featureCount: number | null;
  /** `queryFeatureCount()` of the last query round. */
  serverCount: number | null;
  /** Query rounds finished. */
  queries: number;
  /** Times the SDK's sign-in dialog was created (must stay 0). */
  dialogOpened: number;
  /** Credentials the SDK created (registerToken or sign-in). */
  credentialsCreated: number;
  /** Errors seen, as messages. */
  errors: string[];
  /** Milestones of this page load, in ms since navigation start (`performance.now()`). */
  timings: Record<string, number>;
  /** The page-load steps as shown (`signin`, `link`, `layer`): `"<state>: <detail>"`. */
  steps: Record<string, string>;
  /** What the browser holds and when it is renewed, as shown. */
  lifetime: { label: string; expires: number; renewAt: number; renewal: string } | null;
  /** The IdP user as shown. */
  idpUser: string | null;
  /** The ArcGIS user as shown. */
  arcgisUser: string | null;
  /** Land polygons of the offline basemap drawn. */
  basemapFeatures: number;
  /** Map tiles of the secured tiled layer that loaded (Leaflet and OpenLayers pages). */
  tilesLoaded: number;
  /** Whether a feature popup is open. */
  popupOpen: boolean;
  /** Credentials IdentityManager holds now (the proxy page must hold none). */
  registeredCredentials(): number;
  /** Runs one more query round and resolves to the number of features. */
  query(): Promise<number>;
}

declare const window: Window & { __test?: TestHooks };

/** The hooks object, created on first use. */
export function testHooks(page: TestHooks["page"]): TestHooks {
  window.__test ??= {
    page,
    status: "starting",
    ready: false,
    featureCount: null,
    serverCount: null,
    queries: 0,
    dialogOpened: 0,
    credentialsCreated: 0,
    errors: [],
    timings: {},
    steps: {},
    lifetime: null,
    idpUser: null,
    arcgisUser: null,
    basemapFeatures: 0,
    tilesLoaded: 0,
    popupOpen: false,
    registeredCredentials: () =>
      (IdentityManager.toJSON() as { credentials?: unknown[] }).credentials?.length ?? 0,
    query: () => Promise.reject(new Error("Not ready")),
  };
  return window.__test;
}

/** Records a milestone in `hooks.timings`. */
export function mark(hooks: TestHooks, name: string): void {
  hooks.timings[name] = Math.round(performance.now());
}

/** Shows a status line on the page and in the hooks. */
export function setStatus(hooks: TestHooks, text: string): void {
  hooks.status = text;
  const el = document.getElementById("status");
  if (el) el.textContent = text;
}

/** Records an error on the page and in the hooks. */
export function reportError(hooks: TestHooks, error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  hooks.errors.push(message);
  setStatus(hooks, `Error: ${message}`);
  console.error(error);
}

/** Reads the runtime config. */
export async function loadPageConfig(): Promise<PageConfig> {
  const response = await fetch(new URL("./config.json", location.href), { cache: "no-store" });
  if (!response.ok) throw new Error(`Cannot load config.json: status ${response.status}`);
  return await response.json() as PageConfig;
}

/**
 * Points the Maps SDK at local copies of everything it would otherwise fetch from a CDN, and counts sign-in
 * dialogs and credentials for the tests.
 */
export function configureSdk(config: PageConfig, hooks: TestHooks): void {
  esriConfig.assetsPath = config.assetsPath;
  esriConfig.fontsUrl = config.fontsUrl;
  esriConfig.portalUrl = config.portalUrl;
  IdentityManager.on("dialog-create", () => {
    hooks.dialogOpened++;
    hooks.errors.push("The ArcGIS sign-in dialog opened");
  });
  IdentityManager.on("credential-create", () => {
    hooks.credentialsCreated++;
  });
}

/**
 * Signs the user in at the IdP (authorization code + PKCE). Resolves to a client holding a token; when there is
 * none yet, the browser is sent to the IdP and this never resolves.
 */
export async function signIn(config: PageConfig, hooks: TestHooks): Promise<OidcClient> {
  const redirect = new URL(location.href);
  redirect.search = "";
  redirect.hash = "";
  const oidc = createOidcClient({
    issuer: config.issuer,
    clientId: config.clientId,
    redirectUri: redirect.href,
    scope: config.scope,
    resource: config.resource,
    extraAuthorizeParams: config.extraAuthorizeParams,
  });
  await oidc.handleRedirect();
  if (await oidc.getAccessToken() === null) {
    setStatus(hooks, "Signing in at the identity provider…");
    await oidc.signIn();
  }
  return oidc;
}

/** Scale of web-map zoom level 0 (256-pixel tiles at 96 dpi). */
const WEB_MERCATOR_ZOOM_0_SCALE = 591_657_527.591555;

/**
 * Resolves to true once an element matching `selector` has a size on screen and contains `text` (bounded by
 * `timeoutMs`): the SDK's popup opens before its calcite components have drawn anything.
 */
async function _rendered(selector: string, text: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const element = document.querySelector(selector);
    if (element instanceof HTMLElement && element.offsetHeight > 0 && element.textContent?.includes(text)) {
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** The popup of a trailhead, the same in every client. */
export function popupHtml(attributes: Record<string, unknown>): string {
  const esc = (value: unknown): string =>
    String(value ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<div class="popup"><strong>${esc(attributes.NAME)}</strong>` +
    `<dl><dt>Elevation</dt><dd>${esc(attributes.ELEVATION_M)} m</dd>` +
    `<dt>Parking</dt><dd>${esc(attributes.PARKING)}</dd>` +
    `<dt>OBJECTID</dt><dd>${esc(attributes.OBJECTID)}</dd></dl></div>`;
}

/**
 * Shows `layer` over the offline basemap, waits until it is drawn, queries every feature, opens the popup of the
 * first one, and exposes `hooks.query()` for later rounds.
 */
export async function showLayer(config: PageConfig, layer: FeatureLayer, hooks: TestHooks): Promise<void> {
  const [
    { default: EsriMap },
    { default: MapView },
    reactiveUtils,
    { default: GraphicsLayer },
    { default: Graphic },
    { default: ColorBackground },
    { loadLand, BASEMAP_STYLE },
  ] = await Promise.all([
    import("@arcgis/core/Map.js"),
    import("@arcgis/core/views/MapView.js"),
    import("@arcgis/core/core/reactiveUtils.js"),
    import("@arcgis/core/layers/GraphicsLayer.js"),
    import("@arcgis/core/Graphic.js"),
    import("@arcgis/core/webmap/background/ColorBackground.js"),
    import("./basemap.ts"),
  ]);
  mark(hooks, "sdkLoaded");
  const land = await loadLand(config.basemapUrl, config.center);
  hooks.basemapFeatures = land.features.length;
  // A few clipped polygons: graphics on the main thread cost less than a layer that parses in a worker.
  const landSymbol = {
    type: "simple-fill" as const,
    color: BASEMAP_STYLE.land,
    outline: { color: BASEMAP_STYLE.coast, width: 0.75 },
  };
  const basemap = new GraphicsLayer({
    title: "Natural Earth land (offline)",
    graphics: land.features.map((f) =>
      new Graphic({
        geometry: { type: "polygon", rings: f.geometry.coordinates, spatialReference: { wkid: 4326 } },
        symbol: landSymbol,
      })
    ),
  });
  layer.popupTemplate = {
    title: "{NAME}",
    content: [{
      type: "fields",
      fieldInfos: [
        { fieldName: "ELEVATION_M", label: "Elevation (m)" },
        { fieldName: "PARKING", label: "Parking" },
        { fieldName: "OBJECTID", label: "OBJECTID" },
      ],
    }],
  } as unknown as FeatureLayer["popupTemplate"];
  layer.renderer = {
    type: "simple",
    symbol: { type: "simple-marker", color: "#d9480f", size: 9, outline: { color: "#ffffff", width: 1.5 } },
  } as unknown as FeatureLayer["renderer"];
  const map = new EsriMap({ layers: [basemap, layer] });
  const view = new MapView({
    container: "map",
    map,
    center: config.center,
    // No tiled basemap, so no zoom levels: the scale of web-map zoom level `config.zoom`.
    scale: WEB_MERCATOR_ZOOM_0_SCALE / 2 ** config.zoom,
    spatialReference: { wkid: 3857 },
    background: new ColorBackground({ color: BASEMAP_STYLE.water }),
  });
  await view.when();
  mark(hooks, "viewReady");
  const layerView = await view.whenLayerView(layer);
  mark(hooks, "layerViewCreated");
  await reactiveUtils.whenOnce(() => !layerView.updating && !view.updating);
  mark(hooks, "drawn");
  hooks.query = async () => {
    const [features, count] = await Promise.all([
      layer.queryFeatures({ where: "1=1", outFields: ["*"], returnGeometry: true }),
      layer.queryFeatureCount({ where: "1=1" }),
    ]);
    hooks.featureCount = features.features.length;
    hooks.serverCount = count;
    hooks.queries++;
    return features.features.length;
  };
  const n = await hooks.query();
  mark(hooks, "queried");
  const first = await layer.queryFeatures({ objectIds: [8], outFields: ["*"], returnGeometry: true });
  const graphic = first.features[0];
  if (graphic?.geometry) {
    await view.openPopup({ features: [graphic], location: graphic.geometry as Point });
    await reactiveUtils.whenOnce(() => view.popup?.visible === true).catch(() => {});
    hooks.popupOpen = view.popup?.visible === true &&
      await _rendered(".esri-popup__main-container", "Elevation", 15_000);
  }
  hooks.ready = true;
  setStatus(hooks, `Showing ${n} features of "${layer.title}" over an offline Natural Earth basemap`);
}
