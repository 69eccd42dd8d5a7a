/**
 * The contracts between the broker's parts. The Hono layer (`src/hono/`) wires implementations of these together;
 * the core modules implement them without knowing about Hono.
 *
 * @module
 */

/** A verified caller, as `authenticate()` puts it in `c.var.identity`. */
export interface Identity {
  /**
   * The issuer this identity belongs to: the configured `issuer` (also for tokens from one of its
   * `issuerAliases`), its `{tenantid}` filled with the token's tenant for a templated issuer.
   */
  issuer: string;
  /** The configured `issuer` template (with `{tenantid}`) when it differs from `issuer`; rules match on it. */
  configuredIssuer?: string;
  /** The tenant of a templated issuer (Entra ID `tid`). */
  tenant?: string;
  /** The token's `sub`. */
  subject: string;
  /** Every claim of the verified token. */
  claims: Readonly<Record<string, unknown>>;
  /** Whether the bearer was an access token or (where an issuer allows it) an ID token. */
  tokenKind: "access" | "id";
  /** The token's `exp`, epoch seconds. */
  expiresAt: number;
}

/** Outcome of the last JWKS fetch of one issuer, for `/health/details`. */
export interface JwksHealth {
  /** The configured issuer. */
  issuer: string;
  /** `ok`, `error`, or `never` when no fetch happened yet. */
  lastFetch: "ok" | "error" | "never";
  /** When the last fetch finished, epoch ms. */
  lastFetchAt?: number;
  /** How many keys are cached. */
  keys: number;
}

/** Verifies IdP bearer tokens (implemented in `src/idp/`). */
export interface TokenVerifier {
  /**
   * Verifies a compact JWS bearer token against the configured issuers. Resolves to the identity, or rejects with
   * a `BrokerError`: `ERR_INVALID_TOKEN` for anything wrong with the token, `ERR_IDP_UNAVAILABLE` when keys are
   * needed and the IdP cannot be reached.
   */
  verify(token: string, options?: VerifyOptions): Promise<Identity>;
  /** Per-issuer JWKS status. */
  health(): JwksHealth[];
  /**
   * Checks only the JWS layer of a JWT signed by a configured issuer (format, header, `iss`, key from that
   * issuer's cached JWKS, signature), for tokens other than bearer tokens (back-channel logout tokens). Rejects
   * with `ERR_INVALID_TOKEN` or `ERR_IDP_UNAVAILABLE`. Optional so test doubles need not implement it.
   */
  verifySignedJwt?(token: string): Promise<SignedJwt>;
}

/** A JWT whose signature {@link TokenVerifier.verifySignedJwt} checked; none of its claims are checked. */
export interface SignedJwt {
  /** The configured issuer that signed it (equal to the payload's `iss`). */
  issuer: string;
  /** The protected header (`alg`, `kid`, `typ`, …). */
  header: Readonly<Record<string, unknown>>;
  /** The payload. */
  payload: Readonly<Record<string, unknown>>;
}

/** Options for {@link TokenVerifier.verify}. */
export interface VerifyOptions {
  /** Which token kinds are acceptable. @default ["access"] plus "id" where an issuer enables ID tokens */
  accept?: ReadonlyArray<"access" | "id">;
}

/** One entry for `IdentityManager.registerToken`. */
export interface ArcGISCredential {
  /** The portal REST root (`…/sharing/rest`) or a server's `…/rest/services`. */
  server: string;
  /** The ArcGIS token. */
  token: string;
  /** Expiry, epoch ms. */
  expires: number;
  /** Whether the token must only travel over https. */
  ssl: boolean;
  /** The ArcGIS username the token belongs to (the profile name for app and API-key tokens). */
  userId: string;
}

/** The body of `GET {mount}/credentials`. */
export interface CredentialsResponse {
  /** The ArcGIS user. */
  userId: string;
  /** The earliest expiry among `credentials`, epoch ms. */
  expires: number;
  /** One per portal and federated server. */
  credentials: ArcGISCredential[];
}

/** A token for one upstream request, as the proxy injects it. */
export interface UpstreamToken {
  /** The ArcGIS token. */
  token: string;
  /** Expiry, epoch ms. */
  expires: number;
  /** The `Referer` the token is bound to, which the proxy must send. */
  referer?: string;
  /** The profile that produced it. */
  profile: string;
}

/** Options for {@link TokenService.tokenForUrl}. */
export interface TokenForUrlOptions {
  /**
   * Ignore and replace the cached token (after a 498/499 from upstream), unless it is younger than
   * `arcgis.forcedRefreshFloorSeconds`.
   */
  forceRefresh?: boolean;
  /** The token that upstream just refused; purged so no other request reuses it. */
  rejectedToken?: string;
}

/** Gets, caches and refreshes ArcGIS tokens (implemented in `src/arcgis/`). */
export interface TokenService {
  /**
   * Credentials for the browser: the portal and every configured federated server. Uses the first of `profiles`
   * that may reach a browser. Rejects with `ERR_LINK_REQUIRED` when it is a `user` profile without a link.
   */
  credentials(identity: Identity, profiles: readonly string[]): Promise<CredentialsResponse>;
  /**
   * One token for the browser, for the RFC 8693 `/token` route: for the portal, or for the one target that every
   * value of `targets` (the request's `resource` and `audience` values) names: the portal (from its own path
   * down) or a configured server. Anything else is `ERR_INVALID_TARGET`, checked before any token is fetched.
   */
  browserToken(
    identity: Identity,
    profiles: readonly string[],
    targets?: readonly string[],
  ): Promise<ArcGISCredential>;
  /** A token for a proxied request to `url` with `profile` (server-side only: may be any mode). */
  tokenForUrl(
    identity: Identity,
    profile: string,
    url: URL,
    options?: TokenForUrlOptions,
  ): Promise<UpstreamToken>;
  /**
   * What the proxy calls after upstream refused `rejectedToken` (498/499): a replacement token for `url`, or null
   * when the refused token is younger than `arcgis.forcedRefreshFloorSeconds` (it is then kept, and the proxy
   * answers without a retry). Per cache key, so one forged error body cannot mint a token per request.
   */
  replaceRejected(
    identity: Identity,
    profile: string,
    url: URL,
    rejectedToken: string,
  ): Promise<UpstreamToken | null>;
}

/** Links IdP identities to ArcGIS named users for `user` profiles (implemented in `src/arcgis/`). */
export interface LinkService {
  /**
   * Starts the link flow for the first `user` profile of `profiles`; resolves to the ArcGIS authorize URL.
   * Rejects with `ERR_RATE_LIMITED` when the identity started too many links lately.
   */
  startLink(
    identity: Identity,
    profiles: readonly string[],
    returnTo?: string,
  ): Promise<{ authorizeUrl: string }>;
  /** Handles the ArcGIS redirect; resolves to the URL to redirect the browser to. */
  linkCallback(query: URLSearchParams): Promise<string>;
  /** Commits a pending link for the same identity that started it. */
  completeLink(identity: Identity, linkId: string): Promise<{ userId: string }>;
  /** Removes the identity's links under every `user` profile and revokes their refresh tokens. */
  unlink(identity: Identity): Promise<{ unlinked: boolean }>;
}

/** Turns identities into the profiles they may use (implemented in `src/policy/`). */
export interface Policy {
  /** The profiles of the first matching rule, or an empty list when no rule matches. */
  profilesFor(identity: Identity): readonly string[];
}
