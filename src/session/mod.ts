/**
 * Sessions for clients that cannot send headers (the sealed `HttpOnly` session cookie) and the claim checks of
 * OpenID Connect back-channel logout tokens.
 *
 * @module
 */
export {
  createSessionStore,
  type IssuedSession,
  type LogoutTarget,
  type Session,
  type SessionStore,
  type SessionStoreOptions,
} from "./session_store.ts";
export { checkLogoutToken, type CheckLogoutTokenOptions, type LogoutClaims } from "./logout_token.ts";
export * from "./constants.ts";
