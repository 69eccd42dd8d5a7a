/**
 * The local demo (`npm run demo`): a real OpenID provider with a demo user, the fake ArcGIS with a secured
 * FeatureLayer, the broker mounted in a Hono app, and two pages that show the layer with the ArcGIS Maps SDK —
 * one registering the broker's credentials with IdentityManager, one going through the broker's proxy with no
 * ArcGIS token in the browser. Everything listens on 127.0.0.1 only.
 *
 *     npm run demo            # or: npx deno run -A examples/demo.ts [--port 8080]
 *
 * The demo runs on built-in defaults (a generated sealing key, an in-memory store). The real entries
 * (`examples/deno/main.ts`, `examples/workers/worker.ts`) refuse to start without `BROKER_CONFIG`.
 *
 * @module
 */
import { consoleLog } from "arcgis-token-broker";
import { startDemoStack } from "./demo/stack.ts";

/** Default port of the demo's web app; another free port is used when it is taken. */
const DEFAULT_PORT = 8080;

function _portArg(args: readonly string[]): number | undefined {
  const index = args.indexOf("--port");
  if (index < 0) return undefined;
  const port = Number(args[index + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error("Expected --port <0-65535>");
  return port;
}

/** Starts the demo and keeps it running until Ctrl+C. */
export async function main(args: readonly string[]): Promise<void> {
  const requested = _portArg(args);
  console.log("Starting the arcgis-token-broker demo (the first run builds the page bundle, ~10 s)…");
  const start = (port: number) =>
    startDemoStack({
      port,
      log: (entry) => {
        if (entry.level === "warn" || entry.level === "error") consoleLog(entry);
      },
    });
  let stack;
  try {
    stack = await start(requested ?? DEFAULT_PORT);
  } catch (error) {
    if (requested !== undefined || !(error instanceof Deno.errors.AddrInUse)) throw error;
    stack = await start(0);
  }
  console.log(`
  Open ${stack.pageUrl}
    registerToken page: sign in as "Demo User" at the local IdP, link the ArcGIS account once (a visible
    bounce), then the secured layer shows with credentials from the broker.
  Or  ${stack.proxyPageUrl}
    proxy page: the same layer through ${stack.brokerUrl}/proxy, with no ArcGIS token in the browser.

  Local stand-ins: IdP ${stack.idp.issuer}, ArcGIS ${stack.fakeOrigin}
  Broker routes under ${stack.brokerUrl} (health: ${stack.brokerUrl}/health)
  Press Ctrl+C to stop.`);
  const stop = async () => {
    await stack.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

if (import.meta.main) await main(Deno.args);
