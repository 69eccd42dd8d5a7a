/**
 * {@link createFakeArcGIS}: an offline ArcGIS portal, federated/standalone servers and ArcGIS Online-style hosted
 * services in one `(Request) => Promise<Response>` handler, faithful to the "Fake ArcGIS server spec for tests" of
 * `reference/arcgis.md`. No network, no runtime APIs: serve it with {@link serveFakeArcGIS} or pass `fake.fetch`
 * wherever a `fetch` is expected.
 *
 * @module
 */
import {
  DEFAULT_FAKE_API_KEYS,
  DEFAULT_FAKE_APPS,
  DEFAULT_FAKE_LIMITS,
  DEFAULT_FAKE_USERS,
  DEFAULT_MAX_RECORD_COUNT,
  DEFAULT_MAX_RECORDED_BODY_BYTES,
  DEFAULT_ORG_ID,
  DEFAULT_PORTAL_NAME,
  DEFAULT_PORTAL_PATH,
  DEFAULT_SERVER_PATH,
  DEFAULT_TILE_CACHE_CONTROL,
  DEFAULT_TILE_LAST_MODIFIED_MS,
  DEFAULT_URL_KEY,
  INVALID_URL_ERROR,
} from "./constants.ts";
import { createDefaultTrailheads, DEFAULT_TRAILHEAD_FIELDS, defaultFakeServices } from "./default_dataset.ts";
import type {
  CreateFakeArcGISOptions,
  FakeApiKey,
  FakeApp,
  FakeArcGIS,
  FakeArcGISUrls,
  FakeEndpoint,
  FakeFailureHandle,
  FakeFailureRule,
  FakeFeature,
  FakeIssueCodeOptions,
  FakeIssueTokenOptions,
  FakeRedirect,
  FakeRequestRecord,
  FakeServiceConfig,
  FakeSignedInUserResolver,
  FakeTokenInfo,
  FakeUser,
} from "./types.ts";
import {
  type _Ctx,
  type _Server,
  type _Service,
  type _State,
  arcgisError,
  errorBody,
  json,
  portalUrl,
  serverUrl,
  sharingUrl,
} from "./_context.ts";
import { TokenStore } from "./_token_store.ts";
import { readRequest } from "./_request_reader.ts";
import {
  communitySelf,
  contentItem,
  oauth2Authorize,
  oauth2RevokeToken,
  oauth2Token,
  portalGenerateToken,
  portalInfo,
  portalNotFound,
  portalsSelf,
  rotateRefresh,
} from "./_portal_handlers.ts";
import { serverCatalog, serverGenerateToken, serverInfo } from "./_server_handlers.ts";
import { oauth2SignOut, oidcCallback, oidcJwks, oidcSignedOut, oidcUrls } from "./_oidc_login.ts";
import {
  authorizeService,
  featureEdit,
  featureLayerJson,
  featureQuery,
  featureServiceJson,
  mapExport,
  mapExportLarge,
  mapServiceJson,
  mapTile,
  serviceNotFound,
  vectorServiceJson,
  vectorStyle,
  vectorTile,
} from "./_service_handlers.ts";
import { hexId, minutesToMs, randomString, trimSlash } from "./_util.ts";

type _Run = (ctx: _Ctx) => Response | Promise<Response>;

interface _Route {
  endpoint: FakeEndpoint;
  root?: string;
  service?: string;
  run: _Run;
}

function _normalizePath(path: string): string {
  const withSlash = path.startsWith("/") ? path : `/${path}`;
  return withSlash === "/" ? "" : trimSlash(withSlash);
}

function _normalizeOrigin(origin: string | undefined): string | undefined {
  return origin === undefined ? undefined : new URL(origin).origin;
}

