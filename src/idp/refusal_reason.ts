/**
 * The stable reason codes of every refusal. A refused token or identity carries one of these in
 * `BrokerError.reason`; the log line names it, and `error_description` does too when the operator turns on
 * `errors.exposeReasons`. Codes never contain a token, a claim value or a secret, and are never renamed (new ones
 * may be added).
 *
 * @module
 */

/** Every refusal reason code, with what it means (the README lists the same table). */
export const REFUSAL_REASONS = {
  malformed: "The token is not a well-formed compact JWS (or opaque token) of acceptable size",
  header_not_allowed:
    "The token header carries a member that is never honoured (crit, jku, x5c, JWE members, …)",
  alg_not_allowed: "The token's algorithm is not configured for its issuer",
  graph_token: "A Microsoft Graph token (header nonce): it cannot be verified by anyone but Graph",
  iss_unknown: "The token's iss is not a configured issuer (spelling included: trailing slash, v1 versus v2)",
  iss_malformed: "The token's iss is not a well-formed string (lone UTF-16 surrogate)",
  tenant_not_allowed: "The issuer template matches but the tenant is not in the issuer's tenant allowlist",
  typ_not_accepted: "The token's typ header is not the configured one (or names another kind of token)",
  id_token_as_bearer: "An ID token was presented where an access token is required",
  access_token_not_accepted: "An access token was presented where an ID token is required",
  event_token: "A security event token (logout, CAEP) was presented as a bearer token",
  claim_missing: "A required claim is missing",
  claim_invalid: "A claim has the wrong type",
  sub_malformed: "The token's sub is missing, empty or not well-formed (lone UTF-16 surrogate)",
  expired: "The token has expired (exp, with the clock tolerance)",
  not_yet_valid: "The token is not valid yet (nbf, with the clock tolerance)",
  issued_in_future: "The token's iat is in the future",
  too_old: "The token's iat is older than maxTokenAgeSeconds",
  aud_mismatch: "The token's aud names none of the configured audiences (or is missing)",
  scope_missing: "A required scope is not granted in scope or scp",
  client_not_allowed:
    "A client claim (azp, client_id, appid, cid) names a client that is not allowed, or none is present",
  kid_unknown: "No key of the issuer's JWKS has the token's kid, even after a refetch",
  key_unusable: "The key the token names is unusable (skipped, ambiguous, other algorithm)",
  signature_invalid: "The signature does not verify",
  token_inactive: "The introspection endpoint answered active: false",
  introspection_invalid: "The introspection answer is not acceptable (other issuer, no subject)",
  idp_unavailable: "The IdP (discovery, JWKS or introspection) cannot be reached: 503, not 401",
  no_rule: "The token is valid but no rule admits the identity",
} as const;

/** A stable, secret-free refusal reason code. */
export type RefusalReason = keyof typeof REFUSAL_REASONS;
