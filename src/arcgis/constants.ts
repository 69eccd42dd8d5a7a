/**
 * Defaults and fixed sizes of the ArcGIS token service. Durations name their unit.
 *
 * @module
 */

/** Largest ArcGIS response body read from a token, identity or info endpoint, in bytes. */
export const MAX_ARCGIS_BODY_BYTES = 256 * 1024;

/** Lifetime of a link `state` (PKCE verifier, identity) between `startLink` and the callback, in seconds. */
export const LINK_STATE_TTL_SECONDS = 600;

/** Link `state`s one identity may have outstanding; starting one more drops its oldest. */
export const MAX_OUTSTANDING_LINK_STATES = 3;

/** Link starts (`POST /link`) one identity may make per {@link LINK_START_WINDOW_SECONDS}. */
export const MAX_LINK_STARTS_PER_WINDOW = 10;

/** The window of the per-identity link start limit, in seconds. */
export const LINK_START_WINDOW_SECONDS = 600;

/** Attempts to update an identity's link start record on an atomic store before giving up (contention). */
export const LINK_STARTS_UPDATE_ATTEMPTS = 4;

/** Lifetime of a pending link between the callback and `completeLink`, in seconds. */
export const PENDING_LINK_TTL_SECONDS = 300;

/** Random bytes in a link `state`, a PKCE verifier and a `linkId` (256 bits each). */
export const RANDOM_ID_BYTES = 32;

/** A cached token is refreshed in the background once less than this many safety margins are left. */
export { REFRESH_AHEAD_SAFETY_MARGINS } from "../config/constants.ts";

/** Lifetime of the rotation lock in the coordinator, in seconds (longer than one ArcGIS call can take). */
export const ROTATION_LOCK_TTL_SECONDS = 60;

/** `Retry-After` for a caller that found a rotation in progress in another isolate, in seconds. */
export const ROTATION_BUSY_RETRY_AFTER_SECONDS = 2;

/** `Retry-After` when an upstream failure has no better hint, in seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

/** Largest `Retry-After` passed on from an ArcGIS 429/503, in seconds. */
export const MAX_RETRY_AFTER_SECONDS = 300;

/** How long a server's confirmed federation (or the portal's org id) is remembered per isolate, in seconds. */
export const FEDERATION_CHECK_TTL_SECONDS = 3_600;

/** Longest ArcGIS error text kept for logs, in characters. */
export const MAX_ERROR_TEXT_CHARS = 200;

/** The store namespace of the rotation lock (see `KEY_NAMESPACES` in `src/store/constants.ts`). */
export const ROTATION_LOCK_NAMESPACE = "link-lock";
