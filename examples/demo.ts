/**
 * The local demo (`npm run demo`): a real OpenID provider with a demo user, the fake ArcGIS with a secured
 * FeatureLayer and tiled MapServer, the broker mounted in a Hono app, and one page per way in over an offline
 * Natural Earth basemap: the ArcGIS Maps SDK with `registerToken` and through the broker's proxy, Leaflet with
 * esri-leaflet and OpenLayers through the proxy with the broker's session cookie. Everything listens on
 * 127.0.0.1 only.
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
    Maps SDK + registerToken: sign in as "Demo User" at the local IdP, link the ArcGIS account once (a visible
    bounce), then the secured layer shows with credentials from the broker, re-registered before they expire.
  Or  ${stack.proxyPageUrl}
    Maps SDK through ${stack.brokerUrl}/proxy, with no ArcGIS token in the browser.
  Or  ${stack.leafletPageUrl}
    Leaflet + esri-leaflet (feature layer and tiled layer) through the proxy with the broker's session cookie.
  Or  ${stack.openlayersPageUrl}
    OpenLayers (ArcGIS REST tiles and an EsriJSON source) through the proxy with the session cookie.
  Every page shows who is signed in, the link bounce as a step, what the browser holds and when it is renewed,
  and has sign-out (at the IdP too, which tells the broker over the back channel) and unlink buttons.

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
