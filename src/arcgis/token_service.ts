/**
 * The ArcGIS token service: turns a verified identity and the profiles the rules gave it into ArcGIS tokens, for
 * the browser (`credentials`, `browserToken`) and for the proxy (`tokenForUrl`).
 *
 * Modes: `user` (a linked named user, see `link_service.ts` and `user_tokens.ts`), `app` (`client_credentials`), `account`
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
import type { ProfileChoice } from "../policy/profile_choice.ts";
import type {
  ArcGISCredential,
  CredentialsResponse,
  Identity,
  TokenForUrlOptions,
  TokenService,
  UpstreamToken,
} from "../types.ts";
import { failureFromEnvelope, upstreamError } from "./_errors.ts";
import { profileSecret } from "./_secrets.ts";
import { REFRESH_AHEAD_SAFETY_MARGINS } from "./constants.ts";
import type { Federation } from "./federation.ts";
import type { ApiResult, IssuedToken, PortalApi } from "./portal_api.ts";
import type { CachedToken, Flights, TokenCache } from "./token_cache.ts";
import type { TokenAudience, TokenKeys } from "./token_keys.ts";
import type { UserTokens } from "./user_tokens.ts";
import { type ArcGISUrls, classifyTarget, type ServerRoot } from "../config/arcgis_urls.ts";

/** What {@link createTokenService} works with (built once by `createArcGISServices`). */
export interface TokenServiceParts {
  /** The validated config. */
  config: BrokerConfig;
  /** Platform dependencies. */
  deps: Deps;
  /** Secret values by environment-variable name. */
  secrets: Secrets;
  /** Let concurrent requests of this isolate share one in-flight ArcGIS call per cache key. */
  shareInFlight: boolean;
  /** Portal and server URLs. */
  urls: ArcGISUrls;
  /** Portal calls. */
  api: PortalApi;
  /** The token cache. */
  cache: TokenCache;
  /** Federation checks of servers. */
  federation: Federation;
  /** Cache keys. */
  keys: TokenKeys;
  /** Picks the profile of a browser request. */
  choice: ProfileChoice;
  /** Tokens of linked identities (`user` profiles). */
  userTokens: UserTokens;
}

/** The token service, with maintenance helpers. */
export interface ArcGISTokenService extends TokenService {
  /** Removes every cached token of `identity` under `profile` (portal and servers, browser and proxy). */
  purge(identity: Identity, profile: string): Promise<void>;
}

type _Audience = TokenAudience;

interface _Call {
  flights: Flights;
  memo: Map<string, CachedToken>;
}

interface _Fetch {
  forceRefresh?: boolean;
  rejectedToken?: string;
  refreshFloorMs?: number;
  minRemainingMs?: number;
}

/** True when `url` is the portal (`urls.portal`) or below it, segment-wise and case-insensitively. */
function _underPortal(urls: ArcGISUrls, url: URL): boolean {
  const portal = new URL(urls.portal);
  const root = portal.pathname.replace(/\/+$/, "").toLowerCase();
  const path = url.pathname.toLowerCase();
  return url.host.toLowerCase() === portal.host.toLowerCase() &&
    (root === "" || path === root || path.startsWith(`${root}/`));
}

class ArcGISTokens implements ArcGISTokenService {
  readonly #config: BrokerConfig;
  readonly #deps: Deps;
  readonly #secrets: Secrets;
  readonly #urls: ArcGISUrls;
  readonly #api: PortalApi;
  readonly #cache: TokenCache;
  readonly #federation: Federation;
  readonly #keys: TokenKeys;
  readonly #choice: ProfileChoice;
  readonly #userTokens: UserTokens;
  readonly #shareInFlight: boolean;
  readonly #flights: Flights = new Map();
  readonly #refreshAheadMs: number;
  readonly #refreshFloorMs: number;

  constructor(parts: TokenServiceParts) {
    this.#config = parts.config;
    this.#deps = parts.deps;
    this.#secrets = parts.secrets;
    this.#shareInFlight = parts.shareInFlight;
    this.#urls = parts.urls;
    this.#api = parts.api;
    this.#cache = parts.cache;
    this.#federation = parts.federation;
    this.#keys = parts.keys;
    this.#choice = parts.choice;
    this.#userTokens = parts.userTokens;
    this.#refreshAheadMs = parts.config.cache.safetyMarginSeconds * 1000 * REFRESH_AHEAD_SAFETY_MARGINS;
    this.#refreshFloorMs = parts.config.arcgis.forcedRefreshFloorSeconds * 1000;
  }

