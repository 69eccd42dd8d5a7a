/**
 * IdP token validation: discovery, the JWKS cache, and bearer token verification into an `Identity`.
 *
 * @module
 */
export { createTokenVerifier, type TokenVerifierOptions } from "./token_verifier.ts";
export { createJwksCache, type JwksCache, type JwksCacheOptions, type KeyLookup } from "./jwks_cache.ts";
export {
  buildKeySet,
  findKey,
  JwksRejectedError,
  type KeyMatch,
  type KeySet,
  type SkippedKey,
  type VerificationKey,
} from "./key_set.ts";
export { type VerifiedJws, verifyJws, type VerifyJwsOptions } from "./jws_verify.ts";
export { type TokenKind } from "./claims.ts";
export { discoverJwksUri, discoveryUrl } from "./discovery.ts";
export { REFUSAL_REASONS, type RefusalReason } from "./refusal_reason.ts";
export { createIntrospector, type Introspector, type IntrospectorOptions } from "./introspection.ts";
