/**
 * The storage layer: the {@link KvStore} port, its adapters (memory, Deno KV, Cloudflare KV, tiered), JSON values
 * with their expiry inside, key derivation and sealing. The layout is described in `docs/storage.md`.
 *
 * @module
 */
export {
  type AtomicKvStore,
  isAtomicKvStore,
  KEY_PREFIX,
  type KvSetOptions,
  type KvStore,
} from "./kv_store.ts";
export { createMemoryStore, type MemoryStoreOptions } from "./memory_store.ts";
export {
  createDenoKvStore,
  type DenoKvAtomicLike,
  type DenoKvCheckLike,
  type DenoKvEntryLike,
  denoKvKeyFor,
  type DenoKvKeyLike,
  type DenoKvLike,
  type DenoKvStoreOptions,
} from "./deno_kv_store.ts";
export {
  type CloudflareKvNamespaceLike,
  type CloudflareKvStoreOptions,
  createCloudflareKvStore,
} from "./cloudflare_kv_store.ts";
export { createTieredStore, type TieredStoreOptions } from "./tiered_store.ts";
export {
  getJson,
  getJsonEntry,
  type GetJsonOptions,
  type JsonEntry,
  type JsonSchemaLike,
  putJson,
  type PutJsonOptions,
  ttlSecondsUntil,
} from "./json_value.ts";
export { createKeyDeriver, digestKey, type KeyDeriver } from "./keys.ts";
export { createSealer, type Keyring, parseKeyring, type Sealer, type SealerOptions } from "./sealer.ts";
export {
  CLOUDFLARE_KV_MIN_TTL_SECONDS,
  DEFAULT_MEMORY_MAX_ENTRIES,
  DEFAULT_TIERED_MEMORY_TTL_SECONDS,
  KEY_NAMESPACES,
  type KeyNamespace,
} from "./constants.ts";
