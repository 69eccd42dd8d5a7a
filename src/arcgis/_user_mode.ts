/**
 * What the `user` mode's two services share: the link service (`link_service.ts`, which creates links) and the
 * user tokens (`user_tokens.ts`, which mints access tokens from them and rotates their refresh tokens).
 *
 * Rotation schedule: a link's refresh token is due for rotation at T = expiry − `rotationMarginSeconds` (at most
 * half its lifetime). Access tokens of the current refresh-token family are never handed out with an expiry after
 * T − safety margin (they are marked `capped`).
 *
 * @module
 */
import type { Secrets } from "../config/load.ts";
import type { BrokerConfig, UserProfileConfig } from "../config/schema.ts";
import { BrokerError } from "../errors.ts";
import type { LinkRecord } from "./link_store.ts";
import type { IssuedRefreshToken } from "./portal_api.ts";
import type { CachedToken } from "./token_cache.ts";

/** The route that starts a link under `mountPath`: the `link` member of every `link_required` answer. */
export function linkHint(mountPath: string): string {
  return `${mountPath.replace(/\/+$/, "")}/link`;
}

/** The `user` profiles, secrets and link arithmetic of one configuration. */
export class UserMode {
  readonly #config: BrokerConfig;
  readonly #secrets: Secrets;
  readonly #marginMs: number;
  readonly #linkHint: string;

  constructor(config: BrokerConfig, secrets: Secrets) {
    this.#config = config;
    this.#secrets = secrets;
    this.#marginMs = config.cache.safetyMarginSeconds * 1000;
    this.#linkHint = linkHint(config.mountPath);
  }

  /** The safety margin, in ms. */
  get marginMs(): number {
    return this.#marginMs;
  }

  /** The `user` profile named `name`, or undefined. */
  profile(name: string): UserProfileConfig | undefined {
    const profile = Object.hasOwn(this.#config.profiles, name) ? this.#config.profiles[name] : undefined;
    return profile?.mode === "user" ? profile : undefined;
  }

  /** Every `user` profile by name. */
  profiles(): [string, UserProfileConfig][] {
    const out: [string, UserProfileConfig][] = [];
    for (const [name, profile] of Object.entries(this.#config.profiles)) {
      if (profile.mode === "user") out.push([name, profile]);
    }
    return out;
  }

  /** The profile's client secret, when it has one. */
  secret(profile: UserProfileConfig): string | undefined {
    return profile.clientSecretEnv === undefined ? undefined : this.#secrets[profile.clientSecretEnv];
  }

  /** `ERR_LINK_REQUIRED` with the link route in its `link` member. */
  linkRequired(): BrokerError {
    return new BrokerError("ERR_LINK_REQUIRED", "Link an ArcGIS account first", {
      details: { link: this.#linkHint },
    });
  }

  /** T: when a refresh token issued at `issuedAt` and expiring at `expires` is due for rotation. */
  #rotateAt(profile: UserProfileConfig, issuedAt: number, expires: number): number {
    const lifetimeMs = Math.max(0, expires - issuedAt);
    return expires - Math.min(profile.rotationMarginSeconds * 1000, lifetimeMs / 2);
  }

  /** The link of a refresh token `issued` at `issuedAt` (replacing `previous` on rotation). */
  linkFrom(
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
  capped(link: LinkRecord, token: string, expires: number): CachedToken {
    const cap = link.rotateAt - this.#marginMs;
    return {
      token,
      expires: Math.min(expires, cap),
      ssl: link.ssl,
      userId: link.username,
      ...(expires > cap ? { capped: true } : {}),
    };
  }
}
