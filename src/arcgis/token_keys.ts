/**
 * Cache keys of ArcGIS tokens, in one place for the token service (which reads and fills the cache) and the link
 * service (which seeds it on link and purges it on unlink), so neither has to ask the other.
 *
 * A key is an HMAC (the sealer's `deriveCacheKey`) over length-prefixed fields: for a `user` profile the profile
 * name, its fingerprint, the identity's issuer and subject and the target (portal or a server root); for a shared
 * profile (`app`, `account`) the profile, its fingerprint, the audience (`proxy` or `browser`, which get different
 * tokens) and the target. The fingerprint (the portal and the profile's settings) makes a changed profile start
 * from an empty cache. HMAC is deterministic, so derived keys are remembered in a bounded LRU and a warm request
 * computes none.
 *
 * Identities are keyed only when their issuer and subject are well-formed UTF-16: a lone surrogate would be
 * replaced by U+FFFD when encoded, so `"x\uD800"` and `"x\uFFFD"` would share every key.
 *
 * @module
 */
import type { ProfileConfig } from "../config/schema.ts";
import { BrokerError } from "../errors.ts";
import { DEFAULT_MEMORY_MAX_ENTRIES, KEY_NAMESPACES } from "../store/constants.ts";
import type { Sealer } from "../store/sealer.ts";
import type { Identity } from "../types.ts";
import { createLru, type Lru } from "../util/lru.ts";
import type { ServerRoot } from "../config/arcgis_urls.ts";

/** Who a shared-identity token is for: the proxy (server side) or a browser (short-lived). */
export type TokenAudience = "proxy" | "browser";

/** Options for {@link createTokenKeys}. */
export interface TokenKeysOptions {
  /** The configured profiles by name. */
  profiles: Readonly<Record<string, ProfileConfig>>;
  /** The portal's sharing REST root (part of every profile's fingerprint). */
  sharingRest: string;
  /** The configured server roots, in configuration order. */
  servers: readonly ServerRoot[];
  /** Derives the keys (HMAC under a key of the sealing keyring). */
  sealer: Sealer;
  /** Derived keys remembered in isolate memory; 0 disables. @default 10000 */
  memoMaxEntries?: number;
}

/** The cache keys of ArcGIS tokens. */
export interface TokenKeys {
  /**
   * The key of `identity`'s token under profile `profileName` for `target` (`"portal"` or a server root);
   * synchronous when it is remembered. Throws `ERR_INVALID_TOKEN` for an identity that cannot be keyed.
   */
  key(
    identity: Identity,
    profileName: string,
    audience: TokenAudience,
    target: string,
  ): string | Promise<string>;
  /** Every key of `identity` under `profileName`: per audience, the portal's first, then one per server. */
  identityKeys(
    profileName: string,
    identity: Identity,
    audiences: readonly TokenAudience[],
  ): Promise<string[]>;
}

/**
 * Refuses an issuer or subject that is not well-formed UTF-16 (a lone surrogate), before it becomes part of a
 * store key.
 *
 * @throws {BrokerError} `ERR_INVALID_TOKEN` when either is ill-formed.
 */
export function assertKeyableIdentity(issuer: string, subject: string): void {
  if (!issuer.isWellFormed() || !subject.isWellFormed()) {
    throw new BrokerError(
      "ERR_INVALID_TOKEN",
      "Identity refused: its issuer or subject holds a lone UTF-16 surrogate",
    );
  }
}

/** An injective text for a list of fields: each one prefixed with its length. */
function _lengthPrefixed(fields: readonly string[]): string {
  let out = "";
  for (const field of fields) out += `${field.length}:${field}`;
  return out;
}

class HmacTokenKeys implements TokenKeys {
  readonly #profiles: Readonly<Record<string, ProfileConfig>>;
  readonly #sharingRest: string;
  readonly #servers: readonly ServerRoot[];
  readonly #sealer: Sealer;
  /** Profile fingerprints by name (the config does not change for the life of the service). */
  readonly #fingerprints = new Map<string, string>();
  /** Derived keys by their length-prefixed fields (all but the fingerprint, a function of the name). */
  readonly #derived: Lru<string, string>;

  constructor(options: TokenKeysOptions, memoMaxEntries: number) {
    this.#profiles = options.profiles;
    this.#sharingRest = options.sharingRest;
    this.#servers = options.servers;
    this.#sealer = options.sealer;
    this.#derived = createLru(memoMaxEntries);
  }

  #profile(name: string): ProfileConfig {
    if (!Object.hasOwn(this.#profiles, name)) {
      throw new BrokerError("ERR_INSUFFICIENT_SCOPE", "Unknown credential profile");
    }
    return this.#profiles[name];
  }

  #fingerprint(name: string, profile: ProfileConfig): string {
    let fingerprint = this.#fingerprints.get(name);
    if (fingerprint === undefined) {
      fingerprint = `${this.#sharingRest}\n${JSON.stringify(profile)}`;
      this.#fingerprints.set(name, fingerprint);
    }
    return fingerprint;
  }

  key(identity: Identity, name: string, audience: TokenAudience, target: string): string | Promise<string> {
    const user = this.#profile(name).mode === "user";
    const memoKey = user
      ? _lengthPrefixed(["user", name, identity.issuer, identity.subject, target])
      : _lengthPrefixed(["shared", name, audience, target]);
    return this.#derived.get(memoKey) ?? this.#derive(memoKey, identity, name, audience, target);
  }

  async #derive(
    memoKey: string,
    identity: Identity,
    name: string,
    audience: TokenAudience,
    target: string,
  ): Promise<string> {
    const profile = this.#profile(name);
    const fingerprint = this.#fingerprint(name, profile);
    let fields: string[];
    if (profile.mode === "user") {
      assertKeyableIdentity(identity.issuer, identity.subject);
      fields = ["user", name, fingerprint, identity.issuer, identity.subject, target];
    } else {
      fields = ["shared", name, fingerprint, audience, target];
    }
    const key = await this.#sealer.deriveCacheKey(KEY_NAMESPACES.token, fields);
    this.#derived.set(memoKey, key);
    return key;
  }

  async identityKeys(
    name: string,
    identity: Identity,
    audiences: readonly TokenAudience[],
  ): Promise<string[]> {
    const keys: string[] = [];
    for (const audience of audiences) {
      keys.push(await this.key(identity, name, audience, "portal"));
      for (const server of this.#servers) keys.push(await this.key(identity, name, audience, server.root));
    }
    return keys;
  }
}

/**
 * Creates the {@link TokenKeys} of one configuration.
 *
 * @throws {BrokerError} `ERR_CONFIG_INVALID` when `memoMaxEntries` is not a non-negative integer.
 */
export function createTokenKeys(options: TokenKeysOptions): TokenKeys {
  const memoMaxEntries = options.memoMaxEntries ?? DEFAULT_MEMORY_MAX_ENTRIES;
  if (!Number.isSafeInteger(memoMaxEntries) || memoMaxEntries < 0) {
    throw new BrokerError(
      "ERR_CONFIG_INVALID",
      `Invalid token service option "keyMemoMaxEntries": expected an integer of at least 0`,
    );
  }
  return new HmacTokenKeys(options, memoMaxEntries);
}
