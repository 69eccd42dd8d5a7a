/**
 * Service endpoints of the fake: the 499/498/403 decision, FeatureServer metadata, query and edits, MapServer
 * tiles, exports and the streamed large export, VectorTileServer tiles and style.
 *
 * @module
 */
import {
  DEFAULT_EXPORT_CHUNK_BYTES,
  FAKE_SERVER_VERSION,
  INVALID_TOKEN_ERROR,
  INVALID_URL_ERROR,
  MAX_EXPORT_BYTES,
  OPERATION_NOT_SUPPORTED_ERROR,
  PERMISSION_DENIED_ERROR,
  TOKEN_REQUIRED_ERROR,
} from "./constants.ts";
import type { FakeEditRecord, FakeEndpoint, FakeFeature, FakeStreamRecord, FakeTokenInfo } from "./types.ts";
import { type _Ctx, type _Server, type _Service, arcgisError, errorBody, json, param } from "./_context.ts";
import { allowed, validToken } from "./_auth.ts";
import { extractToken } from "./_request_reader.ts";
import { binaryResponse, createPng, createVectorTile } from "./_binary.ts";
import { createLargeExportStream } from "./large_export.ts";
import { featureExtent, runFeatureQuery, srJson } from "./_feature_query.ts";
import { toWebMercator } from "./web_mercator.ts";

const _TILE_ENDPOINTS: readonly FakeEndpoint[] = ["MapServer/tile", "VectorTileServer/tile"];
const _TILE_CACHE_MAX = 256;
const _WORLD_MERCATOR = 20037508.342787;

/**
 * The access decision for a service request: the token's record (or null for anonymous access to a public
 * service) when allowed, else the error answer (499 no token, 498 invalid, 403 not allowed).
 */
export function authorizeService(
  ctx: _Ctx,
  server: _Server,
  service: _Service,
  endpoint: FakeEndpoint,
): FakeTokenInfo | null | Response {
  const found = extractToken(ctx.request, ctx.read);
  if (!found) return service.access === "public" ? null : arcgisError(ctx, TOKEN_REQUIRED_ERROR);
  ctx.record.token = found.token;
  ctx.record.tokenSource = found.source;
  const info = validToken(ctx, found.token, { server });
  if (!info) {
    if (ctx.state.htmlInvalidTokenForTiles && _TILE_ENDPOINTS.includes(endpoint)) {
      ctx.record.errorCode = 498;
      return new Response("<html><body><h1>Invalid Token</h1></body></html>", {
        status: 200,
        headers: { "Content-Type": "text/html; charset=utf-8" },
      });
    }
    return arcgisError(ctx, INVALID_TOKEN_ERROR);
  }
  if (!allowed(ctx.state, info, service)) return arcgisError(ctx, PERMISSION_DENIED_ERROR);
  return info;
}

function _extentJson(service: _Service, sr: 4326 | 3857): Record<string, unknown> {
  const e = featureExtent(service.features);
  if (sr === 4326) return { ...e, spatialReference: srJson(4326) };
  const min = toWebMercator(e.xmin, e.ymin);
  const max = toWebMercator(e.xmax, e.ymax);
  return { xmin: min.x, ymin: min.y, xmax: max.x, ymax: max.y, spatialReference: srJson(3857) };
}

function _fieldsJson(service: _Service): Record<string, unknown>[] {
  return service.fields.map((f) => ({
    name: f.name,
    type: f.type,
    alias: f.alias ?? f.name,
    ...(f.length !== undefined ? { length: f.length } : {}),
    nullable: f.type !== "esriFieldTypeOID",
    editable: f.type !== "esriFieldTypeOID",
  }));
}

