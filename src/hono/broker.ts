/**
 * `createBroker()` and `brokerFromEnv()`: build the verifier, policy, token service and proxy from one config and
 * expose them as Hono middleware and a mountable sub-app.
 *
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import type { BrokerConfig, BrokerConfigInput } from "../config/schema.ts";
import { ConfigError, configFromEnv, parseConfig, resolveSecrets, type Secrets } from "../config/load.ts";
import { CONFIG_ENV } from "../config/constants.ts";
import { type Deps, silentLog } from "../deps.ts";
import type { Identity, LinkService, Policy, TokenService, TokenVerifier } from "../types.ts";
import type { AtomicKvStore } from "../store/kv_store.ts";
import { createMemoryStore } from "../store/memory_store.ts";
import { createSealer, parseKeyring } from "../store/sealer.ts";
import { createTokenVerifier } from "../idp/mod.ts";
import { createPolicy } from "../policy/mod.ts";
import { createArcGISServices } from "../arcgis/mod.ts";
import { createProxyHandler } from "../proxy/mod.ts";
import { type BrokerEnv, createAuthenticate } from "./authenticate.ts";
import { createMetadataRoutes, createRoutes } from "./routes.ts";
import { createSessionStore } from "../session/session_store.ts";

/** Options for {@link createBroker}: the platform dependencies plus the secret values. */
export interface BrokerOptions extends Partial<Deps> {
  /** Secret values by environment-variable name (every `…Env` field of the config must be present). */
  secrets?: Secrets;
  /**
   * A store with atomic operations for single-use link `state` and refresh-token rotation (a Durable Object on
   * Workers). @default `store` when it is atomic
   */
  coordinator?: AtomicKvStore;
  /**
   * Share in-flight promises (JWKS fetch, token refresh) across requests. Must be `false` on Cloudflare Workers,
   * where a promise started by one request cannot be awaited by another. @default true
   */
  shareInFlight?: boolean;
  /**
   * Per-identity rate limit for the proxy: resolves `false` when the key is over its limit. `brokerFromEnv` builds it
   * from the Workers rate-limiting binding named by `proxy.rateLimitBinding`. @default no limit
   */
  rateLimit?: (key: string) => Promise<boolean>;
}

/** A built broker. */
export interface Broker {
  /** The validated configuration. */
  readonly config: BrokerConfig;
  /** Hono middleware that verifies the IdP bearer token and sets `c.var.identity`. */
  authenticate(): MiddlewareHandler<BrokerEnv>;
  /** The routes, to mount with `app.route(config.mountPath, broker.routes())`. */
  routes(): Hono<BrokerEnv>;
  /**
   * RFC 8414 authorization-server metadata for the token endpoint, to mount at the host's root with
   * `app.route("/", broker.wellKnown())`: it answers `GET /.well-known/oauth-authorization-server{mountPath}`
   * (RFC 8414 puts the well-known segment before the path), with the mount URL as the issuer.
   */
  wellKnown(): Hono;
  /** The token verifier (for non-Hono callers). */
  readonly verifier: TokenVerifier;
  /** The ArcGIS token service (for non-Hono callers). */
  readonly tokens: TokenService;
  /** The link service of `user` profiles (for non-Hono callers). */
  readonly links: LinkService;
  /** The claims → profiles policy. */
  readonly policy: Policy;
}

