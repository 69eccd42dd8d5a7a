/**
 * Parsing the configuration from an object or from the environment, and resolving the secrets it names.
 *
 * @module
 */
import type * as z from "zod/mini";
import { BrokerError, isBrokerError } from "../errors.ts";
import { parseKeyring } from "../store/sealer.ts";
import { CONFIG_ENV } from "./constants.ts";
import { type BrokerConfig, brokerConfigSchema } from "./schema.ts";

/** One problem found in a configuration. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `issuers.0.algorithms.1`. */
  path: string;
  /** What is wrong or what was expected (`Required` for a missing field). */
  message: string;
  /** The change that fixes it, where the message alone does not say. */
  fix?: string;
}

/** The configuration is invalid. The message lists every field path and what was expected, never a value. */
export class ConfigError extends BrokerError {
  /** Every problem found. */
  readonly issues: readonly ConfigIssue[];

  /** Builds the error from every problem found; the message lists their paths and expectations. */
  constructor(issues: readonly ConfigIssue[]) {
    super("ERR_CONFIG_INVALID", `Invalid broker config: ${issues.map(_describe).join("; ")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
}

function _describe(issue: ConfigIssue): string {
  const text = `${issue.path === "" ? "(root)" : issue.path}: ${issue.message}`;
  return issue.fix === undefined ? text : `${text} (fix: ${issue.fix})`;
}

/**
 * The problems of a {@link ConfigError} as lines for a terminal: each field path with what is wrong, and the fix
 * on its own line where there is one. Never a value, never a stack trace.
 *
 * @param error The error `parseConfig`, `configFromEnv` or `createBroker` threw.
 * @returns Indented lines, one problem (and its fix) after another.
 *
 * @example Print a startup error
 * ```ts
 * import { ConfigError, configFromEnv, formatConfigError } from "arcgis-token-broker";
 *
 * try {
 *   configFromEnv(Deno.env.toObject());
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(`Refusing to start\n${formatConfigError(error)}`);
 * }
 * ```
 */
export function formatConfigError(error: ConfigError): string {
  return error.issues.map((issue) => {
    const line = `  ${issue.path === "" ? "(root)" : issue.path}: ${issue.message}`;
    return issue.fix === undefined ? line : `${line}\n    fix: ${issue.fix}`;
  }).join("\n");
}

/** Secret values by environment-variable name. */
export type Secrets = Readonly<Record<string, string>>;

/** A validated config with the secrets it names. */
export interface LoadedConfig {
  /** The validated configuration. */
  config: BrokerConfig;
  /** The values of the environment variables the config names, and nothing else. */
  secrets: Secrets;
}

function issuesOf(error: z.core.$ZodError): ConfigIssue[] {
  return error.issues.map((issue) => {
    const fix = issue.code === "custom" ? issue.params?.fix : undefined;
    return {
      path: issue.path.map(String).join("."),
      message: describeIssue(issue),
      ...(typeof fix === "string" ? { fix } : {}),
    };
  });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // zod's default messages can echo received values; keep ours value-free where zod would quote input. The
  // input is reported (reportInput) only to tell a missing field from a wrong one; it is never printed.
  const missing = "input" in issue && issue.input === undefined;
  if (issue.code === "invalid_type") return missing ? "Required" : `Expected ${issue.expected}`;
  if (issue.code === "invalid_union" && missing) return "Required";
  if (issue.code === "invalid_union" && !("discriminator" in issue && issue.discriminator)) {
    const expected = issue.errors.flatMap((option) =>
      option.flatMap((i) => i.code === "invalid_type" && i.path.length === 0 ? [i.expected] : [])
    );
    if (expected.length === issue.errors.length) return `Expected ${[...new Set(expected)].join(" or ")}`;
  }
  if (issue.code === "unrecognized_keys") {
    return `Unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  }
  if (issue.code === "invalid_value") {
    return `Expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  if (issue.code === "invalid_union" && "discriminator" in issue && issue.discriminator) {
    return `Expected "${issue.discriminator}" to be one of the known values`;
  }
  return issue.message;
}

/**
 * Validates `input` and applies defaults. Throws {@link ConfigError} naming every bad field.
 *
 * @param input The config, as parsed JSON.
 * @returns The config with every default filled in.
 * @throws {ConfigError} When a field is missing, of the wrong type or inconsistent with another.
 */
export function parseConfig(input: unknown): BrokerConfig {
  if (input instanceof Object && "config" in input && "secrets" in input) {
    return parseConfig((input as { config: unknown }).config);
  }
  const result = brokerConfigSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ConfigError(issuesOf(result.error));
  return result.data;
}

/** A field of the config that names an environment variable holding a secret. */
export interface SecretField {
  /** The field's path, e.g. `profiles.viewer.clientSecretEnv`. */
  path: string;
  /** The environment variable it names. */
  name: string;
}

/** Every field of `config` that names a secret, in a stable order (the sealing keyring first). */
export function secretFields(config: BrokerConfig): SecretField[] {
  const fields: SecretField[] = [{ path: "sealing.keysEnv", name: config.sealing.keysEnv }];
  for (const [key, profile] of Object.entries(config.profiles)) {
    const path = (field: string): string => `profiles.${key}.${field}`;
    if (profile.mode === "user" && profile.clientSecretEnv) {
      fields.push({ path: path("clientSecretEnv"), name: profile.clientSecretEnv });
    }
    if (profile.mode === "app") fields.push({ path: path("clientSecretEnv"), name: profile.clientSecretEnv });
    if (profile.mode === "account") fields.push({ path: path("passwordEnv"), name: profile.passwordEnv });
    if (profile.mode === "apiKey") fields.push({ path: path("apiKeyEnv"), name: profile.apiKeyEnv });
  }
  config.issuers.forEach((issuer, index) => {
    const introspection = issuer.introspection;
    const path = (field: string): string => `issuers.${index}.introspection.${field}`;
    if (introspection?.clientSecretEnv !== undefined) {
      fields.push({ path: path("clientSecretEnv"), name: introspection.clientSecretEnv });
    }
    if (introspection?.privateKeyEnv !== undefined) {
      fields.push({ path: path("privateKeyEnv"), name: introspection.privateKeyEnv });
    }
  });
  return fields;
}

/** Every environment-variable name the config refers to, in a stable order. */
export function secretNames(config: BrokerConfig): string[] {
  return [...new Set(secretFields(config).map((field) => field.name))];
}

/**
 * Picks the secrets `config` names out of `env` and checks the sealing keyring's format. Throws
 * {@link ConfigError} naming each field whose variable is missing or malformed, with the fix (never printing any
 * value).
 */
export function resolveSecrets(config: BrokerConfig, env: Readonly<Record<string, unknown>>): Secrets {
  const secrets: Record<string, string> = {};
  const problems: ConfigIssue[] = [];
  for (const { path, name } of secretFields(config)) {
    const value = env[name];
    if (typeof value === "string" && value !== "") secrets[name] = value;
    else if (!problems.some((p) => p.message.includes(`"${name}"`))) {
      problems.push({
        path,
        message: `Required: the environment variable "${name}" is not set`,
        fix: path === "sealing.keysEnv"
          ? `set "${name}" to a keyring "k1:<base64 of 32 random bytes>" (e.g. k1:$(openssl rand -base64 32)); ` +
            "on Workers: wrangler secret put " + name
          : `set "${name}" (on Workers: wrangler secret put ${name}; on Deno Deploy: an environment variable)`,
      });
    }
  }
  const keyring = secrets[config.sealing.keysEnv];
  if (keyring !== undefined) {
    try {
      parseKeyring(keyring);
    } catch (error) {
      if (!isBrokerError(error, "ERR_CONFIG_INVALID")) throw error;
      problems.unshift({
        path: "sealing.keysEnv",
        message: `Malformed keyring in "${config.sealing.keysEnv}": ${
          error.message.replace(/^Invalid sealing keyring: /, "")
        }`,
        fix: 'write "kid:base64key" entries separated by commas, each key 32 random bytes in base64 ' +
          "(e.g. k1:$(openssl rand -base64 32)); the first entry seals, the others only open",
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return secrets;
}

/**
 * Reads `BROKER_CONFIG` (JSON text or an object) from an environment record (Workers `env`,
 * `Deno.env.toObject()`), validates it and resolves the secrets it names. Fails closed when it is missing.
 *
 * @param env The environment record.
 * @returns The validated config and the secret values it names.
 * @throws {ConfigError} When `BROKER_CONFIG` is missing, is not JSON, is invalid, or names a missing secret.
 */
export function configFromEnv(env: Readonly<Record<string, unknown>>): LoadedConfig {
  const raw = env[CONFIG_ENV];
  let input: unknown = raw;
  if (raw === undefined || raw === null || raw === "") {
    throw new ConfigError([{
      path: CONFIG_ENV,
      message: `Required: the environment variable "${CONFIG_ENV}" is not set`,
      fix: `set "${CONFIG_ENV}" to the JSON config (README, Configuration); check it with ` +
        "npx arcgis-token-broker doctor",
    }]);
  }
  if (typeof raw === "string") {
    try {
      input = JSON.parse(raw);
    } catch {
      throw new ConfigError([{
        path: CONFIG_ENV,
        message: "Expected JSON text",
        fix: `set "${CONFIG_ENV}" to the config as JSON, e.g. BROKER_CONFIG="$(cat broker.config.json)"`,
      }]);
    }
  }
  const config = parseConfig(input);
  return { config, secrets: resolveSecrets(config, env) };
}
