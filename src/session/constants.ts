/**
 * Defaults and fixed names of the session cookie and back-channel logout.
 *
 * @module
 */
import { KEY_NAMESPACES } from "../store/constants.ts";

/** Longest a session cookie lives, seconds (it never outlives the IdP token it was made from). */
export const DEFAULT_SESSION_MAX_SECONDS = 900;

/** Cookie name on plain http (loopback demos and tests). */
export const SESSION_COOKIE_NAME = "atb_session";

/** Cookie name on https: the `__Secure-` prefix makes browsers refuse it without `Secure`. */
export const SECURE_SESSION_COOKIE_NAME = "__Secure-atb_session";

/** Additional data every sealed session value is bound to. */
export const SESSION_SEAL_AAD = "atb:v1:session-cookie";

/** Format version inside the sealed value. */
export const SESSION_VALUE_VERSION = 1 as const;

/** Largest sealed cookie value accepted or produced, bytes (browsers keep about 4 KiB per cookie). */
export const MAX_SESSION_COOKIE_BYTES = 3800;

/** Store namespace: a session ended with `DELETE {mount}/session`. */
export const ENDED_SESSION_NAMESPACE = KEY_NAMESPACES.sessionEnded;

/** Store namespace: when a user (by issuer and subject, or by issuer and `sid`) was logged out at the IdP. */
export const LOGOUT_NAMESPACE = KEY_NAMESPACES.sessionLogout;

/** Store namespace: the subject of an IdP session id, so a `sid`-only logout token can purge that user's tokens. */
export const SID_SUBJECT_NAMESPACE = KEY_NAMESPACES.sessionSid;

/** Store namespace: a logout token `jti` already used (replay refused). */
export const LOGOUT_JTI_NAMESPACE = KEY_NAMESPACES.logoutJti;

/** The only event a back-channel logout token may announce (OpenID Connect Back-Channel Logout 1.0 §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

/** How far in the past a logout token's `iat` may lie, seconds (the spec asks OPs for short-lived tokens). */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;

/** Smallest TTL a store accepts everywhere (Cloudflare KV), seconds. */
export const MIN_STORE_TTL_SECONDS = 60;
