/**
 * arcgis-token-broker: let an organization's own OpenID Connect provider open protected ArcGIS resources.
 *
 * `.` holds the broker ({@link createBroker}, {@link brokerFromEnv}), its configuration, its errors and the store
 * port ({@link KvStore} with the memory and tiered stores). The runtimes have their own entry points:
 * `arcgis-token-broker/cloudflare` (Worker, Workers KV, Durable Object), `arcgis-token-broker/deno` (`Deno.serve`,
 * Deno KV), `arcgis-token-broker/client` (the browser helper), `arcgis-token-broker/testing` (a fake ArcGIS) and
 * `arcgis-token-broker/testing-idp` (a real OpenID provider on loopback, for tests).
 *
 * @example Mount the broker in a Hono app
 * ```ts
 * import { Hono } from "hono";
 * import { type BrokerEnv, createBroker } from "arcgis-token-broker";
 *
 * const broker = createBroker({
 *   issuers: [{ issuer: "https://idp.example.com", audience: "arcgis-broker" }],
 *   arcgis: { portalUrl: "https://myorg.maps.arcgis.com/sharing/rest" },
 *   profiles: { viewer: { mode: "app", clientId: "def", clientSecretEnv: "ARCGIS_APP_SECRET" } },
 *   rules: [{ profile: "viewer" }],
 *   sealing: { keysEnv: "BROKER_SEALING_KEYS" },
 * }, { secrets: { ARCGIS_APP_SECRET: "…", BROKER_SEALING_KEYS: "k1:…" } });
 *
 * const app = new Hono<BrokerEnv>();
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
export {
  ConfigError,
  configFromEnv,
  type ConfigIssue,
  formatConfigError,
  type LoadedConfig,
  parseConfig,
  type Secrets,
} from "./src/config/load.ts";
export type * from "./src/config/types.ts";
export { BrokerError, type BrokerErrorCode, type BrokerErrorOptions, isBrokerError } from "./src/errors.ts";
export { consoleLog, type Deps, type LogEntry, type LogFn, type LogLevel, silentLog } from "./src/deps.ts";
export type {
  ArcGISCredential,
  CredentialsResponse,
  Identity,
  JwksHealth,
  LinkService,
  Policy,
  SignedJwt,
  TokenForUrlOptions,
  TokenService,
  TokenVerifier,
  UpstreamToken,
  VerifyOptions,
} from "./src/types.ts";
export {
  type AtomicKvStore,
  isAtomicKvStore,
  type KvSetOptions,
  type KvStore,
} from "./src/store/kv_store.ts";
export { createMemoryStore, type MemoryStoreOptions } from "./src/store/memory_store.ts";
export { createTieredStore, type TieredStoreOptions } from "./src/store/tiered_store.ts";