/** `…/FeatureServer`. */
export function featureServiceJson(ctx: _Ctx, service: _Service): Response {
  const extent = _extentJson(service, 4326);
  return json(ctx, {
    currentVersion: FAKE_SERVER_VERSION,
    serviceDescription: "",
    hasVersionedData: false,
    supportsDisconnectedEditing: false,
    hasStaticData: !service.editable,
    ...(service.pagination ? { maxRecordCount: service.maxRecordCount } : {}),
    supportedQueryFormats: "JSON",
    capabilities: service.capabilities,
    description: "",
    copyrightText: "",
    spatialReference: srJson(4326),
    initialExtent: extent,
    fullExtent: extent,
    allowGeometryUpdates: true,
    units: "esriDecimalDegrees",
    layers: [{
      id: 0,
      name: service.layerName,
      parentLayerId: -1,
      defaultVisibility: true,
      subLayerIds: null,
      minScale: 0,
      maxScale: 0,
      geometryType: "esriGeometryPoint",
    }],
    tables: [],
  });
}

/** `…/FeatureServer/0`: the metadata the Maps SDK insists on (maps-sdk-offline.md §4). */
export function featureLayerJson(ctx: _Ctx, service: _Service): Response {
  const displayField = service.fields.find((f) => f.type === "esriFieldTypeString")?.name ?? service.oidField;
  return json(ctx, {
    currentVersion: FAKE_SERVER_VERSION,
    id: 0,
    name: service.layerName,
    type: "Feature Layer",
    description: "",
    copyrightText: "",
    defaultVisibility: true,
    geometryType: "esriGeometryPoint",
    objectIdField: service.oidField,
    uniqueIdField: { name: service.oidField, isSystemMaintained: true },
    globalIdField: "",
    displayField,
    typeIdField: "",
    fields: _fieldsJson(service),
    types: [],
    templates: [],
    extent: _extentJson(service, 4326),
    hasAttachments: false,
    htmlPopupType: "esriServerHTMLPopupTypeNone",
    minScale: 0,
    maxScale: 0,
    hasZ: false,
    hasM: false,
    allowGeometryUpdates: true,
    capabilities: service.capabilities,
    supportedQueryFormats: "JSON",
    useStandardizedQueries: true,
    ...(service.pagination
      ? {
        maxRecordCount: service.maxRecordCount,
        advancedQueryCapabilities: {
          supportsPagination: true,
          supportsOrderBy: true,
          supportsDistinct: true,
          supportsQueryWithResultType: true,
          supportsReturningQueryExtent: true,
          supportsStatistics: false,
        },
      }
      : {}),
  });
}

/** `…/FeatureServer/0/query`. */
export function featureQuery(ctx: _Ctx, service: _Service): Response {
  const f = (param(ctx, "f") ?? "json").toLowerCase();
  if (f === "pbf") {
    return new Response(createVectorTile("query", `${service.name}:${ctx.url.search}`), {
      status: 200,
      headers: { "Content-Type": "application/x-protobuf" },
    });
  }
  const outcome = runFeatureQuery({
    fields: service.fields,
    features: service.features,
    oidField: service.oidField,
    maxRecordCount: service.maxRecordCount,
  }, (name) => param(ctx, name));
  if (!outcome.ok) return arcgisError(ctx, errorBody(400, "Unable to complete operation.", outcome.details));
  if (f === "geojson") {
    return new Response(JSON.stringify(outcome.body), {
      status: 200,
      headers: { "Content-Type": "application/geo+json; charset=utf-8" },
    });
  }
  return json(ctx, outcome.body);
}

interface _EditResult {
  objectId: number;
  globalId: null;
  success: boolean;
  error?: { code: number; description: string };
}

