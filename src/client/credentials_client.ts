/**
 * The browser helper for the ArcGIS Maps SDK: fetches `GET {brokerUrl}/credentials` with the app's IdP token,
 * registers every credential with `IdentityManager.registerToken`, and registers fresh ones before the earliest
 * expiry (the SDK never refreshes registered tokens, and a 498 on one opens the sign-in dialog). When the broker
 * answers `link_required`, it starts the one-time ArcGIS link (`POST {brokerUrl}/link`, then a full-page
 * redirect) and, back on the page with `?linkId=`, completes it (`POST {brokerUrl}/link/complete`) and removes the
 * parameter from the address bar.
 *
 * Dependency-free: it does not import `@arcgis/core`; pass the SDK's `IdentityManager` (or anything with
 * `registerToken`). Timers, clock, fetch and navigation are injectable for tests.
 *
 * @module
 */
import {
  DEFAULT_MIN_REFRESH_DELAY_MS,
  DEFAULT_REFRESH_MARGIN_MS,
  DEFAULT_RETRY_DELAY_MS,
  LINK_ID_PARAM,
  MAX_DELAY_MS,
} from "./constants.ts";

/** What `IdentityManager.registerToken` takes. */
export interface RegisterTokenProperties {
  /** Portal REST root (`…/sharing/rest`) or a server's `…/rest/services`. */
  server: string;
  /** The ArcGIS token. */
  token: string;
  /** Expiry, epoch ms. */
  expires?: number;
  /** Whether the token must only travel over https. */
  ssl?: boolean;
  /** The ArcGIS user name. */
  userId?: string;
}

/** The part of the Maps SDK's `IdentityManager` the helper uses. */
export interface IdentityManagerLike {
  /** Registers (or replaces) the token of one server. */
  registerToken(properties: RegisterTokenProperties): void;
}

/** One credential of a `/credentials` answer. */
export interface BrokerCredential {
  /** Portal REST root or `…/rest/services`. */
  server: string;
  /** The ArcGIS token. */
  token: string;
  /** Expiry, epoch ms. */
  expires: number;
  /** Whether the token must only travel over https. */
  ssl: boolean;
  /** The ArcGIS user name. */
  userId: string;
}

/** The body of `GET {brokerUrl}/credentials`. */
export interface BrokerCredentials {
  /** The ArcGIS user. */
  userId: string;
  /** Earliest expiry, epoch ms. */
  expires: number;
  /** One per portal and server. */
  credentials: BrokerCredential[];
}

/** Passed to {@link ArcGISCredentialsClientOptions.onLinkRequired}. */
export interface LinkRequiredEvent {
  /** True when this page load already tried to complete a link (a new automatic redirect could loop). */
  afterFailedLink: boolean;
  /** Starts the link flow (navigates away on success). */
  link(): Promise<void>;
}

/** Where the helper reads and changes the page address (injectable for tests). */
export interface Navigation {
  /** The current address. */
  href(): string;
  /** Navigates to `url` (full page). */
  assign(url: string): void;
  /** Changes the address without navigating (history.replaceState). */
  replace(url: string): void;
}

/** Timer functions (injectable for tests). */
export interface Timers {
  /** Schedules `callback` after `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): unknown;
  /** Cancels a timer. */
  clearTimeout(handle: unknown): void;
}

/** Options for {@link createArcGISCredentialsClient}. */
export interface ArcGISCredentialsClientOptions {
  /** Where the broker's routes are mounted, e.g. `https://app.example.com/arcgis`. */
  brokerUrl: string;
  /** Resolves to the current IdP access token (the app's OIDC client keeps it fresh). */
  getIdpToken: () => Promise<string>;
  /** The Maps SDK's `IdentityManager` (`esri/identity/IdentityManager`). */
  identityManager: IdentityManagerLike;
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Re-register this long before the earliest expiry. @default 120000 */
  refreshMarginMs?: number;
  /** Never re-fetch sooner than this after a success. @default 10000 */
  minRefreshDelayMs?: number;
  /** Retry delay after a failure without `Retry-After`. @default 30000 */
  retryDelayMs?: number;
  /**
   * Called when the broker answers `link_required`. Return `false` to keep the page (show your own "Connect
   * ArcGIS" button and call `event.link()` or `client.link()` later); otherwise the helper starts the link flow,
   * unless this page load already failed to complete one (then it only calls this hook and `onError`).
   */
  onLinkRequired?: (event: LinkRequiredEvent) => boolean | void | Promise<boolean | void>;
  /** Called with every failure (network, broker errors, a failed link completion). */
  onError?: (error: Error) => void;
  /** Called after each successful registration. */
  onCredentials?: (credentials: BrokerCredentials) => void;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
  /** Timers. @default globalThis.setTimeout / clearTimeout */
  timers?: Timers;
  /** Page address access. @default `location` and `history` */
  navigation?: Navigation;
}

