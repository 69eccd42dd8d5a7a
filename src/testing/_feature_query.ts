/**
 * The FeatureServer `query` operation of the fake: a small `where` dialect, `objectIds`, envelope filter,
 * `outFields`, `orderByFields`, paging, counts, ids, and `outSR` 4326 / 3857 (102100).
 *
 * @module
 */
import type { FakeFeature, FakeField } from "./types.ts";
import { fromWebMercator, toWebMercator } from "./web_mercator.ts";

/** The spatial references the fake can produce. */
export type _Sr = 4326 | 3857;

/** Parses an SR parameter (`4326`, `3857`, `102100`, `{"wkid":…,"latestWkid":…}`); undefined when unsupported. */
export function parseSr(raw: string | undefined, fallback: _Sr): _Sr | undefined {
  if (raw === undefined || raw.trim() === "") return fallback;
  let wkids: unknown[] = [];
  const text = raw.trim();
  if (text.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === "object") {
        const sr = parsed as Record<string, unknown>;
        wkids = [sr.latestWkid, sr.wkid];
      }
    } catch {
      return undefined;
    }
  } else {
    wkids = [Number(text)];
  }
  for (const wkid of wkids) {
    if (wkid === 4326) return 4326;
    if (wkid === 3857 || wkid === 102100 || wkid === 102113 || wkid === 900913) return 3857;
  }
  return undefined;
}

/** `spatialReference` JSON of an SR. */
export function srJson(sr: _Sr): { wkid: number; latestWkid: number } {
  return sr === 4326 ? { wkid: 4326, latestWkid: 4326 } : { wkid: 102100, latestWkid: 3857 };
}

/** A layer's data as the query sees it. */
export interface _Layer {
  fields: FakeField[];
  features: FakeFeature[];
  oidField: string;
  maxRecordCount: number;
}

/** Query outcome: a JSON body or a 400 error's details. */
export type _QueryOutcome = { ok: true; body: unknown } | { ok: false; details: string[] };

type _Param = (name: string) => string | undefined;
type _Predicate = (feature: FakeFeature) => boolean;

function _fieldName(layer: _Layer, raw: string): string | undefined {
  const wanted = raw.trim().toLowerCase();
  return layer.fields.find((field) => field.name.toLowerCase() === wanted)?.name;
}

function _literal(raw: string): string | number {
  const text = raw.trim();
  if (text.startsWith("'")) return text.slice(1, -1).replaceAll("''", "'");
  return Number(text);
}

function _compare(a: unknown, op: string, b: string | number): boolean {
  if (a === null || a === undefined) return false;
  const left = typeof b === "number" ? Number(a) : String(a);
  switch (op) {
    case "=":
      return left === b;
    case "<>":
    case "!=":
      return left !== b;
    case ">":
      return left > b;
    case "<":
      return left < b;
    case ">=":
      return left >= b;
    default:
      return left <= b;
  }
}

const _LITERAL = String.raw`'(?:[^']|'')*'|-?\d+(?:\.\d+)?`;

/** Parses the fake's `where` dialect: `1=1`, `FIELD op literal`, `FIELD IN (…)`, `FIELD LIKE '…'`,
 * `FIELD IS [NOT] NULL`, joined by `AND`. */
function _parseWhere(layer: _Layer, where: string): _Predicate | string {
  const text = where.trim();
  if (text === "") return () => true;
  const clauses = text.split(/\s+and\s+/i);
  const predicates: _Predicate[] = [];
  for (const clause of clauses) {
    const c = clause.trim().replace(/^\((.*)\)$/, "$1").trim();
    if (/^1\s*=\s*1$/.test(c)) continue;
    let m = new RegExp(String.raw`^(\w+)\s*(=|<>|!=|>=|<=|>|<)\s*(${_LITERAL})$`).exec(c);
    if (m) {
      const field = _fieldName(layer, m[1]);
      if (!field) return `Invalid field: ${m[1]}`;
      const op = m[2];
      const value = _literal(m[3]);
      predicates.push((f) => _compare(f.attributes[field], op, value));
      continue;
    }
    m = /^(\w+)\s+(not\s+)?in\s*\((.*)\)$/i.exec(c);
    if (m) {
      const field = _fieldName(layer, m[1]);
      if (!field) return `Invalid field: ${m[1]}`;
      const negate = m[2] !== undefined;
      const values = m[3].split(",").map(_literal);
      predicates.push((f) => values.some((v) => _compare(f.attributes[field], "=", v)) !== negate);
      continue;
    }
    m = /^(\w+)\s+like\s+'((?:[^']|'')*)'$/i.exec(c);
    if (m) {
      const field = _fieldName(layer, m[1]);
      if (!field) return `Invalid field: ${m[1]}`;
      const pattern = m[2].replaceAll("''", "'").replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replaceAll("%", ".*")
        .replaceAll("_", ".");
      const regex = new RegExp(`^${pattern}$`, "i");
      predicates.push((f) => regex.test(String(f.attributes[field] ?? "")));
      continue;
    }
    m = /^(\w+)\s+is\s+(not\s+)?null$/i.exec(c);
    if (m) {
      const field = _fieldName(layer, m[1]);
      if (!field) return `Invalid field: ${m[1]}`;
      const notNull = m[2] !== undefined;
      predicates.push((f) => (f.attributes[field] === null || f.attributes[field] === undefined) !== notNull);
      continue;
    }
    return `Invalid query: ${c}`;
  }
  return (feature) => predicates.every((p) => p(feature));
}