function _parseJsonArray(raw: string | undefined): unknown[] | undefined {
  if (raw === undefined || raw.trim() === "") return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    return Array.isArray(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function _asFeature(
  value: unknown,
): { attributes: Record<string, unknown>; geometry?: { x: number; y: number } } {
  const v = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
  const attributes = (v.attributes && typeof v.attributes === "object" ? v.attributes : {}) as Record<
    string,
    unknown
  >;
  const g = v.geometry as Record<string, unknown> | undefined;
  const geometry = g && typeof g.x === "number" && typeof g.y === "number" ? { x: g.x, y: g.y } : undefined;
  return { attributes, geometry };
}

function _cleanAttributes(
  service: _Service,
  raw: Record<string, unknown>,
): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const field of service.fields) {
    const key = Object.keys(raw).find((k) => k.toLowerCase() === field.name.toLowerCase());
    if (key === undefined || field.name === service.oidField) continue;
    const value = raw[key];
    out[field.name] = typeof value === "string" || typeof value === "number" ? value : null;
  }
  return out;
}

interface _EditBatch {
  adds: _EditResult[];
  updates: _EditResult[];
  deletes: _EditResult[];
}

function _applyBatch(service: _Service, adds: unknown[], updates: unknown[], deletes: number[]): _EditBatch {
  const addResults: _EditResult[] = [];
  for (const raw of adds) {
    const f = _asFeature(raw);
    const objectId = service.nextObjectId++;
    const feature: FakeFeature = {
      attributes: { ..._cleanAttributes(service, f.attributes), [service.oidField]: objectId },
      geometry: f.geometry ?? { x: 0, y: 0 },
    };
    service.features.push(feature);
    addResults.push({ objectId, globalId: null, success: true });
  }
  const updateResults: _EditResult[] = [];
  for (const raw of updates) {
    const f = _asFeature(raw);
    const oidKey = Object.keys(f.attributes).find((k) => k.toLowerCase() === service.oidField.toLowerCase());
    const objectId = Number(oidKey !== undefined ? f.attributes[oidKey] : NaN);
    const target = service.features.find((x) => x.attributes[service.oidField] === objectId);
    if (!target) {
      updateResults.push({
        objectId,
        globalId: null,
        success: false,
        error: { code: 1019, description: "Object is missing." },
      });
      continue;
    }
    Object.assign(target.attributes, _cleanAttributes(service, f.attributes));
    if (f.geometry) target.geometry = f.geometry;
    updateResults.push({ objectId, globalId: null, success: true });
  }
  const deleteResults: _EditResult[] = [];
  for (const objectId of deletes) {
    const index = service.features.findIndex((x) => x.attributes[service.oidField] === objectId);
    if (index < 0) {
      deleteResults.push({
        objectId,
        globalId: null,
        success: false,
        error: { code: 1019, description: "Object is missing." },
      });
      continue;
    }
    service.features.splice(index, 1);
    deleteResults.push({ objectId, globalId: null, success: true });
  }
  return { adds: addResults, updates: updateResults, deletes: deleteResults };
}

function _parseDeletes(raw: string | undefined): number[] | undefined {
  if (raw === undefined || raw.trim() === "") return [];
  const text = raw.trim();
  if (text.startsWith("[")) {
    const arr = _parseJsonArray(text);
    return arr?.map(Number);
  }
  return text.split(",").map((s) => Number(s.trim()));
}

