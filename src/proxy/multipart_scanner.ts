/**
 * An incremental `multipart/form-data` scanner (RFC 7578 / RFC 2046). It never changes bytes: it watches the
 * delimiters and each part's headers as the body streams past, and
 *
 * - refuses a JSONP `callback` part and an `f` part whose value is `html`;
 * - records where each part starts and ends, so a small buffered body can have its `token` parts cut out, or
 *   (for large streamed bodies, which cannot be edited without changing their length) refuses a `token` part;
 * - refuses malformed bodies (no closing delimiter, a part without a `form-data` name, oversized part headers).
 *
 * @module
 */
import { BrokerError } from "../errors.ts";
import { concatBytes, indexOfBytes } from "../util/bytes.ts";
import { FORM_F_VALUE_MAX_BYTES, MULTIPART_HEADER_MAX_BYTES } from "./constants.ts";

/** One part seen by the scanner. Offsets are absolute positions in the body. */
export interface MultipartPart {
  /** The part's `name` (from `Content-Disposition: form-data; name="…"`). */
  name: string;
  /** Offset of the delimiter line that opens the part (of its leading CRLF; `-2` for the first delimiter at 0). */
  start: number;
  /** Offset of the delimiter that ends the part (of its leading CRLF). */
  end: number;
}

/** Options for {@link MultipartScanner}. */
export interface MultipartScannerOptions {
  /** The `boundary` parameter of the body's content type. */
  boundary: string;
  /** `refuse`: a `token` part is refused; `record`: it is only recorded (to be cut out later). @default "record" */
  tokenParts?: "refuse" | "record";
  /** Largest header block of one part. @default 16 KiB */
  maxHeaderBytes?: number;
}

type _State = "preamble" | "delimiter" | "headers" | "body" | "epilogue";

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const MAX_PADDING_BYTES = 256;
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function _malformed(): BrokerError {
  return new BrokerError("ERR_INVALID_REQUEST", "Malformed multipart body");
}

function _refused(): BrokerError {
  return new BrokerError("ERR_TARGET_NOT_ALLOWED", "Proxy request not allowed");
}

/** The `name` of a part from its raw header block; throws on anything but a plain `form-data` disposition. */
function _partName(headerBlock: string): string {
  for (const line of headerBlock.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== "content-disposition") continue;
    const value = line.slice(colon + 1);
    const [kind, ...rest] = value.split(";");
    if (kind.trim().toLowerCase() !== "form-data") throw _malformed();
    const params = rest.join(";");
    const paramPattern = /\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)/gy;
    let name: string | undefined;
    let match: RegExpExecArray | null;
    let consumed = 0;
    while ((match = paramPattern.exec(params)) !== null && match[0] !== "") {
      consumed = paramPattern.lastIndex;
      const key = match[1].toLowerCase();
      if (key === "name*") throw _malformed();
      if (key !== "name") continue;
      if (name !== undefined) throw _malformed();
      const raw = match[2].trim();
      name = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw;
    }
    if (params.slice(consumed).trim() !== "" || name === undefined) throw _malformed();
    return name;
  }
  throw _malformed();
}

/** Reads and checks the `boundary` of a `multipart/form-data` content type parameter value. */
export function checkMultipartBoundary(boundary: string | undefined): string {
  if (boundary === undefined || !BOUNDARY.test(boundary)) throw _malformed();
  return boundary;
}

/** The incremental scanner; see the module documentation. */
export class MultipartScanner {
  /** Parts seen so far, in order. */
  readonly parts: MultipartPart[] = [];
  #delimiter: Uint8Array;
  #tokenParts: "refuse" | "record";
  #maxHeaderBytes: number;
  #state: _State = "preamble";
  #buf: Uint8Array = Uint8Array.of(CR, LF); // a virtual CRLF, so the first delimiter may start the body
  #bufStart = -2;
  #partStart = -2;
  #partName = "";
  #fValue: number[] | undefined;

  constructor(options: MultipartScannerOptions) {
    this.#delimiter = new TextEncoder().encode(`\r\n--${checkMultipartBoundary(options.boundary)}`);
    this.#tokenParts = options.tokenParts ?? "record";
    this.#maxHeaderBytes = options.maxHeaderBytes ?? MULTIPART_HEADER_MAX_BYTES;
  }

