/**
 * Stage 5 of the proxy, the answer: the browser's response built from the upstream's. Redirects are rewritten to
 * the proxy form (or refused, 502); a web-tier challenge (401/407) and every upstream 5xx become a generic 502
 * (504 for an upstream 504), with no upstream text; our token is redacted from what comes back (see
 * `token_redaction.ts`); headers pass the response allowlist.
 *
 * @module
 */
import { BrokerError } from "../errors.ts";
import { _badGateway, _discard, type _ProxySettings } from "./_proxy_settings.ts";
import { PROXIED_CONTENT_SECURITY_POLICY } from "./constants.ts";
import { privateCacheControl, returnResponseHeaderRecord } from "./header_filter.ts";
import { rewriteRedirect } from "./redirect_rewrite.ts";
import type { TokenPlacement, UpstreamAnswer } from "./upstream_exchange.ts";

/** What the answer stage needs besides the upstream answer. */
export interface AnswerOptions {
  /** The target as sent (without the caller's token), for resolving redirects and logging. */
  url: URL;
  /** The proxy route's path, for rewritten redirects. */
  proxyPath: string;
  /** The token that was sent. */
  token: string;
  /** Where it was sent: in the query or a form, every body and header is redacted on the way back. */
  placement: TokenPlacement;
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
  const redactor = settings.redactorFor(options.token);
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
        location: redactor.text(rewritten),
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
  if (response.status >= 500) {
    // Server errors can reveal internal host names and stack traces: answer our own generic 502 (504 for an
    // upstream gateway timeout) and never relay the upstream's text.
    await _discard(answer.body);
    await logTarget("warn", "Upstream answered a server error", url, { status: response.status });
    if (response.status === 504) throw new BrokerError("ERR_UPSTREAM_TIMEOUT", "Upstream request timed out");
    throw _badGateway();
  }
  // A body read whole is always checked; when the token travelled in the URL or a form (where upstreams echo
  // it), every streamed body and every header is redacted too.
  const echoable = options.placement !== "header";
  let body = answer.body;
  let changed = false;
  if (answer.complete !== undefined) {
    body = redactor.bytes(answer.complete);
    changed = body !== answer.complete;
  } else if (echoable && body instanceof ReadableStream) {
    body = body.pipeThrough(redactor.stream());
    changed = true;
  }
  const headers = returnResponseHeaderRecord(response.headers, {
    dropContentLength: changed || response.headers.has("content-encoding"),
  });
  // Set one by one on the new response's own headers: on Deno, a `headers` record in the init goes through the
  // generic WebIDL conversion (10.6 against 3.3 µs in isolation; 1.5 µs a proxied request end to end).
  const answered = new Response(body as Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null, {
    status: response.status,
  });
  const out = answered.headers;
  for (const name in headers) out.set(name, echoable ? redactor.text(headers[name]) : headers[name]);
  return answered;
}
