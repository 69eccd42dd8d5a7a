/**
 * The `user` credential mode: linking an IdP identity to an ArcGIS named user once (authorization code + PKCE),
 * then minting access tokens from the stored refresh token and rotating it before it expires.
 *
 * Link flow (checklist L-01…L-05): `startLink` stores a single-use `state` bound to the issuer and subject (10
 * minutes) and returns the authorize URL; `linkCallback` consumes the `state`, exchanges the code with the PKCE
 * verifier, checks `community/self` (org, `idpUsername`), and stores a *pending* link (5 minutes) whose one-time
 * `linkId` goes back to an allowlisted return URL; `completeLink` commits it only for the identity that started
 * it. Whatever is refused has its tokens revoked.
 *
 * Rotation: a link's refresh token is due for rotation at T = expiry − `rotationMarginSeconds` (at most half its
 * lifetime). Access tokens of the current refresh-token family are never handed out with an expiry after
 * T − safety margin (they are marked `capped`); the rotation (`exchange_refresh_token`, which kills every access
 * token of the old family) happens at the first refresh from T − 2 × safety margin on, when every token of the
 * old family has at most the safety margin left: the broker no longer reuses such tokens and the browser helper
 * (refresh margin ≥ safety margin) has replaced them already.
 *
 * @module
 */
import type { Secrets } from "../config/load.ts";
import type { BrokerConfig, UserProfileConfig } from "../config/schema.ts";
import type { LogFn } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { Identity } from "../types.ts";
import { type ArcGISErrorInfo, failureFromEnvelope } from "./_errors.ts";
import { pkceChallenge, randomId } from "./_random.ts";
import { ROTATION_BUSY_RETRY_AFTER_SECONDS } from "./constants.ts";
import type { LinkRecord, LinkStore } from "./link_store.ts";
import type { IssuedRefreshToken, PortalApi } from "./portal_api.ts";
import { resolveReturnUrl } from "./return_url.ts";
import type { CachedToken, TokenCache } from "./token_cache.ts";
import type { ArcGISUrls } from "./urls.ts";

/** Options for {@link createUserLinks}. */
export interface UserLinksOptions {
  /** The validated config. */
  config: BrokerConfig;
  /** Secret values by env-var name. */
  secrets: Secrets;
  /** Portal URLs. */
  urls: ArcGISUrls;
  /** Portal calls. */
  api: PortalApi;
  /** Link storage. */
  links: LinkStore;
  /** The token cache (seeded on link, purged on unlink). */
  cache: TokenCache;
  /** Cache keys of an identity's tokens under a profile: the portal's first, then one per server. */
  tokenKeys(profile: string, identity: Identity): Promise<string[]>;
  /** Clock, epoch ms. */
  now: () => number;
  /** Log hook. */
  log: LogFn;
}

/** The `user` mode. */
export interface UserLinks {
  /** See `TokenService.startLink`. */
  startLink(
    identity: Identity,
    profiles: readonly string[],
    returnTo?: string,
  ): Promise<{ authorizeUrl: string }>;
  /** See `TokenService.linkCallback`. */
  linkCallback(query: URLSearchParams): Promise<string>;
  /** See `TokenService.completeLink`. */
  completeLink(identity: Identity, linkId: string): Promise<{ userId: string }>;
  /** Removes the identity's links under every `user` profile and revokes them. */
  unlink(identity: Identity): Promise<{ unlinked: boolean }>;
  /** Fetches a portal access token for a linked identity (the token cache's fetcher). */
  fetchPortalToken(identity: Identity, profileName: string): Promise<CachedToken>;
}

function _linkInvalid(message: string, reason: string): BrokerError {
  return new BrokerError("ERR_LINK_INVALID", message, { details: { reason } });
}

/** True when an `oauth2/token` error says the refresh token itself is dead (expired, revoked, rotated). */
function _refreshTokenDead(error: ArcGISErrorInfo): boolean {
  return error.code === 498 || error.oauthError === "invalid_grant";
}

