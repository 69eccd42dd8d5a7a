/**
 * Which of the profiles the rules granted serves a request: the one place that picks a profile.
 * - for a browser (`/credentials`, `/token`): the first profile that may reach a browser (`user`, and `app` or
 *   `account` with `exposeToBrowser`; never `apiKey`);
 * - for a link (`POST /link`): the first `user` profile;
 * - for the proxy: the first granted profile, or the one the allowlist entry names when the rules granted it
 *   (an entry can only narrow the grant, never widen it).
 *
 * @module
 */
import type { ProfileConfig } from "../config/schema.ts";
import { BrokerError } from "../errors.ts";

/** Picks the profile for a request out of the ones the rules granted (in rule order). */
export interface ProfileChoice {
  /**
   * The first granted profile that may reach a browser.
   *
   * @throws {BrokerError} `ERR_INSUFFICIENT_SCOPE` when there is none.
   */
  forBrowser(granted: readonly string[]): string;
  /**
   * The first granted `user` profile.
   *
   * @throws {BrokerError} `ERR_INSUFFICIENT_SCOPE` when there is none.
   */
  forLink(granted: readonly string[]): string;
  /**
   * The profile of a proxied request: `entryProfile` when granted, else the first granted one.
   *
   * @throws {BrokerError} `ERR_INSUFFICIENT_SCOPE` when nothing is granted or the entry's profile is not.
   */
  forProxy(granted: readonly string[], entryProfile?: string): string;
}

/** True when tokens of `profile` may be handed to a browser. */
export function mayReachBrowser(profile: ProfileConfig): boolean {
  if (profile.mode === "user") return true;
  if (profile.mode === "apiKey") return false;
  return profile.exposeToBrowser;
}

/**
 * The profile of a proxied request: `entryProfile` (the allowlist entry's) when the rules granted it, else the
 * first granted one. Needs no configuration, so the proxy calls it directly.
 *
 * @param granted The profiles the rules granted, in rule order.
 * @param entryProfile The profile the allowlist entry names, if any.
 * @returns The profile name.
 * @throws {BrokerError} `ERR_INSUFFICIENT_SCOPE` when nothing is granted (reason `no_rule`) or the entry's
 * profile is not.
 */
export function chooseProxyProfile(granted: readonly string[], entryProfile?: string): string {
  if (granted.length === 0) {
    throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "No profile allows the proxy", { reason: "no_rule" });
  }
  if (entryProfile === undefined) return granted[0];
  if (!granted.includes(entryProfile)) {
    throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "No profile allows this proxy target");
  }
  return entryProfile;
}

class ConfiguredProfileChoice implements ProfileChoice {
  readonly #profiles: Readonly<Record<string, ProfileConfig>>;

  constructor(profiles: Readonly<Record<string, ProfileConfig>>) {
    this.#profiles = profiles;
  }

  #first(granted: readonly string[], test: (profile: ProfileConfig) => boolean): string | undefined {
    for (const name of granted) {
      if (Object.hasOwn(this.#profiles, name) && test(this.#profiles[name])) return name;
    }
    return undefined;
  }

  forBrowser(granted: readonly string[]): string {
    const name = this.#first(granted, mayReachBrowser);
    if (name === undefined) {
      throw new BrokerError(
        "ERR_INSUFFICIENT_SCOPE",
        "No credential profile for browsers applies to this identity",
      );
    }
    return name;
  }

  forLink(granted: readonly string[]): string {
    const name = this.#first(granted, (profile) => profile.mode === "user");
    if (name === undefined) {
      throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "No user profile applies to this identity");
    }
    return name;
  }

  forProxy(granted: readonly string[], entryProfile?: string): string {
    return chooseProxyProfile(granted, entryProfile);
  }
}

/** Creates the {@link ProfileChoice} over the configured profiles. */
export function createProfileChoice(profiles: Readonly<Record<string, ProfileConfig>>): ProfileChoice {
  return new ConfiguredProfileChoice(profiles);
}
