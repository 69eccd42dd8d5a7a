/**
 * arcgis-token-broker: let an organization's own OpenID Connect provider open protected ArcGIS resources.
 *
 * ```ts
 * import { Hono } from "hono";
 * import { createBroker } from "arcgis-token-broker";
 *
 * const broker = createBroker(config, { secrets, store });
 * const app = new Hono();
 * app.route("/arcgis", broker.routes());
 * app.get("/api/me", broker.authenticate(), (c) => c.json(c.var.identity));
 * ```
 *
 * @module
 */
export {
  type Broker,
  type BrokerCache,
  type BrokerEnv,
  brokerFromEnv,
  type BrokerFromEnvOptions,
  type BrokerOptions,
  createBroker,
  createBrokerCache,
} from "./src/hono/broker.ts";
export { bearerTokenOf } from "./src/hono/authenticate.ts";
export {
  type BrokerConfig,
  type BrokerConfigInput,
  brokerConfigSchema,
  ConfigError,
  configFromEnv,
  type ConfigIssue,
  type LoadedConfig,
  parseConfig,
  resolveSecrets,
  secretNames,
  type Secrets,
} from "./src/config/mod.ts";
export { BrokerError, type BrokerErrorCode, type BrokerErrorOptions, isBrokerError } from "./src/errors.ts";
export { consoleLog, type Deps, type LogEntry, type LogFn, type LogLevel, silentLog } from "./src/deps.ts";
export type {
  ArcGISCredential,
  CredentialsResponse,
  Identity,
  JwksHealth,
  Policy,
  TokenService,
  TokenVerifier,
  UpstreamToken,
} from "./src/types.ts";
export * from "./src/store/mod.ts";
export type * from "./src/config/types.ts";
