/**
 * The broker's routes as a Hono sub-app: `/credentials`, `/token`, `/link*`, `/proxy`, `/health*`, `/session`,
 * `/backchannel-logout`.
 *
 * @module
 */
import { Hono } from "hono";
import type { Handler, MiddlewareHandler } from "hono";
import { BrokerError } from "../errors.ts";
import { readCapped } from "../util/bytes.ts";
import type { LogFn } from "../deps.ts";
import type { Identity, JwksHealth, LinkService, Policy, TokenService, TokenVerifier } from "../types.ts";
import type { KvStore } from "../store/kv_store.ts";
import { type BrokerEnv, createAuthenticate } from "./authenticate.ts";
import { corsMiddleware, type CorsOptions } from "./cors.ts";
import { errorResponse, jsonHeaders } from "./errors.ts";
import { addSessionRoutes, createProxyAuthenticate, type SessionRoutesParts } from "./session_routes.ts";

/** Handles one proxied request for an authenticated identity. */
export type ProxyHandle = (
  request: Request,
  context: { identity: Identity; profiles: readonly string[] },
) => Promise<Response>;

/** What {@link createRoutes} wires together. */
export interface RoutesParts {
  /** The IdP token verifier. */
  verifier: TokenVerifier;
  /** Claims → profiles. */
  policy: Policy;
  /** ArcGIS tokens. */
  tokens: TokenService;
  /** The link flow of `user` profiles. */
  links: LinkService;
  /** The proxy. */
  proxy: ProxyHandle;
  /** The shared store, probed by `/health/details`. */
  store: KvStore;
  /** CORS settings. */
  cors: CorsOptions;
  /** Where the host mounts the routes (the RFC 8414 issuer is the mount URL). */
  mountPath: string;
  /** Log hook. */
  log: LogFn;
  /** Put refusal reason codes in `error_description` (config `errors.exposeReasons`). @default false */
  exposeReasons?: boolean;
  /** Current time, epoch ms. */
  now: () => number;
  /** The session cookie and back-channel logout routes; without them the proxy takes the bearer only. */
  session?: Omit<SessionRoutesParts, "profilesOf" | "log" | "now" | "mountPath" | "verifier">;
}

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
const MAX_FORM_BYTES = 16 * 1024;
/** `/health/details` writes its store probe at most once per this many seconds. */
const HEALTH_PROBE_INTERVAL_SECONDS = 60;
/** The RFC 8414 well-known segment, put before the mount path (RFC 8414 §3.1). */
const METADATA_SEGMENT = "/.well-known/oauth-authorization-server";
const MAX_JSON_BYTES = 4 * 1024;