/** Edit operations: `applyEdits` (layer or service level), `addFeatures`, `updateFeatures`, `deleteFeatures`. */
export function featureEdit(
  ctx: _Ctx,
  service: _Service,
  operation: FakeEditRecord["operation"],
  layerId: number | undefined,
  principal: FakeTokenInfo | null,
): Response {
  if (ctx.request.method !== "POST" || !service.editable) {
    return arcgisError(ctx, OPERATION_NOT_SUPPORTED_ERROR);
  }
  const invalid = () =>
    arcgisError(ctx, errorBody(400, "Unable to complete operation.", ["Invalid parameters"]));
  let batch: _EditBatch;
  let body: unknown;
  if (operation === "applyEdits" && layerId === undefined) {
    const edits = _parseJsonArray(param(ctx, "edits"));
    if (!edits) return invalid();
    const results: unknown[] = [];
    batch = { adds: [], updates: [], deletes: [] };
    for (const raw of edits) {
      const e = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
      if (Number(e.id ?? 0) !== 0) return invalid();
      const deletes = Array.isArray(e.deletes)
        ? e.deletes.map(Number)
        : _parseDeletes(String(e.deletes ?? ""));
      if (!deletes) return invalid();
      const b = _applyBatch(
        service,
        Array.isArray(e.adds) ? e.adds : [],
        Array.isArray(e.updates) ? e.updates : [],
        deletes,
      );
      batch.adds.push(...b.adds);
      batch.updates.push(...b.updates);
      batch.deletes.push(...b.deletes);
      results.push({ id: 0, addResults: b.adds, updateResults: b.updates, deleteResults: b.deletes });
    }
    body = results;
  } else if (operation === "applyEdits") {
    const adds = _parseJsonArray(param(ctx, "adds"));
    const updates = _parseJsonArray(param(ctx, "updates"));
    const deletes = _parseDeletes(param(ctx, "deletes"));
    if (!adds || !updates || !deletes) return invalid();
    batch = _applyBatch(service, adds, updates, deletes);
    body = { addResults: batch.adds, updateResults: batch.updates, deleteResults: batch.deletes };
  } else if (operation === "addFeatures" || operation === "updateFeatures") {
    const features = _parseJsonArray(param(ctx, "features"));
    if (!features) return invalid();
    batch = operation === "addFeatures"
      ? _applyBatch(service, features, [], [])
      : _applyBatch(service, [], features, []);
    body = operation === "addFeatures" ? { addResults: batch.adds } : { updateResults: batch.updates };
  } else {
    let ids = _parseDeletes(param(ctx, "objectIds"));
    if (!ids) return invalid();
    const where = param(ctx, "where");
    if (ids.length === 0 && where !== undefined && where.trim() !== "") {
      const outcome = runFeatureQuery({
        fields: service.fields,
        features: service.features,
        oidField: service.oidField,
        maxRecordCount: Number.MAX_SAFE_INTEGER,
      }, (name) => (name === "where" ? where : name === "returnIdsOnly" ? "true" : undefined));
      if (!outcome.ok) return invalid();
      ids = (outcome.body as { objectIds: number[] }).objectIds;
    }
    batch = _applyBatch(service, [], [], ids);
    body = { deleteResults: batch.deletes };
  }
  const params: Record<string, string> = { ...ctx.record.query, ...ctx.record.body };
  for (const key of Object.keys(params)) if (key.toLowerCase() === "token") delete params[key];
  ctx.state.edits.push({
    service: `${service.name}/${service.type}`,
    root: service.root,
    layerId,
    operation,
    params,
    addedIds: batch.adds.filter((r) => r.success).map((r) => r.objectId),
    updatedIds: batch.updates.filter((r) => r.success).map((r) => r.objectId),
    deletedIds: batch.deletes.filter((r) => r.success).map((r) => r.objectId),
    principal: principal?.username ?? principal?.clientId,
  });
  return json(ctx, body);
}

function _lods(levels: number): Record<string, number>[] {
  const lods: Record<string, number>[] = [];
  let resolution = 156543.03392800014;
  let scale = 591657527.591555;
  for (let level = 0; level < levels; level++) {
    lods.push({ level, resolution, scale });
    resolution /= 2;
    scale /= 2;
  }
  return lods;
}

function _tileInfo(size: number, format: string, levels: number): Record<string, unknown> {
  return {
    rows: size,
    cols: size,
    dpi: 96,
    format,
    compressionQuality: 0,
    origin: { x: -_WORLD_MERCATOR, y: _WORLD_MERCATOR },
    spatialReference: srJson(3857),
    lods: _lods(levels),
  };
}

