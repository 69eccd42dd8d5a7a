/**
 * The one way the validator talks to an IdP: a GET for a small JSON document with a timeout, a body-size cap,
 * no redirects and https only (plain http only on loopback, and only when the issuer allows it).
 *
 * @module
 */
import { isLoopbackUrl } from "../util/loopback.ts";
import { readCapped } from "../util/bytes.ts";

/** Options for {@link fetchJson}. */
export interface FetchJsonOptions {
  /** Abort the request (headers and body) after this long. */
  timeoutMs: number;
  /** Refuse bodies larger than this. */
  maxBodyBytes: number;
  /** Allow `http:` on loopback hosts. */
  allowInsecureLoopback: boolean;
  /** What is fetched, for messages (`discovery`, `JWKS`). */
  what: string;
  /** POST this form instead of a GET (RFC 7662 introspection), with these extra headers. */
  form?: { body: URLSearchParams; headers?: Record<string, string> };
}

/** An IdP document could not be fetched; the message names the reason, never a secret. */
export class IdpFetchError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdpFetchError";
  }
}

/** Throws unless `url` is an absolute https URL (or loopback http when allowed) without credentials. */
export function checkIdpUrl(url: string, allowInsecureLoopback: boolean, what: string): URL {
  if (!URL.canParse(url)) throw new IdpFetchError(`Invalid ${what} URL`);
  const parsed = new URL(url);
  const insecureOk = parsed.protocol === "http:" && allowInsecureLoopback && isLoopbackUrl(parsed);
  if (parsed.protocol !== "https:" && !insecureOk) throw new IdpFetchError(`Refusing non-https ${what} URL`);
  if (parsed.username !== "" || parsed.password !== "") {
    throw new IdpFetchError(`Refusing ${what} URL with credentials`);
  }
  return parsed;
}

async function _readCapped(
  response: Response,
  maxBodyBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const declared = response.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > maxBodyBytes) {
    await response.body?.cancel().catch(() => {});
    throw new IdpFetchError(`Body larger than ${maxBodyBytes} bytes`);
  }
  let body: Uint8Array | undefined;
  try {
    body = await readCapped(response.body, maxBodyBytes, { signal });
  } catch (error) {
    if (signal.aborted) throw new IdpFetchError("Timed out reading the body");
    throw error;
  }
  if (body === undefined) throw new IdpFetchError(`Body larger than ${maxBodyBytes} bytes`);
  return body;
}

const _utf8 = new TextDecoder("utf-8", { fatal: true });

/** GETs `url` (or POSTs `options.form`) and parses its body as JSON (still `unknown`: the caller's schema decides). */
export async function fetchJson(
  fetchFn: typeof fetch,
  url: string,
  options: FetchJsonOptions,
): Promise<unknown> {
  const { timeoutMs, maxBodyBytes, allowInsecureLoopback, what } = options;
  const target = checkIdpUrl(url, allowInsecureLoopback, what);
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new IdpFetchError(`Timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    let response: Response;
    try {
      const form = options.form;
      response = await fetchFn(target.href, {
        method: form === undefined ? "GET" : "POST",
        redirect: "manual",
        signal: controller.signal,
        headers: form === undefined ? { accept: "application/json" } : {
          accept: "application/json",
          "content-type": "application/x-www-form-urlencoded",
          ...form.headers,
        },
        ...(form === undefined ? {} : { body: form.body.toString() }),
      });
    } catch (error) {
      const reason = controller.signal.aborted ? `timed out after ${timeoutMs} ms` : "network error";
      throw new IdpFetchError(`Cannot fetch ${what}: ${reason}`, { cause: error });
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw new IdpFetchError(`Cannot fetch ${what}: status ${response.status}`);
    }
    let text: string;
    try {
      text = _utf8.decode(await _readCapped(response, maxBodyBytes, controller.signal));
    } catch (error) {
      if (error instanceof IdpFetchError) throw new IdpFetchError(`Cannot fetch ${what}: ${error.message}`);
      throw new IdpFetchError(`Cannot fetch ${what}: unreadable body`, { cause: error });
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new IdpFetchError(`Cannot fetch ${what}: body is not JSON`, { cause: error });
    }
  } finally {
    clearTimeout(timer);
  }
}
