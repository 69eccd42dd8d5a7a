/// <reference lib="dom" />
/**
 * What the pages that keep ArcGIS tokens out of the browser share: the one-time ArcGIS link (a visible bounce to
 * ArcGIS and back), the session cookie for map clients that load tiles with `<img>`, and the ArcGIS user name
 * from the demo host (which asks the broker on the server; the page never sees an ArcGIS token).
 *
 * @module
 */
import { linger, setStep } from "./demo_panel.ts";
import type { TestHooks } from "./page_common.ts";

/** How long the page shows the link step before it leaves for ArcGIS, ms. */
const LINK_STEP_PAUSE_MS = 900;

async function _post(
  url: string,
  getIdpToken: () => Promise<string>,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${await getIdpToken()}`, "content-type": "application/json" },
    body: JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  const json = await response.json().catch(() => ({})) as Record<string, unknown>;
  return { status: response.status, json };
}

/** Options for {@link ensureLinked}. */
export interface EnsureLinkedOptions {
  /** The broker's mount URL. */
  brokerUrl: string;
  /** Resolves to the current IdP access token. */
  getIdpToken: () => Promise<string>;
  /** A proxied URL to probe with the bearer (the layer's metadata). */
  probeUrl: string;
  /** The page's hooks. */
  hooks: TestHooks;
}

/**
 * Makes sure the user's ArcGIS account is linked, with no ArcGIS token reaching the page: completes a link on
 * return (`?linkId=`), then probes the layer through the proxy; a `link_required` answer shows the link step and
 * starts the one-time link (`POST {broker}/link`, then a full-page redirect to ArcGIS's authorize page, which
 * signs the user in through the organization's IdP without a prompt and comes back through the broker). Resolves
 * to false when the page is navigating away.
 */
export async function ensureLinked(options: EnsureLinkedOptions): Promise<boolean> {
  const { brokerUrl, getIdpToken, hooks } = options;
  const here = new URL(location.href);
  const linkId = here.searchParams.get("linkId");
  if (linkId !== null) {
    here.searchParams.delete("linkId");
    history.replaceState(history.state, "", here.href);
    setStep(hooks, "link", "active", "Back from ArcGIS: completing the link…");
    const done = await _post(`${brokerUrl}/link/complete`, getIdpToken, { linkId });
    if (done.status !== 200) throw new Error(`Cannot complete the ArcGIS link: ${String(done.json.error)}`);
    const mark = sessionStorage.getItem("demo:link-started");
    const took = mark === null ? "" : ` (the bounce took ${Math.max(0, Date.now() - Number(mark))} ms)`;
    sessionStorage.removeItem("demo:link-started");
    setStep(
      hooks,
      "link",
      "done",
      `Linked as ${String(done.json.userId)}: ArcGIS → IdP → broker, no prompt${took}`,
    );
  }
  const probe = await fetch(options.probeUrl, {
    headers: { authorization: `Bearer ${await getIdpToken()}` },
    cache: "no-store",
    credentials: "omit",
  });
  const body = await probe.json().catch(() => ({})) as Record<string, unknown>;
  if (probe.status === 200) {
    if (linkId === null) setStep(hooks, "link", "skipped", "Already linked (no bounce needed)");
    return true;
  }
  if (probe.status !== 403 || body.error !== "link_required") {
    throw new Error(`The broker's proxy answered ${probe.status} ${String(body.error ?? "")}`);
  }
  if (linkId !== null) throw new Error("The ArcGIS link could not be completed");
  setStep(hooks, "link", "active", "One-time link: going to ArcGIS sign-in (SSO through your IdP)…");
  const started = await _post(`${brokerUrl}/link`, getIdpToken, { returnTo: here.href });
  if (started.status !== 200 || typeof started.json.authorizeUrl !== "string") {
    throw new Error(`Cannot start the ArcGIS link: ${String(started.json.error)}`);
  }
  await linger(LINK_STEP_PAUSE_MS);
  sessionStorage.setItem("demo:link-started", String(Date.now()));
  location.assign(started.json.authorizeUrl);
  return false;
}

/** A session cookie the page keeps alive. */
export interface SessionCookie {
  /** When the current session ends, epoch ms. */
  readonly expires: number;
  /** When the page asks for the next one, epoch ms. */
  readonly renewAt: number;
  /** Sessions made so far. */
  readonly count: number;
  /** Ends the session at the broker (`DELETE {broker}/session`). */
  end(): Promise<void>;
}

/** Options for {@link startSessionCookie}. */
export interface SessionCookieOptions {
  /** The broker's mount URL (same origin as the page: the cookie is `SameSite=Strict`, `HttpOnly`). */
  brokerUrl: string;
  /** Resolves to the current IdP access token. */
  getIdpToken: () => Promise<string>;
  /** Renew this long before the session ends, ms. @default 60000 */
  renewMarginMs?: number;
  /** Called after each new session. */
  onSession?: (cookie: SessionCookie) => void;
  /** Called when renewing fails. */
  onError?: (error: unknown) => void;
}

/**
 * Starts a broker session (`POST {broker}/session` with the IdP bearer: the broker sets the cookie) and starts a
 * new one before it ends, for map clients that cannot send headers.
 */
export async function startSessionCookie(options: SessionCookieOptions): Promise<SessionCookie> {
  const margin = options.renewMarginMs ?? 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const state = { expires: 0, renewAt: 0, count: 0 };
  const cookie: SessionCookie = {
    get expires() {
      return state.expires;
    },
    get renewAt() {
      return state.renewAt;
    },
    get count() {
      return state.count;
    },
    async end() {
      if (timer !== undefined) clearTimeout(timer);
      await fetch(`${options.brokerUrl}/session`, { method: "DELETE", credentials: "same-origin" });
    },
  };
  const renew = async (): Promise<void> => {
    const response = await fetch(`${options.brokerUrl}/session`, {
      method: "POST",
      headers: { authorization: `Bearer ${await options.getIdpToken()}` },
      credentials: "same-origin",
      cache: "no-store",
    });
    const body = await response.json().catch(() => ({})) as Record<string, unknown>;
    if (response.status !== 200 || typeof body.expires !== "number") {
      throw new Error(`Cannot start a broker session: ${response.status} ${String(body.error ?? "")}`);
    }
    state.expires = body.expires;
    state.renewAt = Math.max(
      Date.now() + 1000,
      body.expires - Math.min(margin, (body.expires - Date.now()) / 2),
    );
    state.count++;
    options.onSession?.(cookie);
    timer = setTimeout(
      () => void renew().catch((error) => options.onError?.(error)),
      state.renewAt - Date.now(),
    );
  };
  await renew();
  return cookie;
}

/** The ArcGIS user behind the proxy, from the demo host (`GET /demo/arcgis-user`), or undefined. */
export async function fetchArcGISUser(
  getIdpToken: () => Promise<string>,
): Promise<{ userId: string; expires: number } | undefined> {
  const response = await fetch(new URL("./demo/arcgis-user", location.href), {
    headers: { authorization: `Bearer ${await getIdpToken()}` },
    cache: "no-store",
  });
  if (!response.ok) return undefined;
  const body = await response.json() as Record<string, unknown>;
  return typeof body.userId === "string" && typeof body.expires === "number"
    ? { userId: body.userId, expires: body.expires }
    : undefined;
}