  #call(): _Call {
    return { flights: this.#shareInFlight ? this.#flights : new Map(), memo: new Map() };
  }

  #profile(name: string): ProfileConfig | undefined {
    return Object.hasOwn(this.#config.profiles, name) ? this.#config.profiles[name] : undefined;
  }

  #apiKeyToken(name: string, profile: Extract<ProfileConfig, { mode: "apiKey" }>): CachedToken {
    return {
      token: profileSecret(this.#secrets, profile.apiKeyEnv),
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
        clientSecret: profileSecret(this.#secrets, profile.clientSecretEnv),
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
        password: profileSecret(this.#secrets, profile.passwordEnv),
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
        return this.#userTokens.fetchPortalToken(identity, name);
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
    const key = await this.#keys.key(identity, name, audience, "portal");
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
    const key = await this.#keys.key(identity, name, audience, server.root);
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
    const name = this.#choice.forBrowser(profiles);
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
    targets: readonly string[] = [],
  ): Promise<ArcGISCredential> {
    const server = this.#tokenTarget(targets);
    const name = this.#choice.forBrowser(profiles);
    const call = this.#call();
    if (server !== undefined) {
      const token = await this.#serverToken(identity, name, "browser", server, call);
      return this.#credential(server.restServices, token);
    }
    return this.#credential(this.#urls.sharingRest, await this.#portalToken(identity, name, "browser", call));
  }

  /**
   * The one ArcGIS target that every value of `targets` (`resource` and `audience` of RFC 8693) names: a
   * configured server, or (undefined) the portal, from its own path down. Anything else, a fragment, or two
   * values naming different targets is `ERR_INVALID_TARGET`.
   */
  #tokenTarget(targets: readonly string[]): ServerRoot | undefined {
    const invalid = () =>
      new BrokerError(
        "ERR_INVALID_TARGET",
        "The resource or audience is not an ArcGIS server of this broker",
      );
    let chosen: ServerRoot | "portal" | undefined;
    for (const value of targets) {
      if (typeof value !== "string" || !URL.canParse(value)) throw invalid();
      const url = new URL(value);
      if (url.hash !== "") throw invalid();
      const target = classifyTarget(this.#urls, url, this.#targetOptions());
      let named: ServerRoot | "portal";
      if (target?.kind === "server") named = target.server;
      else if (target?.kind === "portal" && _underPortal(this.#urls, url)) named = "portal";
      else throw invalid();
      if (chosen !== undefined && chosen !== named) {
        throw new BrokerError(
          "ERR_INVALID_TARGET",
          "The resource and audience values name different targets",
        );
      }
      chosen = named;
    }
    return chosen === "portal" ? undefined : chosen;
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
    const forced = options.forceRefresh === true || options.rejectedToken !== undefined;
    const fetch: _Fetch = {
      ...(options.forceRefresh === true ? { forceRefresh: true } : {}),
      ...(options.rejectedToken !== undefined ? { rejectedToken: options.rejectedToken } : {}),
      ...(forced ? { refreshFloorMs: this.#refreshFloorMs } : {}),
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

  async replaceRejected(
    identity: Identity,
    profile: string,
    url: URL,
    rejectedToken: string,
  ): Promise<UpstreamToken | null> {
    const token = await this.tokenForUrl(identity, profile, url, { forceRefresh: true, rejectedToken });
    if (token.token !== rejectedToken) return token;
    this.#deps.log({
      level: "warn",
      msg: "Upstream refused a token younger than arcgis.forcedRefreshFloorSeconds: not replaced",
      profile,
    });
    return null;
  }

  async purge(identity: Identity, profile: string): Promise<void> {
    if (this.#profile(profile) === undefined) return;
    const keys = await this.#keys.identityKeys(profile, identity, ["proxy", "browser"]);
    await Promise.all(keys.map((key) => this.#cache.purge(key)));
  }
}

/** Creates the {@link ArcGISTokenService} over parts built by `createArcGISServices`. */
export function createTokenService(parts: TokenServiceParts): ArcGISTokenService {
  return new ArcGISTokens(parts);
}
