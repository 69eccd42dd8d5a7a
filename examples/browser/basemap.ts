/// <reference lib="dom" />
/**
 * The demo's offline basemap: Natural Earth land (1:10m, from the `world-atlas` package as TopoJSON, served by
 * the demo's web app), turned into GeoJSON with `topojson-client` and clipped to a box around the map centre, so
 * every map client draws a few small polygons instead of a continent. Water is the map's background colour.
 *
 * @module
 */
import { feature } from "topojson-client";

/** Basemap colours, shared by the three map clients. */
export const BASEMAP_STYLE = Object.freeze({
  water: "#b9d3e6",
  land: "#f3efe4",
  coast: "#9fb3c2",
});

type Ring = [number, number][];
/** A GeoJSON polygon feature collection (typed loosely so every client accepts it). */
export interface LandCollection {
  type: "FeatureCollection";
  features: Array<{
    type: "Feature";
    properties: Record<string, unknown>;
    geometry: { type: "Polygon"; coordinates: Ring[] };
  }>;
}

/** Clips one ring to an axis-aligned box (Sutherland-Hodgman); may return fewer than 4 points. */
function _clipRing(ring: Ring, box: [number, number, number, number]): Ring {
  const [xmin, ymin, xmax, ymax] = box;
  const edges: Array<
    [(p: [number, number]) => boolean, (a: [number, number], b: [number, number]) => [number, number]]
  > = [
    [(p) => p[0] >= xmin, (a, b) => [xmin, a[1] + (b[1] - a[1]) * (xmin - a[0]) / (b[0] - a[0])]],
    [(p) => p[0] <= xmax, (a, b) => [xmax, a[1] + (b[1] - a[1]) * (xmax - a[0]) / (b[0] - a[0])]],
    [(p) => p[1] >= ymin, (a, b) => [a[0] + (b[0] - a[0]) * (ymin - a[1]) / (b[1] - a[1]), ymin]],
    [(p) => p[1] <= ymax, (a, b) => [a[0] + (b[0] - a[0]) * (ymax - a[1]) / (b[1] - a[1]), ymax]],
  ];
  let points = ring.slice(0, -1);
  for (const [inside, cross] of edges) {
    const input = points;
    points = [];
    for (let i = 0; i < input.length; i++) {
      const current = input[i];
      const previous = input[(i + input.length - 1) % input.length];
      if (inside(current)) {
        if (!inside(previous)) points.push(cross(previous, current));
        points.push(current);
      } else if (inside(previous)) {
        points.push(cross(previous, current));
      }
    }
    if (points.length === 0) break;
  }
  return points.length >= 3 ? [...points, points[0]] : [];
}

/**
 * Loads the land polygons from `url` (a world-atlas TopoJSON file) and clips them to `halfSpanDegrees` around
 * `center` (`[lon, lat]`).
 */
export async function loadLand(
  url: string,
  center: [number, number],
  halfSpanDegrees = 1.5,
): Promise<LandCollection> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Cannot load the basemap: status ${response.status}`);
  // deno-lint-ignore no-explicit-any -- TopoJSON from the package, typed by topojson-client's own declarations
  const topology = await response.json() as any;
  const geo = feature(topology, topology.objects.land) as unknown as {
    features?: Array<{ geometry: { type: string; coordinates: unknown } }>;
    geometry?: { type: string; coordinates: unknown };
  };
  const geometries = geo.features?.map((f) => f.geometry) ?? (geo.geometry ? [geo.geometry] : []);
  const box: [number, number, number, number] = [
    center[0] - halfSpanDegrees,
    center[1] - halfSpanDegrees,
    center[0] + halfSpanDegrees,
    center[1] + halfSpanDegrees,
  ];
  const collection: LandCollection = { type: "FeatureCollection", features: [] };
  for (const geometry of geometries) {
    const polygons = geometry.type === "Polygon"
      ? [geometry.coordinates as Ring[]]
      : geometry.type === "MultiPolygon"
      ? geometry.coordinates as Ring[][]
      : [];
    for (const polygon of polygons) {
      const rings = polygon.map((ring) => _clipRing(ring, box)).filter((ring) => ring.length >= 4);
      if (rings.length === 0 || polygon.length === 0 || _clipRing(polygon[0], box).length < 4) continue;
      collection.features.push({
        type: "Feature",
        properties: {},
        geometry: { type: "Polygon", coordinates: rings },
      });
    }
  }
  return collection;
}
