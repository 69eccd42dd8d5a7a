/**
 * {@link serveFakeArcGIS}: serves a fake ArcGIS on loopback with `Deno.serve` (the only Deno-specific file of
 * `./testing`).
 *
 * @module
 */
import { createFakeArcGIS } from "./fake_arcgis.ts";
import type { CreateFakeArcGISOptions, FakeArcGIS, FakeArcGISUrls } from "./types.ts";

/** Options of {@link serveFakeArcGIS}: the fake's options plus where to listen. */
export interface ServeFakeArcGISOptions extends CreateFakeArcGISOptions {
  /** Port; 0 picks a free one. @default 0 */
  port?: number;
  /** Listen address; loopback only. @default "127.0.0.1" */
  hostname?: "127.0.0.1";
  /** Serve this existing fake instead of creating one (the other fake options are then ignored). */
  fake?: FakeArcGIS;
  /** TLS certificate (PEM) for an https listener, e.g. for a browser run where `*.arcgis.com` resolves to it. */
  cert?: string;
  /** TLS private key (PEM), with `cert`. */
  key?: string;
}

/** A running fake ArcGIS. */
export interface ServedFakeArcGIS {
  /** Listener origin, e.g. `http://127.0.0.1:41234`. */
  origin: string;
  /** Same as `origin`. */
  url: string;
  /** Port listened on. */
  port: number;
  /** Absolute URLs of the fake for `origin` (a configured `origin` option takes precedence in them). */
  urls: FakeArcGISUrls;
  /** The fake (state, request log, hooks). */
  fake: FakeArcGIS;
  /** Releases hanging requests and stops the server, waiting for in-flight responses. */
  close(): Promise<void>;
  /** `await using` support: same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Serves a fake ArcGIS on 127.0.0.1 and returns its origin, the fake and `close()`. Deno only (`Deno.serve`); on
 * other runtimes call {@link createFakeArcGIS}'s `fetch` in process instead.
 *
 * @param options The fake's options (or an existing fake), the port and an optional TLS certificate.
 * @returns The running fake, closed with `close()` or `await using`.
 * @throws {Error} When asked to listen elsewhere than 127.0.0.1, or given only one of `cert` and `key`.
 */
export function serveFakeArcGIS(options: ServeFakeArcGISOptions = {}): ServedFakeArcGIS {
  const { port = 0, hostname = "127.0.0.1", fake: given, cert, key, ...fakeOptions } = options;
  if (hostname !== "127.0.0.1") throw new Error(`Fake ArcGIS: refusing to listen on "${String(hostname)}"`);
  if ((cert === undefined) !== (key === undefined)) throw new Error("Fake ArcGIS: cert and key go together");
  const fake = given ?? createFakeArcGIS(fakeOptions);
  const handler = (request: Request): Promise<Response> => fake.handle(request);
  const serveOptions = {
    port,
    hostname,
    onListen(): void {},
    onError(): Response {
      return new Response('{"error":{"code":500,"message":"Internal error","details":[]}}', {
        status: 500,
        headers: { "Content-Type": "application/json; charset=utf-8" },
      });
    },
  };
  const server = cert !== undefined && key !== undefined
    ? Deno.serve({ ...serveOptions, cert, key }, handler)
    : Deno.serve(serveOptions, handler);
  const addr = server.addr as Deno.NetAddr;
  const origin = `${cert !== undefined ? "https" : "http"}://127.0.0.1:${addr.port}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      fake.releaseHangs();
      await server.shutdown();
      await server.finished;
    })();
    return closing;
  };
  return {
    origin,
    url: origin,
    port: addr.port,
    urls: fake.urls(origin),
    fake,
    close,
    [Symbol.asyncDispose]: close,
  };
}
