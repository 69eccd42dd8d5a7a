/**
 * Random identifiers (link `state`, `linkId`, PKCE verifier) and the PKCE S256 challenge.
 *
 * @module
 */
import { encodeBase64url } from "../util/bytes.ts";
import { RANDOM_ID_BYTES } from "./constants.ts";

/** A fresh random identifier: 32 bytes, base64url (43 characters, also a valid PKCE verifier). */
export function randomId(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(RANDOM_ID_BYTES)));
}

/** The PKCE S256 challenge of `verifier` (RFC 7636 §4.2). */
export async function pkceChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return encodeBase64url(new Uint8Array(digest));
}