/** `…/MapServer`. */
export function mapServiceJson(ctx: _Ctx, service: _Service): Response {
  const extent = _extentJson(service, 3857);
  return json(ctx, {
    currentVersion: FAKE_SERVER_VERSION,
    serviceDescription: "",
    mapName: service.layerName,
    description: "",
    copyrightText: "",
    supportsDynamicLayers: false,
    layers: [],
    tables: [],
    spatialReference: srJson(3857),
    singleFusedMapCache: true,
    tileInfo: _tileInfo(256, "PNG32", 20),
    initialExtent: extent,
    fullExtent: extent,
    minScale: 0,
    maxScale: 0,
    units: "esriMeters",
    supportedImageFormatTypes: "PNG32,PNG24,PNG,JPG",
    capabilities: "Map,Query,Data",
    exportTilesAllowed: false,
    maxImageHeight: 4096,
    maxImageWidth: 4096,
  });
}

function _tileCoords(parts: string[]): { z: number; y: number; x: number } | undefined {
  if (parts.length !== 3) return undefined;
  const nums = parts.map((p) => (/^\d{1,8}$/.test(p) ? Number(p) : NaN));
  const [z, y, x] = nums;
  if (!nums.every(Number.isInteger) || z > 24 || y >= 2 ** z || x >= 2 ** z) return undefined;
  return { z, y, x };
}

function _cachedTile(ctx: _Ctx, key: string, make: () => Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const cache = ctx.state.tileCache;
  let bytes = cache.get(key);
  if (!bytes) {
    bytes = make();
    if (cache.size >= _TILE_CACHE_MAX) cache.delete(cache.keys().next().value as string);
    cache.set(key, bytes);
  }
  return bytes;
}

function _tileNotFound(ctx: _Ctx): Response {
  return arcgisError(ctx, errorBody(404, "Tile not found", []));
}

/** `…/MapServer/tile/{z}/{y}/{x}`. */
export function mapTile(ctx: _Ctx, service: _Service, parts: string[]): Response {
  const c = _tileCoords(parts);
  if (!c) return _tileNotFound(ctx);
  const seed = `${service.root}/${service.name}/MapServer/tile/${c.z}/${c.y}/${c.x}`;
  const bytes = _cachedTile(
    ctx,
    `${seed}|${service.tilePaddingBytes}`,
    () => createPng(seed, service.tilePaddingBytes),
  );
  return binaryResponse(ctx.request, bytes, {
    contentType: "image/png",
    lastModifiedMs: ctx.state.tileLastModifiedMs,
    cacheControl: ctx.state.tileCacheControl,
  });
}

/** `…/MapServer/export`: PNG bytes for `f=image`, else the JSON description with an `href`. */
export function mapExport(ctx: _Ctx, service: _Service): Response {
  const f = (param(ctx, "f") ?? "json").toLowerCase();
  const bbox = param(ctx, "bbox") ?? "";
  const size = param(ctx, "size") ?? "400,400";
  if (f === "image" || f === "kmz") {
    const seed = `${service.root}/${service.name}/MapServer/export?bbox=${bbox}&size=${size}`;
    return binaryResponse(ctx.request, createPng(seed), {
      contentType: "image/png",
      lastModifiedMs: ctx.state.tileLastModifiedMs,
      cacheControl: ctx.state.tileCacheControl,
    });
  }
  const [width, height] = size.split(",").map(Number);
  const nums = bbox.split(",").map(Number);
  const href = new URL(ctx.url);
  href.searchParams.set("f", "image");
  href.searchParams.delete("token");
  return json(ctx, {
    href: href.toString(),
    width: width || 400,
    height: height || 400,
    extent: nums.length === 4 && nums.every(Number.isFinite)
      ? { xmin: nums[0], ymin: nums[1], xmax: nums[2], ymax: nums[3], spatialReference: srJson(3857) }
      : _extentJson(service, 3857),
    scale: 0,
  });
}

