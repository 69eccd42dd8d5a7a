/**
 * {@link createBrokerWorker}: a whole Cloudflare Worker (`export default createBrokerWorker()`) that serves the
 * broker from its `env` bindings: `BROKER_CONFIG` and the secrets it names, Workers KV for the shared cache and an
 * optional Durable Object for mutual exclusion.
 *
 * Each request's `ctx.waitUntil` reaches the isolate-wide broker through `AsyncLocalStorage`, so the Worker needs
 * the `nodejs_als` (or `nodejs_compat`) compatibility flag.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Hono } from "hono";
import { type Broker, type BrokerEnv, createBrokerCache } from "../hono/broker.ts";
import { ConfigError, configFromEnv, type ConfigIssue } from "../config/load.ts";
import { consoleLog, type LogFn } from "../deps.ts";
import type { AtomicKvStore, KvStore } from "../store/kv_store.ts";
import { createMemoryStore } from "../store/memory_store.ts";
import { createTieredStore } from "../store/tiered_store.ts";
import { type CloudflareKvNamespaceLike, createCloudflareKvStore } from "../store/cloudflare_kv_store.ts";
import { createDurableObjectStore, type DurableObjectNamespaceLike } from "./durable_object_coordinator.ts";

/** The part of the Workers `ExecutionContext` the Worker uses. */
export interface WorkerContext {
  /** Keeps `promise` alive after the response. */
  waitUntil(promise: Promise<unknown>): void;
}

/** The bindings the Worker reads: the config, KV, the coordinator and the secrets the config names. */
export type WorkerEnv = Readonly<Record<string, unknown>>;

/** Options of {@link createBrokerWorker}. */
export interface BrokerWorkerOptions {
  /** Name of the Workers KV namespace binding for the shared cache. @default "BROKER_KV" */
  kvBinding?: string;
  /**
   * Name of the Durable Object namespace binding bound to the `BrokerCoordinator` Durable Object; when it is absent from `env`,
   * KV is used and two concurrent rotations of one link can race. @default "BROKER_COORDINATOR"
   */
  coordinatorBinding?: string;
  /** Log hook. @default consoleLog (JSON lines) */
  log?: LogFn;
  /**
   * Builds the app around the broker, e.g. to add your own routes next to it; it must mount `broker.routes()`.
   * @default a Hono app with only the broker's routes at `config.mountPath`
   */
  app?: (broker: Broker) => Hono<BrokerEnv>;
}

/** A Workers module: the object a Worker's entry exports as its default. */
export interface BrokerWorker {
  /** Handles one request; answers 503 `temporarily_unavailable` while the config or a binding is missing. */
  fetch(request: Request, env: WorkerEnv, ctx: WorkerContext): Promise<Response>;
}

interface _Platform {
  store: KvStore;
  coordinator: AtomicKvStore | undefined;
}

/**
 * Creates the Worker. The broker is built on the first request from `BROKER_CONFIG` and the secrets it names, then
 * reused while they are unchanged, so the JWKS cache, the verified-token memo and the token cache survive across
 * requests. It fails closed: without a valid config or the KV binding every request gets a 503 and the log says
 * what is missing (names only, never values). In-flight work is never shared across requests, as Workers require.
 *
 * @param options Binding names, the log hook and an optional app builder.
 * @returns The Workers module to export as default.
 *
 * @example Worker entry (wrangler.toml: `compatibility_flags = ["nodejs_als"]`, a `BROKER_KV` namespace and a
 * `BrokerCoordinator` Durable Object bound as `BROKER_COORDINATOR`)
 * ```ts
 * import { BrokerCoordinator, createBrokerWorker } from "arcgis-token-broker/cloudflare";
 *
 * export { BrokerCoordinator };
 * export default createBrokerWorker();
 * ```
 */
export function createBrokerWorker(options: BrokerWorkerOptions = {}): BrokerWorker {
  const kvBinding = options.kvBinding ?? "BROKER_KV";
  const coordinatorBinding = options.coordinatorBinding ?? "BROKER_COORDINATOR";
  const log = options.log ?? consoleLog;
  const buildApp = options.app ?? ((broker: Broker): Hono<BrokerEnv> => {
    const app = new Hono<BrokerEnv>();
    app.route(broker.config.mountPath, broker.routes());
    return app;
  });
  const brokers = createBrokerCache();
  const requestContext = new AsyncLocalStorage<WorkerContext>();
  let platform: _Platform | undefined;
  let built: { broker: Broker; app: Hono<BrokerEnv> } | undefined;

  const platformFor = (env: WorkerEnv): _Platform => {
    const kv = env[kvBinding] as CloudflareKvNamespaceLike | undefined;
    if (kv === undefined) {
      // Report the config's own problems too, so one deploy shows everything that is missing.
      let issues: ConfigIssue[] = [];
      try {
        configFromEnv(env);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        issues = [...error.issues];
      }
      throw new ConfigError([...issues, {
        path: kvBinding,
        message: `Required: no KV namespace is bound as "${kvBinding}"`,
        fix: `bind one in wrangler.toml: [[kv_namespaces]] binding = "${kvBinding}", id = "<namespace id>"`,
      }]);
    }
    // Built once per isolate, like the broker itself (which keeps the store it was first given).
    if (platform === undefined) {
      const coordinatorNs = env[coordinatorBinding] as DurableObjectNamespaceLike | undefined;
      platform = {
        store: createTieredStore({
          memory: createMemoryStore(),
          shared: createCloudflareKvStore(kv, { log }),
        }),
        coordinator: coordinatorNs === undefined ? undefined : createDurableObjectStore(coordinatorNs),
      };
    }
    return platform;
  };

  const waitUntil = (promise: Promise<unknown>): void => {
    const ctx = requestContext.getStore();
    const guarded = promise.catch(() => log({ level: "warn", msg: "Background task failed" }));
    if (ctx !== undefined) ctx.waitUntil(guarded);
  };

  const appFor = (env: WorkerEnv): Hono<BrokerEnv> => {
    const { store, coordinator } = platformFor(env);
    const broker = brokers.get(env, { store, coordinator, waitUntil, log, shareInFlight: false });
    if (built === undefined || built.broker !== broker) built = { broker, app: buildApp(broker) };
    return built.app;
  };

  return {
    async fetch(request, env, ctx) {
      let app: Hono<BrokerEnv>;
      try {
        app = appFor(env);
      } catch (error) {
        // A ConfigError names field paths, variable names and fixes, never values; the log line carries them
        // (no stack trace: the code is not at fault). The client learns only that the broker is unavailable.
        log(
          error instanceof ConfigError
            ? { level: "error", msg: `Refusing to serve: ${error.message}`, issues: error.issues }
            : {
              level: "error",
              msg: "Cannot build the broker",
              error: error instanceof Error ? error.name : "unknown",
            },
        );
        return _unavailable();
      }
      return await requestContext.run(ctx, () => app.fetch(request, env, ctx as never));
    },
  };
}

function _unavailable(): Response {
  return new Response(
    JSON.stringify({ error: "temporarily_unavailable", error_description: "The broker is not configured" }),
    {
      status: 503,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "retry-after": "60",
      },
    },
  );
}
