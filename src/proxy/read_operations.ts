/**
 * What a read-only proxy entry forwards: the ArcGIS REST operations and resources that read, per resource type,
 * drawn from the ArcGIS REST API reference. This table is the one source: the proxy's policy stage runs on it and
 * `docs/proxy-operations.md` is generated from it (`scripts/proxy_operations_doc.ts`; a test fails when they drift).
 *
 * A path is read when, after the segment that names the service type (`FeatureServer`, …), every segment is a layer
 * or feature id (digits), a read operation or a child resource of that type; below a child resource (tiles, files,
 * job results, scene nodes) the segments address data and only the names in {@link WRITE_OPERATION_NAMES} are
 * refused. Portal paths (`…/sharing/rest/…`) must match one of {@link PORTAL_READS}. Everything else (an unknown
 * service type's operations, any other portal path) is not a read.
 *
 * Token-minting and administrative resources are {@link OperationClass.kind} `"denied"` for every entry, with or
 * without `allowEdits`: `generateToken`, `oauth2/*`, `tokens/*`, any `admin` segment, `community/self`,
 * `portals/self`, `accounts/*`, and every `portals/<id>/…` path that is not a portal read (`update`,
 * `updateUserRole`, …).
 *
 * Names are compared on the decoded, lower-cased segment (`_comparableSegments`); the target parser has already
 * refused empty segments, encoded separators and percent-encoded bytes of 0x80 or more.
 *
 * @module
 */

/** The read operations and child resources of one ArcGIS service type. */
export interface ServiceReads {
  /** The service type as the REST reference names it. */
  title: string;
  /** The path segment that names the type, as ArcGIS spells it (`FeatureServer`). */
  marker: string;
  /** The first segment below the marker is a free name (a geoprocessing task, a network layer). @default false */
  named?: boolean;
  /** Operations that only read, at the service or layer level. */
  operations: readonly string[];
  /** Child resources that only read; the segments below them address data (ids, tiles, files). */
  resources: readonly string[];
  /** Child resources whose content users author (attachments, files): never read as an ArcGIS error envelope. */
  rawResources?: readonly string[];
}

/** One portal read: a path pattern below `sharing/rest`. */
export interface PortalRead {
  /**
   * Segments separated by `/`: a literal name; `{id}` for an item, group, folder or comment id (32 hex digits);
   * `{name}` for a user name or portal id (any one segment but `self` or a write name); `**` for any remaining
   * segments (only last; write names refused there too).
   */
  pattern: string;
  /** The content is user-authored (item data and files): never read as an ArcGIS error envelope. @default false */
  raw?: boolean;
}