interface _Envelope {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

function _parseEnvelope(
  raw: string,
  geometryType: string | undefined,
  inSr: string | undefined,
): _Envelope | string {
  if (geometryType && geometryType !== "esriGeometryEnvelope") {
    return `Unsupported geometryType: ${geometryType}`;
  }
  let env: _Envelope | undefined;
  let srRaw = inSr;
  const text = raw.trim();
  if (text.startsWith("{")) {
    try {
      const parsed = JSON.parse(text) as Record<string, unknown>;
      const nums = [parsed.xmin, parsed.ymin, parsed.xmax, parsed.ymax];
      if (nums.every((n) => typeof n === "number")) {
        env = {
          xmin: nums[0] as number,
          ymin: nums[1] as number,
          xmax: nums[2] as number,
          ymax: nums[3] as number,
        };
      }
      if (parsed.spatialReference && typeof parsed.spatialReference === "object") {
        srRaw = JSON.stringify(parsed.spatialReference);
      }
    } catch {
      return "Invalid geometry";
    }
  } else {
    const nums = text.split(",").map(Number);
    if (nums.length === 4 && nums.every(Number.isFinite)) {
      env = { xmin: nums[0], ymin: nums[1], xmax: nums[2], ymax: nums[3] };
    }
  }
  if (!env) return "Invalid geometry";
  const sr = parseSr(srRaw, 4326);
  if (sr === undefined) return "Invalid inSR";
  if (sr === 4326) return env;
  const min = fromWebMercator(env.xmin, env.ymin);
  const max = fromWebMercator(env.xmax, env.ymax);
  return { xmin: min.x, ymin: min.y, xmax: max.x, ymax: max.y };
}

function _isTrue(raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === "") return fallback;
  return raw.toLowerCase() === "true";
}

