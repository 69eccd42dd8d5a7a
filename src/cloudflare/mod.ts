/**
 * `./cloudflare`: the broker on Cloudflare Workers: a ready Worker ({@link createBrokerWorker}), the Workers KV
 * store and the Durable Object that gives single-use link `state` and refresh-token rotation their mutual
 * exclusion.
 *
 * ```ts
 * // worker.ts (wrangler.toml: compatibility_flags = ["nodejs_als"], BROKER_KV, BROKER_COORDINATOR)
 * import { BrokerCoordinator, createBrokerWorker } from "arcgis-token-broker/cloudflare";
 *
 * export { BrokerCoordinator };
 * export default createBrokerWorker();
 * ```
 *
 * @module
 */
export {
  type BrokerWorker,
  type BrokerWorkerOptions,
  createBrokerWorker,
  type WorkerContext,
  type WorkerEnv,
} from "./worker.ts";
export {
  BrokerCoordinator,
  createDurableObjectStore,
  type DurableObjectNamespaceLike,
  type DurableObjectStateLike,
  type DurableObjectStorageLike,
  type DurableObjectStoreOptions,
  type DurableObjectStubLike,
} from "./durable_object_coordinator.ts";
export {
  type CloudflareKvNamespaceLike,
  type CloudflareKvStoreOptions,
  createCloudflareKvStore,
} from "../store/cloudflare_kv_store.ts";