/** ArcGIS Server service types and what of them reads. */
export const SERVICE_READS: readonly ServiceReads[] = [
  {
    title: "Map service",
    marker: "MapServer",
    operations: [
      "export",
      "identify",
      "find",
      "query",
      "queryRelatedRecords",
      "queryAttachments",
      "queryDomains",
      "queryLegends",
      "generateKml",
      "generateRenderer",
      "estimateExportTilesSize",
    ],
    resources: [
      "layers",
      "legend",
      "tile",
      "tilemap",
      "tileInfo",
      "dynamicLayer",
      "images",
      "attachments",
      "kml",
      "info",
      "WMTS",
      "jobs",
    ],
    rawResources: ["attachments", "images"],
  },
  {
    title: "Feature service",
    marker: "FeatureServer",
    operations: [
      "query",
      "queryRelatedRecords",
      "queryAttachments",
      "queryTopFeatures",
      "queryBins",
      "queryDateBins",
      "queryAnalytic",
      "queryDomains",
      "queryContingentValues",
      "queryDataElements",
      "generateRenderer",
      "getEstimates",
      "validateSQL",
      "extractChanges",
    ],
    resources: [
      "layers",
      "relationships",
      "replicas",
      "contingentValues",
      "fieldGroups",
      "htmlPopup",
      "images",
      "attachments",
      "info",
      "jobs",
    ],
    rawResources: ["attachments", "images"],
  },
  {
    title: "Image service",
    marker: "ImageServer",
    operations: [
      "exportImage",
      "query",
      "identify",
      "measure",
      "getSamples",
      "computeHistograms",
      "computeStatisticsHistograms",
      "computeClassStatistics",
      "computePixelLocation",
      "computeAngles",
      "computeTiePoints",
      "findImages",
      "imageToGround",
      "groundToImage",
      "queryBoundary",
      "queryGPSInfo",
      "project",
      "download",
    ],
    resources: [
      "tile",
      "tilemap",
      "keyProperties",
      "rasterAttributeTable",
      "legend",
      "histograms",
      "statistics",
      "colormap",
      "multidimensionalInfo",
      "rasterFunctionInfos",
      "slices",
      "info",
      "kml",
      "WMTS",
      "file",
      "thumbnail",
    ],
    rawResources: ["file"],
  },
  {
    title: "Vector tile service",
    marker: "VectorTileServer",
    operations: ["estimateExportTilesSize"],
    resources: ["tile", "tilemap", "resources", "info"],
    rawResources: ["resources"],
  },
  {
    title: "Scene service",
    marker: "SceneServer",
    operations: [],
    resources: ["layers", "info"],
  },
  {
    title: "Geocode service",
    marker: "GeocodeServer",
    operations: ["findAddressCandidates", "geocodeAddresses", "reverseGeocode", "suggest", "find"],
    resources: ["info"],
  },
  {
    title: "Geometry service",
    marker: "GeometryServer",
    operations: [
      "areasAndLengths",
      "autoComplete",
      "buffer",
      "convexHull",
      "cut",
      "densify",
      "difference",
      "distance",
      "findTransformations",
      "fromGeoCoordinateString",
      "generalize",
      "intersect",
      "labelPoints",
      "lengths",
      "offset",
      "project",
      "relation",
      "reshape",
      "simplify",
      "toGeoCoordinateString",
      "trimExtend",
      "union",
    ],
    resources: [],
  },
  {
    title: "Geoprocessing service (task information and job results; running a task is not a read)",
    marker: "GPServer",
    named: true,
    operations: [],
    resources: ["jobs"],
  },
  {
    title: "Network analysis service",
    marker: "NAServer",
    named: true,
    operations: [
      "solve",
      "solveRoute",
      "solveClosestFacility",
      "solveServiceArea",
      "solveODCostMatrix",
      "solveLocationAllocation",
      "solveVehicleRoutingProblem",
      "retrieveTravelModes",
      "retrieveNetworkDescription",
    ],
    resources: [],
  },
];

/** Portal reads below `sharing/rest` (or the legacy `sharing`). */
export const PORTAL_READS: readonly PortalRead[] = [
  { pattern: "" },
  { pattern: "info" },
  { pattern: "search" },
  { pattern: "content/items/{id}" },
  { pattern: "content/items/{id}/data", raw: true },
  { pattern: "content/items/{id}/info/**", raw: true },
  { pattern: "content/items/{id}/resources" },
  { pattern: "content/items/{id}/resources/**", raw: true },
  { pattern: "content/items/{id}/metadata/**", raw: true },
  { pattern: "content/items/{id}/packageInfo/**", raw: true },
  { pattern: "content/items/{id}/relatedItems" },
  { pattern: "content/items/{id}/groups" },
  { pattern: "content/items/{id}/comments" },
  { pattern: "content/items/{id}/comments/{id}" },
  { pattern: "content/items/{id}/rating" },
  { pattern: "content/users/{name}" },
  { pattern: "content/users/{name}/items/{id}" },
  { pattern: "content/users/{name}/{id}" },
  { pattern: "content/users/{name}/{id}/items/{id}" },
  { pattern: "content/groups/{id}" },
  { pattern: "content/groups/{id}/search" },
  { pattern: "content/listings" },
  { pattern: "content/listings/{id}" },
  { pattern: "community/users" },
  { pattern: "community/users/{name}" },
  { pattern: "community/users/{name}/tags" },
  { pattern: "community/groups" },
  { pattern: "community/groups/{id}" },
  { pattern: "community/groups/{id}/users" },
  { pattern: "community/groups/{id}/categorySchema" },
  { pattern: "portals/languages" },
  { pattern: "portals/regions" },
  { pattern: "portals/{name}" },
  { pattern: "portals/{name}/languages" },
  { pattern: "portals/{name}/regions" },
  { pattern: "portals/{name}/helpmap" },
  { pattern: "portals/{name}/resources" },
  { pattern: "portals/{name}/resources/**", raw: true },
];

/**
 * Operations that change data, refused by read-only entries wherever they stand in the path (also below a child
 * resource, and as a folder or service name). Lower case.
 */
