/**
 * The broker's only way to ArcGIS: form POSTs through `deps.fetch` with a timeout, a body-size cap and
 * `redirect: "manual"`, whose body is always read (ArcGIS answers most errors with HTTP 200 and
 * `{"error":{...}}`).
 *
 * Why not rest-js `request()`: it calls `globalThis.fetch` (not `deps.fetch`), follows redirects, sends
 * `referer: @esri/arcgis-rest-js`, merges global default options, and its errors carry the request parameters
 * (client secrets, refresh tokens, PKCE verifiers). Its error classes are still used as causes (see `_errors.ts`).
 *
 * @module
 */
import * as z from "zod/mini";
import type { LogFn } from "../deps.ts";
import { readCapped } from "../util/bytes.ts";
import { type ArcGISErrorInfo, clipText, upstreamError } from "./_errors.ts";
import { DEFAULT_RETRY_AFTER_SECONDS, MAX_ARCGIS_BODY_BYTES, MAX_RETRY_AFTER_SECONDS } from "./constants.ts";

/** Options for {@link createArcGISHttp}. */
export interface ArcGISHttpOptions {
  /** The fetch every call goes through. */
  fetch: typeof fetch;
  /** Timeout of one call, body included, in milliseconds. */
  timeoutMs: number;
  /** Largest accepted body, in bytes. @default 262144 */
  maxBodyBytes?: number;
  /** Log hook (never receives parameters or bodies). */
  log: LogFn;
}

/** One call. */
export interface ArcGISCall {
  /** Endpoint label for logs, e.g. `oauth2/token`. */
  endpoint: string;
  /** Form parameters; `undefined` values are left out, `f=json` is added. */
  params: Readonly<Record<string, string | undefined>>;
  /** `Referer` header to send (for referer-bound tokens). */
  referer?: string;
}

/** The answer of one call: a JSON object, or the ArcGIS error envelope it held. */
export type ArcGISCallResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; error: ArcGISErrorInfo };

/** Posts forms to ArcGIS. */
export interface ArcGISHttp {
  /**
   * POSTs `call.params` as a form to `url`. Resolves to the JSON object or its error envelope; rejects with an
   * upstream `BrokerError` for timeouts, network errors, redirects, 5xx, oversized or non-JSON bodies.
   */
  post(url: string, call: ArcGISCall): Promise<ArcGISCallResult>;
}

const _envelope = z.object({
  error: z.object({
    code: z.optional(z.union([z.number(), z.string()])),
    error: z.optional(z.string()),
    error_description: z.optional(z.string()),
    message: z.optional(z.string()),
  }),
});

const _failedStatus = z.object({
  status: z.enum(["failed", "failure"]),
  message: z.optional(z.string()),
});

function _retryAfter(response: Response): number {
  const header = response.headers.get("retry-after");
  const seconds = header !== null && /^\d{1,6}$/.test(header.trim()) ? Number(header.trim()) : NaN;
  return Number.isFinite(seconds) && seconds > 0
    ? Math.min(seconds, MAX_RETRY_AFTER_SECONDS)
    : DEFAULT_RETRY_AFTER_SECONDS;
}

async function _readCapped(response: Response, maxBytes: number): Promise<Uint8Array | null> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    return null;
  }
  return (await readCapped(response.body, maxBytes)) ?? null;
}

function _envelopeInfo(body: unknown, httpStatus: number): ArcGISErrorInfo | null {
  const parsed = _envelope.safeParse(body);
  if (parsed.success) {
    const { code, error, error_description, message } = parsed.data.error;
    const numeric = typeof code === "number"
      ? code
      : code !== undefined && /^\d+$/.test(code)
      ? Number(code)
      : NaN;
    return {
      ...(Number.isFinite(numeric) ? { code: numeric } : {}),
      ...(error !== undefined ? { oauthError: error } : {}),
      message: clipText(message ?? error_description ?? error ?? "ArcGIS error"),
      httpStatus,
    };
  }
  const failed = _failedStatus.safeParse(body);
  if (failed.success) return { message: clipText(failed.data.message ?? "Request failed"), httpStatus };
  return null;
}

class FetchArcGISHttp implements ArcGISHttp {
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #log: LogFn;

