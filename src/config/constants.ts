/** Asymmetric JWS algorithms the broker accepts. `HS*` and `none` are never accepted. */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

/** Algorithms used when an issuer names none. */
export const DEFAULT_ALGORITHMS = ["RS256"] as const;

/** Default clock tolerance for `exp`, `nbf` and `iat`. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

/** Largest clock tolerance the config accepts. */
export const MAX_CLOCK_TOLERANCE_SECONDS = 300;

/** Claims every accepted token must carry (RFC 9068 core set). */
export const DEFAULT_REQUIRED_CLAIMS = ["exp", "iat", "sub"] as const;

/** The environment variable that holds the config JSON. */
export const CONFIG_ENV = "BROKER_CONFIG";

/**
 * A cached ArcGIS token is refreshed in the background once less than this many `cache.safetyMarginSeconds` are
 * left; a token handed to browsers must outlive that, or it is never reused.
 */
export const REFRESH_AHEAD_SAFETY_MARGINS = 2;

/** Hosts of ArcGIS Online hosted services whose first path segment (after `/tiles` for tiles) is the org id. */
export const AGOL_HOSTED_HOST_PATTERN: RegExp =
  /^(services|tiles|vectortileservices|features)\d*\.arcgis\.com$/i;

/** Portal hosts that are ArcGIS Online. */
export const AGOL_PORTAL_HOST_PATTERN: RegExp = /(^|\.)arcgis\.com$/i;
