/**
 * The one object through which the core reaches the outside world. Tests pass fakes (a fixed clock, a loopback
 * fetch, an in-memory store); production passes the platform's.
 *
 * @module
 */
import type { KvStore } from "./store/kv_store.ts";
import type { LogFn } from "./log.ts";

export { consoleLog, type LogEntry, type LogFn, type LogLevel, silentLog } from "./log.ts";

/** What the core needs from its platform. Every field has a default in {@link resolveDeps}. */
export interface Deps {
  /** Current time in epoch milliseconds. @default Date.now */
  now: () => number;
  /** The fetch used for every outbound call (IdP, ArcGIS, proxy upstream). @default globalThis.fetch */
  fetch: typeof fetch;
  /** Shared key-value store (KV). @default an in-memory store */
  store: KvStore;
  /** Log hook. @default a no-op */
  log: LogFn;
  /** Keeps background work (KV writes, refresh-ahead) alive after the response. @default fire and forget */
  waitUntil: (promise: Promise<unknown>) => void;
}
