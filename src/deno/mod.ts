/**
 * `./deno`: the broker on Deno and Deno Deploy: {@link serveBroker} (`Deno.serve` + Deno KV) and the Deno KV store
 * for hosts that build their own app.
 *
 * ```ts
 * // deno run -A --unstable-kv main.ts
 * import { serveBroker } from "arcgis-token-broker/deno";
 *
 * const server = await serveBroker(Deno.env.toObject());
 * console.log(`listening on ${server.url}`);
 * ```
 *
 * @module
 */
export { serveBroker, type ServeBrokerOptions, type ServedBroker } from "./serve.ts";
export {
  createDenoKvStore,
  type DenoKvAtomicLike,
  type DenoKvCheckLike,
  type DenoKvEntryLike,
  type DenoKvKeyLike,
  type DenoKvLike,
  type DenoKvStoreOptions,
} from "../store/deno_kv_store.ts";
