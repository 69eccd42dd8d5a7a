/**
 * The secrets the profiles name, read by environment-variable name.
 *
 * @module
 */
import type { Secrets } from "../config/load.ts";
import type { BrokerConfig } from "../config/schema.ts";
import { BrokerError } from "../errors.ts";

/** The value of the secret named `name`; throws `ERR_CONFIG_INVALID` when it is missing or empty. */
export function profileSecret(secrets: Secrets, name: string): string {
  const value = secrets[name];
  if (typeof value !== "string" || value === "") {
    throw new BrokerError("ERR_CONFIG_INVALID", `Missing secret: set the environment variable "${name}"`);
  }
  return value;
}

/** Checks at startup that every secret the profiles name is present. */
export function checkProfileSecrets(config: BrokerConfig, secrets: Secrets): void {
  for (const profile of Object.values(config.profiles)) {
    if (profile.mode === "app") profileSecret(secrets, profile.clientSecretEnv);
    if (profile.mode === "account") profileSecret(secrets, profile.passwordEnv);
    if (profile.mode === "apiKey") profileSecret(secrets, profile.apiKeyEnv);
    if (profile.mode === "user" && profile.clientSecretEnv !== undefined) {
      profileSecret(secrets, profile.clientSecretEnv);
    }
  }
}