/**
 * Builds a broker from a config object (validated here; throws `ConfigError` naming each bad field) and the
 * platform's dependencies. Nothing is fetched until the first request.
 *
 * @param config The broker config (JSON-shaped input, or an already parsed config).
 * @param options The secret values the config names and the platform dependencies (store, fetch, clock, log,
 * `waitUntil`); every dependency has a default.
 * @returns The broker: `routes()` to mount, `authenticate()` middleware, and its services.
 * @throws {ConfigError} When the config is invalid, a secret it names is missing, or the sealing keyring is
 * malformed; the message names fields and variables, never values.
 *
 * @example Mount the routes and protect an app route
 * ```ts
 * import { Hono } from "hono";
 * import { type BrokerEnv, createBroker } from "arcgis-token-broker";
 *
 * const broker = createBroker({
 *   issuers: [{ issuer: "https://idp.example.com", audience: "arcgis-broker" }],
 *   arcgis: { portalUrl: "https://myorg.maps.arcgis.com/sharing/rest" },
 *   profiles: { viewer: { mode: "app", clientId: "def", clientSecretEnv: "ARCGIS_APP_SECRET" } },
 *   rules: [{ profile: "viewer" }],
 *   sealing: { keysEnv: "BROKER_SEALING_KEYS" },
 * }, { secrets: { ARCGIS_APP_SECRET: "…", BROKER_SEALING_KEYS: "k1:…" } });
 *
 * const app = new Hono<BrokerEnv>();
 * app.route("/arcgis", broker.routes());
 * app.get("/api/me", broker.authenticate(), (c) => c.json(c.var.identity));
 * ```
 */
export function createBroker(config: BrokerConfigInput | BrokerConfig, options: BrokerOptions = {}): Broker {
  const parsed = parseConfig(config);
  const secrets = resolveSecrets(parsed, options.secrets ?? {});
  const now = options.now ?? Date.now;
  const log = options.log ?? silentLog;
  const deps: Deps = {
    now,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    store: options.store ?? createMemoryStore({ now }),
    log,
    waitUntil: options.waitUntil ?? ((promise) => {
      promise.catch(() => log({ level: "warn", msg: "Background task failed" }));
    }),
  };
  const shareInFlight = options.shareInFlight ?? true;
  const keyring = parseKeyring(secrets[parsed.sealing.keysEnv]);
  const sealer = createSealer(keyring);
  const verifier = createTokenVerifier(parsed.issuers, deps, {
    maxTokenBytes: parsed.validation.maxTokenBytes,
    memoMaxEntries: parsed.validation.memoMaxEntries,
    shareInFlight,
    secrets,
  });
  const policy = createPolicy(parsed);
  const { tokens, links } = createArcGISServices(parsed, deps, {
    secrets,
    sealer,
    coordinator: options.coordinator,
    shareInFlight,
  });
  const proxy = createProxyHandler(
    {
      proxy: parsed.proxy,
      allowInsecureLoopback: parsed.arcgis.allowInsecureLoopback,
      headerOnlyProfiles: Object.keys(parsed.profiles).filter((name) =>
        parsed.profiles[name].mode === "apiKey"
      ),
    },
    deps,
    {
      tokens: (identity, profile, url, opts) => tokens.tokenForUrl(identity, profile, url, opts),
      ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
      shareTimers: shareInFlight,
    },
  );
  let routes: Hono<BrokerEnv> | undefined;
  let wellKnown: Hono | undefined;
  const authenticate = createAuthenticate(verifier, { log, exposeReasons: parsed.errors.exposeReasons });
  return {
    config: parsed,
    verifier,
    tokens,
    links,
    policy,
    authenticate: () => authenticate,
    wellKnown: () => wellKnown ??= createMetadataRoutes(parsed.mountPath),
    routes: () =>
      routes ??= createRoutes({
        verifier,
        policy,
        tokens,
        links,
        proxy: (request, context) => proxy.handle(request, context),
        store: deps.store,
        cors: parsed.cors,
        mountPath: parsed.mountPath,
        log,
        exposeReasons: parsed.errors.exposeReasons,
        now,
        session: {
          sessions: createSessionStore({ sealer, store: deps.store, now, log }),
          issuers: parsed.issuers,
          proxyAllow: parsed.proxy.allow,
          allowInsecureLoopback: parsed.arcgis.allowInsecureLoopback,
          corsOrigins: parsed.cors.origins,
          // A back-channel logout purges the user's cached tokens of every per-user profile.
          purgeUser: async (identity) => {
            const userProfiles = Object.entries(parsed.profiles).filter(([, p]) => p.mode === "user");
            await Promise.all(userProfiles.map(([name]) => tokens.purge(identity, name)));
          },
        },
      }),
  };
}

/** Identity type re-exported for hosts that type `c.var.identity`. */
export type { BrokerEnv, Identity };

