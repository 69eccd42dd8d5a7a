/**
 * A minimal browser for the fake portal's sign-in tests: one cookie jar (per host name, as browsers keep cookies
 * across ports), redirects followed one hop at a time and recorded, and self-submitting forms submitted.
 *
 * @module
 */

/** One hop of a navigation. */
export interface Hop {
  /** Request URL. */
  url: string;
  /** Method. */
  method: string;
  /** Answer status. */
  status: number;
}

/** Where a navigation ended. */
export interface Landing {
  /** Every request made, in order. */
  hops: Hop[];
  /** The last URL (a redirect target that `stopAt` matched is not requested). */
  url: string;
  /** Status of the last answer (0 when stopped before requesting). */
  status: number;
  /** Body of the last answer. */
  body: string;
}

interface _Cookie {
  value: string;
  path: string;
}

const _MAX_HOPS = 20;

/** A cookie-keeping, redirect-following client. */
export class Agent {
  readonly #jar = new Map<string, Map<string, _Cookie>>();

  #cookieHeader(url: URL): string {
    const cookies = this.#jar.get(url.hostname);
    if (cookies === undefined) return "";
    return [...cookies].filter(([, c]) => url.pathname.startsWith(c.path)).map(([n, c]) => `${n}=${c.value}`)
      .join("; ");
  }

  #take(url: URL, response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((part) => part.trim());
      const index = pair.indexOf("=");
      if (index < 1) continue;
      const name = pair.slice(0, index);
      const value = pair.slice(index + 1);
      const path = attributes.find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
      const expired = attributes.some((a) => /^max-age=0$/i.test(a)) ||
        attributes.some((a) => a.toLowerCase().startsWith("expires=") && Date.parse(a.slice(8)) < Date.now());
      const cookies = this.#jar.get(url.hostname) ?? new Map<string, _Cookie>();
      if (expired || value === "") cookies.delete(name);
      else cookies.set(name, { value, path });
      this.#jar.set(url.hostname, cookies);
    }
  }

  /** Cookie names held for a host. */
  cookies(hostname: string): string[] {
    return [...(this.#jar.get(hostname)?.keys() ?? [])];
  }

  /** One request; the cookies it sets are kept. */
  async request(url: string, init: { method?: string; form?: URLSearchParams } = {}): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = { cookie: this.#cookieHeader(target) };
    if (init.form !== undefined) headers["content-type"] = "application/x-www-form-urlencoded";
    const response = await fetch(target, {
      method: init.method ?? "GET",
      headers,
      body: init.form,
      redirect: "manual",
    });
    this.#take(target, response);
    return response;
  }

  /**
   * Navigates like a browser: follows redirects, submits a page whose form submits itself (a `<script>` calling
   * `submit()`), and stops at the first URL `stopAt` matches (not requested), or at a page.
   */
  async navigate(url: string, options: { stopAt?: (url: URL) => boolean } = {}): Promise<Landing> {
    const hops: Hop[] = [];
    let next: { url: string; method: string; form?: URLSearchParams } = { url, method: "GET" };
    for (let i = 0; i < _MAX_HOPS; i++) {
      if (options.stopAt?.(new URL(next.url))) return { hops, url: next.url, status: 0, body: "" };
      const response = await this.request(next.url, { method: next.method, form: next.form });
      hops.push({ url: next.url, method: next.method, status: response.status });
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        next = { url: new URL(location, next.url).href, method: "GET" };
        continue;
      }
      const body = await response.text();
      const form = _autoSubmitForm(body, next.url);
      if (form === undefined) return { hops, url: next.url, status: response.status, body };
      next = { url: form.action, method: "POST", form: form.fields };
    }
    throw new Error(`Navigation did not end after ${_MAX_HOPS} hops: ${hops.map((h) => h.url).join(" → ")}`);
  }
}

/** The form of a page that submits itself, with its hidden fields. */
function _autoSubmitForm(
  html: string,
  base: string,
): { action: string; fields: URLSearchParams } | undefined {
  if (!/\.submit\(\)/.test(html)) return undefined;
  const action = /<form[^>]*action="([^"]+)"/i.exec(html)?.[1];
  if (action === undefined) return undefined;
  const fields = new URLSearchParams();
  for (const match of html.matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
    const name = /name="([^"]*)"/i.exec(match[0])?.[1];
    const value = /value="([^"]*)"/i.exec(match[0])?.[1] ?? "";
    if (name !== undefined) fields.set(name, value);
  }
  return { action: new URL(action.replaceAll("&amp;", "&"), base).href, fields };
}