/** The running helper. */
export interface ArcGISCredentialsClient {
  /** Completes a pending link (when the address has `?linkId=`), then fetches and registers credentials. */
  start(): Promise<void>;
  /** Fetches and registers credentials now (concurrent calls share one fetch), and reschedules. */
  refresh(): Promise<void>;
  /** Starts the link flow: asks the broker for the ArcGIS authorize URL and navigates there. */
  link(): Promise<void>;
  /** Stops the timer; nothing runs after this. */
  stop(): void;
  /** The last credentials registered, if any. */
  readonly current: BrokerCredentials | undefined;
}

/** A failed broker call. */
export class BrokerRequestError extends Error {
  /** HTTP status (0 for network errors). */
  readonly status: number;
  /** The broker's `error` code, e.g. `link_required`, `invalid_token`. */
  readonly error: string | undefined;
  /** `Retry-After`, in seconds, when sent. */
  readonly retryAfterSeconds: number | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed, for logs.
   * @param status HTTP status, or 0 for a network error.
   * @param error The broker's `error` code, when the answer had one.
   * @param retryAfterSeconds `Retry-After`, in seconds, when sent.
   */
  constructor(message: string, status: number, error?: string, retryAfterSeconds?: number) {
    super(message);
    this.name = "BrokerRequestError";
    this.status = status;
    this.error = error;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

function _defaultNavigation(): Navigation {
  const g = globalThis as unknown as {
    location?: { href: string; assign(url: string): void };
    history?: { state: unknown; replaceState(data: unknown, unused: string, url: string): void };
  };
  return {
    href: () => g.location?.href ?? "",
    assign: (url) => g.location?.assign(url),
    replace: (url) => g.history?.replaceState(g.history.state, "", url),
  };
}

function _defaultTimers(): Timers {
  return {
    setTimeout: (callback, delayMs) => globalThis.setTimeout(callback, delayMs),
    clearTimeout: (handle) => globalThis.clearTimeout(handle as number),
  };
}

function _isCredential(value: unknown): value is BrokerCredential {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return typeof c.server === "string" && typeof c.token === "string" && typeof c.expires === "number" &&
    Number.isFinite(c.expires) && typeof c.ssl === "boolean" && typeof c.userId === "string";
}

function _isCredentials(value: unknown): value is BrokerCredentials {
  if (typeof value !== "object" || value === null) return false;
  const body = value as Record<string, unknown>;
  return typeof body.userId === "string" && Array.isArray(body.credentials) && body.credentials.length > 0 &&
    body.credentials.every(_isCredential);
}

class CredentialsClient implements ArcGISCredentialsClient {
  readonly #base: string;
  readonly #getIdpToken: () => Promise<string>;
  readonly #identityManager: IdentityManagerLike;
  readonly #fetch: typeof fetch;
  readonly #marginMs: number;
  readonly #minDelayMs: number;
  readonly #retryDelayMs: number;
  readonly #onLinkRequired: ArcGISCredentialsClientOptions["onLinkRequired"];
  readonly #onError: (error: Error) => void;
  readonly #onCredentials: (credentials: BrokerCredentials) => void;
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #navigation: Navigation;
  #timer: unknown;
  #stopped = false;
  #inFlight: Promise<void> | undefined;
  #linkCompletionFailed = false;
  #current: BrokerCredentials | undefined;

  constructor(options: ArcGISCredentialsClientOptions) {
    if (typeof options.brokerUrl !== "string" || options.brokerUrl === "") {
      throw new TypeError('Invalid option "brokerUrl": expected the URL where the broker is mounted');
    }
    if (typeof options.identityManager?.registerToken !== "function") {
      throw new TypeError('Invalid option "identityManager": expected an object with registerToken()');
    }
    this.#base = options.brokerUrl.replace(/\/+$/, "");
    this.#getIdpToken = options.getIdpToken;
    this.#identityManager = options.identityManager;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#marginMs = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.#minDelayMs = options.minRefreshDelayMs ?? DEFAULT_MIN_REFRESH_DELAY_MS;
    this.#retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.#onLinkRequired = options.onLinkRequired;
    this.#onError = options.onError ?? (() => {});
    this.#onCredentials = options.onCredentials ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? _defaultTimers();
    this.#navigation = options.navigation ?? _defaultNavigation();
  }

  get current(): BrokerCredentials | undefined {
    return this.#current;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#completePendingLink();
    await this.refresh();
  }

  stop(): void {
    this.#stopped = true;
    this.#clearTimer();
  }

  refresh(): Promise<void> {
    this.#inFlight ??= this.#refreshOnce().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async link(): Promise<void> {
    const answer = await this.#call("POST", "/link", { returnTo: this.#navigation.href() });
    const authorizeUrl = (answer as { authorizeUrl?: unknown }).authorizeUrl;
    if (typeof authorizeUrl !== "string" || !/^https?:\/\//i.test(authorizeUrl)) {
      throw new BrokerRequestError("Broker answered without an authorize URL", 200);
    }
    this.stop();
    this.#navigation.assign(authorizeUrl);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#clearTimer();
    const delay = Math.min(Math.max(0, delayMs), MAX_DELAY_MS);
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.refresh().catch(() => {});
    }, delay);
  }