interface CachedBroker {
  /** `BROKER_CONFIG` as given (text), or its JSON text when given as an object. */
  configText: string;
  /** The secret values the broker was built with, by variable name. */
  secrets: Secrets;
  broker: Broker;
}

function _configText(raw: unknown): string {
  return typeof raw === "string" ? raw : JSON.stringify(raw) ?? "";
}

/** True when `env` holds the same config text and the same secret values the cached broker was built from. */
function _unchanged(cached: CachedBroker, env: Readonly<Record<string, unknown>>): boolean {
  if (_configText(env[CONFIG_ENV]) !== cached.configText) return false;
  return Object.entries(cached.secrets).every(([name, value]) => env[name] === value);
}

/** Platform dependencies for {@link brokerFromEnv}; `store` may be built per call from `env` bindings. */
export type BrokerFromEnvOptions = BrokerOptions;

/** A cache of one broker per isolate, rebuilt only when the config text or a secret changes. */
export interface BrokerCache {
  /** The broker for `env`, built on first use and reused while the config and secrets are unchanged. */
  get(env: Readonly<Record<string, unknown>>, options?: BrokerFromEnvOptions): Broker;
}

/**
 * Creates a {@link BrokerCache}. Hosts usually use {@link brokerFromEnv}, which shares one per isolate.
 *
 * @returns An empty cache; its `get(env)` throws `ConfigError` like {@link brokerFromEnv}.
 */
export function createBrokerCache(): BrokerCache {
  let cached: CachedBroker | undefined;
  return {
    get(env, options = {}) {
      // The same config text names the same secrets: compare them as given, and parse only when one changed.
      if (cached !== undefined && _unchanged(cached, env)) return cached.broker;
      const { config, secrets } = configFromEnv(env);
      const rateLimit = options.rateLimit ?? rateLimitFromBinding(env, config.proxy.rateLimitBinding);
      const broker = createBroker(config, {
        ...options,
        secrets,
        ...(rateLimit === undefined ? {} : { rateLimit }),
      });
      cached = { configText: _configText(env[CONFIG_ENV]), secrets, broker };
      return broker;
    },
  };
}

interface RateLimitBindingLike {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

function rateLimitFromBinding(
  env: Readonly<Record<string, unknown>>,
  name: string | undefined,
): ((key: string) => Promise<boolean>) | undefined {
  if (name === undefined) return undefined;
  const binding = env[name] as Partial<RateLimitBindingLike> | undefined;
  if (binding === undefined || typeof binding.limit !== "function") {
    throw new ConfigError([{
      path: "proxy.rateLimitBinding",
      message: `No rate-limiting binding named "${name}"`,
    }]);
  }
  const limiter = binding as RateLimitBindingLike;
  return async (key) => (await limiter.limit({ key })).success;
}

const isolateCache = createBrokerCache();

/**
 * The broker for a Workers `env` (or `Deno.env.toObject()`): built once per isolate from `BROKER_CONFIG` and the
 * secrets it names, reused while they are unchanged, so caches survive across requests. Fails closed with a
 * `ConfigError` when `BROKER_CONFIG` is missing or invalid.
 *
 * @param env The environment record: `BROKER_CONFIG` (JSON text or an object) and the secrets it names.
 * @param options Platform dependencies, as for {@link createBroker} (the secrets come from `env`).
 * @returns The isolate's broker for this config.
 * @throws {ConfigError} When `BROKER_CONFIG` is missing or invalid, a secret it names is missing, or the rate
 * limit binding it names is absent.
 *
 * @example A Deno server from the environment
 * ```ts
 * import { Hono } from "hono";
 * import { brokerFromEnv } from "arcgis-token-broker";
 *
 * const broker = brokerFromEnv(Deno.env.toObject());
 * const app = new Hono().route(broker.config.mountPath, broker.routes());
 * Deno.serve({ port: 8000 }, app.fetch);
 * ```
 */
export function brokerFromEnv(
  env: Readonly<Record<string, unknown>>,
  options: BrokerFromEnvOptions = {},
): Broker {
  return isolateCache.get(env, options);
}

export { ConfigError };
