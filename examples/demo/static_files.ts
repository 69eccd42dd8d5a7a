/**
 * A small static-file handler for the demo's web app: the example pages, their bundle, and a local copy of the
 * Maps SDK's assets (`node_modules/@arcgis/core/assets`), so the browser never needs a CDN.
 *
 * @module
 */

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json; charset=utf-8",
  wasm: "application/wasm",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  png: "image/png",
  jpg: "image/jpeg",
  gif: "image/gif",
  svg: "image/svg+xml",
  pbf: "application/x-protobuf",
  txt: "text/plain; charset=utf-8",
};

/** Options for {@link serveStaticFile}. */
export interface ServeStaticOptions {
  /** `Cache-Control` for the answer. @default "no-cache" */
  cacheControl?: string;
}

/**
 * Answers `GET`/`HEAD` for `relativePath` under `rootDir` (an absolute directory path), or 404. Refuses `..`,
 * backslashes, NULs and hidden segments, so nothing outside `rootDir` is ever read.
 */
export async function serveStaticFile(
  rootDir: string,
  relativePath: string,
  request: Request,
  options: ServeStaticOptions = {},
): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  let path: string;
  try {
    path = decodeURIComponent(relativePath);
  } catch {
    return _notFound();
  }
  const segments = path.split("/").filter((s) => s !== "");
  if (
    segments.length === 0 || path.includes("\\") || path.includes("\0") ||
    segments.some((s) => s === ".." || s.startsWith("."))
  ) {
    return _notFound();
  }
  const file = `${rootDir.replace(/\/$/, "")}/${segments.join("/")}`;
  let handle: Deno.FsFile;
  try {
    handle = await Deno.open(file, { read: true });
  } catch {
    return _notFound();
  }
  const info = await handle.stat();
  if (!info.isFile) {
    handle.close();
    return _notFound();
  }
  const ext = segments[segments.length - 1].split(".").pop()?.toLowerCase() ?? "";
  const headers = {
    "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream",
    "content-length": String(info.size),
    "cache-control": options.cacheControl ?? "no-cache",
    "x-content-type-options": "nosniff",
  };
  if (request.method === "HEAD") {
    handle.close();
    return new Response(null, { headers });
  }
  return new Response(handle.readable, { headers });
}

function _notFound(): Response {
  return new Response("Not found", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
}