  async #call(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
    const token = await this.#getIdpToken();
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await this.#fetch(`${this.#base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        cache: "no-store",
        credentials: "omit",
        redirect: "error",
      });
    } catch {
      throw new BrokerRequestError("Cannot reach the broker", 0);
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error =
        typeof json === "object" && json !== null && typeof (json as { error?: unknown }).error === "string"
          ? (json as { error: string }).error
          : undefined;
      const retryAfter = Number(response.headers.get("retry-after") ?? NaN);
      throw new BrokerRequestError(
        `Broker answered ${response.status}${error !== undefined ? ` ${error}` : ""}`,
        response.status,
        error,
        Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      );
    }
    return json;
  }

  async #completePendingLink(): Promise<void> {
    const href = this.#navigation.href();
    if (href === "" || !URL.canParse(href)) return;
    const url = new URL(href);
    const linkId = url.searchParams.get(LINK_ID_PARAM);
    if (linkId === null) return;
    url.searchParams.delete(LINK_ID_PARAM);
    // Take the one-time id out of the address bar (and history) first, whatever happens next.
    this.#navigation.replace(url.href);
    try {
      await this.#call("POST", "/link/complete", { linkId });
    } catch (error) {
      this.#linkCompletionFailed = true;
      this.#onError(error as Error);
    }
  }

  async #refreshOnce(): Promise<void> {
    if (this.#stopped) return;
    let credentials: BrokerCredentials;
    try {
      const body = await this.#call("GET", "/credentials");
      if (!_isCredentials(body)) throw new BrokerRequestError("Broker answered an unexpected body", 200);
      credentials = body;
    } catch (error) {
      if (error instanceof BrokerRequestError && error.error === "link_required") {
        await this.#linkRequired();
        return;
      }
      this.#onError(error as Error);
      const retryMs = error instanceof BrokerRequestError && error.retryAfterSeconds !== undefined
        ? error.retryAfterSeconds * 1000
        : this.#retryDelayMs;
      this.#schedule(this.#retryDelay(retryMs));
      throw error;
    }
    if (this.#stopped) return;
    for (const c of credentials.credentials) {
      this.#identityManager.registerToken({
        server: c.server,
        token: c.token,
        expires: c.expires,
        ssl: c.ssl,
        userId: c.userId,
      });
    }
    this.#current = credentials;
    this.#onCredentials(credentials);
    this.#schedule(Math.max(this.#dueInMs(credentials), this.#minDelayMs));
  }

  /** After a failure: `retryMs`, but early enough for one more try before the registered tokens expire. */
  #retryDelay(retryMs: number): number {
    let delay = retryMs;
    if (this.#current !== undefined) {
      const earliest = Math.min(...this.#current.credentials.map((c) => c.expires));
      const deadline = earliest - this.#now() - this.#minDelayMs;
      if (deadline > 0) delay = Math.min(delay, deadline);
    }
    return Math.max(delay, Math.min(retryMs, this.#minDelayMs));
  }

  #dueInMs(credentials: BrokerCredentials): number {
    const earliest = Math.min(...credentials.credentials.map((c) => c.expires));
    return earliest - this.#marginMs - this.#now();
  }

  async #linkRequired(): Promise<void> {
    const event: LinkRequiredEvent = { afterFailedLink: this.#linkCompletionFailed, link: () => this.link() };
    const decision = this.#onLinkRequired === undefined ? undefined : await this.#onLinkRequired(event);
    if (decision === false) return;
    if (this.#linkCompletionFailed) {
      this.#onError(new BrokerRequestError("ArcGIS link could not be completed", 403, "link_required"));
      return;
    }
    await this.link();
  }
}

/**
 * Creates the browser helper. Nothing runs until `start()`.
 *
 * @param options The broker URL, how to get the IdP token, the `IdentityManager` and the refresh timing.
 * @returns The client: `start()` registers every credential and re-registers before expiry, `stop()` ends that.
 *
 * @example Register the broker's credentials with the Maps SDK
 * ```ts
 * import IdentityManager from "@arcgis/core/identity/IdentityManager.js";
 * import { createArcGISCredentialsClient } from "arcgis-token-broker/client";
 *
 * const client = createArcGISCredentialsClient({
 *   brokerUrl: "/arcgis",
 *   getIdpToken: () => oidc.getAccessToken(),
 *   identityManager: IdentityManager,
 * });
 * await client.start();
 * ```
 */
export function createArcGISCredentialsClient(
  options: ArcGISCredentialsClientOptions,
): ArcGISCredentialsClient {
  return new CredentialsClient(options);
}
