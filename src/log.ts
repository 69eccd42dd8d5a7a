/**
 * The structured log hook of the broker. It lives apart from `deps.ts` so that the storage layer can log without
 * importing the `Deps` object (which names the store port, and so would make `store/` and `deps.ts` import each
 * other).
 *
 * @module
 */

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

/** A no-op logger. */
export const silentLog: LogFn = () => {};

/** A logger that writes JSON lines to the console (stderr for warn/error). */
export const consoleLog: LogFn = (entry) => {
  const line = JSON.stringify(entry);
  if (entry.level === "warn" || entry.level === "error") console.error(line);
  else console.log(line);
};
