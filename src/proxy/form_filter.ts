/**
 * An incremental `application/x-www-form-urlencoded` filter that works on bytes, for query strings, small
 * buffered form bodies and large streamed ones alike. It parses parameters properly (split on `&`, name up to the
 * first `=`, `+` and `%XX` decoded, names compared case-insensitively), not by substring:
 *
 * - every `token` parameter is dropped (the caller's token never reaches ArcGIS; ours is injected instead);
 * - a JSONP `callback` parameter or `f=html` is refused (active content from the broker's origin);
 * - every other byte is passed on unchanged, so a body without a `token` parameter arrives byte for byte.
 *
 * @module
 */
import { BrokerError } from "../errors.ts";
import { concatBytes } from "../util/bytes.ts";
import { FORM_F_VALUE_MAX_BYTES, FORM_NAME_MAX_BYTES } from "./constants.ts";
import { _lenientPercentDecode } from "./_path_segments.ts";

/** Options for {@link FormFilter}. */
export interface FormFilterOptions {
  /** A token appended as the last parameter, `token=<encoded>` (entries with `tokenIn: "query"`). @default none */
  appendToken?: string;
}

const AMP = 0x26;
const EQ = 0x3d;
const PLUS = 0x2b;
const _encoder = new TextEncoder();

type _Mode = "name" | "keep" | "drop" | "f";

/** Decodes a form-encoded name or value for comparison (`+` is a space; bad escapes stay literal). */
function _decodeFormBytes(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += b === PLUS ? " " : b < 0x80 ? String.fromCharCode(b) : "\uFFFD";
  return _lenientPercentDecode(text);
}

function _refused(): BrokerError {
  return new BrokerError("ERR_TARGET_NOT_ALLOWED", "Proxy request not allowed");
}

/**
 * The filter. Feed it with {@link FormFilter.push} and end with {@link FormFilter.finish}; both return the bytes to
 * send on and throw a `BrokerError` (`ERR_TARGET_NOT_ALLOWED`) on a refused parameter.
 */
export class FormFilter {
  #mode: _Mode = "name";
  #pending: number[] = [];
  #emittedParams = 0;
  #sawInput = false;
  #out: Uint8Array[] = [];
  #appendToken: string | undefined;
  #finished = false;

  constructor(options: FormFilterOptions = {}) {
    this.#appendToken = options.appendToken;
  }

