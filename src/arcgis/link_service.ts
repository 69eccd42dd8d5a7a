/**
 * The link service: links an IdP identity to an ArcGIS named user once (authorization code + PKCE), and unlinks
 * it. The tokens of a link are minted by `user_tokens.ts`; this service only seeds and purges their cache
 * entries, through the shared cache keys (`token_keys.ts`).
 *
 * Link flow (checklist L-01…L-05): `startLink` stores a single-use `state` bound to the issuer and subject (10
 * minutes) and returns the authorize URL; `linkCallback` consumes the `state`, exchanges the code with the PKCE
 * verifier, checks `community/self` (org, `idpUsername`), and stores a *pending* link (5 minutes) whose one-time
 * `linkId` goes back to an allowlisted return URL; `completeLink` commits it only for the identity that started
 * it. Whatever is refused has its tokens revoked.
 *
 * @module
 */
import type { BrokerConfig, UserProfileConfig } from "../config/schema.ts";
import type { LogFn } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { ProfileChoice } from "../policy/profile_choice.ts";
import type { Identity, LinkService } from "../types.ts";
import { failureFromEnvelope } from "./_errors.ts";
import { pkceChallenge, randomId } from "./_random.ts";
import type { UserMode } from "./_user_mode.ts";
import type { LinkStore } from "./link_store.ts";
import type { PortalApi } from "./portal_api.ts";
import { resolveReturnUrl } from "./return_url.ts";
import type { TokenCache } from "./token_cache.ts";
import type { TokenKeys } from "./token_keys.ts";
import type { ArcGISUrls } from "../config/arcgis_urls.ts";

/** Options for {@link createLinkService}. */
export interface LinkServiceOptions {
  /** The validated config (`link.returnUrls`, `arcgis.orgId`). */
  config: BrokerConfig;
  /** The `user` profiles and link arithmetic. */
  mode: UserMode;
  /** Picks the `user` profile of a request. */
  choice: ProfileChoice;
  /** Portal URLs. */
  urls: ArcGISUrls;
  /** Portal calls. */
  api: PortalApi;
  /** Link storage. */
  links: LinkStore;
  /** The token cache (seeded on link, purged on unlink). */
  cache: TokenCache;
  /** Cache keys of the identity's tokens. */
  keys: TokenKeys;
  /** Clock, epoch ms. */
  now: () => number;
  /** Log hook. */
  log: LogFn;
}

function _linkInvalid(message: string, reason: string): BrokerError {
  return new BrokerError("ERR_LINK_INVALID", message, { details: { reason } });
}

class ArcGISLinkService implements LinkService {
  readonly #config: BrokerConfig;
  readonly #mode: UserMode;
  readonly #choice: ProfileChoice;
  readonly #urls: ArcGISUrls;
  readonly #api: PortalApi;
  readonly #links: LinkStore;
  readonly #cache: TokenCache;
  readonly #keys: TokenKeys;
  readonly #now: () => number;
  readonly #log: LogFn;

  constructor(options: LinkServiceOptions) {
    this.#config = options.config;
    this.#mode = options.mode;
    this.#choice = options.choice;
    this.#urls = options.urls;
    this.#api = options.api;
    this.#links = options.links;
    this.#cache = options.cache;
    this.#keys = options.keys;
    this.#now = options.now;
    this.#log = options.log;
  }

  async #revoke(profile: UserProfileConfig, tokens: readonly string[]): Promise<void> {
    await Promise.all(tokens.map(async (token) => {
      try {
        const secret = this.#mode.secret(profile);
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
    const profileName = this.#choice.forLink(profiles);
    const profile = this.#mode.profile(profileName)!;
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
    const profile = this.#mode.profile(state.profile);
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
    const secret = this.#mode.secret(profile);
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
    const link = this.#mode.linkFrom(profile, { ...issued, username: user.username }, issuedAt);
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
    const profile = this.#mode.profile(pending.profile);
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
    const keys = await this.#keys.identityKeys(pending.profile, identity, ["proxy"]);
    await Promise.all(keys.map((key) => this.#cache.purge(key)));
    if (previous !== null && previous.refreshToken !== pending.link.refreshToken) {
      await this.#revoke(profile, [previous.refreshToken]);
    }
    // Seed the cache with the access token of the code exchange, so the first /credentials costs no refresh.
    await this.#cache.put(
      keys[0],
      this.#mode.capped(pending.link, pending.accessToken, pending.accessExpires),
    );
    return { userId: pending.link.username };
  }

  async unlink(identity: Identity): Promise<{ unlinked: boolean }> {
    let unlinked = false;
    for (const [name, profile] of this.#mode.profiles()) {
      const link = await this.#links.getLink(name, identity.issuer, identity.subject);
      await this.#links.deleteLink(name, identity.issuer, identity.subject);
      const keys = await this.#keys.identityKeys(name, identity, ["proxy"]);
      await Promise.all(keys.map((key) => this.#cache.purge(key)));
      if (link !== null) {
        unlinked = true;
        await this.#revoke(profile, [link.refreshToken]);
      }
    }
    return { unlinked };
  }
}

/** Creates the {@link LinkService}. */
export function createLinkService(options: LinkServiceOptions): LinkService {
  return new ArcGISLinkService(options);
}
