/**
 * Parsing the configuration from an object or from the environment, and resolving the secrets it names.
 *
 * @module
 */
import type * as z from "zod/mini";
import { BrokerError } from "../errors.ts";
import { CONFIG_ENV } from "./constants.ts";
import { type BrokerConfig, brokerConfigSchema } from "./schema.ts";

/** One problem found in a configuration. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `issuers.0.algorithms.1`. */
  path: string;
  /** What was expected. */
  message: string;
}

/** The configuration is invalid. The message lists every field path and what was expected, never a value. */
export class ConfigError extends BrokerError {
  /** Every problem found. */
  readonly issues: readonly ConfigIssue[];

  /** Builds the error from every problem found; the message lists their paths and expectations. */
  constructor(issues: readonly ConfigIssue[]) {
    super(
      "ERR_CONFIG_INVALID",
      `Invalid broker config: ${
        issues.map((i) => `${i.path === "" ? "(root)" : i.path}: ${i.message}`).join("; ")
      }`,
    );
    this.name = "ConfigError";
    this.issues = issues;
  }
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
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: describeIssue(issue),
  }));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  // zod's default messages can echo received values; keep ours value-free where zod would quote input.
  if (issue.code === "invalid_type") return `Expected ${issue.expected}`;
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

/** Validates `input` and applies defaults. Throws {@link ConfigError} naming every bad field. */
export function parseConfig(input: unknown): BrokerConfig {
  if (input instanceof Object && "config" in input && "secrets" in input) {
    return parseConfig((input as { config: unknown }).config);
  }
  const result = brokerConfigSchema.safeParse(input);
  if (!result.success) throw new ConfigError(issuesOf(result.error));
  return result.data;
}

/** Every environment-variable name the config refers to, in a stable order. */
export function secretNames(config: BrokerConfig): string[] {
  const names = new Set<string>([config.sealing.keysEnv]);
  for (const profile of Object.values(config.profiles)) {
    if (profile.mode === "user" && profile.clientSecretEnv) names.add(profile.clientSecretEnv);
    if (profile.mode === "app") names.add(profile.clientSecretEnv);
    if (profile.mode === "account") names.add(profile.passwordEnv);
    if (profile.mode === "apiKey") names.add(profile.apiKeyEnv);
  }
  for (const issuer of config.issuers) {
    const introspection = issuer.introspection;
    if (introspection?.clientSecretEnv !== undefined) names.add(introspection.clientSecretEnv);
    if (introspection?.privateKeyEnv !== undefined) names.add(introspection.privateKeyEnv);
  }
  return [...names];
}

/**
 * Picks the secrets `config` names out of `env`. Throws {@link ConfigError} naming each missing variable (never
 * printing any value).
 */
export function resolveSecrets(config: BrokerConfig, env: Readonly<Record<string, unknown>>): Secrets {
  const secrets: Record<string, string> = {};
  const missing: ConfigIssue[] = [];
  for (const name of secretNames(config)) {
    const value = env[name];
    if (typeof value === "string" && value !== "") secrets[name] = value;
    else missing.push({ path: name, message: `Missing secret: set the environment variable "${name}"` });
  }
  if (missing.length > 0) throw new ConfigError(missing);
  return secrets;
}

/**
 * Reads `BROKER_CONFIG` (JSON text or an object) from an environment record (Workers `env`,
 * `Deno.env.toObject()`), validates it and resolves the secrets it names. Fails closed when it is missing.
 */
export function configFromEnv(env: Readonly<Record<string, unknown>>): LoadedConfig {
  const raw = env[CONFIG_ENV];
  let input: unknown = raw;
  if (raw === undefined || raw === null || raw === "") {
    throw new ConfigError([{
      path: CONFIG_ENV,
      message: `Missing config: set "${CONFIG_ENV}" to the JSON config`,
    }]);
  }
  if (typeof raw === "string") {
    try {
      input = JSON.parse(raw);
    } catch {
      throw new ConfigError([{ path: CONFIG_ENV, message: "Expected JSON text" }]);
    }
  }
  const config = parseConfig(input);
  return { config, secrets: resolveSecrets(config, env) };
}
