/**
 * Reads one incoming request exactly once: query, form or multipart body (with their parameters), or an opaque
 * body (streamed, counted and checksummed, kept up to a cap), and every header, for the request log.
 *
 * @module
 */
import type { FakeRecordedFile, FakeRequestRecord, FakeTokenSource } from "./types.ts";
import { crc32, hex32 } from "./_util.ts";
import { concatBytes } from "../util/bytes.ts";

/** The parsed pieces of a request. */
export interface _ReadRequest {
  /** Query parameters by lower-cased name. */
  query: Map<string, string>;
  /** Body parameters by lower-cased name (form or multipart). */
  body: Map<string, string>;
  /** Body fields of the log record. */
  logged: Pick<
    FakeRequestRecord,
    "query" | "body" | "files" | "bodyKind" | "bodyBytes" | "bodyCrc32" | "rawBody"
  >;
}

async function _readAll(request: Request): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await request.arrayBuffer());
}

/** Reads the request body and parameters. Never throws on malformed bodies (they are logged as "other"). */
export async function readRequest(
  request: Request,
  url: URL,
  maxRecordedBodyBytes: number,
): Promise<_ReadRequest> {
  const query = new Map<string, string>();
  const queryRecord: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    query.set(name.toLowerCase(), value);
    queryRecord[name] = value;
  }
  const body = new Map<string, string>();
  const bodyRecord: Record<string, string> = {};
  const files: Record<string, FakeRecordedFile> = {};
  const contentType = (request.headers.get("content-type") ?? "").toLowerCase();
  let bodyKind: FakeRequestRecord["bodyKind"] = "none";
  let bodyBytes = 0;
  let crc = 0;
  let rawBody: Uint8Array | undefined;

  if (request.body !== null) {
    if (
      contentType.startsWith("application/x-www-form-urlencoded") ||
      contentType.startsWith("multipart/form-data")
    ) {
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await _readAll(request);
      } catch {
        bytes = new Uint8Array(0);
      }
      bodyBytes = bytes.length;
      crc = crc32(bytes);
      rawBody = bytes.length <= maxRecordedBodyBytes ? bytes : undefined;
      if (contentType.startsWith("application/x-www-form-urlencoded")) {
        bodyKind = "form";
        for (const [name, value] of new URLSearchParams(new TextDecoder().decode(bytes))) {
          body.set(name.toLowerCase(), value);
          bodyRecord[name] = value;
        }
      } else {
        try {
          const form = await new Response(bytes, {
            headers: { "content-type": request.headers.get("content-type")! },
          })
            .formData();
          bodyKind = "multipart";
          for (const [name, value] of form) {
            if (typeof value === "string") {
              body.set(name.toLowerCase(), value);
              bodyRecord[name] = value;
            } else {
              files[name] = { filename: value.name, type: value.type, size: value.size };
            }
          }
        } catch {
          bodyKind = "other";
        }
      }
    } else {
      bodyKind = "other";
      const kept: Uint8Array[] = [];
      let keptBytes = 0;
      const reader = request.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          bodyBytes += value.length;
          crc = crc32(value, crc);
          if (keptBytes + value.length <= maxRecordedBodyBytes) {
            kept.push(value);
            keptBytes += value.length;
          } else {
            keptBytes = Infinity;
          }
        }
      } catch {
        // A client that disconnects mid-upload: keep what arrived.
      } finally {
        reader.releaseLock();
      }
      if (keptBytes !== Infinity) {
        rawBody = concatBytes(kept);
      }
      if (bodyBytes === 0) bodyKind = "none";
    }
  }

  return {
    query,
    body,
    logged: {
      query: queryRecord,
      body: bodyRecord,
      files,
      bodyKind,
      bodyBytes,
      bodyCrc32: hex32(crc),
      rawBody,
    },
  };
}

/**
 * Finds a request's token in the documented order: `token` in the query, in a form body, in a multipart body;
 * then `X-Esri-Authorization: Bearer`; then `Authorization: Bearer`. Empty values are skipped.
 */
export function extractToken(
  request: Request,
  read: _ReadRequest,
): { token: string; source: FakeTokenSource } | undefined {
  const fromQuery = read.query.get("token");
  if (fromQuery) return { token: fromQuery, source: "query" };
  const fromBody = read.body.get("token");
  if (fromBody) {
    return { token: fromBody, source: read.logged.bodyKind === "multipart" ? "multipart" : "form" };
  }
  for (
    const [header, source] of [["x-esri-authorization", "x-esri-authorization"], [
      "authorization",
      "authorization",
    ]] as const
  ) {
    const value = request.headers.get(header);
    const m = value ? /^\s*bearer\s+(\S+)\s*$/i.exec(value) : null;
    if (m) return { token: m[1], source };
  }
  return undefined;
}