function _toService(state: _State, config: FakeServiceConfig, defaultRoot: string | undefined): _Service {
  const root = config.root !== undefined ? _normalizePath(config.root) : defaultRoot;
  if (root === undefined || !state.servers.has(root)) {
    throw new Error(`Fake ArcGIS: unknown root "${config.root ?? ""}" for service "${config.name}"`);
  }
  const fields = (config.fields ?? DEFAULT_TRAILHEAD_FIELDS).map((f) => ({ ...f }));
  const oid = fields.find((f) => f.type === "esriFieldTypeOID");
  if (!oid) throw new Error(`Fake ArcGIS: service "${config.name}" has no esriFieldTypeOID field`);
  const source = config.features ?? (config.type === "FeatureServer" ? createDefaultTrailheads() : []);
  const features: FakeFeature[] = source.map((f, i) => ({
    attributes: { ...f.attributes, [oid.name]: f.attributes[oid.name] ?? i + 1 },
    geometry: { ...f.geometry },
  }));
  const maxId = features.reduce((m, f) => Math.max(m, Number(f.attributes[oid.name]) || 0), 0);
  const name = trimSlash(config.name.replace(/^\/+/, ""));
  return {
    root,
    name,
    type: config.type,
    access: config.access ?? "org",
    fields,
    features,
    oidField: oid.name,
    layerName: config.layerName ?? name.split("/").at(-1)!,
    pagination: config.pagination ?? true,
    maxRecordCount: config.maxRecordCount ?? DEFAULT_MAX_RECORD_COUNT,
    capabilities: config.capabilities ?? "Query",
    editable: config.editable ?? true,
    tilePaddingBytes: config.tilePaddingBytes ?? 0,
    itemId: config.itemId ?? hexId(`item:${root}/${name}/${config.type}`),
    nextObjectId: maxId + 1,
  };
}

const _FEATURE_EDIT_OPS: Record<string, "applyEdits" | "addFeatures" | "updateFeatures" | "deleteFeatures"> =
  {
    applyedits: "applyEdits",
    addfeatures: "addFeatures",
    updatefeatures: "updateFeatures",
    deletefeatures: "deleteFeatures",
  };

const _TYPES: Record<string, _Service["type"]> = {
  featureserver: "FeatureServer",
  mapserver: "MapServer",
  vectortileserver: "VectorTileServer",
};

function _serviceRoute(state: _State, server: _Server, segments: string[]): _Route {
  const typeIndex = segments.findIndex((s) => _TYPES[s.toLowerCase()] !== undefined);
  if (typeIndex < 0) {
    const folder = segments.join("/");
    return {
      endpoint: "server:catalog",
      root: server.path,
      run: (ctx) => serverCatalog(ctx, server, folder),
    };
  }
  const type = _TYPES[segments[typeIndex].toLowerCase()];
  const name = segments.slice(0, typeIndex).join("/");
  const sub = segments.slice(typeIndex + 1);
  const lowerSub = sub.map((s) => s.toLowerCase());
  const service = state.services.find((s) =>
    s.root === server.path && s.type === type && s.name.toLowerCase() === name.toLowerCase()
  );
  const key = `${service?.name ?? name}/${type}`;

  let endpoint: FakeEndpoint = "service:other";
  let handler: (ctx: _Ctx, service: _Service, principal: FakeTokenInfo | null) => Response = serviceNotFound;
  if (type === "FeatureServer") {
    if (sub.length === 0) {
      endpoint = "FeatureServer";
      handler = featureServiceJson;
    } else if (sub.length === 1 && lowerSub[0] === "applyedits") {
      endpoint = "FeatureServer/applyEdits";
      handler = (ctx, s, p) => featureEdit(ctx, s, "applyEdits", undefined, p);
    } else if (sub[0] === "0" && sub.length === 1) {
      endpoint = "FeatureServer/layer";
      handler = featureLayerJson;
    } else if (sub[0] === "0" && sub.length === 2 && lowerSub[1] === "query") {
      endpoint = "FeatureServer/query";
      handler = featureQuery;
    } else if (sub[0] === "0" && sub.length === 2 && _FEATURE_EDIT_OPS[lowerSub[1]] !== undefined) {
      const op = _FEATURE_EDIT_OPS[lowerSub[1]];
      endpoint = `FeatureServer/${op}`;
      handler = (ctx, s, p) => featureEdit(ctx, s, op, 0, p);
    }
  } else if (type === "MapServer") {
    if (sub.length === 0) {
      endpoint = "MapServer";
      handler = mapServiceJson;
    } else if (lowerSub[0] === "tile") {
      endpoint = "MapServer/tile";
      handler = (ctx, s) => mapTile(ctx, s, sub.slice(1));
    } else if (sub.length === 1 && lowerSub[0] === "export") {
      endpoint = "MapServer/export";
      handler = mapExport;
    } else if (sub.length === 1 && lowerSub[0] === "exportlarge") {
      endpoint = "MapServer/exportLarge";
      handler = mapExportLarge;
    }
  } else {
    if (sub.length === 0) {
      endpoint = "VectorTileServer";
      handler = vectorServiceJson;
    } else if (lowerSub[0] === "tile") {
      endpoint = "VectorTileServer/tile";
      handler = (ctx, s) => vectorTile(ctx, s, sub.slice(1));
    } else if (lowerSub[0] === "resources" && lowerSub[1] === "styles" && sub.length <= 3) {
      endpoint = "VectorTileServer/style";
      handler = vectorStyle;
    }
  }
  return {
    endpoint,
    root: server.path,
    service: key,
    run: (ctx) => {
      if (!service) return serviceNotFound(ctx);
      const principal = authorizeService(ctx, server, service, endpoint);
      if (principal instanceof Response) return principal;
      return handler(ctx, service, principal);
    },
  };
}

