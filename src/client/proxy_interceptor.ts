/**
 * For apps that keep ArcGIS tokens out of the browser: the Maps SDK sends requests for some URL prefixes through
 * the broker's proxy (`urlUtils.addProxyRule({ urlPrefix, proxyUrl })`), and a request interceptor adds the IdP
 * bearer token to exactly those requests. Requests that go anywhere else never see the IdP token.
 *
 * ```ts
 * import * as urlUtils from "@arcgis/core/core/urlUtils.js";
 * import esriConfig from "@arcgis/core/config.js";
 * const options = { brokerProxyUrl: "https://app.example.com/arcgis/proxy", urlPrefixes: ["https://gis.example.com/server/rest/services/"], getIdpToken };
 * addProxyRules(urlUtils, options);
 * esriConfig.request.interceptors.push(proxyInterceptor(options));
 * ```
 *
 * @module
 */

/** The parts of the SDK's interceptor `before` parameters the helper reads and changes. */
export interface InterceptorParams {
  /** The request URL (the original one, before the proxy rewrite, or the proxied one). */
  url: string;
  /** The request options; `headers` is created when missing. */
  requestOptions: { headers?: Record<string, string>; [name: string]: unknown };
}

/** A request interceptor for `esriConfig.request.interceptors`. */
export interface ProxyRequestInterceptor {
  /** Prefixes of the URLs it applies to (the proxied prefixes and the proxy itself). */
  urls: string[];
  /** Adds `Authorization: Bearer <IdP token>` when the request goes through the broker proxy. */
  before(params: InterceptorParams): Promise<void>;
}

/** Options for {@link proxyInterceptor} and {@link addProxyRules}. */
export interface ProxyInterceptorOptions {
  /** The broker's proxy route, e.g. `https://app.example.com/arcgis/proxy`. */
  brokerProxyUrl: string;
  /** ArcGIS URL prefixes routed through the proxy (each one gets a proxy rule). */
  urlPrefixes: readonly string[];
  /** Resolves to the current IdP access token. */
  getIdpToken: () => Promise<string>;
}

/** The part of the SDK's `urlUtils` that {@link addProxyRules} uses. */
export interface UrlUtilsLike {
  /** `urlUtils.addProxyRule`. */
  addProxyRule(rule: { urlPrefix: string; proxyUrl: string }): unknown;
}

/** The SDK's normal form for proxy-rule matching: no query, scheme-less, lower-case (see `urlUtils`). */
function _normal(url: string): string {
  return url.replace(/[?#].*$/, "").replace(/^[a-z][a-z0-9+.-]*:/i, "").replace(/^\/\//, "").toLowerCase();
}

function _withSlash(text: string): string {
  return text.endsWith("/") ? text : `${text}/`;
}

/** https, or plain http on a loopback host (local stand-ins in development and tests). */
function _isAllowedPrefix(url: string): boolean {
  if (/^https:\/\//i.test(url)) return true;
  return /^http:\/\/(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d+)?\//i.test(url);
}

function _checkOptions(options: ProxyInterceptorOptions): void {
  if (typeof options.brokerProxyUrl !== "string" || !/^https?:\/\//i.test(options.brokerProxyUrl)) {
    throw new TypeError('Invalid option "brokerProxyUrl": expected an absolute http(s) URL');
  }
  if (!Array.isArray(options.urlPrefixes) || options.urlPrefixes.some((p) => !_isAllowedPrefix(p))) {
    throw new TypeError('Invalid option "urlPrefixes": expected absolute https URLs (or http on loopback)');
  }
}

/**
 * Adds one SDK proxy rule per prefix, all pointing at the broker proxy.
 *
 * @param urlUtils The Maps SDK's `urlUtils` module.
 * @param options The broker proxy URL and the service prefixes to route through it.
 */
export function addProxyRules(urlUtils: UrlUtilsLike, options: ProxyInterceptorOptions): void {
  _checkOptions(options);
  for (const urlPrefix of options.urlPrefixes) {
    urlUtils.addProxyRule({ urlPrefix, proxyUrl: options.brokerProxyUrl });
  }
}

/**
 * Builds the interceptor that adds the IdP bearer token to requests going through the broker proxy: URLs under
 * one of `urlPrefixes` (segment-wise, as the SDK's proxy rules match) or already addressed to
 * `brokerProxyUrl?…`. Everything else passes untouched.
 *
 * @param options The broker proxy URL, the service prefixes and how to get the IdP token.
 * @returns A request interceptor for `esriConfig.request.interceptors`.
 *
 * @example Route services through the broker proxy with no ArcGIS token in the page
 * ```ts
 * import esriConfig from "@arcgis/core/config.js";
 * import * as urlUtils from "@arcgis/core/core/urlUtils.js";
 * import { addProxyRules, proxyInterceptor } from "arcgis-token-broker/client";
 *
 * const options = {
 *   brokerProxyUrl: "/arcgis/proxy",
 *   urlPrefixes: ["https://services.arcgis.com/P3ePLMYs2RVChkJx/arcgis/rest/services/"],
 *   getIdpToken: () => oidc.getAccessToken(),
 * };
 * addProxyRules(urlUtils, options);
 * esriConfig.request.interceptors?.push(proxyInterceptor(options));
 * ```
 */
export function proxyInterceptor(options: ProxyInterceptorOptions): ProxyRequestInterceptor {
  _checkOptions(options);
  const proxy = options.brokerProxyUrl.replace(/[?#].*$/, "");
  const prefixes = options.urlPrefixes.map((p) => _withSlash(_normal(p)));
  const goesToProxy = (url: string): boolean => {
    if (url.startsWith(`${proxy}?`)) return true;
    const normal = _withSlash(_normal(url));
    return _isAllowedPrefix(url) && prefixes.some((prefix) => normal.startsWith(prefix));
  };
  return {
    urls: [proxy, ...options.urlPrefixes],
    async before(params: InterceptorParams): Promise<void> {
      if (typeof params?.url !== "string" || !goesToProxy(params.url)) return;
      const token = await options.getIdpToken();
      params.requestOptions.headers = { ...params.requestOptions.headers, Authorization: `Bearer ${token}` };
    },
  };
}
