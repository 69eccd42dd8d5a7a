/**
 * Ambient declarations for the npm build only (`tsconfig.build.json`): the few `Deno` APIs that the Deno-only
 * helpers call (`serveBroker`, `serveFakeArcGIS`), and `oidc-provider`, which ships no types and is loaded
 * lazily by `./testing-idp`. `deno check` uses Deno's own types instead. No public signature names these types,
 * so the emitted `.d.ts` files never refer to them.
 */
declare namespace Deno {
  interface NetAddr {
    transport: "tcp" | "udp";
    hostname: string;
    port: number;
  }
  interface HttpServer {
    readonly addr: NetAddr;
    readonly finished: Promise<void>;
    shutdown(): Promise<void>;
  }
  interface ServeOptions {
    port?: number;
    hostname?: string;
    cert?: string;
    key?: string;
    onListen?: (addr: NetAddr) => void;
    onError?: (error: unknown) => Response | Promise<Response>;
  }
  function serve(
    options: ServeOptions,
    handler: (request: Request) => Response | Promise<Response>,
  ): HttpServer;
  function openKv(
    path?: string,
  ): Promise<import("../src/store/deno_kv_store.ts").DenoKvLike & { close(): void }>;
}

declare module "oidc-provider";
