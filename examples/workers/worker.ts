/**
 * Cloudflare Workers entry of the broker (`wrangler.toml`: `main = "examples/workers/worker.ts"`).
 *
 * - The broker is built once per isolate by `brokerFromEnv(env)` from `BROKER_CONFIG` and the secrets it names,
 *   and rebuilt only when they change, so the JWKS cache, the verified-token memo and the token cache survive
 *   across requests. Without `BROKER_CONFIG` (or with an invalid one) every request gets a 503: it fails closed.
 * - Store: isolate memory over Workers KV (`BROKER_KV`). Mutual exclusion (single-use link `state`, refresh-token
 *   rotation): a Durable Object per key (`BROKER_COORDINATOR`), when bound.
 * - `shareInFlight: false`: on Workers a promise started by one request must not be awaited by another.
 * - Each request's `ctx.waitUntil` reaches the isolate-wide broker through `AsyncLocalStorage` (`nodejs_als`).
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Hono } from "hono";
import { type Broker, brokerFromEnv, ConfigError } from "../../src/hono/broker.ts";
import { consoleLog } from "../../src/deps.ts";
import type { AtomicKvStore, KvStore } from "../../src/store/kv_store.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import { createTieredStore } from "../../src/store/tiered_store.ts";
import {
  type CloudflareKvNamespaceLike,
  createCloudflareKvStore,
} from "../../src/store/cloudflare_kv_store.ts";
import {
  BrokerCoordinator,
  createDurableObjectStore,
  type DurableObjectNamespaceLike,
} from "../../src/cloudflare/durable_object_coordinator.ts";

/** The Durable Object class bound as `BROKER_COORDINATOR` in `wrangler.toml`. */
export { BrokerCoordinator };

/** The bindings this Worker reads (secrets and vars are looked up by the names the config gives). */
export interface WorkerEnv {
  /** The JSON config (a var or a secret). */
  BROKER_CONFIG?: string;
  /** Workers KV namespace for the shared cache. */
  BROKER_KV?: CloudflareKvNamespaceLike;
  /** Durable Object namespace for mutual exclusion (optional). */
  BROKER_COORDINATOR?: DurableObjectNamespaceLike;
  /** Secrets named by the config. */
  [name: string]: unknown;
}

/** The part of the Workers `ExecutionContext` the entry uses. */
export interface WorkerContext {
  /** Keeps `promise` alive after the response. */
  waitUntil(promise: Promise<unknown>): void;
  /** Lets the request fall through to the origin on an exception (unused). */
  passThroughOnException?(): void;
}

interface _Platform {
  store: KvStore;
  coordinator: AtomicKvStore | undefined;
}

interface _App {
  broker: Broker;
  app: Hono;
}

/** The current request's context, for background work started deep inside the isolate-wide broker. */
const requestContext = new AsyncLocalStorage<WorkerContext>();

let platform: _Platform | undefined;
let built: _App | undefined;

function _platformFor(env: WorkerEnv): _Platform {
  const kv = env.BROKER_KV;
  if (kv === undefined) {
    throw new ConfigError([{ path: "BROKER_KV", message: 'Missing KV namespace binding "BROKER_KV"' }]);
  }
  // Built once per isolate, like the broker itself (which keeps the store it was first given).
  if (platform === undefined) {
    const coordinatorNs = env.BROKER_COORDINATOR;
    platform = {
      store: createTieredStore({
        memory: createMemoryStore(),
        shared: createCloudflareKvStore(kv, { log: consoleLog }),
      }),
      coordinator: coordinatorNs === undefined ? undefined : createDurableObjectStore(coordinatorNs),
    };
  }
  return platform;
}

function _waitUntil(promise: Promise<unknown>): void {
  const ctx = requestContext.getStore();
  const guarded = promise.catch(() => consoleLog({ level: "warn", msg: "Background task failed" }));
  if (ctx !== undefined) ctx.waitUntil(guarded);
}

function _appFor(env: WorkerEnv): _App {
  const { store, coordinator } = _platformFor(env);
  const broker = brokerFromEnv(env, {
    store,
    coordinator,
    waitUntil: _waitUntil,
    log: consoleLog,
    shareInFlight: false,
  });
  if (built === undefined || built.broker !== broker) {
    const app = new Hono();
    app.route(broker.config.mountPath, broker.routes());
    built = { broker, app };
  }
  return built;
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

/** Handles one request. */
async function fetchHandler(request: Request, env: WorkerEnv, ctx: WorkerContext): Promise<Response> {
  let app: Hono;
  try {
    app = _appFor(env).app;
  } catch (error) {
    // Fail closed. A ConfigError names field paths and variable names, never values.
    const msg = error instanceof ConfigError ? error.message : "Cannot build the broker";
    consoleLog({ level: "error", msg });
    return _unavailable();
  }
  return await requestContext.run(ctx, () => app.fetch(request, env, ctx as never));
}

// Workers' module syntax requires a default export.
export default { fetch: fetchHandler };
