/**
 * Deno / Deno Deploy entry of the broker: `Deno.serve` + Deno KV.
 *
 *     BROKER_CONFIG="$(cat broker.config.json)" BROKER_SEALING_KEYS=k1:... deno run -A examples/deno/main.ts
 *
 * - Fails closed: without a valid `BROKER_CONFIG` (or a secret it names) it prints what is missing (names only,
 *   never values) and exits with status 1 before opening anything.
 * - Deno KV is opened here, inside `main()`, not at import time. `DENO_KV_PATH` picks a local database file
 *   (plain Deno); on Deno Deploy leave it unset.
 * - Store: isolate memory over Deno KV; Deno KV's `atomic().check()` gives single-use link `state` and
 *   refresh-token rotation their mutual exclusion. In-flight work is shared across requests (fine on Deno).
 * - `PORT` (default 8000) and `HOSTNAME` (default 0.0.0.0) choose where to listen.
 *
 * @module
 */
import { Hono } from "hono";
import { brokerFromEnv, ConfigError } from "../../src/hono/broker.ts";
import { configFromEnv } from "../../src/config/load.ts";
import { consoleLog } from "../../src/deps.ts";
import { createDenoKvStore } from "../../src/store/deno_kv_store.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import { createTieredStore } from "../../src/store/tiered_store.ts";

/** A running server. */
export interface RunningServer {
  /** The address it listens on. */
  url: string;
  /** Stops serving and closes Deno KV. */
  close(): Promise<void>;
}

/** Starts the broker from an environment record. Throws `ConfigError` when the configuration is unusable. */
export async function serveFromEnv(env: Readonly<Record<string, string>>): Promise<RunningServer> {
  // Validate before touching anything, so a missing config never opens a database or a port.
  configFromEnv(env);
  const kv = await Deno.openKv(env.DENO_KV_PATH || undefined);
  try {
    const store = createTieredStore({ memory: createMemoryStore(), shared: createDenoKvStore(kv) });
    const broker = brokerFromEnv(env, { store, log: consoleLog });
    const app = new Hono();
    app.route(broker.config.mountPath, broker.routes());
    app.notFound((c) => c.json({ error: "not_found" }, 404));
    const { promise: listening, resolve } = Promise.withResolvers<string>();
    const server = Deno.serve({
      port: Number(env.PORT ?? "8000"),
      hostname: env.HOSTNAME ?? "0.0.0.0",
      onListen: ({ hostname, port }) => resolve(`http://${hostname}:${port}`),
    }, app.fetch);
    const url = await listening;
    return {
      url,
      async close() {
        await server.shutdown();
        kv.close();
      },
    };
  } catch (error) {
    kv.close();
    throw error;
  }
}

/** Command-line entry: serve until killed; exit 1 on a configuration problem. */
export async function main(): Promise<void> {
  let server: RunningServer;
  try {
    server = await serveFromEnv(Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`arcgis-token-broker: refusing to start. ${error.message}`);
    Deno.exit(1);
  }
  console.log(`arcgis-token-broker listening on ${server.url}`);
  const stop = async () => {
    await server.close();
    Deno.exit(0);
  };
  try {
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
  } catch {
    // Some hosts (Deno Deploy) offer no signal listeners; the platform stops the isolate itself.
  }
}

if (import.meta.main) await main();