function _route(state: _State, path: string): _Route {
  const lower = path.toLowerCase();
  const portalBase = state.portalPath.toLowerCase();
  for (const prefix of [`${portalBase}/sharing/rest/`, `${portalBase}/sharing/`]) {
    if (!lower.startsWith(prefix)) continue;
    const op = trimSlash(path.slice(prefix.length));
    const lowerOp = op.toLowerCase();
    const simple: Record<string, [FakeEndpoint, _Run]> = {
      "info": ["portal:info", portalInfo],
      "generatetoken": ["portal:generateToken", portalGenerateToken],
      "oauth2/token": ["portal:oauth2/token", oauth2Token],
      "oauth2/authorize": ["portal:oauth2/authorize", oauth2Authorize],
      "oauth2/revoketoken": ["portal:oauth2/revokeToken", oauth2RevokeToken],
      "portals/self": ["portal:portals/self", portalsSelf],
      "community/self": ["portal:community/self", communitySelf],
      "oauth2/signout": ["portal:oauth2/signout", oauth2SignOut],
      "oauth2/oidc/callback": ["portal:oidc/callback", oidcCallback],
      "oauth2/oidc/signedout": ["portal:oidc/signedout", oidcSignedOut],
      "oauth2/oidc/jwks": ["portal:oidc/jwks", oidcJwks],
    };
    const hit = simple[lowerOp];
    if (hit) return { endpoint: hit[0], root: "portal", run: hit[1] };
    const item = /^content\/items\/([^/]+)(\/data)?$/i.exec(op);
    if (item) {
      return {
        endpoint: "portal:content/items",
        root: "portal",
        run: (ctx) => contentItem(ctx, item[1], !!item[2]),
      };
    }
    return { endpoint: "notFound", root: "portal", run: portalNotFound };
  }
  const servers = [...state.servers.values()].sort((a, b) => b.path.length - a.path.length);
  for (const server of servers) {
    const base = server.path.toLowerCase();
    if (!lower.startsWith(`${base}/`)) continue;
    const segments = trimSlash(path.slice(server.path.length + 1)).split("/").filter((s) => s !== "");
    const lowerSeg = segments.map((s) => s.toLowerCase());
    if (lowerSeg.length === 2 && lowerSeg[0] === "rest" && lowerSeg[1] === "info") {
      return { endpoint: "server:info", root: server.path, run: (ctx) => serverInfo(ctx, server) };
    }
    if (lowerSeg.length === 2 && lowerSeg[0] === "tokens" && lowerSeg[1] === "generatetoken") {
      return {
        endpoint: "server:generateToken",
        root: server.path,
        run: (ctx) => serverGenerateToken(ctx, server),
      };
    }
    if (lowerSeg[0] === "rest" && lowerSeg[1] === "services") {
      return _serviceRoute(state, server, segments.slice(2).map(_decodeSegment));
    }
    return { endpoint: "notFound", root: server.path, run: serviceNotFound };
  }
  return { endpoint: "notFound", run: (ctx) => arcgisError(ctx, INVALID_URL_ERROR) };
}