  /** Scans one chunk. Throws a `BrokerError` on a refused or malformed body. */
  push(chunk: Uint8Array): void {
    this.#buf = this.#buf.length === 0 ? chunk : concatBytes([this.#buf, chunk]);
    while (this.#step()) {
      // each step consumes input or changes state
    }
  }

  /** Ends the input. Throws when the closing delimiter was never seen. */
  finish(): void {
    if (this.#state !== "epilogue") throw _malformed();
  }

  #consume(count: number): void {
    this.#buf = this.#buf.subarray(count);
    this.#bufStart += count;
  }

  /** One state transition; false when more input is needed. */
  #step(): boolean {
    const buf = this.#buf;
    switch (this.#state) {
      case "epilogue":
        this.#consume(buf.length);
        return false;
      case "preamble":
      case "body": {
        const index = indexOfBytes(buf, this.#delimiter, 0);
        const bodyBytes = index < 0 ? Math.max(0, buf.length - (this.#delimiter.length - 1)) : index;
        if (this.#fValue !== undefined && this.#fValue.length <= FORM_F_VALUE_MAX_BYTES) {
          this.#fValue.push(...buf.subarray(0, Math.min(bodyBytes, FORM_F_VALUE_MAX_BYTES + 1)));
        }
        if (index < 0) {
          this.#consume(bodyBytes);
          return false;
        }
        if (this.#state === "body") this.#endPart(this.#bufStart + index);
        this.#partStart = this.#bufStart + index;
        this.#consume(index + this.#delimiter.length);
        this.#state = "delimiter";
        return true;
      }
      case "delimiter": {
        if (buf.length < 2) return false;
        if (buf[0] === DASH && buf[1] === DASH) {
          this.#state = "epilogue";
          return true;
        }
        let i = 0;
        while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
        if (i > MAX_PADDING_BYTES) throw _malformed();
        if (i + 1 >= buf.length) return false;
        if (buf[i] !== CR || buf[i + 1] !== LF) throw _malformed();
        this.#consume(i + 2);
        this.#state = "headers";
        return true;
      }
      case "headers": {
        if (buf.length >= 2 && buf[0] === CR && buf[1] === LF) throw _malformed(); // a part without a name
        const end = indexOfBytes(buf, Uint8Array.of(CR, LF, CR, LF), 0);
        if (end < 0) {
          if (buf.length > this.#maxHeaderBytes) throw _malformed();
          return false;
        }
        if (end > this.#maxHeaderBytes) throw _malformed();
        this.#startPart(_partName(new TextDecoder().decode(buf.subarray(0, end))));
        this.#consume(end + 4);
        this.#state = "body";
        return true;
      }
    }
  }

  #startPart(name: string): void {
    const lower = name.toLowerCase();
    if (lower === "callback") throw _refused();
    if (lower === "token" && this.#tokenParts === "refuse") throw _refused();
    this.#partName = name;
    this.#fValue = lower === "f" ? [] : undefined;
  }

  #endPart(end: number): void {
    if (this.#fValue !== undefined) {
      const value = new TextDecoder().decode(Uint8Array.from(this.#fValue));
      if (value.trim().toLowerCase() === "html") throw _refused();
      this.#fValue = undefined;
    }
    this.parts.push({ name: this.#partName, start: this.#partStart, end });
  }
}

/**
 * Scans a whole (small) multipart body and cuts out every part named `token` (case-insensitively). Returns the
 * body unchanged (the same bytes) when there is none.
 */
export function stripMultipartTokenParts(body: Uint8Array, boundary: string): Uint8Array {
  const scanner = new MultipartScanner({ boundary, tokenParts: "record" });
  scanner.push(body);
  scanner.finish();
  const cuts = scanner.parts.filter((part) => part.name.toLowerCase() === "token");
  if (cuts.length === 0) return body;
  const kept: Uint8Array[] = [];
  let position = 0;
  for (const cut of cuts) {
    // A cut at the very start also takes the next delimiter's CRLF, so the body still opens with `--boundary`.
    const start = Math.max(0, cut.start);
    const end = cut.start < 0 ? cut.end + 2 : cut.end;
    kept.push(body.subarray(position, start));
    position = end;
  }
  kept.push(body.subarray(position));
  return concatBytes(kept);
}