/** Builds the sub-app. */
export function createRoutes(parts: RoutesParts): Hono<BrokerEnv> {
  const { verifier, policy, tokens, links, log } = parts;
  const exposeReasons = parts.exposeReasons ?? false;
  const app = new Hono<BrokerEnv>();
  const authenticate = createAuthenticate(verifier, { log, exposeReasons });
  const profilesOf = (identity: Identity): readonly string[] => {
    const profiles = policy.profilesFor(identity);
    if (profiles.length === 0) {
      throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "No rule admits the identity", { reason: "no_rule" });
    }
    return profiles;
  };
  const json = (body: unknown, status = 200): Response =>
    new Response(JSON.stringify(body), { status, headers: jsonHeaders() });
  /**
   * Every handler answers its own errors. There is deliberately no `app.onError`: a sub-app with its own error
   * handler makes Hono's `route()` wrap each of its handlers, on every request, in one more `compose()` (about a
   * dozen closures and promises per handler), which was a good part of what the routes cost a proxied request.
   */
  const guarded = (handler: Handler<BrokerEnv>): Handler<BrokerEnv> =>
    async function guardedRoute(c, next) {
      try {
        return await handler(c, next);
      } catch (error) {
        return errorResponse(error, { log, exposeReasons });
      }
    };

  app.notFound(() => json({ error: "not_found", error_description: "Not found" }, 404));
  app.use("*", corsMiddleware(parts.cors));

  app.get("/health", () => json({ ok: true }));

  // The store probe runs at most once per interval (Workers KV allows one write per second per key); requests
  // in between see its last result. The time is taken before the probe, so concurrent requests do not all probe.
  let probeAtMs: number | undefined;
  let probeResult: "ok" | "error" | "unknown" = "unknown";
  const probeStore = async (nowMs: number): Promise<void> => {
    probeAtMs = nowMs;
    try {
      const key = "atb:v1:health:probe";
      await parts.store.set(key, String(nowMs), { ttlSeconds: HEALTH_PROBE_INTERVAL_SECONDS });
      probeResult = (await parts.store.get(key)) === null ? "error" : "ok";
    } catch {
      probeResult = "error";
    }
  };

  app.get(
    "/health/details",
    authenticate,
    guarded(async (c) => {
      // Details only for an identity a rule admits: a stranger with a valid IdP token gets a bare 403.
      profilesOf(c.get("identity"));
      const nowMs = parts.now();
      if (
        probeAtMs === undefined || nowMs - probeAtMs >= HEALTH_PROBE_INTERVAL_SECONDS * 1000 ||
        nowMs < probeAtMs
      ) {
        await probeStore(nowMs);
      }
      const kv = probeResult;
      const issuers: JwksHealth[] = verifier.health();
      return json({ ok: kv === "ok", config: "loaded", kv, issuers });
    }),
  );

  app.get("/credentials", authenticate, async (c) => {
    try {
      const identity = c.get("identity");
      return json(await tokens.credentials(identity, profilesOf(identity)));
    } catch (error) {
      return errorResponse(error, { log, exposeReasons });
    }
  });

  app.post("/token", async (c) => {
    try {
      const form = await readForm(c.req.raw);
      const grantType = required(form, "grant_type");
      if (grantType !== TOKEN_EXCHANGE) {
        throw new BrokerError("ERR_UNSUPPORTED_GRANT_TYPE", "Unsupported grant_type");
      }
      const subjectToken = required(form, "subject_token");
      const subjectTokenType = required(form, "subject_token_type");
      if (subjectTokenType !== ACCESS_TOKEN_TYPE && subjectTokenType !== ID_TOKEN_TYPE) {
        throw invalidRequest("subject_token_type", "Unsupported subject_token_type");
      }
      const requested = single(form, "requested_token_type");
      if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
        throw invalidRequest("requested_token_type", "Unsupported requested_token_type");
      }
      single(form, "scope");
      // RFC 8693 §2.1: actor_token_type is required with actor_token and must not come without it.
      const actorTokenType = single(form, "actor_token_type");
      if (single(form, "actor_token") !== undefined) {
        throw invalidRequest("actor_token", "Delegation is not supported: actor_token");
      }
      if (actorTokenType !== undefined) {
        throw invalidRequest("actor_token_type", "actor_token_type without actor_token");
      }
      // RFC 8693 allows several resource and audience values: they must all name the same ArcGIS target.
      const targets = [...form.getAll("resource"), ...form.getAll("audience")];
      const identity = await verifier.verify(subjectToken, {
        accept: [subjectTokenType === ID_TOKEN_TYPE ? "id" : "access"],
      });
      const credential = await tokens.browserToken(identity, profilesOf(identity), targets);
      const expiresIn = Math.max(0, Math.floor((credential.expires - parts.now()) / 1000));
      return new Response(
        JSON.stringify({
          access_token: credential.token,
          issued_token_type: ACCESS_TOKEN_TYPE,
          token_type: "Bearer",
          expires_in: expiresIn,
          server: credential.server,
          expires: credential.expires,
          ssl: credential.ssl,
          userId: credential.userId,
        }),
        { status: 200, headers: jsonHeaders({ pragma: "no-cache" }) },
      );
    } catch (error) {
      return errorResponse(error, { dialect: "token-endpoint", log, exposeReasons });
    }
  });

  app.post("/link", authenticate, async (c) => {
    try {
      const body = await readJson(c.req.raw, true);
      const returnTo = body.returnTo;
      if (returnTo !== undefined && typeof returnTo !== "string") {
        throw new BrokerError("ERR_INVALID_REQUEST", "Expected returnTo to be a string");
      }
      const identity = c.get("identity");
      return json(await links.startLink(identity, profilesOf(identity), returnTo));
    } catch (error) {
      return errorResponse(error, { log, exposeReasons });
    }
  });

  app.get(
    "/link/callback",
    guarded(async (c) => {
      const query = new URL(c.req.url).searchParams;
      const location = await links.linkCallback(query);
      return new Response(null, {
        status: 303,
        headers: { location, "cache-control": "no-store", "referrer-policy": "no-referrer" },
      });
    }),
  );

  app.post(
    "/link/complete",
    authenticate,
    guarded(async (c) => {
      const body = await readJson(c.req.raw, false);
      const linkId = body.linkId;
      if (typeof linkId !== "string" || linkId === "") {
        throw new BrokerError("ERR_INVALID_REQUEST", "Expected a linkId");
      }
      const result = await links.completeLink(c.get("identity"), linkId);
      return json({ linked: true, userId: result.userId });
    }),
  );

  app.delete(
    "/link",
    authenticate,
    guarded(async (c) => {
      const identity = c.get("identity");
      profilesOf(identity);
      return json(await links.unlink(identity));
    }),
  );

  const proxyRoute: MiddlewareHandler<BrokerEnv> = async function proxyRoute(c) {
    try {
      const identity = c.get("identity");
      return await parts.proxy(c.req.raw, { identity, profiles: profilesOf(identity) });
    } catch (error) {
      return errorResponse(error, { log, exposeReasons });
    }
  };
  const session: SessionRoutesParts | undefined = parts.session === undefined
    ? undefined
    : { ...parts.session, profilesOf, log, now: parts.now, mountPath: parts.mountPath, verifier };
  if (session !== undefined) addSessionRoutes(app, authenticate, session);
  app.all("/proxy", createProxyAuthenticate(authenticate, session), proxyRoute);

  return app;
}

