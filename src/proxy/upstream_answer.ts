/**
 * Stage 5 of the proxy, the answer: the browser's response built from the upstream's. Redirects are rewritten to
 * the proxy form (or refused, 502); a web-tier challenge (401/407) and HTML error pages become a generic 502; a
 * small body read whole has our token redacted should it echo it; headers pass the response allowlist.
 *
 * @module
 */
import { concatBytes, indexOfBytes } from "../util/bytes.ts";
import { _badGateway, _discard, type _ProxySettings } from "./_proxy_settings.ts";
import { PROXIED_CONTENT_SECURITY_POLICY } from "./constants.ts";
import { privateCacheControl, returnResponseHeaderRecord } from "./header_filter.ts";
import { rewriteRedirect } from "./redirect_rewrite.ts";
import type { UpstreamAnswer } from "./upstream_exchange.ts";

/** What the answer stage needs besides the upstream answer. */
export interface AnswerOptions {
  /** The target as sent (without the caller's token), for resolving redirects and logging. */
  url: URL;
  /** The proxy route's path, for rewritten redirects. */
  proxyPath: string;
  /** The token that was sent. */
  token: string;
}

const _encoder = new TextEncoder();
const _REDACTED = _encoder.encode("[redacted]");

/** The byte forms of a token to redact: plain and URL-encoded. */
function _needlesFor(token: string): Uint8Array[] {
  const encoded = encodeURIComponent(token);
  const needles = [_encoder.encode(token)];
  if (encoded !== token) needles.push(_encoder.encode(encoded));
  return needles;
}

/**
 * Replaces every occurrence of the `needles` (tokens of 8+ characters) in `hay` with `[redacted]`, byte for byte
 * elsewhere; returns `hay` itself when there is none.
 */
function _redact(hay: Uint8Array, needles: readonly Uint8Array[]): Uint8Array {
  let current = hay;
  for (const bytes of needles) {
    if (bytes.length < 8) continue;
    let index = indexOfBytes(current, bytes, 0);
    if (index < 0) continue;
    const parts: Uint8Array[] = [];
    let position = 0;
    while (index >= 0) {
      parts.push(current.subarray(position, index), _REDACTED);
      position = index + bytes.length;
      index = indexOfBytes(current, bytes, position);
    }
    parts.push(current.subarray(position));
    current = concatBytes(parts);
  }
  return current;
}

/** The response for the browser; throws a `BrokerError` (502) where the upstream's answer must not be relayed. */
export async function answerUpstream(
  answer: UpstreamAnswer,
  options: AnswerOptions,
  settings: _ProxySettings,
): Promise<Response> {
  const { response } = answer;
  const { url } = options;
  const { logTarget } = settings;
  if (answer.location !== undefined) {
    const rewritten = rewriteRedirect(answer.location, url, {
      allowlist: settings.allowlist,
      proxyPath: options.proxyPath,
      allowInsecureLoopback: settings.allowInsecureLoopback,
    });
    if (rewritten === undefined) {
      await logTarget("warn", "Upstream redirect outside the allowlist refused", url, {
        status: response.status,
      });
      throw _badGateway("Upstream redirect refused");
    }
    return new Response(null, {
      status: response.status,
      headers: {
        location: rewritten,
        "cache-control": privateCacheControl(response.headers.get("cache-control")),
        "x-content-type-options": "nosniff",
        "content-security-policy": PROXIED_CONTENT_SECURITY_POLICY,
      },
    });
  }
  if (response.status === 401 || response.status === 407) {
    // The broker's own 401 means "your IdP token"; an upstream challenge (web-tier auth) is a gateway problem.
    await _discard(answer.body);
    await logTarget("warn", "Upstream asked for other credentials", url, { status: response.status });
    throw _badGateway();
  }
  const contentType = response.headers.get("content-type") ?? "";
  if (response.status >= 500 && /^\s*text\/html/i.test(contentType)) {
    // Server error pages can reveal internal host names; answer our own generic 502 instead.
    await _discard(answer.body);
    await logTarget("warn", "Upstream answered an HTML error page", url, { status: response.status });
    throw _badGateway();
  }
  let body = answer.body;
  let changed = false;
  if (answer.complete !== undefined) {
    const redacted = _redact(answer.complete, _needlesFor(options.token));
    if (redacted !== answer.complete) {
      changed = true;
      body = redacted;
    }
  }
  const headers = returnResponseHeaderRecord(response.headers, {
    dropContentLength: changed || response.headers.has("content-encoding"),
  });
  return new Response(body as Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null, {
    status: response.status,
    headers,
  });
}