export const WRITE_OPERATION_NAMES: readonly string[] = [
  // Feature services and layers.
  "applyedits",
  "addfeatures",
  "updatefeatures",
  "deletefeatures",
  "addattachment",
  "addattachments",
  "updateattachment",
  "updateattachments",
  "deleteattachments",
  "calculate",
  "append",
  "truncate",
  "upload",
  "uploads",
  "createreplica",
  "synchronizereplica",
  "unregisterreplica",
  "cleanupchangetracking",
  // Versions and branch versioning.
  "create",
  "alter",
  "startediting",
  "stopediting",
  "startreading",
  "stopreading",
  "reconcile",
  "post",
  "deleteforwardedits",
  "restorerows",
  "inspectconflicts",
  // Image services.
  "add",
  "update",
  "delete",
  "updaterasters",
  // Jobs and tasks.
  "execute",
  "submitjob",
  "cancel",
  "exporttiles",
  // Portal content, users, groups.
  "additem",
  "updateitem",
  "deleteitem",
  "deleteitems",
  "createservice",
  "share",
  "unshare",
  "shareitems",
  "unshareitems",
  "protect",
  "unprotect",
  "reassign",
  "createfolder",
  "deletefolder",
  "move",
  "moveitems",
  "addresources",
  "updateresources",
  "removeresources",
  "addcomment",
  "addrating",
  "deleterating",
  "publish",
  "creategroup",
  "addusers",
  "removeusers",
  "invite",
  "join",
  "leave",
  "disable",
  "enable",
];

/** How {@link classifyOperation} sees a target path. */
export interface OperationClass {
  /** `read`: a read-only entry forwards it; `write`: only with `allowEdits`; `denied`: never. */
  kind: "read" | "write" | "denied";
  /** The resource type (`FeatureServer`, `portal`, `server`), for the log. */
  type: string;
  /** The operation or resource named by the path (lower case, at most 64 characters), for the log. */
  operation: string;
  /** The answer is user-authored content, never read as an ArcGIS error envelope. */
  raw: boolean;
  /** A read only for GET and HEAD (OGC services name their operation in the query; a POST may be a transaction). */
  getOnly?: boolean;
}

interface _CompiledService {
  reads: ServiceReads;
  operations: ReadonlySet<string>;
  resources: ReadonlySet<string>;
  raw: ReadonlySet<string>;
}

interface _CompiledPortalRead {
  segments: readonly string[];
  rest: boolean;
  raw: boolean;
}

const _lower = (names: readonly string[]): ReadonlySet<string> => new Set(names.map((n) => n.toLowerCase()));

const _SERVICES: ReadonlyMap<string, _CompiledService> = new Map(
  SERVICE_READS.map((reads) => [reads.marker.toLowerCase(), {
    reads,
    operations: _lower(reads.operations),
    resources: _lower(reads.resources),
    raw: _lower(reads.rawResources ?? []),
  }]),
);

/** Markers of other service types: below them a read-only entry forwards only the service's own description. */
const _OTHER_MARKERS: ReadonlySet<string> = _lower([
  "GlobeServer",
  "GeoDataServer",
  "MobileServer",
  "StreamServer",
  "VersionManagementServer",
  "UtilityNetworkServer",
  "KnowledgeGraphServer",
  "ParcelFabricServer",
  "ValidationServer",
  "TopographicProductionServer",
  "SchematicsServer",
  "WMSServer",
  "WFSServer",
  "WCSServer",
  "WMTSServer",
]);

const _PORTAL_READS: readonly _CompiledPortalRead[] = PORTAL_READS.map((read) => {
  const segments = read.pattern === "" ? [] : read.pattern.toLowerCase().split("/");
  const rest = segments[segments.length - 1] === "**";
  return { segments: rest ? segments.slice(0, -1) : segments, rest, raw: read.raw === true };
});

const _WRITES: ReadonlySet<string> = new Set(WRITE_OPERATION_NAMES);
const _DENIED_ANYWHERE: ReadonlySet<string> = new Set(["generatetoken", "oauth2", "tokens", "admin"]);
const _DIGITS = /^\d+$/;
const _HEX_ID = /^[0-9a-f]{32}$/;

function _name(segment: string | undefined): string {
  return segment === undefined || segment === "" ? "(root)" : segment.slice(0, 64);
}