class ArcGISUserLinks implements UserLinks {
  readonly #config: BrokerConfig;
  readonly #secrets: Secrets;
  readonly #urls: ArcGISUrls;
  readonly #api: PortalApi;
  readonly #links: LinkStore;
  readonly #cache: TokenCache;
  readonly #tokenKeys: (profile: string, identity: Identity) => Promise<string[]>;
  readonly #now: () => number;
  readonly #log: LogFn;
  readonly #marginMs: number;

  constructor(options: UserLinksOptions) {
    this.#config = options.config;
    this.#secrets = options.secrets;
    this.#urls = options.urls;
    this.#api = options.api;
    this.#links = options.links;
    this.#cache = options.cache;
    this.#tokenKeys = options.tokenKeys;
    this.#now = options.now;
    this.#log = options.log;
    this.#marginMs = options.config.cache.safetyMarginSeconds * 1000;
  }

  #profile(name: string): UserProfileConfig | undefined {
    const profile = Object.hasOwn(this.#config.profiles, name) ? this.#config.profiles[name] : undefined;
    return profile?.mode === "user" ? profile : undefined;
  }

  #secret(profile: UserProfileConfig): string | undefined {
    return profile.clientSecretEnv === undefined ? undefined : this.#secrets[profile.clientSecretEnv];
  }

  #linkRoute(): string {
    return `${this.#config.mountPath.replace(/\/+$/, "")}/link`;
  }

  #linkRequired(): BrokerError {
    return new BrokerError("ERR_LINK_REQUIRED", "Link an ArcGIS account first", {
      details: { link: this.#linkRoute() },
    });
  }

  /** T: when a refresh token issued at `issuedAt` and expiring at `expires` is due for rotation. */
  #rotateAt(profile: UserProfileConfig, issuedAt: number, expires: number): number {
    const lifetimeMs = Math.max(0, expires - issuedAt);
    return expires - Math.min(profile.rotationMarginSeconds * 1000, lifetimeMs / 2);
  }

  #linkFrom(
    profile: UserProfileConfig,
    issued: IssuedRefreshToken,
    issuedAt: number,
    previous?: LinkRecord,
  ): LinkRecord {
    const lifetimeMs = previous !== undefined
      ? previous.refreshExpires - previous.refreshIssuedAt
      : profile.refreshTokenExpirationMinutes * 60_000;
    const refreshExpires = issued.refreshExpires ?? issuedAt + lifetimeMs;
    return {
      username: issued.username ?? previous?.username ?? "",
      refreshToken: issued.refreshToken,
      refreshIssuedAt: issuedAt,
      refreshExpires,
      rotateAt: this.#rotateAt(profile, issuedAt, refreshExpires),
      ssl: issued.ssl,
    };
  }

  /** An access token of `link`'s family as handed out: capped at T − safety margin. */
  #capped(link: LinkRecord, token: string, expires: number): CachedToken {
    const cap = link.rotateAt - this.#marginMs;
    return {
      token,
      expires: Math.min(expires, cap),
      ssl: link.ssl,
      userId: link.username,
      ...(expires > cap ? { capped: true } : {}),
    };
  }

  async #revoke(profile: UserProfileConfig, tokens: readonly string[]): Promise<void> {
    await Promise.all(tokens.map(async (token) => {
      try {
        const secret = this.#secret(profile);
        await this.#api.revokeToken({
          clientId: profile.clientId,
          ...(secret !== undefined ? { clientSecret: secret } : {}),
          token,
        });
      } catch {
        this.#log({ level: "warn", msg: "Cannot revoke an ArcGIS token" });
      }
    }));
  }

  async startLink(
    identity: Identity,
    profiles: readonly string[],
    returnTo?: string,
  ): Promise<{ authorizeUrl: string }> {
    const profileName = profiles.find((name) => this.#profile(name) !== undefined);
    if (profileName === undefined) {
      throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "No user profile applies to this identity");
    }
    const profile = this.#profile(profileName)!;
    const target = resolveReturnUrl(this.#config.link.returnUrls, returnTo);
    let idpUsername: string | undefined;
    if (profile.idpUsernameClaim !== undefined) {
      const claim = Object.hasOwn(identity.claims, profile.idpUsernameClaim)
        ? identity.claims[profile.idpUsernameClaim]
        : undefined;
      if (typeof claim !== "string" || claim === "") {
        throw _linkInvalid(
          "Cannot link: the identity lacks the claim the ArcGIS user must match",
          "missing_claim",
        );
      }
      idpUsername = claim;
    }
    const verifier = randomId();
    const state = await this.#links.putState({
      issuer: identity.issuer,
      subject: identity.subject,
      profile: profileName,
      verifier,
      returnTo: target,
      ...(idpUsername !== undefined ? { idpUsername } : {}),
    });
    const url = new URL(this.#urls.endpoint("oauth2/authorize"));
    url.searchParams.set("client_id", profile.clientId);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("redirect_uri", profile.redirectUri);
    url.searchParams.set("state", state);
    url.searchParams.set("code_challenge", await pkceChallenge(verifier));
    url.searchParams.set("code_challenge_method", "S256");
    url.searchParams.set("expiration", String(profile.refreshTokenExpirationMinutes));
    return { authorizeUrl: url.href };
  }

  async linkCallback(query: URLSearchParams): Promise<string> {
    const stateParam = query.get("state");
    if (stateParam === null || stateParam === "" || stateParam.length > 256) {
      throw _linkInvalid("Invalid link callback: missing state", "state");
    }
    const state = await this.#links.takeState(stateParam);
    if (state === null) throw _linkInvalid("Invalid link callback: unknown, used or expired state", "state");
    const profile = this.#profile(state.profile);
    if (profile === undefined) throw _linkInvalid("Invalid link callback: the profile is gone", "profile");
    if (query.get("error") !== null) {
      throw _linkInvalid(
        "ArcGIS sign-in did not complete",
        query.get("error") === "access_denied" ? "access_denied" : "error",
      );
    }
    const code = query.get("code");
    if (code === null || code === "" || code.length > 4096) {
      throw _linkInvalid("Invalid link callback: missing code", "code");
    }
    const secret = this.#secret(profile);
    const issuedAt = this.#now();
    const exchanged = await this.#api.authorizationCode({
      clientId: profile.clientId,
      ...(secret !== undefined ? { clientSecret: secret } : {}),
      code,
      redirectUri: profile.redirectUri,
      codeVerifier: state.verifier,
    });
    if (!exchanged.ok) {
      if (exchanged.error.code !== undefined && exchanged.error.code >= 500) {
        throw failureFromEnvelope(exchanged.error, "Cannot exchange the authorization code");
      }
      throw _linkInvalid("ArcGIS refused the authorization code", "code");
    }
    const issued = exchanged.value;
    const refuse = async (message: string, reason: string): Promise<never> => {
      await this.#revoke(profile, [issued.refreshToken, issued.token]);
      throw _linkInvalid(message, reason);
    };
    let userResult;
    try {
      userResult = await this.#api.communitySelf(issued.token);
    } catch (error) {
      await this.#revoke(profile, [issued.refreshToken, issued.token]);
      throw error;
    }
    if (!userResult.ok) return await refuse("Cannot read the ArcGIS user", "user");
    const user = userResult.value;
    const orgId = this.#config.arcgis.orgId;
    if (orgId !== undefined && user.orgId !== orgId) {
      this.#log({ level: "warn", msg: "Link refused: the ArcGIS user belongs to another organization" });
      return await refuse("The ArcGIS user belongs to another organization", "org_mismatch");
    }
    if (state.idpUsername !== undefined && user.idpUsername !== state.idpUsername) {
      this.#log({ level: "warn", msg: "Link refused: the ArcGIS user does not match the identity" });
      return await refuse("The ArcGIS user does not match the signed-in identity", "identity_mismatch");
    }
    const link = this.#linkFrom(profile, { ...issued, username: user.username }, issuedAt);
    let linkId: string;
    try {
      linkId = await this.#links.putPending({
        issuer: state.issuer,
        subject: state.subject,
        profile: state.profile,
        link,
        accessToken: issued.token,
        accessExpires: issued.expires,
      });
    } catch (error) {
      await this.#revoke(profile, [issued.refreshToken, issued.token]);
      throw error;
    }
    const target = new URL(state.returnTo);
    target.searchParams.set("linkId", linkId);
    return target.href;
  }

  async completeLink(identity: Identity, linkId: string): Promise<{ userId: string }> {
    if (typeof linkId !== "string" || linkId === "" || linkId.length > 256) {
      throw _linkInvalid("Invalid link id", "link_id");
    }
    const pending = await this.#links.takePending(linkId);
    if (pending === null) throw _linkInvalid("Unknown, used or expired link id", "link_id");
    const profile = this.#profile(pending.profile);
    if (pending.issuer !== identity.issuer || pending.subject !== identity.subject || profile === undefined) {
      this.#log({
        level: "warn",
        msg: "Link refused: completed by another identity than the one that started it",
      });
      if (profile !== undefined) {
        await this.#revoke(profile, [pending.link.refreshToken, pending.accessToken]);
      }
      throw _linkInvalid("This link was started by another identity", "identity_mismatch");
    }
    const previous = await this.#links.getLink(pending.profile, identity.issuer, identity.subject);
    await this.#links.putLink(pending.profile, identity.issuer, identity.subject, pending.link);
    const keys = await this.#tokenKeys(pending.profile, identity);
    await Promise.all(keys.map((key) => this.#cache.purge(key)));
    if (previous !== null && previous.refreshToken !== pending.link.refreshToken) {
      await this.#revoke(profile, [previous.refreshToken]);
    }
    // Seed the cache with the access token of the code exchange, so the first /credentials costs no refresh.
    await this.#cache.put(keys[0], this.#capped(pending.link, pending.accessToken, pending.accessExpires));
    return { userId: pending.link.username };
  }

  async unlink(identity: Identity): Promise<{ unlinked: boolean }> {
    let unlinked = false;
    for (const [name, profile] of Object.entries(this.#config.profiles)) {
      if (profile.mode !== "user") continue;
      const link = await this.#links.getLink(name, identity.issuer, identity.subject);
      await this.#links.deleteLink(name, identity.issuer, identity.subject);
      const keys = await this.#tokenKeys(name, identity);
      await Promise.all(keys.map((key) => this.#cache.purge(key)));
      if (link !== null) {
        unlinked = true;
        await this.#revoke(profile, [link.refreshToken]);
      }
    }
    return { unlinked };
  }

  async fetchPortalToken(identity: Identity, profileName: string): Promise<CachedToken> {
    const profile = this.#profile(profileName);
    if (profile === undefined) throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "Unknown user profile");
    const link = await this.#links.getLink(profileName, identity.issuer, identity.subject);
    if (link === null) throw this.#linkRequired();
    return await this.#tokenFrom(identity, profileName, profile, link, true);
  }

  async #dead(identity: Identity, profileName: string): Promise<never> {
    this.#log({ level: "info", msg: "ArcGIS refresh token is no longer valid: link removed" });
    await this.#links.deleteLink(profileName, identity.issuer, identity.subject);
    throw this.#linkRequired();
  }

  async #tokenFrom(
    identity: Identity,
    profileName: string,
    profile: UserProfileConfig,
    link: LinkRecord,
    mayRetry: boolean,
  ): Promise<CachedToken> {
    const now = this.#now();
    if (link.refreshExpires - now <= this.#marginMs) return await this.#dead(identity, profileName);
    if (link.rotateAt - this.#marginMs - now <= this.#marginMs) {
      return await this.#rotate(identity, profileName, profile, link, mayRetry);
    }
    const secret = this.#secret(profile);
    const result = await this.#api.refreshToken({
      clientId: profile.clientId,
      ...(secret !== undefined ? { clientSecret: secret } : {}),
      refreshToken: link.refreshToken,
    });
    if (result.ok) return this.#capped(link, result.value.token, result.value.expires);
    if (!_refreshTokenDead(result.error)) {
      throw failureFromEnvelope(result.error, "Cannot refresh the ArcGIS token");
    }
    // Another isolate may have rotated the refresh token since it was read.
    const current = await this.#links.getLink(profileName, identity.issuer, identity.subject);
    if (mayRetry && current !== null && current.refreshToken !== link.refreshToken) {
      return await this.#tokenFrom(identity, profileName, profile, current, false);
    }
    return await this.#dead(identity, profileName);
  }

  async #rotate(
    identity: Identity,
    profileName: string,
    profile: UserProfileConfig,
    link: LinkRecord,
    mayRetry: boolean,
  ): Promise<CachedToken> {
    const lock = await this.#links.lockRotation(profileName, identity.issuer, identity.subject);
    if (lock === null) {
      const current = await this.#links.getLink(profileName, identity.issuer, identity.subject);
      if (mayRetry && current !== null && current.refreshToken !== link.refreshToken) {
        return await this.#tokenFrom(identity, profileName, profile, current, false);
      }
      throw new BrokerError("ERR_ARCGIS_UNAVAILABLE", "ArcGIS token rotation in progress: retry later", {
        retryAfterSeconds: ROTATION_BUSY_RETRY_AFTER_SECONDS,
      });
    }
    try {
      // Under the lock, read again: the rotation may have just happened elsewhere.
      const current = this.#links.atomic
        ? await this.#links.getLink(profileName, identity.issuer, identity.subject)
        : link;
      if (current === null) throw this.#linkRequired();
      if (current.refreshToken !== link.refreshToken) {
        if (!mayRetry) {
          throw new BrokerError("ERR_ARCGIS_UNAVAILABLE", "ArcGIS token rotation raced: retry later", {
            retryAfterSeconds: ROTATION_BUSY_RETRY_AFTER_SECONDS,
          });
        }
        return await this.#tokenFrom(identity, profileName, profile, current, false);
      }
      const secret = this.#secret(profile);
      const issuedAt = this.#now();
      const result = await this.#api.exchangeRefreshToken({
        clientId: profile.clientId,
        ...(secret !== undefined ? { clientSecret: secret } : {}),
        refreshToken: link.refreshToken,
        redirectUri: profile.redirectUri,
      });
      if (!result.ok) {
        if (_refreshTokenDead(result.error)) return await this.#dead(identity, profileName);
        // A failed rotation keeps the old refresh token (still valid until its expiry).
        throw failureFromEnvelope(result.error, "Cannot rotate the ArcGIS refresh token");
      }
      const rotated = this.#linkFrom(profile, { ...result.value, username: link.username }, issuedAt, link);
      try {
        await this.#links.putLink(profileName, identity.issuer, identity.subject, rotated);
      } catch (error) {
        this.#log({
          level: "error",
          msg: "Cannot store a rotated ArcGIS refresh token: the link will break",
        });
        throw error;
      }
      this.#log({ level: "info", msg: "ArcGIS refresh token rotated" });
      return this.#capped(rotated, result.value.token, result.value.expires);
    } finally {
      await lock.release();
    }
  }
}

/** Creates the `user` mode. */
export function createUserLinks(options: UserLinksOptions): UserLinks {
  return new ArcGISUserLinks(options);
}
