/// <reference lib="dom" />
/**
 * The Leaflet page: esri-leaflet's feature layer and tiled map layer through the broker's proxy, authenticated by
 * the broker's session cookie. Leaflet loads tiles with `<img>` and esri-leaflet cannot add a header, so the page
 * starts a session once (`POST {broker}/session` with the IdP bearer; the broker sets an `HttpOnly`,
 * `SameSite=Strict` cookie on its own path) and gives both layers the proxy URL:
 *
 * ```ts
 * await fetch(`${broker}/session`, { method: "POST", headers: { authorization: `Bearer ${idpToken}` } });
 * featureLayer({ url: layerUrl, proxy: `${broker}/proxy` }).addTo(map);
 * tiledMapLayer({ url: mapServerUrl, proxy: `${broker}/proxy` }).addTo(map);
 * ```
 *
 * No ArcGIS token ever reaches the browser.
 *
 * @module
 */
import L from "leaflet";
import { featureLayer, tiledMapLayer } from "esri-leaflet";
import { BASEMAP_STYLE, loadLand } from "./basemap.ts";
import { startCookiePage } from "./cookie_page.ts";
import { setStep } from "./demo_panel.ts";
import { mark, popupHtml, reportError, setStatus, testHooks } from "./page_common.ts";

async function main(): Promise<void> {
  const hooks = testHooks("leaflet");
  try {
    const started = await startCookiePage(hooks);
    if (started === undefined) return;
    const { config, proxy } = started;

    const map = L.map("map", { zoomControl: true }).setView(
      [config.center[1], config.center[0]],
      config.zoom,
    );
    (map.getContainer() as HTMLElement).style.background = BASEMAP_STYLE.water;
    const land = await loadLand(config.basemapUrl, config.center);
    hooks.basemapFeatures = land.features.length;
    L.geoJSON(land as unknown as GeoJSON.GeoJsonObject, {
      style: { color: BASEMAP_STYLE.coast, weight: 1, fillColor: BASEMAP_STYLE.land, fillOpacity: 1 },
      interactive: false,
    }).addTo(map);
    map.attributionControl.addAttribution("Natural Earth (offline)");

    // Settles once every tile in view has loaded or failed (Leaflet's "load"), so "ready" includes the tiles.
    let tilesSettled = Promise.resolve();
    if (config.tileServiceUrl !== undefined) {
      const tiles = tiledMapLayer({ url: config.tileServiceUrl, proxy, opacity: 0.15 });
      tiles.on("tileload", () => hooks.tilesLoaded++);
      tiles.on("tileerror", () => hooks.errors.push("A map tile did not load"));
      tilesSettled = new Promise<void>((resolve) => tiles.once("load", () => resolve()));
      tiles.addTo(map);
    }
    const trailheads = featureLayer({
      url: config.layerUrl,
      proxy,
      pointToLayer: (_geojson: unknown, latlng: L.LatLng) =>
        L.circleMarker(latlng, {
          radius: 6,
          color: "#ffffff",
          weight: 1.5,
          fillColor: "#d9480f",
          fillOpacity: 1,
        }),
    });
    trailheads.bindPopup((layer: L.Layer) =>
      popupHtml((layer as L.Layer & { feature: { properties: Record<string, unknown> } }).feature.properties)
    );
    map.on("popupopen", () => hooks.popupOpen = true);
    map.on("popupclose", () => hooks.popupOpen = false);
    await new Promise<void>((resolve, reject) => {
      trailheads.once("load", () => resolve());
      trailheads.once("requesterror", (event: { message?: string }) => reject(new Error(event.message)));
      trailheads.addTo(map);
    });
    await tilesSettled;
    mark(hooks, "drawn");
    let count = 0;
    let eighth: (L.CircleMarker & { feature?: { properties: Record<string, unknown> } }) | undefined;
    trailheads.eachFeature((layer: L.Layer) => {
      count++;
      const marker = layer as L.CircleMarker & { feature?: { properties: Record<string, unknown> } };
      if (marker.feature?.properties.OBJECTID === 8) eighth = marker;
    });
    hooks.featureCount = count;
    hooks.queries++;
    if (eighth?.feature !== undefined) {
      L.popup({ autoPan: false }).setLatLng(eighth.getLatLng()).setContent(
        popupHtml(eighth.feature.properties),
      )
        .openOn(map);
    }
    hooks.ready = true;
    setStep(hooks, "layer", "done", `${count} features and the tiled layer, with the session cookie`);
    setStatus(
      hooks,
      `Showing ${count} features with Leaflet + esri-leaflet over an offline Natural Earth basemap`,
    );
  } catch (error) {
    reportError(hooks, error);
  }
}

void main();