/**
 * `…/MapServer/exportLarge?bytes=N[&chunkBytes=M]`: streams N bytes (PNG signature, then `position & 0xff`) in
 * M-byte chunks, pulled one at a time; progress is visible in `fake.streams`.
 */
export function mapExportLarge(ctx: _Ctx, service: _Service): Response {
  const total = Number(param(ctx, "bytes") ?? "");
  const chunkRaw = param(ctx, "chunkBytes");
  const chunk = chunkRaw === undefined ? DEFAULT_EXPORT_CHUNK_BYTES : Number(chunkRaw);
  if (
    !Number.isSafeInteger(total) || total < 0 || total > MAX_EXPORT_BYTES || !Number.isSafeInteger(chunk) ||
    chunk < 1 || chunk > 16 * 1024 * 1024
  ) {
    return arcgisError(ctx, errorBody(400, "Invalid or missing input parameters.", ["bytes", "chunkBytes"]));
  }
  const record: FakeStreamRecord = {
    service: `${service.name}/${service.type}`,
    totalBytes: total,
    chunkBytes: chunk,
    pulledChunks: 0,
    pulledBytes: 0,
    done: false,
    cancelled: false,
  };
  ctx.state.streams.push(record);
  return new Response(createLargeExportStream(record), {
    status: 200,
    headers: {
      "Content-Type": "image/png",
      "Content-Length": String(total),
      "ETag": `"export-${total.toString(16)}"`,
      "Last-Modified": new Date(ctx.state.tileLastModifiedMs).toUTCString(),
      "Cache-Control": ctx.state.tileCacheControl,
    },
  });
}

/** `…/VectorTileServer`. */
export function vectorServiceJson(ctx: _Ctx, service: _Service): Response {
  const extent = _extentJson(service, 3857);
  return json(ctx, {
    currentVersion: FAKE_SERVER_VERSION,
    name: service.layerName,
    capabilities: "TilesOnly",
    type: "indexedVector",
    defaultStyles: "resources/styles",
    tiles: ["tile/{z}/{y}/{x}.pbf"],
    exportTilesAllowed: false,
    initialExtent: extent,
    fullExtent: extent,
    minScale: 0,
    maxScale: 0,
    tileInfo: _tileInfo(512, "pbf", 17),
    maxzoom: 16,
    minLOD: 0,
    maxLOD: 16,
  });
}

/** `…/VectorTileServer/tile/{z}/{y}/{x}.pbf`. */
export function vectorTile(ctx: _Ctx, service: _Service, parts: string[]): Response {
  if (parts.length !== 3 || !parts[2].endsWith(".pbf")) return _tileNotFound(ctx);
  const c = _tileCoords([parts[0], parts[1], parts[2].slice(0, -4)]);
  if (!c) return _tileNotFound(ctx);
  const key = `${c.z}/${c.y}/${c.x}`;
  const bytes = _cachedTile(
    ctx,
    `${service.root}/${service.name}/VectorTileServer/${key}|${service.tilePaddingBytes}`,
    () => createVectorTile(service.layerName, key, service.tilePaddingBytes),
  );
  return binaryResponse(ctx.request, bytes, {
    contentType: "application/x-protobuf",
    lastModifiedMs: ctx.state.tileLastModifiedMs,
    cacheControl: ctx.state.tileCacheControl,
  });
}

/** `…/VectorTileServer/resources/styles[/root.json]`. */
export function vectorStyle(ctx: _Ctx, service: _Service): Response {
  return json(ctx, {
    version: 8,
    sources: { esri: { type: "vector", url: "../../", attribution: "" } },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#f4f1ea" } },
      {
        id: service.layerName,
        type: "fill",
        source: "esri",
        "source-layer": service.layerName,
        layout: {},
        paint: {},
      },
    ],
  });
}

/** Unknown service or sub-path. */
export function serviceNotFound(ctx: _Ctx): Response {
  return arcgisError(ctx, INVALID_URL_ERROR);
}