function _decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function _redirectFor(state: _State, path: string): FakeRedirect | undefined {
  return state.redirects.find((r) =>
    r.path.endsWith("*") ? path.startsWith(r.path.slice(0, -1)) : trimSlash(path) === trimSlash(r.path)
  );
}

function _finish(state: _State, request: Request, response: Response): Response {
  const h = response.headers;
  const origin = request.headers.get("origin");
  if (origin) {
    h.set("Access-Control-Allow-Origin", origin);
    h.set("Access-Control-Allow-Credentials", "true");
    h.append("Vary", "Origin");
    if (request.method !== "OPTIONS") {
      h.set("Access-Control-Expose-Headers", "Content-Length, Content-Range, ETag, Last-Modified");
    }
  }
  if (state.leakyHeaders) {
    h.append("Set-Cookie", `esri_aopc=${randomString(16)}; Path=/; HttpOnly; Secure; SameSite=None`);
    h.set("WWW-Authenticate", 'Bearer realm="arcgis"');
    if (!origin) h.set("Access-Control-Allow-Origin", "*");
  }
  if (request.method === "HEAD" && response.body !== null) {
    response.body.cancel().catch(() => {});
    return new Response(null, { status: response.status, headers: h });
  }
  return response;
}

function _preflight(request: Request): Response {
  const headers = new Headers({ "Allow": "GET, HEAD, POST, OPTIONS" });
  if (request.headers.get("origin")) {
    headers.set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
    headers.set(
      "Access-Control-Allow-Headers",
      request.headers.get("access-control-request-headers") ??
        "Authorization, X-Esri-Authorization, Content-Type",
    );
    headers.set("Access-Control-Max-Age", "600");
  }
  return new Response(null, { status: 204, headers });
}

function _failureMatches(failure: _State["failures"][number], record: FakeRequestRecord): boolean {
  return typeof failure.match === "string" ? failure.match === record.endpoint : failure.match(record);
}

async function _applyFailure(
  ctx: _Ctx,
  failure: _State["failures"][number],
  watchSignal: boolean,
): Promise<Response> {
  const mode = failure.mode;
  switch (mode.kind) {
    case "status":
      return new Response(
        mode.body ??
          JSON.stringify({ error: { code: mode.status, message: `HTTP ${mode.status}`, details: [] } }),
        {
          status: mode.status,
          headers: { "Content-Type": mode.contentType ?? "application/json; charset=utf-8", ...mode.headers },
        },
      );
    case "garbage":
      return new Response('{"token":"', {
        status: 200,
        headers: { "Content-Type": "application/json; charset=utf-8" },
      });
    case "arcgisError":
      return arcgisError(ctx, errorBody(mode.code, mode.message));
    case "hang": {
      // Requests from fake.fetch end with their abort signal; server requests (Deno.serve aborts the signal after
      // every response, and warns when it is watched) end with releaseHangs(), which close() calls.
      const signal = watchSignal ? ctx.request.signal : undefined;
      await new Promise<void>((resolve, reject) => {
        const release = (): void => {
          signal?.removeEventListener("abort", onAbort);
          ctx.state.hangs.delete(release);
          resolve();
        };
        const onAbort = (): void => {
          ctx.state.hangs.delete(release);
          reject(signal?.reason);
        };
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        signal?.addEventListener("abort", onAbort, { once: true });
        ctx.state.hangs.add(release);
      });
      return json(ctx, errorBody(503, "Service Unavailable"), 503);
    }
  }
}

