/**
 * The `user` credential mode's tokens: access tokens minted from a linked identity's refresh token, and the
 * rotation of that refresh token before it expires (the link itself is made by `link_service.ts`).
 *
 * Rotation: a link's refresh token is due for rotation at T (see `_user_mode.ts`). Access tokens of the current
 * family are capped at T − safety margin; the rotation (`exchange_refresh_token`, which kills every access token
 * of the old family) happens at the first refresh from T − 2 × safety margin on, when every token of the old
 * family has at most the safety margin left: the broker no longer reuses such tokens and the browser helper
 * (refresh margin ≥ safety margin) has replaced them already.
 *
 * @module
 */
import type { UserProfileConfig } from "../config/schema.ts";
import type { LogFn } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { Identity } from "../types.ts";
import { type ArcGISErrorInfo, failureFromEnvelope } from "./_errors.ts";
import type { UserMode } from "./_user_mode.ts";
import { ROTATION_BUSY_RETRY_AFTER_SECONDS } from "./constants.ts";
import type { LinkRecord, LinkStore } from "./link_store.ts";
import type { PortalApi } from "./portal_api.ts";
import type { CachedToken } from "./token_cache.ts";

/** Options for {@link createUserTokens}. */
export interface UserTokensOptions {
  /** The `user` profiles and link arithmetic. */
  mode: UserMode;
  /** Portal calls. */
  api: PortalApi;
  /** Link storage. */
  links: LinkStore;
  /** Clock, epoch ms. */
  now: () => number;
  /** Log hook. */
  log: LogFn;
}

/** Access tokens of linked identities. */
export interface UserTokens {
  /**
   * Fetches a portal access token for a linked identity (the token cache's fetcher), rotating the refresh token
   * when it is due. Rejects with `ERR_LINK_REQUIRED` when there is no link or its refresh token is dead.
   */
  fetchPortalToken(identity: Identity, profileName: string): Promise<CachedToken>;
}

/** True when an `oauth2/token` error says the refresh token itself is dead (expired, revoked, rotated). */
function _refreshTokenDead(error: ArcGISErrorInfo): boolean {
  return error.code === 498 || error.oauthError === "invalid_grant";
}

/** A linked identity under one `user` profile. */
interface _Linked {
  identity: Identity;
  name: string;
  profile: UserProfileConfig;
}

class RefreshingUserTokens implements UserTokens {
  readonly #mode: UserMode;
  readonly #api: PortalApi;
  readonly #links: LinkStore;
  readonly #now: () => number;
  readonly #log: LogFn;

  constructor(options: UserTokensOptions) {
    this.#mode = options.mode;
    this.#api = options.api;
    this.#links = options.links;
    this.#now = options.now;
    this.#log = options.log;
  }

  async fetchPortalToken(identity: Identity, profileName: string): Promise<CachedToken> {
    const profile = this.#mode.profile(profileName);
    if (profile === undefined) throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "Unknown user profile");
    const who: _Linked = { identity, name: profileName, profile };
    const link = await this.#current(who);
    if (link === null) throw this.#mode.linkRequired();
    return await this.#tokenFrom(who, link, true);
  }

  /** The stored link of `who`. */
  #current(who: _Linked): Promise<LinkRecord | null> {
    return this.#links.getLink(who.name, who.identity.issuer, who.identity.subject);
  }

  async #dead(who: _Linked): Promise<never> {
    this.#log({ level: "info", msg: "ArcGIS refresh token is no longer valid: link removed" });
    await this.#links.deleteLink(who.name, who.identity.issuer, who.identity.subject);
    throw this.#mode.linkRequired();
  }

  async #tokenFrom(who: _Linked, link: LinkRecord, mayRetry: boolean): Promise<CachedToken> {
    const { profile } = who;
    const now = this.#now();
    if (link.refreshExpires - now <= this.#mode.marginMs) return await this.#dead(who);
    if (link.rotateAt - this.#mode.marginMs - now <= this.#mode.marginMs) {
      return await this.#rotate(who, link, mayRetry);
    }
    const secret = this.#mode.secret(profile);
    const result = await this.#api.refreshToken({
      clientId: profile.clientId,
      ...(secret !== undefined ? { clientSecret: secret } : {}),
      refreshToken: link.refreshToken,
    });
    if (result.ok) return this.#mode.capped(link, result.value.token, result.value.expires);
    if (!_refreshTokenDead(result.error)) {
      throw failureFromEnvelope(result.error, "Cannot refresh the ArcGIS token");
    }
    // Another isolate may have rotated the refresh token since it was read.
    const current = await this.#current(who);
    if (mayRetry && current !== null && current.refreshToken !== link.refreshToken) {
      return await this.#tokenFrom(who, current, false);
    }
    return await this.#dead(who);
  }

  async #rotate(who: _Linked, link: LinkRecord, mayRetry: boolean): Promise<CachedToken> {
    const { identity, name: profileName, profile } = who;
    const lock = await this.#links.lockRotation(profileName, identity.issuer, identity.subject);
    if (lock === null) {
      const current = await this.#current(who);
      if (mayRetry && current !== null && current.refreshToken !== link.refreshToken) {
        return await this.#tokenFrom(who, current, false);
      }
      throw new BrokerError("ERR_ARCGIS_UNAVAILABLE", "ArcGIS token rotation in progress: retry later", {
        retryAfterSeconds: ROTATION_BUSY_RETRY_AFTER_SECONDS,
      });
    }
    try {
      // Under the lock, read again: the rotation may have just happened elsewhere.
      const current = this.#links.atomic ? await this.#current(who) : link;
      if (current === null) throw this.#mode.linkRequired();
      if (current.refreshToken !== link.refreshToken) {
        if (!mayRetry) {
          throw new BrokerError("ERR_ARCGIS_UNAVAILABLE", "ArcGIS token rotation raced: retry later", {
            retryAfterSeconds: ROTATION_BUSY_RETRY_AFTER_SECONDS,
          });
        }
        return await this.#tokenFrom(who, current, false);
      }
      const secret = this.#mode.secret(profile);
      const issuedAt = this.#now();
      const result = await this.#api.exchangeRefreshToken({
        clientId: profile.clientId,
        ...(secret !== undefined ? { clientSecret: secret } : {}),
        refreshToken: link.refreshToken,
        redirectUri: profile.redirectUri,
      });
      if (!result.ok) {
        if (_refreshTokenDead(result.error)) return await this.#dead(who);
        // A failed rotation keeps the old refresh token (still valid until its expiry).
        throw failureFromEnvelope(result.error, "Cannot rotate the ArcGIS refresh token");
      }
      const rotated = this.#mode.linkFrom(
        profile,
        { ...result.value, username: link.username },
        issuedAt,
        link,
      );
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
      return this.#mode.capped(rotated, result.value.token, result.value.expires);
    } finally {
      await lock.release();
    }
  }
}

/** Creates the `user` mode's token source. */
export function createUserTokens(options: UserTokensOptions): UserTokens {
  return new RefreshingUserTokens(options);
}