function _int(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Runs a query over `layer` with request parameters `param`. */
export function runFeatureQuery(layer: _Layer, param: _Param): _QueryOutcome {
  const where = _parseWhere(layer, param("where") ?? "");
  if (typeof where === "string") return { ok: false, details: ["Unable to perform query operation.", where] };
  let selected = layer.features.filter(where);

  const objectIdsRaw = param("objectIds");
  if (objectIdsRaw !== undefined && objectIdsRaw.trim() !== "") {
    const ids = new Set(objectIdsRaw.split(",").map((s) => Number(s.trim())));
    selected = selected.filter((f) => ids.has(Number(f.attributes[layer.oidField])));
  }

  const geometryRaw = param("geometry");
  if (geometryRaw !== undefined && geometryRaw.trim() !== "") {
    const env = _parseEnvelope(geometryRaw, param("geometryType"), param("inSR"));
    if (typeof env === "string") return { ok: false, details: ["Unable to perform query operation.", env] };
    selected = selected.filter((f) =>
      f.geometry.x >= env.xmin && f.geometry.x <= env.xmax && f.geometry.y >= env.ymin &&
      f.geometry.y <= env.ymax
    );
  }

  const orderBy = param("orderByFields");
  if (orderBy !== undefined && orderBy.trim() !== "") {
    const keys: { field: string; desc: boolean }[] = [];
    for (const part of orderBy.split(",")) {
      const [name, dir] = part.trim().split(/\s+/);
      const field = _fieldName(layer, name);
      if (!field) {
        return { ok: false, details: ["Unable to perform query operation.", `Invalid field: ${name}`] };
      }
      keys.push({ field, desc: (dir ?? "").toUpperCase() === "DESC" });
    }
    selected = [...selected].sort((a, b) => {
      for (const key of keys) {
        const x = a.attributes[key.field] ?? "";
        const y = b.attributes[key.field] ?? "";
        if (x < y) return key.desc ? 1 : -1;
        if (x > y) return key.desc ? -1 : 1;
      }
      return 0;
    });
  }

  if (_isTrue(param("returnCountOnly"), false)) return { ok: true, body: { count: selected.length } };
  if (_isTrue(param("returnIdsOnly"), false)) {
    return {
      ok: true,
      body: {
        objectIdFieldName: layer.oidField,
        objectIds: selected.map((f) => f.attributes[layer.oidField]),
      },
    };
  }

  const outSr = parseSr(param("outSR"), 4326);
  if (outSr === undefined) {
    return { ok: false, details: ["Unable to perform query operation.", "Invalid outSR"] };
  }

  const outFieldsRaw = param("outFields");
  let outFields: FakeField[];
  if (outFieldsRaw === undefined || outFieldsRaw.trim() === "") {
    outFields = layer.fields.filter((f) => f.name === layer.oidField);
  } else if (outFieldsRaw.split(",").some((s) => s.trim() === "*")) {
    outFields = layer.fields;
  } else {
    const names = new Set<string>();
    for (const raw of outFieldsRaw.split(",")) {
      const field = _fieldName(layer, raw);
      if (!field) {
        return { ok: false, details: ["Unable to perform query operation.", `Invalid field: ${raw}`] };
      }
      names.add(field);
    }
    outFields = layer.fields.filter((f) => names.has(f.name));
  }

  const factorRaw = Number(param("maxRecordCountFactor") ?? "1");
  const factor = Number.isFinite(factorRaw) ? Math.min(5, Math.max(1, factorRaw)) : 1;
  const cap = Math.floor(layer.maxRecordCount * factor);
  const offset = _int(param("resultOffset")) ?? 0;
  const requested = _int(param("resultRecordCount"));
  const pageSize = Math.min(requested ?? cap, cap);
  const page = selected.slice(offset, offset + pageSize);
  const exceeded = offset + page.length < selected.length;
  const returnGeometry = _isTrue(param("returnGeometry"), true);

  const features = page.map((f) => {
    const attributes: Record<string, string | number | null> = {};
    for (const field of outFields) attributes[field.name] = f.attributes[field.name] ?? null;
    if (!returnGeometry) return { attributes };
    const geometry = outSr === 4326
      ? { x: f.geometry.x, y: f.geometry.y }
      : toWebMercator(f.geometry.x, f.geometry.y);
    return { attributes, geometry };
  });

  if ((param("f") ?? "").toLowerCase() === "geojson") {
    return {
      ok: true,
      body: {
        type: "FeatureCollection",
        features: page.map((f) => ({
          type: "Feature",
          id: f.attributes[layer.oidField],
          geometry: returnGeometry ? { type: "Point", coordinates: [f.geometry.x, f.geometry.y] } : null,
          properties: Object.fromEntries(
            outFields.map((field) => [field.name, f.attributes[field.name] ?? null]),
          ),
        })),
        ...(exceeded ? { properties: { exceededTransferLimit: true } } : {}),
      },
    };
  }

  return {
    ok: true,
    body: {
      objectIdFieldName: layer.oidField,
      uniqueIdField: { name: layer.oidField, isSystemMaintained: true },
      globalIdFieldName: "",
      geometryType: "esriGeometryPoint",
      spatialReference: srJson(outSr),
      fields: outFields.map((f) => ({ ...f, alias: f.alias ?? f.name })),
      features,
      ...(exceeded ? { exceededTransferLimit: true } : {}),
    },
  };
}

/** The WGS84 extent of features, padded; a default box when empty. */
export function featureExtent(features: FakeFeature[]): _Envelope {
  if (features.length === 0) return { xmin: -180, ymin: -85, xmax: 180, ymax: 85 };
  let xmin = Infinity, ymin = Infinity, xmax = -Infinity, ymax = -Infinity;
  for (const f of features) {
    xmin = Math.min(xmin, f.geometry.x);
    ymin = Math.min(ymin, f.geometry.y);
    xmax = Math.max(xmax, f.geometry.x);
    ymax = Math.max(ymax, f.geometry.y);
  }
  const pad = 0.01;
  return { xmin: xmin - pad, ymin: ymin - pad, xmax: xmax + pad, ymax: ymax + pad };
}
