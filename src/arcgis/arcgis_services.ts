/**
 * Builds the ArcGIS side of the broker from one config: the token service and the link service, over shared
 * parts (URLs, portal calls, the sealed token cache, cache keys, link storage). Neither service calls the other:
 * both derive cache keys through `token_keys.ts`, and the `user` mode's tokens come from `user_tokens.ts`.
 *
 * @module
 */
import type { Secrets } from "../config/load.ts";
import type { BrokerConfig } from "../config/schema.ts";
import type { Deps } from "../deps.ts";
import { createProfileChoice } from "../policy/profile_choice.ts";
import type { AtomicKvStore } from "../store/kv_store.ts";
import { createSealer, parseKeyring, type Sealer } from "../store/sealer.ts";
import type { LinkService } from "../types.ts";
import { checkProfileSecrets } from "./_secrets.ts";
import { UserMode } from "./_user_mode.ts";
import { createArcGISHttp } from "./arcgis_http.ts";
import { createFederation } from "./federation.ts";
import { createLinkService } from "./link_service.ts";
import { createLinkStore } from "./link_store.ts";
import { createPortalApi } from "./portal_api.ts";
import { createTokenCache } from "./token_cache.ts";
import { createTokenKeys } from "./token_keys.ts";
import { type ArcGISTokenService, createTokenService } from "./token_service.ts";
import { createArcGISUrls } from "../config/arcgis_urls.ts";
import { createUserTokens } from "./user_tokens.ts";

/** Options for {@link createArcGISServices}. */
export interface ArcGISServicesOptions {
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

/** The ArcGIS services of one broker. */
export interface ArcGISServices {
  /** ArcGIS tokens for browsers and the proxy. */
  tokens: ArcGISTokenService;
  /** The link flow of `user` profiles. */
  links: LinkService;
}

/**
 * Creates the token service and the link service of `config`.
 *
 * @param config The validated config.
 * @param deps The platform's dependencies.
 * @param options Secrets, sealer, coordinator and in-flight sharing.
 * @returns Both services.
 * @throws {BrokerError} `ERR_CONFIG_INVALID` when a secret the profiles name is missing, the sealing keyring is
 * missing or invalid (there is no plaintext fallback). A browser token lifetime too short to cache is refused by
 * the config schema.
 */
export function createArcGISServices(
  config: BrokerConfig,
  deps: Deps,
  options: ArcGISServicesOptions,
): ArcGISServices {
  checkProfileSecrets(config, options.secrets);
  const sealer = options.sealer ?? createSealer(parseKeyring(options.secrets[config.sealing.keysEnv] ?? ""));
  const urls = createArcGISUrls(config.arcgis);
  const http = createArcGISHttp({
    fetch: deps.fetch,
    timeoutMs: config.arcgis.fetchTimeoutMs,
    log: deps.log,
  });
  const api = createPortalApi(http, urls, deps.now);
  const cache = createTokenCache({
    store: deps.store,
    sealer,
    now: deps.now,
    safetyMarginSeconds: config.cache.safetyMarginSeconds,
    negativeCacheSeconds: config.cache.negativeCacheSeconds,
    log: deps.log,
    waitUntil: deps.waitUntil,
  });
  const keys = createTokenKeys({
    profiles: config.profiles,
    sharingRest: urls.sharingRest,
    servers: urls.servers,
    sealer,
    ...(options.keyMemoMaxEntries !== undefined ? { memoMaxEntries: options.keyMemoMaxEntries } : {}),
  });
  const choice = createProfileChoice(config.profiles);
  const mode = new UserMode(config, options.secrets);
  const linkStore = createLinkStore({
    store: deps.store,
    ...(options.coordinator !== undefined ? { coordinator: options.coordinator } : {}),
    sealer,
    now: deps.now,
    log: deps.log,
  });
  const federation = createFederation({
    urls,
    api,
    ...(config.arcgis.orgId !== undefined ? { orgId: config.arcgis.orgId } : {}),
    now: deps.now,
    log: deps.log,
  });
  if (urls.isArcGISOnline && config.arcgis.orgId === undefined) {
    deps.log({
      level: "warn",
      msg: "arcgis.orgId is not set: links are not checked against the organization",
    });
  }
  const userTokens = createUserTokens({ mode, api, links: linkStore, now: deps.now, log: deps.log });
  const tokens = createTokenService({
    config,
    deps,
    secrets: options.secrets,
    shareInFlight: options.shareInFlight ?? true,
    urls,
    api,
    cache,
    federation,
    keys,
    choice,
    userTokens,
  });
  const links = createLinkService({
    config,
    mode,
    choice,
    urls,
    api,
    links: linkStore,
    cache,
    keys,
    now: deps.now,
    log: deps.log,
  });
  return { tokens, links };
}
