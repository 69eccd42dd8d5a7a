/**
 * The ArcGIS token service: turns a verified identity and the profiles the rules gave it into ArcGIS tokens, for
 * the browser (`credentials`, `browserToken`) and for the proxy (`tokenForUrl`).
 *
 * Modes: `user` (a linked named user, see `user_links.ts`), `app` (`client_credentials`), `account`
 * (`generateToken` with username and password, optionally referer-bound) and `apiKey` (a secret, never sent to a
 * browser). Shared identities (`app`, `account`) reach a browser only with `exposeToBrowser`, and then as a
 * separate short-lived token (`browserTokenMaxSeconds`); the proxy uses the longer-lived one.
 *
 * Federated servers get their own token from the portal (`generateToken` with `token` + `serverUrl`), cached per
 * server root, after a one-time check that the server belongs to the portal (`federation.ts`). ArcGIS Online
 * hosted services of the org take the portal token.
 *
 * @module
 */
import type { Secrets } from "../config/load.ts";
import type {
  AccountProfileConfig,
  AppProfileConfig,
  BrokerConfig,
  ProfileConfig,
} from "../config/schema.ts";
import type { Deps } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { AtomicKvStore } from "../store/kv_store.ts";
import { createSealer, parseKeyring, type Sealer } from "../store/sealer.ts";
import { DEFAULT_MEMORY_MAX_ENTRIES, KEY_NAMESPACES } from "../store/constants.ts";
import type {
  ArcGISCredential,
  CredentialsResponse,
  Identity,
  TokenForUrlOptions,
  TokenService,
  UpstreamToken,
} from "../types.ts";
import { failureFromEnvelope, upstreamError } from "./_errors.ts";
import { createArcGISHttp } from "./arcgis_http.ts";
import { REFRESH_AHEAD_SAFETY_MARGINS } from "./constants.ts";
import { createFederation, type Federation } from "./federation.ts";
import { createLinkStore } from "./link_store.ts";
import { type ApiResult, createPortalApi, type IssuedToken, type PortalApi } from "./portal_api.ts";
import { type CachedToken, createTokenCache, type Flights, type TokenCache } from "./token_cache.ts";
import { createUserLinks, type UserLinks } from "./user_links.ts";
import { type ArcGISUrls, classifyTarget, createArcGISUrls, type ServerRoot } from "./urls.ts";

/** Options for {@link createTokenService}. */
export interface TokenServiceOptions {
  /** Secret values by environment-variable name (`resolveSecrets`). */
  secrets: Secrets;
  /** Seals stored values and derives cache keys. @default a sealer over the keyring in `sealing.keysEnv` */
  sealer?: Sealer;
  /**
   * A strongly consistent store for single-use link `state`, pending links, links and the rotation lock (Deno KV,
   * a Durable Object). @default `deps.store` (atomic only when that store is)
   */
  coordinator?: AtomicKvStore;
  /**
   * Let concurrent requests of this isolate share one in-flight ArcGIS call per cache key. Pass `false` on
   * Workers, where a promise must not cross requests: calls then share in-flight work only within one call.
   * @default true
   */
  shareInFlight?: boolean;
  /**
   * Derived cache keys remembered in isolate memory (HMAC-SHA256 is deterministic: the same fields always give the
   * same key), so a warm request does not compute one; 0 disables. @default 10000
   */
  keyMemoMaxEntries?: number;
}

/** The token service, with maintenance helpers. */
export interface ArcGISTokenService extends TokenService {
  /** Removes every cached token of `identity` under `profile` (portal and servers, browser and proxy). */
  purge(identity: Identity, profile: string): Promise<void>;
}

type _Audience = "proxy" | "browser";

interface _Call {
  flights: Flights;
  memo: Map<string, CachedToken>;
}

interface _Fetch {
  forceRefresh?: boolean;
  rejectedToken?: string;
  minRemainingMs?: number;
}

function _profileSecret(secrets: Secrets, name: string): string {
  const value = secrets[name];
  if (typeof value !== "string" || value === "") {
    throw new BrokerError("ERR_CONFIG_INVALID", `Missing secret: set the environment variable "${name}"`);
  }
  return value;
}

