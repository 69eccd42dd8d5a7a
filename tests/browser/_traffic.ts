/**
 * Records every request a page sends and every response it receives (URL, headers, bodies), so a test can prove
 * that no ArcGIS token ever reached the browser.
 *
 * @module
 */
import type { Page, Request as PwRequest, Response as PwResponse } from "playwright-core";

/** One request and, once it arrived, its response. */
export interface Exchange {
  /** Request URL. */
  url: string;
  /** Request method. */
  method: string;
  /** Request headers (all, including cookies). */
  requestHeaders: Record<string, string>;
  /** Request body, if any. */
  requestBody: string | null;
  /** Response status. */
  status?: number;
  /** Response headers. */
  responseHeaders?: Record<string, string>;
  /** Response body as text (binary bodies are decoded as latin1 so that any ASCII token would show). */
  responseBody?: string;
}

/** A running recorder. */
export interface TrafficRecorder {
  /** Everything recorded so far. */
  readonly exchanges: readonly Exchange[];
  /** Waits until every pending header/body read has finished, and stops recording. */
  stop(): Promise<void>;
}

/** Starts recording `page`'s traffic (main frame, subresources and dedicated workers). */
export function recordTraffic(page: Page): TrafficRecorder {
  const exchanges: Exchange[] = [];
  const byRequest = new Map<PwRequest, Exchange>();
  const pending: Promise<unknown>[] = [];
  const latin1 = new TextDecoder("latin1");
  const onRequest = (request: PwRequest): void => {
    const exchange: Exchange = {
      url: request.url(),
      method: request.method(),
      requestHeaders: request.headers(),
      requestBody: request.postData(),
    };
    exchanges.push(exchange);
    byRequest.set(request, exchange);
    pending.push(request.allHeaders().then((h) => exchange.requestHeaders = h, () => {}));
  };
  const onResponse = (response: PwResponse): void => {
    const exchange = byRequest.get(response.request());
    if (exchange === undefined) return;
    exchange.status = response.status();
    pending.push(
      response.allHeaders().then((h) => exchange.responseHeaders = h, () => {}),
      // Redirects and some aborted loads have no body; that is fine (their headers are still checked).
      response.body().then((b) => exchange.responseBody = latin1.decode(b), () => {}),
    );
  };
  page.on("request", onRequest);
  page.on("response", onResponse);
  return {
    exchanges,
    async stop() {
      page.off("request", onRequest);
      page.off("response", onResponse);
      for (let i = 0; i < 10 && pending.length > 0; i++) await Promise.all(pending.splice(0));
    },
  };
}

/** Where a secret was found. */
export interface Leak {
  /** Which part of which exchange. */
  where: string;
  /** The exchange's URL, truncated. */
  url: string;
}

/** Lists every place in `exchanges` that contains one of `secrets`. */
export function findLeaks(exchanges: readonly Exchange[], secrets: readonly string[]): Leak[] {
  const leaks: Leak[] = [];
  const needles = secrets.filter((s) => s.length >= 8);
  const check = (where: string, url: string, text: string | null | undefined): void => {
    if (!text) return;
    let decoded = text;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      // keep the raw text
    }
    for (const needle of needles) {
      if (text.includes(needle) || decoded.includes(needle)) leaks.push({ where, url: url.slice(0, 160) });
    }
  };
  for (const e of exchanges) {
    check("request URL", e.url, e.url);
    check("request headers", e.url, JSON.stringify(e.requestHeaders));
    check("request body", e.url, e.requestBody);
    check("response headers", e.url, e.responseHeaders ? JSON.stringify(e.responseHeaders) : undefined);
    check("response body", e.url, e.responseBody);
  }
  return leaks;
}
