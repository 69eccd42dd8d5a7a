/**
 * Binary answers of the fake: deterministic PNG tiles and exports, vector tiles, `ETag`/`Range`/conditional
 * requests, and the pull-based large export stream.
 *
 * @module
 */
import { concatBytes } from "../util/bytes.ts";
import { adler32, crc32, fnv1a, hex32, utf8 } from "./_util.ts";

/** The 8-byte PNG signature. */
export const PNG_SIGNATURE: Uint8Array = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function _u32(value: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0);
  return out;
}

function _pngChunk(type: string, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const typeAndData = concatBytes([utf8(type), data]);
  return concatBytes([_u32(data.length), typeAndData, _u32(crc32(typeAndData))]);
}

/** Bytes `i & 0xff` for i in [0, length). */
export function pattern(length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = i & 0xff;
  return out;
}

/**
 * A valid 1 × 1 RGBA PNG whose colour and `tEXt` comment derive from `seed`, plus an optional ancillary private
 * chunk (`paDd`) of `paddingBytes` bytes so tiles can be made large.
 */
export function createPng(seed: string, paddingBytes = 0): Uint8Array<ArrayBuffer> {
  const hash = fnv1a(seed);
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, 1);
  view.setUint32(4, 1);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const raw = new Uint8Array([0, hash & 0xff, (hash >>> 8) & 0xff, (hash >>> 16) & 0xff, 0xff]);
  const zlib = concatBytes([
    new Uint8Array([0x78, 0x01, 0x01, raw.length, 0, ~raw.length & 0xff, 0xff]),
    raw,
    _u32(adler32(raw)),
  ]);
  const parts = [
    PNG_SIGNATURE,
    _pngChunk("IHDR", ihdr),
    _pngChunk("tEXt", utf8(`Comment\0${seed}`)),
  ];
  if (paddingBytes > 0) parts.push(_pngChunk("paDd", pattern(paddingBytes)));
  parts.push(_pngChunk("IDAT", zlib), _pngChunk("IEND", new Uint8Array(0)));
  return concatBytes(parts);
}

function _varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function _lengthDelimited(field: number, data: Uint8Array): Uint8Array<ArrayBuffer> {
  return concatBytes([new Uint8Array([..._varint((field << 3) | 2), ..._varint(data.length)]), data]);
}

/**
 * A valid Mapbox Vector Tile with one empty layer named `layerName` whose single key is `key` (so every tile
 * differs), plus an unknown length-delimited field of `paddingBytes` bytes (parsers skip it).
 */
export function createVectorTile(layerName: string, key: string, paddingBytes = 0): Uint8Array<ArrayBuffer> {
  const layer = concatBytes([
    new Uint8Array([0x78, 0x02]), // version = 2
    _lengthDelimited(1, utf8(layerName)),
    _lengthDelimited(3, utf8(key)),
    new Uint8Array([0x28, ..._varint(4096)]), // extent
  ]);
  const parts = [_lengthDelimited(3, layer)];
  if (paddingBytes > 0) parts.push(_lengthDelimited(15, pattern(paddingBytes)));
  return concatBytes(parts);
}

/** Strong ETag of bytes. */
export function etagOf(bytes: Uint8Array): string {
  return `"${hex32(crc32(bytes))}-${bytes.length.toString(16)}"`;
}

function _etagMatches(header: string, etag: string): boolean {
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((candidate) => {
    const c = candidate.trim();
    return c === "*" || c.replace(/^W\//, "") === bare;
  });
}

/** A single byte range, `"unsatisfiable"`, or null (no usable Range: serve the whole body). */
export function parseRange(
  header: string | null,
  size: number,
): { start: number; end: number } | "unsatisfiable" | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== "" && Number(m[2]) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** Headers common to every binary answer. */
export interface _BinaryMeta {
  contentType: string;
  lastModifiedMs: number;
  cacheControl: string;
}

/** Answers bytes honouring `If-None-Match`, `If-Modified-Since`, `If-Range` and a single `Range`. */
export function binaryResponse(
  request: Request,
  bytes: Uint8Array<ArrayBuffer>,
  meta: _BinaryMeta,
): Response {
  const etag = etagOf(bytes);
  const lastModified = new Date(meta.lastModifiedMs).toUTCString();
  const headers = new Headers({
    "Content-Type": meta.contentType,
    "ETag": etag,
    "Last-Modified": lastModified,
    "Cache-Control": meta.cacheControl,
    "Accept-Ranges": "bytes",
  });
  const ifNoneMatch = request.headers.get("if-none-match");
  const ifModifiedSince = request.headers.get("if-modified-since");
  const notModified = ifNoneMatch !== null ? _etagMatches(ifNoneMatch, etag) : ifModifiedSince !== null &&
    Date.parse(ifModifiedSince) >= Math.floor(meta.lastModifiedMs / 1000) * 1000;
  if (notModified && (request.method === "GET" || request.method === "HEAD")) {
    headers.delete("Content-Type");
    return new Response(null, { status: 304, headers });
  }
  const ifRange = request.headers.get("if-range");
  const rangeAllowed = ifRange === null ||
    (ifRange.trim().startsWith('"') || ifRange.trim().startsWith("W/")
      ? ifRange.trim() === etag
      : Date.parse(ifRange) >= Math.floor(meta.lastModifiedMs / 1000) * 1000);
  const range = rangeAllowed ? parseRange(request.headers.get("range"), bytes.length) : null;
  if (range === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${bytes.length}`);
    headers.set("Content-Length", "0");
    return new Response(null, { status: 416, headers });
  }
  if (range) {
    const slice = bytes.slice(range.start, range.end + 1);
    headers.set("Content-Range", `bytes ${range.start}-${range.end}/${bytes.length}`);
    headers.set("Content-Length", String(slice.length));
    return new Response(slice, { status: 206, headers });
  }
  headers.set("Content-Length", String(bytes.length));
  return new Response(bytes, { status: 200, headers });
}