function _checkSecrets(config: BrokerConfig, secrets: Secrets): void {
  for (const profile of Object.values(config.profiles)) {
    if (profile.mode === "app") _profileSecret(secrets, profile.clientSecretEnv);
    if (profile.mode === "account") _profileSecret(secrets, profile.passwordEnv);
    if (profile.mode === "apiKey") _profileSecret(secrets, profile.apiKeyEnv);
    if (profile.mode === "user" && profile.clientSecretEnv !== undefined) {
      _profileSecret(secrets, profile.clientSecretEnv);
    }
  }
}

/** An injective text for a list of fields: each one prefixed with its length. */
function _lengthPrefixed(fields: readonly string[]): string {
  let out = "";
  for (const field of fields) out += `${field.length}:${field}`;
  return out;
}

function _mayReachBrowser(profile: ProfileConfig): boolean {
  if (profile.mode === "user") return true;
  if (profile.mode === "apiKey") return false;
  return profile.exposeToBrowser;
}

class ArcGISTokens implements ArcGISTokenService {
  readonly #config: BrokerConfig;
  readonly #deps: Deps;
  readonly #secrets: Secrets;
  readonly #sealer: Sealer;
  readonly #urls: ArcGISUrls;
  readonly #api: PortalApi;
  readonly #cache: TokenCache;
  readonly #federation: Federation;
  readonly #users: UserLinks;
  readonly #shareInFlight: boolean;
  readonly #flights: Flights = new Map();
  readonly #refreshAheadMs: number;
  /** Profile fingerprints by name (the config does not change for the life of the service). */
  readonly #fingerprints = new Map<string, string>();
  /** Derived cache keys by their length-prefixed fields, least recently used first. */
  readonly #derivedKeys = new Map<string, string>();
  readonly #keyMemoMaxEntries: number;