function _matchesPortalRead(read: _CompiledPortalRead, rest: readonly string[]): boolean {
  if (read.rest ? rest.length < read.segments.length : rest.length !== read.segments.length) return false;
  for (let i = 0; i < read.segments.length; i++) {
    const want = read.segments[i];
    if (want === "{id}") {
      if (!_HEX_ID.test(rest[i])) return false;
    } else if (want === "{name}") {
      if (rest[i] === "self" || _WRITES.has(rest[i])) return false;
    } else if (want !== rest[i]) {
      return false;
    }
  }
  if (read.rest) {
    for (let i = read.segments.length; i < rest.length; i++) if (_WRITES.has(rest[i])) return false;
  }
  return true;
}

function _classifyPortal(rest: readonly string[]): OperationClass {
  const operation = _name(rest[rest.length - 1]);
  for (const read of _PORTAL_READS) {
    if (_matchesPortalRead(read, rest)) return { kind: "read", type: "portal", operation, raw: read.raw };
  }
  // The org and the signed-in identity: administrative, refused for every entry.
  const first = rest[0];
  const denied = first === "accounts" || first === "portals" ||
    (first === "community" && rest[1] === "self");
  return { kind: denied ? "denied" : "write", type: "portal", operation, raw: false };
}

function _classifyService(service: _CompiledService, rest: readonly string[]): OperationClass {
  const type = service.reads.marker;
  let raw = false;
  for (let i = 0; i < rest.length; i++) {
    const segment = rest[i];
    if (_WRITES.has(segment)) return { kind: "write", type, operation: _name(segment), raw: false };
    if (_DIGITS.test(segment) || (i === 0 && service.reads.named === true)) continue;
    if (service.operations.has(segment)) {
      // An operation ends the path.
      if (i !== rest.length - 1) return { kind: "write", type, operation: _name(rest[i + 1]), raw: false };
      return { kind: "read", type, operation: segment, raw: false };
    }
    if (service.resources.has(segment)) {
      // Below a child resource the segments address data; only write names are refused there.
      for (let j = i + 1; j < rest.length; j++) {
        if (_WRITES.has(rest[j])) return { kind: "write", type, operation: _name(rest[j]), raw: false };
      }
      raw = service.raw.has(segment);
      return { kind: "read", type, operation: segment, raw };
    }
    return { kind: "write", type, operation: _name(segment), raw: false };
  }
  return { kind: "read", type, operation: "(service)", raw };
}

/**
 * Classifies a target path given as decoded, lower-cased segments (a leading empty one, from the path's first
 * `/`, and a trailing empty one, from a final `/`, are ignored). Linear in the number of segments.
 */
export function classifyOperation(segments: readonly string[]): OperationClass {
  let end = segments.length;
  if (end > 0 && segments[end - 1] === "") end--;
  const start = segments[0] === "" ? 1 : 0;
  let sharing = -1;
  for (let i = start; i < end; i++) {
    const segment = segments[i];
    if (_DENIED_ANYWHERE.has(segment)) {
      return { kind: "denied", type: "server", operation: _name(segment), raw: false };
    }
    if (i + 1 < end && segments[i + 1] === "self" && (segment === "community" || segment === "portals")) {
      return { kind: "denied", type: "portal", operation: "self", raw: false };
    }
    if (sharing < 0 && segment === "sharing") sharing = i;
  }
  if (sharing >= 0) {
    const from = segments[sharing + 1] === "rest" ? sharing + 2 : sharing + 1;
    return _classifyPortal(segments.slice(from, end));
  }
  for (let i = start; i < end; i++) {
    const segment = segments[i];
    const service = _SERVICES.get(segment);
    if (service !== undefined) return _classifyService(service, segments.slice(i + 1, end));
    if (_OTHER_MARKERS.has(segment)) {
      if (i + 1 < end) {
        return { kind: "write", type: segment, operation: _name(segments[end - 1]), raw: false };
      }
      return { kind: "read", type: segment, operation: "(service)", raw: false, getOnly: true };
    }
    // A folder or service named like a write operation is refused, as ArcGIS may route on any segment.
    if (_WRITES.has(segment)) return { kind: "write", type: "server", operation: segment, raw: false };
  }
  // Catalogs and folders (`rest/services`, `rest/info`, a folder), none named like a write (checked above).
  return { kind: "read", type: "server", operation: _name(segments[end - 1]), raw: false };
}
