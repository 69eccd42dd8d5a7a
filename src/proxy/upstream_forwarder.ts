/**
 * Stage 4 of the proxy, the upstream: gets our token, sends the request (`upstream_exchange.ts`), and after a
 * 498/499 refreshes the token with one call (`forceRefresh` and the rejected token) and sends once more when the
 * body can be replayed. A 498/499 that survives, or cannot be retried, is a 502: relayed, it would make the Maps
 * SDK open its sign-in dialog.
 *
 * @module
 */
import type { Deps } from "../deps.ts";
import type { Identity, TokenForUrlOptions, UpstreamToken } from "../types.ts";
import { _badGateway, _discard, type _ProxySettings } from "./_proxy_settings.ts";
import { isFormBody, isReplayable, type RequestBody } from "./request_body.ts";
import {
  createUpstreamExchange,
  type TokenPlacement,
  type UpstreamAnswer,
  type UpstreamCall,
} from "./upstream_exchange.ts";

/**
 * Gets the ArcGIS token for one upstream request; the same signature as `TokenService.tokenForUrl`, so
 * `tokenService.tokenForUrl.bind(tokenService)` fits. Called once per request, and once more (with `forceRefresh`
 * and `rejectedToken`) before the single retry after a 498/499.
 */
export type ProxyTokenSource = (
  identity: Identity,
  profile: string,
  url: URL,
  options: TokenForUrlOptions,
) => Promise<UpstreamToken>;

/** The answer to send on and the token it was obtained with. */
export interface ForwardResult {
  /** The upstream's (last) answer. */
  answer: UpstreamAnswer;
  /** The token of that attempt. */
  token: UpstreamToken;
}

/** Sends a proxied request: the first attempt and the single retry after a 498/499. */
export type UpstreamForwarder = (call: UpstreamCall) => Promise<ForwardResult>;

/** Where the token travels for an entry's `tokenIn` and a body. */
export function tokenPlacement(tokenIn: "header" | "query", body: RequestBody): TokenPlacement {
  if (tokenIn === "header") return "header";
  return isFormBody(body) ? "form" : "query";
}

/** The ArcGIS auth error of an upstream answer (HTTP 498/499 or a JSON envelope), if any. */
function _authError(answer: UpstreamAnswer): 498 | 499 | undefined {
  const status = answer.response.status;
  return status === 498 || status === 499 ? status : answer.authErrorCode;
}

/**
 * The upstream stage of one handler: gets the token, sends, and after a 498/499 refreshes the token (one call
 * with `forceRefresh` and the rejected token) and sends once more when the body can be replayed. A 498/499 that
 * survives (or cannot be retried) is a 502, never relayed.
 */
export function createUpstreamForwarder(
  settings: _ProxySettings,
  options: { fetch: Deps["fetch"]; shareTimers: boolean; tokens: ProxyTokenSource },
): UpstreamForwarder {
  const exchange = createUpstreamExchange(settings, options);
  const { tokens } = options;
  const { logTarget } = settings;
  return async function forward(call: UpstreamCall): Promise<ForwardResult> {
    const { identity, decision } = call;
    const url = decision.url;
    let token = await tokens(identity, decision.profile, url, {});
    let answer = await exchange(call, token);
    let code = _authError(answer);
    let attempt = 0;
    if (code !== undefined && isReplayable(call.body)) {
      await _discard(answer.body);
      await logTarget("info", "Upstream refused the token; refreshing it and retrying once", url, {
        arcgisCode: code,
      });
      const refreshed = await tokens(identity, decision.profile, url, {
        forceRefresh: true,
        rejectedToken: token.token,
      });
      if (refreshed.token === token.token) {
        // The token service kept the refused token (younger than arcgis.forcedRefreshFloorSeconds): sending it
        // again would only repeat the refusal.
        await logTarget("warn", "Upstream refused a token too young to replace; not retried", url, {
          arcgisCode: code,
        });
        throw _badGateway("Upstream refused the token");
      }
      token = refreshed;
      answer = await exchange(call, token);
      code = _authError(answer);
      attempt = 1;
    }
    if (code !== undefined) {
      // Relayed, a 498/499 makes the Maps SDK open its sign-in dialog, which cannot help a proxied request.
      await _discard(answer.body);
      await logTarget("warn", "Upstream refused the token", url, { arcgisCode: code, attempt });
      throw _badGateway("Upstream refused the token");
    }
    return { answer, token };
  };
}