  constructor(config: BrokerConfig, deps: Deps, options: TokenServiceOptions) {
    this.#config = config;
    this.#deps = deps;
    this.#secrets = options.secrets;
    _checkSecrets(config, options.secrets);
    this.#sealer = options.sealer ??
      createSealer(parseKeyring(options.secrets[config.sealing.keysEnv] ?? ""));
    this.#shareInFlight = options.shareInFlight ?? true;
    this.#keyMemoMaxEntries = options.keyMemoMaxEntries ?? DEFAULT_MEMORY_MAX_ENTRIES;
    if (!Number.isSafeInteger(this.#keyMemoMaxEntries) || this.#keyMemoMaxEntries < 0) {
      throw new BrokerError(
        "ERR_CONFIG_INVALID",
        `Invalid token service option "keyMemoMaxEntries": expected an integer of at least 0`,
      );
    }
    this.#urls = createArcGISUrls(config.arcgis);
    const http = createArcGISHttp({
      fetch: deps.fetch,
      timeoutMs: config.arcgis.fetchTimeoutMs,
      log: deps.log,
    });
    this.#api = createPortalApi(http, this.#urls, deps.now);
    this.#refreshAheadMs = config.cache.safetyMarginSeconds * 1000 * REFRESH_AHEAD_SAFETY_MARGINS;
    this.#cache = createTokenCache({
      store: deps.store,
      sealer: this.#sealer,
      now: deps.now,
      safetyMarginSeconds: config.cache.safetyMarginSeconds,
      negativeCacheSeconds: config.cache.negativeCacheSeconds,
      log: deps.log,
      waitUntil: deps.waitUntil,
    });
    this.#federation = createFederation({
      urls: this.#urls,
      api: this.#api,
      ...(config.arcgis.orgId !== undefined ? { orgId: config.arcgis.orgId } : {}),
      now: deps.now,
      log: deps.log,
    });
    this.#users = createUserLinks({
      config,
      secrets: options.secrets,
      urls: this.#urls,
      api: this.#api,
      links: createLinkStore({
        store: deps.store,
        ...(options.coordinator !== undefined ? { coordinator: options.coordinator } : {}),
        sealer: this.#sealer,
        now: deps.now,
        log: deps.log,
      }),
      cache: this.#cache,
      tokenKeys: (profile, identity) => this.#identityKeys(profile, identity, ["proxy"]),
      now: deps.now,
      log: deps.log,
    });
    if (this.#urls.isArcGISOnline && config.arcgis.orgId === undefined) {
      deps.log({
        level: "warn",
        msg: "arcgis.orgId is not set: links are not checked against the organization",
      });
    }
  }

  #call(): _Call {
    return { flights: this.#shareInFlight ? this.#flights : new Map(), memo: new Map() };
  }

  #profile(name: string): ProfileConfig | undefined {
    return Object.hasOwn(this.#config.profiles, name) ? this.#config.profiles[name] : undefined;
  }

  #browserProfile(profiles: readonly string[]): [string, ProfileConfig] {
    for (const name of profiles) {
      const profile = this.#profile(name);
      if (profile !== undefined && _mayReachBrowser(profile)) return [name, profile];
    }
    throw new BrokerError(
      "ERR_INSUFFICIENT_SCOPE",
      "No credential profile for browsers applies to this identity",
    );
  }

  #fingerprint(name: string, profile: ProfileConfig): string {
    let fingerprint = this.#fingerprints.get(name);
    if (fingerprint === undefined) {
      fingerprint = `${this.#urls.sharingRest}\n${JSON.stringify(profile)}`;
      this.#fingerprints.set(name, fingerprint);
    }
    return fingerprint;
  }

  /** The cache key; synchronously when it is remembered. */
  #key(identity: Identity, name: string, audience: _Audience, target: string): string | Promise<string> {
    const profile = this.#profile(name)!;
    const user = profile.mode === "user";
    // Every field but the fingerprint, which is a function of the profile name here.
    const memoKey = user
      ? _lengthPrefixed(["user", name, identity.issuer, identity.subject, target])
      : _lengthPrefixed(["shared", name, audience, target]);
    const known = this.#derivedKeys.get(memoKey);
    if (known !== undefined) {
      this.#derivedKeys.delete(memoKey);
      this.#derivedKeys.set(memoKey, known);
      return known;
    }
    return this.#deriveKey(memoKey, identity, name, profile, audience, target);
  }

  async #deriveKey(
    memoKey: string,
    identity: Identity,
    name: string,
    profile: ProfileConfig,
    audience: _Audience,
    target: string,
  ): Promise<string> {
    const user = profile.mode === "user";
    const fingerprint = this.#fingerprint(name, profile);
    const fields = user
      ? ["user", name, fingerprint, identity.issuer, identity.subject, target]
      : ["shared", name, fingerprint, audience, target];
    const key = await this.#sealer.deriveCacheKey(KEY_NAMESPACES.token, fields);
    if (this.#keyMemoMaxEntries > 0) {
      this.#derivedKeys.delete(memoKey);
      this.#derivedKeys.set(memoKey, key);
      if (this.#derivedKeys.size > this.#keyMemoMaxEntries) {
        const oldest = this.#derivedKeys.keys().next();
        if (!oldest.done) this.#derivedKeys.delete(oldest.value);
      }
    }
    return key;
  }

  async #identityKeys(name: string, identity: Identity, audiences: readonly _Audience[]): Promise<string[]> {
    const keys: string[] = [];
    for (const audience of audiences) {
      keys.push(await this.#key(identity, name, audience, "portal"));
      for (const server of this.#urls.servers) {
        keys.push(await this.#key(identity, name, audience, server.root));
      }
    }
    return keys;
  }

  #apiKeyToken(name: string, profile: Extract<ProfileConfig, { mode: "apiKey" }>): CachedToken {
    return {
      token: _profileSecret(this.#secrets, profile.apiKeyEnv),
      expires: this.#deps.now() + profile.assumedLifetimeSeconds * 1000,
      ssl: this.#urls.sharingRest.startsWith("https:"),
      userId: name,
    };
  }

  #issuedOrThrow(result: ApiResult<IssuedToken>, what: string): IssuedToken {
    if (!result.ok) throw failureFromEnvelope(result.error, what);
    if (result.value.expires <= this.#deps.now()) {
      throw upstreamError("ERR_ARCGIS_BAD_GATEWAY", `${what}: ArcGIS issued an expired token`);
    }
    return result.value;
  }

  async #fetchApp(name: string, profile: AppProfileConfig, audience: _Audience): Promise<CachedToken> {
    const browser = audience === "browser";
    const started = this.#deps.now();
    const issued = this.#issuedOrThrow(
      await this.#api.clientCredentials({
        clientId: profile.clientId,
        clientSecret: _profileSecret(this.#secrets, profile.clientSecretEnv),
        expirationMinutes: browser
          ? Math.ceil(profile.browserTokenMaxSeconds / 60)
          : profile.expirationMinutes,
      }),
      "Cannot get an ArcGIS app token",
    );
    const expires = browser
      ? Math.min(issued.expires, started + profile.browserTokenMaxSeconds * 1000)
      : issued.expires;
    return { token: issued.token, expires, ssl: issued.ssl, userId: name };
  }

  async #fetchAccount(profile: AccountProfileConfig, audience: _Audience): Promise<CachedToken> {
    const browser = audience === "browser";
    const started = this.#deps.now();
    const issued = this.#issuedOrThrow(
      await this.#api.generateToken({
        username: profile.username,
        password: _profileSecret(this.#secrets, profile.passwordEnv),
        ...(profile.referer !== undefined ? { referer: profile.referer } : {}),
        expirationMinutes: browser
          ? Math.ceil(profile.browserTokenMaxSeconds / 60)
          : profile.expirationMinutes,
      }),
      "Cannot get an ArcGIS account token",
    );
    const expires = browser
      ? Math.min(issued.expires, started + profile.browserTokenMaxSeconds * 1000)
      : issued.expires;
    return {
      token: issued.token,
      expires,
      ssl: issued.ssl,
      userId: profile.username,
      ...(profile.referer !== undefined ? { referer: profile.referer } : {}),
    };
  }

  #fetchPortal(
    identity: Identity,
    name: string,
    profile: ProfileConfig,
    audience: _Audience,
  ): Promise<CachedToken> {
    switch (profile.mode) {
      case "user":
        return this.#users.fetchPortalToken(identity, name);
      case "app":
        return this.#fetchApp(name, profile, audience);
      case "account":
        return this.#fetchAccount(profile, audience);
      case "apiKey":
        return Promise.resolve(this.#apiKeyToken(name, profile));
    }
  }

  async #portalToken(
    identity: Identity,
    name: string,
    audience: _Audience,
    call: _Call,
    fetch: _Fetch = {},
  ): Promise<CachedToken> {
    const profile = this.#profile(name)!;
    if (profile.mode === "apiKey") return this.#apiKeyToken(name, profile);
    const key = await this.#key(identity, name, audience, "portal");
    return await this.#cache.obtain(key, () => this.#fetchPortal(identity, name, profile, audience), {
      flights: call.flights,
      memo: call.memo,
      ...fetch,
    });
  }

  async #serverToken(
    identity: Identity,
    name: string,
    audience: _Audience,
    server: ServerRoot,
    call: _Call,
    fetch: _Fetch = {},
  ): Promise<CachedToken> {
    const profile = this.#profile(name)!;
    if (profile.mode === "apiKey") return this.#apiKeyToken(name, profile);
    if (server.agolHosted) {
      const portal = await this.#portalToken(identity, name, audience, call, fetch);
      await this.#federation.ensure(server, portal);
      return portal;
    }
    const key = await this.#key(identity, name, audience, server.root);
    const fetcher = async (): Promise<CachedToken> => {
      // The server token never outlives the portal token it comes from: start from one that is not about to
      // be refreshed.
      const portalFetch = { minRemainingMs: this.#refreshAheadMs };
      let portal = await this.#portalToken(identity, name, audience, call, portalFetch);
      await this.#federation.ensure(server, portal);
      let result = await this.#generateServerToken(portal, server);
      if (!result.ok && (result.error.code === 498 || result.error.code === 499)) {
        // The portal token was refused (revoked, or its family rotated elsewhere): replace it once.
        portal = await this.#portalToken(identity, name, audience, call, {
          ...portalFetch,
          rejectedToken: portal.token,
        });
        result = await this.#generateServerToken(portal, server);
      }
      const issued = this.#issuedOrThrow(result, "Cannot get an ArcGIS server token");
      return {
        token: issued.token,
        expires: Math.min(issued.expires, portal.expires),
        ssl: issued.ssl || portal.ssl,
        userId: portal.userId,
        ...(portal.referer !== undefined ? { referer: portal.referer } : {}),
        ...(portal.capped === true ? { capped: true } : {}),
      };
    };
    return await this.#cache.obtain(key, fetcher, { flights: call.flights, memo: call.memo, ...fetch });
  }

  #generateServerToken(portal: CachedToken, server: ServerRoot): Promise<ApiResult<IssuedToken>> {
    const minutes = Math.max(1, Math.ceil((portal.expires - this.#deps.now()) / 60_000));
    return this.#api.generateServerToken({
      token: portal.token,
      serverUrl: server.root,
      expirationMinutes: minutes,
      ...(portal.referer !== undefined ? { referer: portal.referer } : {}),
    });
  }

  #credential(server: string, token: CachedToken): ArcGISCredential {
    return { server, token: token.token, expires: token.expires, ssl: token.ssl, userId: token.userId };
  }

  async credentials(identity: Identity, profiles: readonly string[]): Promise<CredentialsResponse> {
    const [name] = this.#browserProfile(profiles);
    const call = this.#call();
    const portal = await this.#portalToken(identity, name, "browser", call);
    const servers = await Promise.all(
      this.#urls.servers.map(async (server) => {
        const token = await this.#serverToken(identity, name, "browser", server, call);
        return this.#credential(server.restServices, token);
      }),
    );
    const credentials = [this.#credential(this.#urls.sharingRest, portal), ...servers];
    return {
      userId: portal.userId,
      expires: Math.min(...credentials.map((c) => c.expires)),
      credentials,
    };
  }

  async browserToken(
    identity: Identity,
    profiles: readonly string[],
    resource?: string,
  ): Promise<ArcGISCredential> {
    const [name] = this.#browserProfile(profiles);
    const call = this.#call();
    if (resource === undefined) {
      return this.#credential(
        this.#urls.sharingRest,
        await this.#portalToken(identity, name, "browser", call),
      );
    }
    if (typeof resource !== "string" || !URL.canParse(resource)) {
      throw new BrokerError("ERR_INVALID_TARGET", "The resource is not an ArcGIS server of this broker");
    }
    const target = classifyTarget(this.#urls, new URL(resource), this.#targetOptions());
    if (target === undefined) {
      throw new BrokerError("ERR_INVALID_TARGET", "The resource is not an ArcGIS server of this broker");
    }
    if (target.kind === "server") {
      const token = await this.#serverToken(identity, name, "browser", target.server, call);
      return this.#credential(target.server.restServices, token);
    }
    return this.#credential(this.#urls.sharingRest, await this.#portalToken(identity, name, "browser", call));
  }

  #targetOptions(): { orgId?: string; allowInsecureLoopback: boolean } {
    return {
      allowInsecureLoopback: this.#config.arcgis.allowInsecureLoopback,
      ...(this.#config.arcgis.orgId !== undefined ? { orgId: this.#config.arcgis.orgId } : {}),
    };
  }

  async tokenForUrl(
    identity: Identity,
    profile: string,
    url: URL,
    options: TokenForUrlOptions = {},
  ): Promise<UpstreamToken> {
    if (this.#profile(profile) === undefined) {
      throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "Unknown credential profile");
    }
    const target = classifyTarget(this.#urls, url, this.#targetOptions());
    if (target === undefined) {
      throw new BrokerError("ERR_TARGET_NOT_ALLOWED", "No ArcGIS token applies to the target");
    }
    const fetch: _Fetch = {
      ...(options.forceRefresh === true ? { forceRefresh: true } : {}),
      ...(options.rejectedToken !== undefined ? { rejectedToken: options.rejectedToken } : {}),
    };
    const call = this.#call();
    const token = target.kind === "server"
      ? await this.#serverToken(identity, profile, "proxy", target.server, call, fetch)
      : await this.#portalToken(identity, profile, "proxy", call, fetch);
    return {
      token: token.token,
      expires: token.expires,
      profile,
      ...(token.referer !== undefined ? { referer: token.referer } : {}),
    };
  }

  startLink(
    identity: Identity,
    profiles: readonly string[],
    returnTo?: string,
  ): Promise<{ authorizeUrl: string }> {
    return this.#users.startLink(identity, profiles, returnTo);
  }

  linkCallback(query: URLSearchParams): Promise<string> {
    return this.#users.linkCallback(query);
  }

  completeLink(identity: Identity, linkId: string): Promise<{ userId: string }> {
    return this.#users.completeLink(identity, linkId);
  }

  unlink(identity: Identity, _profiles: readonly string[]): Promise<{ unlinked: boolean }> {
    return this.#users.unlink(identity);
  }

  async purge(identity: Identity, profile: string): Promise<void> {
    if (this.#profile(profile) === undefined) return;
    const keys = await this.#identityKeys(profile, identity, ["proxy", "browser"]);
    await Promise.all(keys.map((key) => this.#cache.purge(key)));
  }
}

/**
 * Creates the {@link ArcGISTokenService}. Throws `ERR_CONFIG_INVALID` when a secret the profiles name is missing
 * or the sealing keyring is missing or invalid (there is no plaintext fallback).
 */
export function createTokenService(
  config: BrokerConfig,
  deps: Deps,
  options: TokenServiceOptions,
): ArcGISTokenService {
  return new ArcGISTokens(config, deps, options);
}
