/**
 * Reads the target of a proxied request from the request URL, in the form the ArcGIS Maps SDK produces:
 * `<proxyPath>?<targetUrl>?<query>`, the target not encoded as a whole. A target encoded as a whole
 * (`https%3A%2F%2F…`, as older resource proxies accepted) is decoded exactly once.
 *
 * The raw target text is checked before it is parsed, so nothing the WHATWG parser would silently repair
 * (backslashes, tabs, dot segments, encoded separators) can make the checked URL differ from the one sent.
 * Refusals throw a {@link BrokerError} whose message never contains the URL: 400 for anything malformed (also empty
 * path segments and percent-encoded bytes of 0x80 or more in the path), 414 for a target longer than
 * {@link MAX_TARGET_CHARS}.
 *
 * @module
 */
import { BrokerError } from "../errors.ts";
import { isLoopbackUrl } from "../util/loopback.ts";
import { MAX_TARGET_CHARS } from "./constants.ts";

/** Options for {@link parseProxyTarget} and {@link checkTargetUrl}. */
export interface ParseProxyTargetOptions {
  /** Accept plain http and IP-literal hosts when they are loopback (tests and the local demo only). @default false */
  allowInsecureLoopback?: boolean;
}

/** A parsed proxy request. */
export interface ProxyTarget {
  /** The normalized WHATWG URL of the target; the allowlist is matched on it and it is what is sent. */
  url: URL;
  /** The path of the proxy route itself (the request path before the first `?`), for rewriting redirects. */
  proxyPath: string;
}

const ENCODED_TARGET = /^https?%3a/i;
const FORBIDDEN_ENCODINGS = /%(?:2f|5c|2e|25|[01][0-9a-f]|7f)/i;
const MALFORMED_PERCENT = /%(?![0-9a-f]{2})/i;
const DOTTED_QUAD = /^\d+\.\d+\.\d+\.\d+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
/** A percent-encoded byte of 0x80 or more: non-ASCII look-alikes of operation names (`applyEd%C4%B1ts`). */
const ENCODED_NON_ASCII = /%[89a-f][0-9a-f]/i;

function _malformed(): BrokerError {
  return new BrokerError("ERR_TARGET_MALFORMED", "Malformed proxy target");
}

function _notAllowed(): BrokerError {
  return new BrokerError("ERR_TARGET_NOT_ALLOWED", "Proxy target not allowed");
}

// Characters the raw target may not carry: controls, space, backslash, `#` (and, before the query, non-ASCII).
// deno-lint-ignore no-control-regex
const FORBIDDEN_IN_QUERY = /[\x00-\x20\x7f\\#]/;
// deno-lint-ignore no-control-regex
const FORBIDDEN_BEFORE_QUERY = /[\x00-\x20\x7f\\#]|[^\x00-\x7e]/;

/**
 * Splits a raw target at its scheme, authority, path and query without a regular expression (a pattern with two
 * overlapping runs backtracks quadratically on a long target that fails to match).
 */
function _splitTarget(raw: string): { authority: string; path: string; query: string } | undefined {
  const head = raw.slice(0, 8).toLowerCase();
  const start = head.startsWith("https://") ? 8 : head.startsWith("http://") ? 7 : -1;
  if (start < 0) return undefined;
  const queryStart = raw.indexOf("?", start);
  const end = queryStart < 0 ? raw.length : queryStart;
  let pathStart = raw.indexOf("/", start);
  if (pathStart < 0 || pathStart > end) pathStart = end;
  return {
    authority: raw.slice(start, pathStart),
    path: raw.slice(pathStart, end),
    query: queryStart < 0 ? "" : raw.slice(queryStart),
  };
}

/**
 * Checks one raw target URL (already decoded once if it was encoded as a whole) and returns its normalized form.
 * Throws `ERR_TARGET_MALFORMED` (400) for anything malformed or ambiguous and `ERR_TARGET_NOT_ALLOWED` (403) for
 * well-formed targets no configuration may allow (IP literals, plain http off loopback).
 */
export function checkTargetUrl(raw: string, options: ParseProxyTargetOptions = {}): URL {
  const parts = _splitTarget(raw);
  if (parts === undefined) throw _malformed();
  const { authority, path, query } = parts;
  if (authority === "" || FORBIDDEN_BEFORE_QUERY.test(authority) || FORBIDDEN_BEFORE_QUERY.test(path)) {
    throw _malformed();
  }
  if (FORBIDDEN_IN_QUERY.test(query)) throw _malformed();
  // Userinfo, percent-encoded host characters and IPv6 zone tricks all need one of these.
  if (/[@%]/.test(authority)) throw _malformed();
  if (FORBIDDEN_ENCODINGS.test(path) || MALFORMED_PERCENT.test(path) || path.includes(";")) {
    throw _malformed();
  }
  if (DOT_SEGMENT.test(path)) throw _malformed();
  // Empty segments (`community//self`) would split the names compared on segments; a trailing `/` is fine.
  if (path.includes("//") || ENCODED_NON_ASCII.test(path)) throw _malformed();
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw _malformed();
  }
  if (url.username !== "" || url.password !== "" || url.hash !== "" || url.hostname === "") {
    throw _malformed();
  }
  const loopbackAllowed = options.allowInsecureLoopback === true && isLoopbackUrl(url);
  const ipLiteral = url.hostname.startsWith("[") || DOTTED_QUAD.test(url.hostname);
  if (ipLiteral && !loopbackAllowed) throw _notAllowed();
  if (url.protocol === "http:" && !loopbackAllowed) throw _notAllowed();
  return url;
}

/**
 * Splits a proxy request URL at its first `?` and checks the target after it. A target encoded as a whole is
 * decoded once; what the decoding yields is checked like any raw target (so double encoding is refused).
 */
export function parseProxyTarget(requestUrl: string, options: ParseProxyTargetOptions = {}): ProxyTarget {
  const index = requestUrl.indexOf("?");
  if (index < 0 || index === requestUrl.length - 1) throw _malformed();
  // A request URL is normalized and absolute: its path runs from the first "/" after "scheme://" to the "?".
  const authorityStart = requestUrl.indexOf("://");
  if (authorityStart < 0 || authorityStart > index) throw _malformed();
  const pathStart = requestUrl.indexOf("/", authorityStart + 3);
  const proxyPath = pathStart < 0 || pathStart > index ? "/" : requestUrl.slice(pathStart, index);
  if (requestUrl.length - index - 1 > MAX_TARGET_CHARS) {
    throw new BrokerError("ERR_TARGET_TOO_LONG", "Proxy target too long");
  }
  let raw = requestUrl.slice(index + 1);
  if (ENCODED_TARGET.test(raw)) {
    try {
      raw = decodeURIComponent(raw);
    } catch {
      throw _malformed();
    }
  }
  return { url: checkTargetUrl(raw, options), proxyPath };
}