  constructor(options: ArcGISHttpOptions) {
    this.#fetch = options.fetch;
    this.#timeoutMs = options.timeoutMs;
    this.#maxBodyBytes = options.maxBodyBytes ?? MAX_ARCGIS_BODY_BYTES;
    this.#log = options.log;
  }

  async post(url: string, call: ArcGISCall): Promise<ArcGISCallResult> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(call.params)) {
      if (value !== undefined) form.set(name, value);
    }
    form.set("f", "json");
    const headers = new Headers({
      "content-type": "application/x-www-form-urlencoded",
      "accept": "application/json",
    });
    if (call.referer !== undefined) headers.set("referer", call.referer);
    const host = new URL(url).host;
    const what = `ArcGIS call "${call.endpoint}" failed`;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#timeoutMs);
    try {
      let response: Response;
      try {
        response = await this.#fetch(url, {
          method: "POST",
          headers,
          body: form,
          redirect: "manual",
          signal: controller.signal,
          cache: "no-store",
        });
      } catch (error) {
        // Fetch errors can quote the URL; keep only their name.
        const name = error instanceof Error ? error.name : "Error";
        this.#log({
          level: "warn",
          msg: `${what}: ${timedOut ? "timeout" : name}`,
          endpoint: call.endpoint,
          host,
        });
        if (timedOut) throw upstreamError("ERR_UPSTREAM_TIMEOUT", `${what}: timeout`);
        throw upstreamError("ERR_ARCGIS_UNAVAILABLE", `${what}: network error`, {
          retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
        });
      }
      return await this.#interpret(response, call.endpoint, host, what, () => timedOut);
    } finally {
      clearTimeout(timer);
    }
  }

  async #interpret(
    response: Response,
    endpoint: string,
    host: string,
    what: string,
    timedOut: () => boolean,
  ): Promise<ArcGISCallResult> {
    const status = response.status;
    if (response.type === "opaqueredirect" || (status >= 300 && status < 400)) {
      await response.body?.cancel().catch(() => {});
      this.#log({ level: "warn", msg: `${what}: redirect`, endpoint, host, status });
      throw upstreamError("ERR_ARCGIS_BAD_GATEWAY", `${what}: redirect`);
    }
    let bytes: Uint8Array | null;
    try {
      bytes = await _readCapped(response, this.#maxBodyBytes);
    } catch {
      this.#log({ level: "warn", msg: `${what}: ${timedOut() ? "timeout" : "body error"}`, endpoint, host });
      if (timedOut()) throw upstreamError("ERR_UPSTREAM_TIMEOUT", `${what}: timeout`);
      throw upstreamError("ERR_ARCGIS_UNAVAILABLE", `${what}: body error`, {
        retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS,
      });
    }
    if (bytes === null) {
      this.#log({ level: "warn", msg: `${what}: body too large`, endpoint, host, status });
      throw upstreamError("ERR_ARCGIS_BAD_GATEWAY", `${what}: body too large`);
    }
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      body = undefined;
    }
    const envelope = body === undefined ? null : _envelopeInfo(body, status);
    if (envelope !== null && status < 500) {
      this.#log({
        level: "info",
        msg: `${what}: ArcGIS error ${envelope.code ?? "?"}`,
        endpoint,
        host,
        status,
      });
      return { ok: false, error: envelope };
    }
    if (status === 429 || status === 502 || status === 503 || status === 504) {
      this.#log({ level: "warn", msg: `${what}: status ${status}`, endpoint, host, status });
      throw upstreamError("ERR_ARCGIS_UNAVAILABLE", `${what}: status ${status}`, {
        retryAfterSeconds: _retryAfter(response),
      });
    }
    if (status < 200 || status >= 300) {
      this.#log({ level: "warn", msg: `${what}: status ${status}`, endpoint, host, status });
      if (envelope !== null) return { ok: false, error: envelope };
      throw upstreamError("ERR_ARCGIS_BAD_GATEWAY", `${what}: status ${status}`);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      this.#log({ level: "warn", msg: `${what}: not a JSON object`, endpoint, host, status });
      throw upstreamError("ERR_ARCGIS_BAD_GATEWAY", `${what}: not a JSON object`);
    }
    return { ok: true, body: body as Record<string, unknown> };
  }
}

/** Creates the {@link ArcGISHttp} client. */
export function createArcGISHttp(options: ArcGISHttpOptions): ArcGISHttp {
  return new FetchArcGISHttp(options);
}
