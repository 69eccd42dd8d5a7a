/// <reference lib="dom" />
/**
 * The OpenLayers page: ArcGIS REST tiles (`TileArcGISRest`, the MapServer's `export`) and an EsriJSON feature
 * source through the broker's proxy, authenticated by the broker's session cookie (OpenLayers loads images with
 * `<img>` and cannot add a header). The setup, in a few lines:
 *
 * ```ts
 * await fetch(`${broker}/session`, { method: "POST", headers: { authorization: `Bearer ${idpToken}` } });
 * // The target keeps its own "?": OpenLayers appends "&f=image&…" to a URL that has one.
 * new TileArcGISRest({ url: `${broker}/proxy?${mapServerUrl}/export?f=image` });
 * new VectorSource({ format: new EsriJSON(), url: `${broker}/proxy?${layerUrl}/query?f=json&where=1%3D1&outFields=*&outSR=3857` });
 * ```
 *
 * No ArcGIS token ever reaches the browser.
 *
 * @module
 */
import OlMap from "ol/Map.js";
import View from "ol/View.js";
import Overlay from "ol/Overlay.js";
import TileLayer from "ol/layer/Tile.js";
import VectorLayer from "ol/layer/Vector.js";
import TileArcGISRest from "ol/source/TileArcGISRest.js";
import VectorSource from "ol/source/Vector.js";
import EsriJSON from "ol/format/EsriJSON.js";
import GeoJSON from "ol/format/GeoJSON.js";
import { fromLonLat } from "ol/proj.js";
import { Circle, Fill, Stroke, Style } from "ol/style.js";
import type Feature from "ol/Feature.js";
import type Point from "ol/geom/Point.js";
import { BASEMAP_STYLE, loadLand } from "./basemap.ts";
import { startCookiePage } from "./cookie_page.ts";
import { setStep } from "./demo_panel.ts";
import { mark, popupHtml, reportError, setStatus, testHooks } from "./page_common.ts";

async function main(): Promise<void> {
  const hooks = testHooks("openlayers");
  try {
    const started = await startCookiePage(hooks);
    if (started === undefined) return;
    const { config, proxy } = started;

    const land = await loadLand(config.basemapUrl, config.center);
    hooks.basemapFeatures = land.features.length;
    const basemap = new VectorLayer({
      source: new VectorSource({
        features: new GeoJSON().readFeatures(land, { featureProjection: "EPSG:3857" }),
      }),
      style: new Style({
        fill: new Fill({ color: BASEMAP_STYLE.land }),
        stroke: new Stroke({ color: BASEMAP_STYLE.coast, width: 1 }),
      }),
    });
    const layers: Array<TileLayer | VectorLayer> = [basemap];
    if (config.tileServiceUrl !== undefined) {
      const tiles = new TileArcGISRest({ url: `${proxy}?${config.tileServiceUrl}/export?f=image` });
      tiles.on("tileloadend", () => hooks.tilesLoaded++);
      tiles.on("tileloaderror", () => hooks.errors.push("A map tile did not load"));
      layers.push(new TileLayer({ source: tiles, opacity: 0.15 }));
    }
    const query = new URLSearchParams({ f: "json", where: "1=1", outFields: "*", outSR: "3857" });
    const features = new VectorSource({
      format: new EsriJSON(),
      url: `${proxy}?${config.layerUrl}/query?${query}`,
    });
    const marker = new Style({
      image: new Circle({
        radius: 6,
        fill: new Fill({ color: "#d9480f" }),
        stroke: new Stroke({ color: "#ffffff", width: 1.5 }),
      }),
    });
    layers.push(new VectorLayer({ source: features, style: marker }));
    const popupElement = document.createElement("div");
    popupElement.className = "ol-popup";
    const popup = new Overlay({ element: popupElement, positioning: "bottom-center", offset: [0, -10] });
    const map = new OlMap({
      target: "map",
      layers,
      overlays: [popup],
      view: new View({ center: fromLonLat(config.center), zoom: config.zoom }),
    });
    (map.getTargetElement() as HTMLElement).style.background = BASEMAP_STYLE.water;
    const openPopup = (feature: Feature): void => {
      popupElement.innerHTML = popupHtml(feature.getProperties());
      popup.setPosition((feature.getGeometry() as Point).getCoordinates());
      hooks.popupOpen = true;
    };
    map.on("singleclick", (event) => {
      const hit = map.forEachFeatureAtPixel(event.pixel, (f) => f as Feature, {
        layerFilter: (l) => l.getSource() === features,
      });
      if (hit) openPopup(hit);
      else {
        popup.setPosition(undefined);
        hooks.popupOpen = false;
      }
    });
    await new Promise<void>((resolve, reject) => {
      features.once("featuresloadend", () => resolve());
      features.once("featuresloaderror", () => reject(new Error("The EsriJSON feature source did not load")));
    });
    await new Promise<void>((resolve) => map.once("rendercomplete", () => resolve()));
    mark(hooks, "drawn");
    const all = features.getFeatures();
    hooks.featureCount = all.length;
    hooks.queries++;
    const eighth = all.find((f) => f.get("OBJECTID") === 8);
    if (eighth) openPopup(eighth);
    hooks.ready = true;
    setStep(hooks, "layer", "done", `${all.length} features and ArcGIS REST tiles, with the session cookie`);
    setStatus(hooks, `Showing ${all.length} features with OpenLayers over an offline Natural Earth basemap`);
  } catch (error) {
    reportError(hooks, error);
  }
}

void main();
