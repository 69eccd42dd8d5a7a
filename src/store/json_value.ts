/**
 * JSON values with their expiry inside. Backend expiry is best effort (Cloudflare KV reads can be ~60 s stale,
 * Deno KV deletes lazily), so {@link putJson} stores `{"exp":<epoch ms>,"val":<value>}` and {@link getJson}
 * checks `exp` against the caller's clock on every read. With a `sealer`, that whole text is sealed with the
 * store key as additional data.
 *
 * A read never throws for bad data: an absent, expired, unparsable, tampered, moved (other key) or
 * schema-failing value is a miss (`null`).
 *
 * @module
 */
import type { KvStore } from "./kv_store.ts";
import type { Sealer } from "./sealer.ts";

/** Options for {@link putJson}. */
export interface PutJsonOptions {
  /** When the value stops being valid, epoch milliseconds; the store TTL follows from it. */
  expiresAt: number;
  /** Current time in epoch milliseconds. */
  now: () => number;
  /** Seals the stored text (additional data: the key). @default stored in clear */
  sealer?: Sealer;
}

/** Options for {@link getJson} and {@link getJsonEntry}. */
export interface GetJsonOptions {
  /** Current time in epoch milliseconds; a value with `exp <= now()` is a miss. */
  now: () => number;
  /** Opens sealed values; must be given exactly when the value was put with one. @default values in clear */
  sealer?: Sealer;
}

/** What a schema must offer (a zod schema does): `safeParse` that never throws. */
export interface JsonSchemaLike<T> {
  /** Checks `data`; `success: false` makes the read a miss. */
  safeParse(data: unknown): { success: true; data: T } | { success: false };
}

/** A value read by {@link getJsonEntry}, with the expiry that was stored with it. */
export interface JsonEntry<T> {
  /** The value. */
  value: T;
  /** When it stops being valid, epoch milliseconds. */
  expiresAt: number;
}

/** The store TTL for a value valid until `expiresAt`: whole seconds, rounded up, at least 1. */
export function ttlSecondsUntil(expiresAt: number, nowMs: number): number {
  return Math.max(1, Math.ceil((expiresAt - nowMs) / 1000));
}

/**
 * Stores `value` as JSON with `expiresAt` inside, for `ceil((expiresAt - now) / 1000)` seconds (at least 1). A
 * value that is already expired is not written.
 */
export async function putJson(
  store: KvStore,
  key: string,
  value: unknown,
  options: PutJsonOptions,
): Promise<void> {
  const { expiresAt, now, sealer } = options;
  if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) {
    throw new RangeError(`Invalid expiry: expected epoch milliseconds, got "${String(expiresAt)}"`);
  }
  const nowMs = now();
  if (expiresAt <= nowMs) return;
  const valueJson: string | undefined = JSON.stringify(value);
  if (valueJson === undefined) throw new TypeError("Cannot store a value that is not JSON");
  const json = `{"exp":${JSON.stringify(expiresAt)},"val":${valueJson}}`;
  const stored = sealer === undefined ? json : await sealer.seal(json, key);
  await store.set(key, stored, { ttlSeconds: ttlSecondsUntil(expiresAt, nowMs) });
}

/** Reads a value put by {@link putJson}, checked against `schema`; `null` on any miss. */
export function getJsonEntry<T>(
  store: KvStore,
  key: string,
  options: GetJsonOptions & { schema: JsonSchemaLike<T> },
): Promise<JsonEntry<T> | null>;
/** Reads a value put by {@link putJson}; `null` on any miss. */
export function getJsonEntry(
  store: KvStore,
  key: string,
  options: GetJsonOptions,
): Promise<JsonEntry<unknown> | null>;
export async function getJsonEntry(
  store: KvStore,
  key: string,
  options: GetJsonOptions & { schema?: JsonSchemaLike<unknown> },
): Promise<JsonEntry<unknown> | null> {
  const stored = await store.get(key);
  if (stored === null) return null;
  const json = options.sealer === undefined ? stored : await options.sealer.open(stored, key);
  if (json === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || !("val" in parsed)) {
    return null;
  }
  const { exp, val } = parsed as { exp?: unknown; val: unknown };
  if (typeof exp !== "number" || !Number.isFinite(exp) || exp <= options.now()) return null;
  if (options.schema === undefined) return { value: val, expiresAt: exp };
  let checked: { success: true; data: unknown } | { success: false };
  try {
    checked = options.schema.safeParse(val);
  } catch {
    return null;
  }
  return checked.success ? { value: checked.data, expiresAt: exp } : null;
}

/** Reads a value put by {@link putJson}, checked against `schema`; `null` on any miss. */
export function getJson<T>(
  store: KvStore,
  key: string,
  options: GetJsonOptions & { schema: JsonSchemaLike<T> },
): Promise<T | null>;
/** Reads a value put by {@link putJson}; `null` on any miss. */
export function getJson(store: KvStore, key: string, options: GetJsonOptions): Promise<unknown>;
export async function getJson(
  store: KvStore,
  key: string,
  options: GetJsonOptions & { schema?: JsonSchemaLike<unknown> },
): Promise<unknown> {
  const entry = await getJsonEntry(store, key, options);
  return entry === null ? null : entry.value;
}
