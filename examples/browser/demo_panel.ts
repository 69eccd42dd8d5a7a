/// <reference lib="dom" />
/**
 * The demo's side panel, the same on every page: who is signed in (at the IdP and at ArcGIS), the steps of this
 * page load (sign-in, the one-time ArcGIS link bounce, the layer), what the browser holds and when it is renewed,
 * and the sign-out and unlink buttons.
 *
 * @module
 */
import type { OidcClient } from "./oidc_client.ts";
import type { PageConfig, TestHooks } from "./page_common.ts";

/** A step of the page load. */
export type StepName = "signin" | "link" | "layer";
/** Its state. */
export type StepState = "pending" | "active" | "done" | "skipped" | "failed";

const _MARKS: Record<StepState, string> = {
  pending: "○",
  active: "◔",
  done: "✓",
  skipped: "–",
  failed: "✗",
};

function _el(id: string): HTMLElement | null {
  return document.getElementById(id);
}

/** Sets the text of the element `id`, if the page has it. */
export function setText(id: string, text: string): void {
  const el = _el(id);
  if (el) el.textContent = text;
}

/** Shows a step's state and detail, and records it in the hooks. */
export function setStep(hooks: TestHooks, step: StepName, state: StepState, detail: string): void {
  hooks.steps[step] = `${state}: ${detail}`;
  const el = _el(`step-${step}`);
  if (!el) return;
  el.dataset.state = state;
  const mark = el.querySelector(".mark");
  const text = el.querySelector(".detail");
  if (mark) mark.textContent = _MARKS[state];
  if (text) text.textContent = detail;
}

/** `12:03:04` in local time. */
export function clockTime(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** `4 min 10 s` (or `expired`). */
export function duration(ms: number): string {
  if (ms <= 0) return "now";
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
}

/** What the panel's lifetime rows show. */
export interface Lifetime {
  /** What the browser holds, e.g. "ArcGIS token (registerToken)" or "session cookie". */
  label: string;
  /** When it expires, epoch ms. */
  expires: number;
  /** When the page renews it, epoch ms. */
  renewAt: number;
  /** What renewing means, e.g. "re-registration" or "new session". */
  renewal: string;
}

let _lifetime: Lifetime | undefined;
let _ticker: ReturnType<typeof setInterval> | undefined;

/** Shows (and keeps counting down) what the browser holds and when it is renewed. */
export function showLifetime(hooks: TestHooks, lifetime: Lifetime): void {
  _lifetime = lifetime;
  hooks.lifetime = { ...lifetime };
  const render = (): void => {
    const l = _lifetime;
    if (l === undefined) return;
    const now = Date.now();
    setText("held", l.label);
    setText("expires", `${clockTime(l.expires)} (in ${duration(l.expires - now)})`);
    setText("renewal", `${l.renewal} at ${clockTime(l.renewAt)} (in ${duration(l.renewAt - now)})`);
  };
  render();
  _ticker ??= setInterval(render, 1000);
}

/** The IdP user from the ID token (name and e-mail), shown in the panel. */
export function showIdpUser(oidc: OidcClient, hooks: TestHooks): void {
  const idToken = oidc.tokens()?.idToken;
  let label = "signed in";
  if (idToken !== undefined) {
    try {
      const payload = JSON.parse(atob(idToken.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
      label = [payload.name, payload.email ? `<${payload.email}>` : undefined].filter(Boolean).join(" ") ||
        String(payload.sub);
    } catch {
      // keep the generic label
    }
  }
  hooks.idpUser = label;
  setText("idp-user", label);
}

/** The ArcGIS user, shown in the panel. */
export function showArcGISUser(userId: string, hooks: TestHooks): void {
  hooks.arcgisUser = userId;
  setText("arcgis-user", userId);
}

/** Options for {@link wireButtons}. */
export interface ButtonActions {
  /** Ends what the page holds at the broker (session cookie, registered credentials); may be a no-op. */
  endBrokerState(): Promise<void>;
  /** The page's IdP client. */
  oidc: OidcClient;
  /** The config (the IdP's end-session endpoint and client id, the broker URL). */
  config: PageConfig;
  /** Resolves to the current IdP access token. */
  getIdpToken(): Promise<string>;
}

/**
 * Sign out: ends the broker state, forgets the IdP tokens and signs out at the IdP (RP-initiated logout; the IdP
 * then tells the broker over the back channel). Unlink: removes the ArcGIS link at the broker and reloads, so the
 * next load shows the link bounce again.
 */
export function wireButtons(hooks: TestHooks, actions: ButtonActions): void {
  const here = new URL(location.href);
  here.search = "";
  here.hash = "";
  _el("sign-out")?.addEventListener("click", async () => {
    setText("status", "Signing out…");
    await actions.endBrokerState().catch(() => {});
    actions.oidc.signOut();
    const end = new URL(actions.config.endSessionEndpoint);
    end.searchParams.set("client_id", actions.config.clientId);
    end.searchParams.set("post_logout_redirect_uri", here.href);
    location.assign(end.href);
  });
  _el("unlink")?.addEventListener("click", async () => {
    setText("status", "Unlinking the ArcGIS account…");
    try {
      const response = await fetch(`${actions.config.brokerUrl.replace(/\/$/, "")}/link`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${await actions.getIdpToken()}` },
        credentials: "omit",
      });
      if (!response.ok) throw new Error(`The broker answered ${response.status}`);
      await actions.endBrokerState().catch(() => {});
      hooks.status = "unlinked";
      location.assign(here.href);
    } catch (error) {
      setText("status", `Cannot unlink: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}

/** Pauses so the user sees the step before the browser leaves for ArcGIS. */
export function linger(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