  /** Filters one chunk; returns what may be sent on now. */
  push(chunk: Uint8Array): Uint8Array {
    if (chunk.length > 0) this.#sawInput = true;
    let runStart = -1; // start of a run of bytes passed through unchanged in "keep" mode
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      switch (this.#mode) {
        case "keep":
          if (b === AMP) {
            if (runStart >= 0) this.#out.push(chunk.slice(runStart, i));
            runStart = -1;
            this.#mode = "name";
          } else if (runStart < 0) {
            runStart = i;
          }
          break;
        case "drop":
          if (b === AMP) this.#mode = "name";
          break;
        case "f":
          if (b === AMP) {
            this.#endValue();
          } else {
            this.#pending.push(b);
            if (this.#pending.length > FORM_NAME_MAX_BYTES + FORM_F_VALUE_MAX_BYTES) {
              this.#emitPending("keep");
            }
          }
          break;
        case "name":
          if (b === AMP) {
            this.#endName(false);
          } else if (b === EQ) {
            this.#endName(true);
          } else {
            this.#pending.push(b);
            if (this.#pending.length > FORM_NAME_MAX_BYTES) this.#emitPending("keep");
          }
          break;
      }
    }
    if (this.#mode === "keep" && runStart >= 0) this.#out.push(chunk.slice(runStart));
    return this.#take();
  }

  /** Ends the input; returns the last bytes (and the appended token, if any). */
  finish(): Uint8Array {
    if (this.#finished) return new Uint8Array(0);
    this.#finished = true;
    if (this.#mode === "name" && this.#sawInput) this.#endName(false);
    else if (this.#mode === "f") this.#endValue();
    if (this.#appendToken !== undefined) {
      const param = `token=${encodeURIComponent(this.#appendToken)}`;
      this.#out.push(_encoder.encode(this.#emittedParams > 0 ? `&${param}` : param));
    }
    return this.#take();
  }

  /** The name in `#pending` ended at `=` (`hasValue`) or at `&` / the end of input: decide its fate. */
  #endName(hasValue: boolean): void {
    const name = _decodeFormBytes(Uint8Array.from(this.#pending)).toLowerCase();
    if (name === "callback") throw _refused();
    if (name === "token") {
      this.#pending = [];
      this.#mode = hasValue ? "drop" : "name";
    } else if (name === "f" && hasValue) {
      this.#pending.push(EQ);
      this.#mode = "f";
    } else if (hasValue) {
      this.#pending.push(EQ);
      this.#emitPending("keep");
    } else {
      this.#emitPending("name");
    }
  }

  /** The value of an `f` parameter ended: refuse `html`, pass anything else on. */
  #endValue(): void {
    const value = _decodeFormBytes(Uint8Array.from(this.#pending.slice(this.#pending.indexOf(EQ) + 1)));
    if (value.trim().toLowerCase() === "html") throw _refused();
    this.#emitPending("name");
  }

  /** Emits the current parameter's buffered bytes after its `&` separator, then continues in `next` mode. */
  #emitPending(next: _Mode): void {
    if (this.#emittedParams > 0) this.#out.push(Uint8Array.of(AMP));
    this.#emittedParams++;
    if (this.#pending.length > 0) this.#out.push(Uint8Array.from(this.#pending));
    this.#pending = [];
    this.#mode = next;
  }

  #take(): Uint8Array {
    if (this.#out.length === 0) return new Uint8Array(0);
    if (this.#out.length === 1) {
      const only = this.#out[0];
      this.#out = [];
      return only;
    }
    const joined = concatBytes(this.#out);
    this.#out = [];
    return joined;
  }
}

/** Filters a whole query string or small form body at once (see {@link FormFilter}). */
export function filterFormBytes(bytes: Uint8Array, options: FormFilterOptions = {}): Uint8Array {
  const filter = new FormFilter(options);
  const head = filter.push(bytes);
  const tail = filter.finish();
  if (tail.length === 0) return head;
  const joined = new Uint8Array(head.length + tail.length);
  joined.set(head);
  joined.set(tail, head.length);
  return joined;
}

/** Decodes a form-encoded name or value for comparison, cheaply when nothing is encoded. */
function _decodeFormText(text: string): string {
  return text.includes("%") || text.includes("+") ? _lenientPercentDecode(text.replaceAll("+", " ")) : text;
}

/**
 * Filters a URL query (`url.search`, with or without its `?`) and returns the new search string, `""` when empty.
 * Same rules and byte-for-byte result as {@link FormFilter}, on the string (a normalized query is ASCII).
 */
export function filterQueryString(search: string, options: FormFilterOptions = {}): string {
  const raw = search.startsWith("?") ? search.slice(1) : search;
  // deno-lint-ignore no-control-regex
  if (!/^[\x00-\x7f]*$/.test(raw)) {
    const filtered = new TextDecoder().decode(filterFormBytes(_encoder.encode(raw), options));
    return filtered === "" ? "" : `?${filtered}`;
  }
  const kept: string[] = [];
  if (raw !== "") {
    for (const param of raw.split("&")) {
      const equals = param.indexOf("=");
      const name = _decodeFormText(equals < 0 ? param : param.slice(0, equals)).toLowerCase();
      if (name === "token") continue;
      if (name === "callback") throw _refused();
      if (
        name === "f" && equals >= 0 &&
        _decodeFormText(param.slice(equals + 1)).trim().toLowerCase() === "html"
      ) {
        throw _refused();
      }
      kept.push(param);
    }
  }
  if (options.appendToken !== undefined) kept.push(`token=${encodeURIComponent(options.appendToken)}`);
  return kept.length === 0 ? "" : `?${kept.join("&")}`;
}
