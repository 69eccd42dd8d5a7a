/**
 * Deno / Deno Deploy entry of the broker: `serveBroker` from `arcgis-token-broker/deno` (`Deno.serve` + Deno KV).
 *
 *     BROKER_CONFIG="$(cat broker.config.json)" BROKER_SEALING_KEYS=k1:... \
 *       npx deno run -A --unstable-kv examples/deno/main.ts
 *
 * - Fails closed: without a valid `BROKER_CONFIG` (or with a secret it names missing or malformed) it prints each
 *   field with what is wrong and its fix (names only, never values, no stack trace) and exits with status 1
 *   before opening anything.
 * - Deno KV is opened inside `serveBroker()`, not at import time. `DENO_KV_PATH` picks a local database file
 *   (plain Deno); on Deno Deploy leave it unset.
 * - Store: isolate memory over Deno KV; Deno KV's `atomic().check()` gives single-use link `state` and
 *   refresh-token rotation their mutual exclusion. In-flight work is shared across requests (fine on Deno).
 * - `PORT` (default 8000) and `HOSTNAME` (default 0.0.0.0) choose where to listen.
 *
 * @module
 */
import { ConfigError, formatConfigError } from "arcgis-token-broker";
import { serveBroker, type ServedBroker } from "arcgis-token-broker/deno";

/** Command-line entry: serve until killed; exit 1 on a configuration problem. */
export async function main(): Promise<void> {
  let server: ServedBroker;
  try {
    server = await serveBroker(Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Each field with what is wrong and its fix; no stack trace, since the code is not at fault.
    console.error(
      `arcgis-token-broker: refusing to start: the config cannot work\n${formatConfigError(error)}`,
    );
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
