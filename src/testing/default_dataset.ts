/**
 * The fake's default dataset: 36 deterministic trailhead points in WGS84 (a 6 × 6 grid with a little jitter,
 * around the Marin Headlands).
 *
 * @module
 */
import type { FakeFeature, FakeField, FakeServiceConfig } from "./types.ts";

/** Number of features in the default dataset. */
export const DEFAULT_TRAILHEAD_COUNT = 36;

/** Fields of the default trailhead layer. */
export const DEFAULT_TRAILHEAD_FIELDS: readonly Readonly<FakeField>[] = Object.freeze([
  { name: "OBJECTID", type: "esriFieldTypeOID", alias: "OBJECTID" },
  { name: "NAME", type: "esriFieldTypeString", alias: "Name", length: 100 },
  { name: "ELEVATION_M", type: "esriFieldTypeInteger", alias: "Elevation (m)" },
  { name: "PARKING", type: "esriFieldTypeString", alias: "Parking", length: 10 },
]);

const _PREFIXES = ["Cedar", "Oak", "Pine", "Alder", "Willow", "Maple"];
const _SUFFIXES = ["Creek", "Ridge", "Canyon", "Meadow", "Falls", "Lake"];

/**
 * A fresh copy of the 36 default trailheads (OBJECTID 1..36).
 *
 * @returns New feature objects, safe to change.
 */
export function createDefaultTrailheads(): FakeFeature[] {
  const features: FakeFeature[] = [];
  for (let i = 0; i < DEFAULT_TRAILHEAD_COUNT; i++) {
    const row = Math.floor(i / 6);
    const col = i % 6;
    const jitterX = ((i * 37) % 11) / 1000;
    const jitterY = ((i * 53) % 13) / 1000;
    features.push({
      attributes: {
        OBJECTID: i + 1,
        NAME: `${_PREFIXES[col]} ${_SUFFIXES[row]} Trailhead`,
        ELEVATION_M: 20 + ((i * 97) % 600),
        PARKING: i % 3 === 0 ? "No" : "Yes",
      },
      geometry: {
        x: Math.round((-122.62 + col * 0.03 + jitterX) * 1e6) / 1e6,
        y: Math.round((37.82 + row * 0.025 + jitterY) * 1e6) / 1e6,
      },
    });
  }
  return features;
}

/** Where {@link defaultFakeServices} puts the services. */
export interface DefaultFakeServicesOptions {
  /** Server root for the server-side services; omit for none. @default "/server" */
  serverPath?: string;
  /** Hosted root (`/<orgId>/arcgis`) for an ArcGIS Online-style copy of `Trailheads`; omit for none. */
  hostedRoot?: string;
}

/**
 * The default services. Under `serverPath`: `Trailheads` (FeatureServer, org), `PublicTrailheads` (FeatureServer,
 * public), `EditorTrailheads` (FeatureServer, group "Trail Editors" only), `Basemap` (MapServer, org), `Basemap`
 * (VectorTileServer, org). Under `hostedRoot`: `Trailheads` (FeatureServer, org).
 *
 * @param options Where to put them: the server path and the hosted root.
 * @returns The service configs, for `createFakeArcGIS({ services })`.
 */
export function defaultFakeServices(
  options: DefaultFakeServicesOptions = { serverPath: "/server" },
): FakeServiceConfig[] {
  const services: FakeServiceConfig[] = [];
  const root = options.serverPath;
  if (root !== undefined) {
    services.push(
      { root, name: "Trailheads", type: "FeatureServer", access: "org" },
      { root, name: "PublicTrailheads", type: "FeatureServer", access: "public" },
      { root, name: "EditorTrailheads", type: "FeatureServer", access: { groups: ["Trail Editors"] } },
      { root, name: "Basemap", type: "MapServer", access: "org" },
      { root, name: "Basemap", type: "VectorTileServer", access: "org" },
    );
  }
  if (options.hostedRoot !== undefined) {
    services.push({ root: options.hostedRoot, name: "Trailheads", type: "FeatureServer", access: "org" });
  }
  return services;
}
