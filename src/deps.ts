/**
 * The one object through which the core reaches the outside world. Tests pass fakes (a fixed clock, a loopback
 * fetch, an in-memory store); production passes the platform's.
 *
 * @module
 */
import type { KvStore } from "./store/kv_store.ts";

/** Severity of a {@link LogEntry}. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * One structured log line. `msg` follows the house message style. Fields never carry tokens, secrets or raw
 * target URLs; put hashes or origins there instead.
 */
export interface LogEntry {
  /** Severity. */
  level: LogLevel;
  /** What happened, e.g. `Cannot fetch JWKS: status 503`. */
  msg: string;
  /** Extra, non-secret fields. */
  [field: string]: unknown;
}

/** Receives structured log entries. */
export type LogFn = (entry: LogEntry) => void;

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

/** A no-op logger. */
export const silentLog: LogFn = () => {};

/** A logger that writes JSON lines to the console (stderr for warn/error). */
export const consoleLog: LogFn = (entry) => {
  const line = JSON.stringify(entry);
  if (entry.level === "warn" || entry.level === "error") console.error(line);
  else console.log(line);
};
