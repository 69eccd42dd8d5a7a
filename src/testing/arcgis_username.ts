/**
 * {@link arcgisUsername}: the ArcGIS username a portal gives a member who joins through an OpenID Connect (or
 * SAML) login, by the documented rules: 6 to 128 characters of letters, digits, `.`, `_` and `@`; digits are
 * appended when the value is shorter than six characters or already taken.
 *
 * @module
 */
import { USERNAME_MAX_LENGTH, USERNAME_MIN_LENGTH } from "./constants.ts";

/** Options for {@link arcgisUsername}. */
export interface ArcGISUsernameOptions {
  /** Whether a username is taken (compare case-insensitively, as ArcGIS does). @default nothing is taken */
  taken?: (username: string) => boolean;
  /** Appended before the length rules (ArcGIS Online appends `_<urlKey>`). @default "" */
  suffix?: string;
}

/** Upper bound on the numbers tried for a free username. */
const _MAX_ATTEMPTS = 100_000;

/**
 * The username for an IdP value (the configured claim, the e-mail prefix or the `sub`). Characters other than
 * letters, digits, `.`, `_` and `@` become `_` *(assumed: the documents name the allowed set, not the
 * replacement)*; the suffix is appended; the result is cut to 128 characters. When it is shorter than six
 * characters, or taken, the smallest number that makes it free is appended, zero-padded to reach six characters
 * (`bob` → `bob001`, a taken `demo_user` → `demo_user1`).
 */
export function arcgisUsername(value: string, options: ArcGISUsernameOptions = {}): string {
  const taken = options.taken ?? (() => false);
  const base = `${value.replace(/[^A-Za-z0-9._@]/g, "_")}${options.suffix ?? ""}`.slice(
    0,
    USERNAME_MAX_LENGTH,
  );
  if (base.length >= USERNAME_MIN_LENGTH && !taken(base)) return base;
  for (let n = 1; n <= _MAX_ATTEMPTS; n++) {
    const digits = String(n).padStart(Math.max(1, USERNAME_MIN_LENGTH - base.length), "0");
    const candidate = `${base.slice(0, USERNAME_MAX_LENGTH - digits.length)}${digits}`;
    if (!taken(candidate)) return candidate;
  }
  throw new Error(`No free ArcGIS username for "${value}"`);
}