/**
 * Creates a fake ArcGIS portal with servers, services, users, apps and API keys.
 *
 * @param options Users, apps, API keys, servers and services (defaults: the demo dataset), the clock, limits and
 * the public origin.
 * @returns The fake: `fetch`/`handle` to call it in process, its state, request log and failure injection.
 *
 * @example Ask the fake for a token, in process
 * ```ts
 * import { createFakeArcGIS } from "arcgis-token-broker/testing";
 *
 * const fake = createFakeArcGIS({ origin: "https://arcgis.test", startTimeMs: 0 });
 * const res = await fake.fetch(`${fake.urls().sharingRest}/generateToken`, {
 *   method: "POST",
 *   body: new URLSearchParams({ username: "alice", password: "alice-password", f: "json" }),
 * });
 * ```
 */
export function createFakeArcGIS(options: CreateFakeArcGISOptions = {}): FakeArcGIS {
  let offsetMs = 0;
  let manualMs = options.startTimeMs;
  const ownClock = options.now === undefined;
  const now: () => number = options.now ??
    (manualMs !== undefined ? () => manualMs as number : () => Date.now() + offsetMs);

  const orgId = options.orgId ?? DEFAULT_ORG_ID;
  const limits = { ...DEFAULT_FAKE_LIMITS, ...options.limits };
  const state: _State = {
    now,
    origin: _normalizeOrigin(options.origin),
    portalOrigin: _normalizeOrigin(options.portalOrigin),
    portalPath: _normalizePath(options.portalPath ?? DEFAULT_PORTAL_PATH),
    orgId,
    urlKey: options.urlKey ?? DEFAULT_URL_KEY,
    portalName: options.portalName ?? DEFAULT_PORTAL_NAME,
    allSSL: options.allSSL ?? false,
    limits,
    users: new Map(),
    apps: new Map(),
    apiKeys: new Map(),
    servers: new Map(),
    services: [],
    tokens: new TokenStore(),
    statusMirrorsErrorCode: options.statusMirrorsErrorCode ?? false,
    htmlInvalidTokenForTiles: options.htmlInvalidTokenForTiles ?? false,
    leakyHeaders: options.leakyHeaders ?? false,
    signedInUser: null,
    authorizeDenied: options.authorizeDenied ?? false,
    ...(options.oidcLogin !== undefined ? { oidcLogin: { ...options.oidcLogin } } : {}),
    portalSessions: new Map(),
    oidcPending: new Map(),
    signOutReturns: new Map(),
    oidcLogins: [],
    redirects: [...(options.redirects ?? [])],
    tileCacheControl: options.tileCacheControl ?? DEFAULT_TILE_CACHE_CONTROL,
    tileLastModifiedMs: options.tileLastModifiedMs ?? DEFAULT_TILE_LAST_MODIFIED_MS,
    maxRecordedBodyBytes: options.maxRecordedBodyBytes ?? DEFAULT_MAX_RECORDED_BODY_BYTES,
    requests: [],
    edits: [],
    streams: [],
    failures: [],
    hangs: new Set(),
    tileCache: new Map(),
  };

  const addUser = (user: FakeUser): void => {
    state.users.set(user.username, { ...user, groups: [...(user.groups ?? [])] });
  };
  const addApp = (app: FakeApp): void => {
    state.apps.set(app.clientId, { ...app, redirectUris: [...(app.redirectUris ?? [])] });
  };
  const addApiKey = (key: FakeApiKey): void => {
    state.apiKeys.set(key.token, { ...key });
    state.tokens.register(key.token, {
      kind: "apikey",
      username: undefined,
      issuedMs: now(),
      expiresMs: key.expiresMs ?? now() + minutesToMs(limits.apiKeyMinutes),
      via: "apiKey",
    });
  };
  for (const user of options.users ?? DEFAULT_FAKE_USERS) addUser(user);
  for (const app of options.apps ?? DEFAULT_FAKE_APPS) addApp(app);
  for (const key of options.apiKeys ?? DEFAULT_FAKE_API_KEYS) addApiKey(key);
  const firstUser = state.users.keys().next().value;
  state.signedInUser = options.signedInUser !== undefined ? options.signedInUser : firstUser ?? null;

  const serverConfigs = options.servers ?? [{ path: DEFAULT_SERVER_PATH }];
  for (const s of serverConfigs) {
    const path = _normalizePath(s.path);
    if (path === "") throw new Error("Fake ArcGIS: a server path must not be empty");
    state.servers.set(path, {
      path,
      federated: s.federated ?? true,
      acceptsPortalTokens: s.acceptsPortalTokens ?? false,
      origin: _normalizeOrigin(s.origin),
      hosted: false,
    });
  }
  if (options.hosted !== false) {
    const hosted = typeof options.hosted === "object" ? options.hosted : {};
    state.hostedRoot = `/${orgId}/arcgis`;
    state.servers.set(state.hostedRoot, {
      path: state.hostedRoot,
      federated: true,
      acceptsPortalTokens: hosted.acceptsPortalTokens ?? true,
      origin: _normalizeOrigin(hosted.origin),
      hosted: true,
    });
  }
  const firstServerPath = serverConfigs.length > 0 ? _normalizePath(serverConfigs[0].path) : state.hostedRoot;
  const serviceConfigs = options.services ??
    defaultFakeServices({
      serverPath: serverConfigs.length > 0 ? firstServerPath : undefined,
      hostedRoot: state.hostedRoot,
    });
  const addService = (config: FakeServiceConfig): void => {
    state.services.push(_toService(state, config, firstServerPath));
  };
  for (const config of serviceConfigs) addService(config);

  let seq = 0;
  const handleRequest = async (request: Request, watchSignal: boolean): Promise<Response> => {
    const url = new URL(request.url);
    const isPreflight = request.method === "OPTIONS";
    const redirect = isPreflight ? undefined : _redirectFor(state, url.pathname);
    const route: _Route = isPreflight ? { endpoint: "options", run: () => _preflight(request) } : redirect
      ? {
        endpoint: "redirect",
        run: (ctx) => {
          let location = redirect.location.startsWith("/")
            ? `${ctx.state.origin ?? url.origin}${redirect.location}`
            : redirect.location;
          if (redirect.appendQuery && url.search) {
            location += (location.includes("?") ? "&" : "?") +
              url.search.slice(1);
          }
          return new Response(null, { status: redirect.status ?? 302, headers: { Location: location } });
        },
      }
      : _route(state, url.pathname);
    const timeMs = now();
    const read = await readRequest(request, url, state.maxRecordedBodyBytes);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const record: FakeRequestRecord = {
      seq: ++seq,
      timeMs,
      method: request.method,
      url: request.url,
      path: url.pathname,
      endpoint: route.endpoint,
      ...(route.root !== undefined ? { root: route.root } : {}),
      ...(route.service !== undefined ? { service: route.service } : {}),
      ...read.logged,
      headers,
      referer: headers["referer"],
      xEsriAuthorization: headers["x-esri-authorization"],
      authorization: headers["authorization"],
      contentType: headers["content-type"],
      cookie: headers["cookie"],
      origin: headers["origin"],
    };
    state.requests.push(record);
    const ctx: _Ctx = { state, request, url, read, record };
    let response: Response;
    const failure = state.failures.find((f) => _failureMatches(f, record));
    if (failure) {
      failure.hits++;
      failure.remaining--;
      if (failure.remaining <= 0) state.failures.splice(state.failures.indexOf(failure), 1);
      record.failure = failure.name;
      response = await _applyFailure(ctx, failure, watchSignal);
    } else {
      response = await route.run(ctx);
    }
    record.status = response.status;
    return _finish(state, request, response);
  };

  const fetchFn = (input: Request | URL | string, init?: RequestInit): Promise<Response> => {
    let request: Request;
    try {
      request = input instanceof Request && init === undefined ? input : new Request(input, init);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = request.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<Response>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      handleRequest(request, true).then(resolve, reject).finally(() =>
        signal.removeEventListener("abort", onAbort)
      );
    });
  };

  const handle = (request: Request): Promise<Response> => handleRequest(request, false);

  let failureId = 0;
  const releaseHangs = (): void => {
    for (const release of [...state.hangs]) release();
  };

  const findServer = (root: string): _Server => {
    const server = state.servers.get(_normalizePath(root));
    if (!server) throw new Error(`Fake ArcGIS: unknown server root "${root}"`);
    return server;
  };

  const defaultMinutes = (kind: FakeIssueTokenOptions["kind"]): number => {
    switch (kind) {
      case "portal":
        return limits.portalTokenDefaultMinutes;
      case "server":
        return limits.serverTokenDefaultMinutes;
      case "app":
        return limits.appTokenDefaultMinutes;
      case "apikey":
        return limits.apiKeyMinutes;
      default:
        return limits.refreshTokenDefaultMinutes;
    }
  };

  const fake: FakeArcGIS = {
    fetch: fetchFn,
    handle,
    get requests(): readonly FakeRequestRecord[] {
      return state.requests;
    },
    count(match): number {
      return state.requests.filter((r) => (typeof match === "string" ? r.endpoint === match : match(r)))
        .length;
    },
    reset(): void {
      state.requests.length = 0;
      state.edits.length = 0;
      state.streams.length = 0;
    },
    now,
    advance(ms: number): void {
      if (!ownClock) {
        throw new Error("Fake ArcGIS: advance() needs the fake's own clock (a now option was given)");
      }
      if (!(ms >= 0)) throw new Error("Fake ArcGIS: advance() takes a non-negative number of milliseconds");
      if (manualMs !== undefined) manualMs += ms;
      else offsetMs += ms;
    },
    urls(origin?: string): FakeArcGISUrls {
      const o = _normalizeOrigin(origin) ?? state.origin;
      if (o === undefined) throw new Error("Fake ArcGIS: urls() needs an origin (none is configured)");
      const sharing = sharingUrl(state, o);
      const oidc = oidcUrls(state, o);
      const servers: FakeArcGISUrls["servers"] = {};
      for (const server of state.servers.values()) {
        if (server.hosted) continue;
        const root = serverUrl(state, server, o);
        servers[server.path] = { root, restServices: `${root}/rest/services`, federated: server.federated };
      }
      const hostedServer = state.hostedRoot ? state.servers.get(state.hostedRoot) : undefined;
      const hostedRootUrl = hostedServer ? serverUrl(state, hostedServer, o) : undefined;
      const services: Record<string, string> = {};
      for (const s of state.services) {
        services[`${s.root}:${s.name}/${s.type}`] = `${
          serverUrl(state, state.servers.get(s.root)!, o)
        }/rest/services/${s.name}/${s.type}`;
      }
      return {
        origin: o,
        portal: portalUrl(state, o),
        sharingRest: sharing,
        generateToken: `${sharing}/generateToken`,
        oauth2Token: `${sharing}/oauth2/token`,
        oauth2Authorize: `${sharing}/oauth2/authorize`,
        oauth2RevokeToken: `${sharing}/oauth2/revokeToken`,
        signOut: `${sharing}/oauth2/signout`,
        oidcRedirect: oidc.callback,
        oidcSignedOut: oidc.signedOut,
        oidcPublicKeys: oidc.publicKeys,
        servers,
        ...(hostedRootUrl
          ? { hosted: { root: hostedRootUrl, restServices: `${hostedRootUrl}/rest/services` } }
          : {}),
        services,
      };
    },
    orgId,

    issueToken(opts: FakeIssueTokenOptions): string {
      const minutes = opts.minutes ?? defaultMinutes(opts.kind);
      const serverRoot = opts.kind === "server"
        ? findServer(opts.serverRoot ?? firstServerPath ?? "").path
        : undefined;
      return state.tokens.issue({
        kind: opts.kind,
        username: opts.username,
        clientId: opts.clientId,
        issuedMs: now(),
        expiresMs: now() + minutesToMs(minutes),
        referer: opts.referer,
        serverRoot,
        family: opts.family ?? (opts.kind === "refresh" ? randomString(12) : undefined),
        lifetimeMinutes: opts.kind === "refresh" ? minutes : undefined,
        via: "hook",
      });
    },
    issueAuthorizationCode(opts: FakeIssueCodeOptions): string {
      return state.tokens.issueCode({
        clientId: opts.clientId,
        redirectUri: opts.redirectUri,
        username: opts.username,
        codeChallenge: opts.codeChallenge,
        codeChallengeMethod: opts.codeChallenge !== undefined
          ? opts.codeChallengeMethod ?? "plain"
          : undefined,
        refreshMinutes: Math.min(
          opts.expirationMinutes ?? limits.refreshTokenDefaultMinutes,
          limits.refreshTokenMaxMinutes,
        ),
        expiresMs: now() + minutesToMs(limits.authorizationCodeMinutes),
      });
    },
    revokeToken(token: string): boolean {
      return state.tokens.revoke(token);
    },
    rotateRefreshToken(refreshToken: string): string {
      const info = state.tokens.get(refreshToken);
      if (!info || info.kind !== "refresh" || info.revoked) {
        throw new Error("Fake ArcGIS: rotateRefreshToken() needs a live refresh token");
      }
      return rotateRefresh(state, info).token;
    },
    inspectToken(token: string): FakeTokenInfo | undefined {
      const info = state.tokens.get(token);
      return info ? { ...info } : undefined;
    },
    tokens(): FakeTokenInfo[] {
      return state.tokens.all();
    },

    setFederated(serverRoot: string, federated: boolean): void {
      const server = findServer(serverRoot);
      if (server.hosted) throw new Error("Fake ArcGIS: the hosted root is always federated");
      server.federated = federated;
    },
    setStatusMirrorsErrorCode(on: boolean): void {
      state.statusMirrorsErrorCode = on;
    },
    setPortalTokenReuse(on: boolean, root?: string): void {
      const target = root ?? state.hostedRoot;
      if (target === undefined) throw new Error("Fake ArcGIS: no hosted root; name a server root");
      findServer(target).acceptsPortalTokens = on;
    },
    setHtmlInvalidTokenForTiles(on: boolean): void {
      state.htmlInvalidTokenForTiles = on;
    },
    setLeakyHeaders(on: boolean): void {
      state.leakyHeaders = on;
    },
    setSignedInUser(user: string | null | FakeSignedInUserResolver): void {
      state.signedInUser = user;
    },
    setOidcLogin(config): void {
      if (config === null) delete state.oidcLogin;
      else state.oidcLogin = { ...config };
    },
    get oidcLogins() {
      return state.oidcLogins;
    },
    user(username: string): FakeUser | undefined {
      const user = state.users.get(username);
      return user === undefined ? undefined : structuredClone(user);
    },
    setAuthorizeDenied(on: boolean): void {
      state.authorizeDenied = on;
    },
    addRedirect(rule: FakeRedirect): void {
      state.redirects.push({ ...rule });
    },
    clearRedirects(): void {
      state.redirects.length = 0;
    },
    addUser,
    addApp,
    addApiKey,
    addService,
    injectFailure(rule: FakeFailureRule): FakeFailureHandle {
      const failure = {
        id: ++failureId,
        match: rule.match,
        mode: rule.mode,
        remaining: rule.times ?? Infinity,
        name: rule.name ?? rule.mode.kind,
        hits: 0,
      };
      state.failures.push(failure);
      return {
        remove(): void {
          const index = state.failures.indexOf(failure);
          if (index >= 0) state.failures.splice(index, 1);
        },
        get hits(): number {
          return failure.hits;
        },
      };
    },
    clearFailures(): void {
      state.failures.length = 0;
      releaseHangs();
    },
    releaseHangs,

    get edits() {
      return state.edits;
    },
    get streams() {
      return state.streams;
    },
    features(service: string): FakeFeature[] {
      const [root, name] = service.includes(":") ? service.split(":", 2) : [undefined, service];
      const found = state.services.find((s) =>
        s.type === "FeatureServer" && s.name.toLowerCase() === name.toLowerCase() &&
        (root === undefined || s.root === _normalizePath(root))
      );
      if (!found) throw new Error(`Fake ArcGIS: unknown FeatureServer "${service}"`);
      return found.features.map((f) => ({ attributes: { ...f.attributes }, geometry: { ...f.geometry } }));
    },
  };
  return fake;
}
