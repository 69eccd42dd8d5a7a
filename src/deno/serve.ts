/**
 * {@link serveBroker}: the broker on Deno and Deno Deploy: `Deno.serve` in front of a Hono app, with isolate memory
 * over Deno KV as the store. Deno KV is opened inside the call, never at import time.
 *
 * @module
 */
import { Hono } from "hono";
import { type Broker, type BrokerEnv, brokerFromEnv } from "../hono/broker.ts";
import { configFromEnv } from "../config/load.ts";
import { consoleLog, type LogFn } from "../deps.ts";
import { createDenoKvStore } from "../store/deno_kv_store.ts";
import { createMemoryStore } from "../store/memory_store.ts";
import { createTieredStore } from "../store/tiered_store.ts";

/** Options of {@link serveBroker}; each falls back to an environment variable, then to its default. */
export interface ServeBrokerOptions {
  /** Port to listen on; 0 picks a free one. @default `env.PORT`, else 8000 */
  port?: number;
  /** Address to listen on. @default `env.HOSTNAME`, else "0.0.0.0" */
  hostname?: string;
  /** Deno KV database path (plain Deno); leave unset on Deno Deploy. @default `env.DENO_KV_PATH`, else Deno's default */
  kvPath?: string;
  /** Log hook. @default consoleLog (JSON lines) */
  log?: LogFn;
  /**
   * Builds the app around the broker, e.g. to add your own routes next to it; it must mount `broker.routes()`.
   * @default a Hono app with only the broker's routes at `config.mountPath` and a JSON 404 elsewhere
   */
  app?: (broker: Broker) => Hono<BrokerEnv>;
}

/** A running broker server. */
export interface ServedBroker {
  /** The address it listens on, e.g. `http://127.0.0.1:8000`. */
  url: string;
  /** The broker it serves. */
  broker: Broker;
  /** Stops serving (waiting for in-flight responses) and closes Deno KV. */
  close(): Promise<void>;
  /** `await using` support: same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Serves the broker built from `env` (`BROKER_CONFIG` and the secrets it names) with `Deno.serve` and Deno KV.
 * The config is validated before anything is opened, so a missing config never creates a database or a listener.
 * Needs `--unstable-kv` (or `"unstable": ["kv"]` in `deno.json`) on plain Deno.
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @param options Where to listen, the KV path, the log hook and an optional app builder.
 * @returns The running server.
 * @throws {ConfigError} When `BROKER_CONFIG` is missing or invalid, or a secret it names is missing (the message
 * names fields and variables, never values).
 *
 * @example Serve from the environment
 * ```ts
 * import { serveBroker } from "arcgis-token-broker/deno";
 *
 * const server = await serveBroker(Deno.env.toObject());
 * console.log(`listening on ${server.url}`);
 * ```
 */
export async function serveBroker(
  env: Readonly<Record<string, string>>,
  options: ServeBrokerOptions = {},
): Promise<ServedBroker> {
  // Validate before touching anything, so a missing config never opens a database or a port.
  configFromEnv(env);
  const log = options.log ?? consoleLog;
  const kvPath = options.kvPath ?? (env.DENO_KV_PATH || undefined);
  const kv = await Deno.openKv(kvPath);
  try {
    const store = createTieredStore({ memory: createMemoryStore(), shared: createDenoKvStore(kv) });
    const broker = brokerFromEnv(env, { store, log });
    const app = options.app?.(broker) ?? _defaultApp(broker);
    const server = Deno.serve({
      port: options.port ?? Number(env.PORT ?? "8000"),
      hostname: options.hostname ?? env.HOSTNAME ?? "0.0.0.0",
      onListen: () => {},
    }, app.fetch);
    const url = `http://${server.addr.hostname}:${server.addr.port}`;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      closing ??= (async () => {
        try {
          await server.shutdown();
        } finally {
          kv.close();
        }
      })();
    return { url, broker, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    kv.close();
    throw error;
  }
}

function _defaultApp(broker: Broker): Hono<BrokerEnv> {
  const app = new Hono<BrokerEnv>();
  app.route(broker.config.mountPath, broker.routes());
  app.notFound((c) => c.json({ error: "not_found" }, 404));
  return app;
}