/** `ERR_INVALID_REQUEST` whose `error_description` names the parameter at fault (RFC 6749 §5.2). */
function invalidRequest(parameter: string, description: string): BrokerError {
  return new BrokerError("ERR_INVALID_REQUEST", `Invalid token request: "${parameter}"`, { description });
}

/** The value of a parameter that may appear at most once (RFC 6749 §3.2); an empty value counts as absent. */
function single(form: URLSearchParams, name: string): string | undefined {
  const values = form.getAll(name);
  if (values.length > 1) throw invalidRequest(name, `Repeated parameter: ${name}`);
  return values[0] === "" ? undefined : values[0];
}

/** The value of a required parameter. */
function required(form: URLSearchParams, name: string): string {
  const value = single(form, name);
  if (value === undefined) throw invalidRequest(name, `Missing parameter: ${name}`);
  return value;
}

async function readLimited(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw new BrokerError("ERR_BODY_TOO_LARGE", "Request body too large");
  const bytes = await readCapped(request.body, limit);
  if (bytes === undefined) throw new BrokerError("ERR_BODY_TOO_LARGE", "Request body too large");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new BrokerError("ERR_INVALID_REQUEST", "Request body is not UTF-8", {
      description: "The request body is not UTF-8",
    });
  }
}

async function readForm(request: Request): Promise<URLSearchParams> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    throw new BrokerError("ERR_INVALID_REQUEST", "Expected an application/x-www-form-urlencoded body", {
      description: "Expected an application/x-www-form-urlencoded body",
    });
  }
  return new URLSearchParams(await readLimited(request, MAX_FORM_BYTES));
}

async function readJson(request: Request, optional: boolean): Promise<Record<string, unknown>> {
  const text = await readLimited(request, MAX_JSON_BYTES);
  if (text.trim() === "") {
    if (optional) return {};
    throw new BrokerError("ERR_INVALID_REQUEST", "Expected a JSON body");
  }
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") {
    return Object.fromEntries(new URLSearchParams(text));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BrokerError("ERR_INVALID_REQUEST", "Expected a JSON body");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new BrokerError("ERR_INVALID_REQUEST", "Expected a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * The path of the RFC 8414 authorization-server metadata of routes mounted at `mountPath`: the well-known segment
 * goes before the path (`/.well-known/oauth-authorization-server/arcgis` for `/arcgis`), so the host serves it
 * from its root.
 */
export function authorizationServerMetadataPath(mountPath: string): string {
  const mount = mountPath.replace(/\/+$/, "");
  return `${METADATA_SEGMENT}${mount}`;
}

/**
 * A Hono app, to mount at the host's root (`app.route("/", …)`), that answers RFC 8414 metadata for the token
 * endpoint of routes mounted at `mountPath`. The issuer is the mount URL as the request reached the host.
 */
export function createMetadataRoutes(mountPath: string): Hono {
  const mount = mountPath.replace(/\/+$/, "");
  const app = new Hono();
  app.get(authorizationServerMetadataPath(mountPath), function authorizationServerMetadata(c) {
    const issuer = `${new URL(c.req.url).origin}${mount}`;
    const body = {
      issuer,
      token_endpoint: `${issuer}/token`,
      grant_types_supported: [TOKEN_EXCHANGE],
      token_endpoint_auth_methods_supported: ["none"],
      response_types_supported: [],
    };
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: {
        "content-type": "application/json; charset=utf-8",
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
      },
    });
  });
  return app;
}
