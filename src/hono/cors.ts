/**
 * CORS at the router level, from `cors.origins` only: preflight answered before `authenticate()`, exact origin
 * echo with `Vary: Origin`, `Authorization` listed explicitly, never `*` and never credentials.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { jsonHeaders } from "./errors.ts";

/** Options for {@link corsMiddleware}. */
export interface CorsOptions {
  /** Exact origins allowed to call the broker from a browser. @default [] */
  origins: readonly string[];
  /** `Access-Control-Max-Age` of preflight answers, in seconds. @default 600 */
  maxAgeSeconds: number;
}

const ALLOW_METHODS = "GET, POST, DELETE, PUT, PATCH, HEAD";
const ALLOW_HEADERS =
  "Authorization, Content-Type, X-Requested-With, Range, If-None-Match, If-Modified-Since";
const EXPOSE_HEADERS = "ETag, Last-Modified, Content-Range, Content-Length, Retry-After, WWW-Authenticate";

/** Builds the CORS middleware. */
export function corsMiddleware(options: CorsOptions): MiddlewareHandler {
  const allowed = new Set(options.origins);
  const maxAge = String(options.maxAgeSeconds);
  return async function brokerCors(c, next) {
    const origin = c.req.header("origin");
    const isPreflight = c.req.method === "OPTIONS" &&
      c.req.header("access-control-request-method") !== undefined;
    if (isPreflight) {
      if (origin === undefined || !allowed.has(origin)) {
        return new Response(JSON.stringify({ error: "forbidden", error_description: "Origin not allowed" }), {
          status: 403,
          headers: jsonHeaders({ vary: "Origin" }),
        });
      }
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-origin": origin,
          "access-control-allow-methods": ALLOW_METHODS,
          "access-control-allow-headers": ALLOW_HEADERS,
          "access-control-max-age": maxAge,
          vary: "Origin",
        },
      });
    }
    await next();
    // With no allowed origin, no answer depends on Origin (none ever carries CORS headers): nothing to add.
    if (allowed.size === 0) return;
    const headers = c.res.headers;
    appendVary(headers);
    if (origin !== undefined && allowed.has(origin)) {
      try {
        headers.set("access-control-allow-origin", origin);
        headers.set("access-control-expose-headers", EXPOSE_HEADERS);
      } catch {
        // Immutable headers (a Response passed through unchanged): rebuild it once with ours.
        c.res = withCors(c.res, origin);
      }
    }
  };
}

function appendVary(headers: Headers): void {
  try {
    const vary = headers.get("vary");
    if (vary === null) headers.set("vary", "Origin");
    else if (!/\borigin\b/i.test(vary)) headers.set("vary", `${vary}, Origin`);
  } catch {
    // Immutable headers are handled by withCors.
  }
}

function withCors(response: Response, origin: string): Response {
  const headers = new Headers(response.headers);
  headers.set("access-control-allow-origin", origin);
  headers.set("access-control-expose-headers", EXPOSE_HEADERS);
  const vary = headers.get("vary");
  if (vary === null) headers.set("vary", "Origin");
  else if (!/\borigin\b/i.test(vary)) headers.set("vary", `${vary}, Origin`);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
