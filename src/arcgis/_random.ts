/**
 * Random identifiers (link `state`, `linkId`, PKCE verifier) and the PKCE S256 challenge.
 *
 * @module
 */
import { RANDOM_ID_BYTES } from "./constants.ts";

/** Base64url without padding. */
export function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh random identifier: 32 bytes, base64url (43 characters, also a valid PKCE verifier). */
export function randomId(): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(RANDOM_ID_BYTES)));
}

/** The PKCE S256 challenge of `verifier` (RFC 7636 §4.2). */
export async function pkceChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}
