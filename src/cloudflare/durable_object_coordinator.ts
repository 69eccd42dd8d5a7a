/**
 * Mutual exclusion on Cloudflare Workers: a Durable Object per key, and an {@link AtomicKvStore} that talks to it.
 *
 * Workers KV is eventually consistent and cannot give the broker the two strong operations it needs (single-use
 * link `state`, refresh-token rotation). A Durable Object can: all requests for one object id run in one place, one
 * at a time, and its storage operations are serialized by the runtime's input/output gates. The client below maps
 * every key to its own object (`idFromName(key)`), so unrelated identities never contend.
 *
 * Only structural slices of the Workers types are used, so this file type-checks anywhere (no `cloudflare:workers`
 * import): the Durable Object speaks plain `fetch` with a small JSON protocol.
 *
 * @module
 */
import type { AtomicKvStore, KvSetOptions } from "../store/kv_store.ts";

/** The part of `DurableObjectStorage` the coordinator uses; a real one satisfies it. */
export interface DurableObjectStorageLike {
  /** Reads one value. */
  get(key: string): Promise<unknown>;
  /** Writes one value. */
  put(key: string, value: unknown): Promise<void>;
  /** Deletes one key. */
  delete(key: string): Promise<boolean>;
  /** Deletes every key of this object. */
  deleteAll(): Promise<void>;
  /** Schedules `alarm()` at an epoch-ms time (replaces any earlier alarm). */
  setAlarm(scheduledTime: number): Promise<void>;
}

/** The part of `DurableObjectState` the coordinator uses. */
export interface DurableObjectStateLike {
  /** The object's transactional storage. */
  storage: DurableObjectStorageLike;
}

/** The part of a Durable Object stub the client uses. */
export interface DurableObjectStubLike {
  /** Sends a request to the object. */
  fetch(request: Request): Promise<Response>;
}

/** The part of `DurableObjectNamespace` the client uses; a real binding satisfies it. */
export interface DurableObjectNamespaceLike {
  /** The id of the object named `name` (the same name always gives the same object). */
  idFromName(name: string): unknown;
  /** A stub for the object with `id`. */
  get(id: never): DurableObjectStubLike;
}

/** One operation sent to the coordinator object. */
export type CoordinatorOp =
  | { op: "get"; key: string }
  | { op: "set"; key: string; value: string; ttlSeconds: number }
  | { op: "delete"; key: string }
  | { op: "take"; key: string }
  | { op: "cas"; key: string; expected: string | null; value: string; ttlSeconds: number };

/** The coordinator's answer: `value` for get/take, `ok` for set/delete/cas. */
export interface CoordinatorResult {
  /** The value read (get, take), or `null` when absent or expired. */
  value?: string | null;
  /** Whether the operation wrote (cas), or `true` for set/delete. */
  ok?: boolean;
}

/** The record the object keeps per key: the value and its expiry (epoch ms), checked on every read. */
interface _Entry {
  v: string;
  x: number;
}

/** Smallest TTL the coordinator stores, in seconds. */
const MIN_TTL_SECONDS = 1;
/** Longest TTL the coordinator stores, in seconds (30 days). */
const MAX_TTL_SECONDS = 30 * 86_400;
/** Largest value accepted, in characters (sealed link state and refresh tokens are far smaller). */
const MAX_VALUE_CHARS = 64 * 1024;
/** Largest key accepted, in characters. */
const MAX_KEY_CHARS = 512;
/** Largest request body the object reads, in bytes. */
const MAX_BODY_BYTES = 2 * MAX_VALUE_CHARS + 4096;
/** Storage key of the single entry each object holds. */
const ENTRY_KEY = "entry";
/** URL the client sends operations to (the host is never resolved: stubs route by id). */
const COORDINATOR_URL = "https://coordinator.invalid/op";

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function _ttl(ttlSeconds: unknown): number | null {
  if (typeof ttlSeconds !== "number" || !Number.isFinite(ttlSeconds)) return null;
  return Math.min(MAX_TTL_SECONDS, Math.max(MIN_TTL_SECONDS, Math.ceil(ttlSeconds)));
}

/** Validates an operation received over `fetch`; `null` when malformed. */
export function parseCoordinatorOp(input: unknown): CoordinatorOp | null {
  if (!_isRecord(input)) return null;
  const { op, key } = input;
  if (typeof key !== "string" || key === "" || key.length > MAX_KEY_CHARS) return null;
  const value = input.value;
  const valueOk = typeof value === "string" && value.length <= MAX_VALUE_CHARS;
  switch (op) {
    case "get":
    case "delete":
    case "take":
      return { op, key };
    case "set": {
      const ttlSeconds = _ttl(input.ttlSeconds);
      return valueOk && ttlSeconds !== null ? { op, key, value: value as string, ttlSeconds } : null;
    }
    case "cas": {
      const ttlSeconds = _ttl(input.ttlSeconds);
      const expected = input.expected;
      const expectedOk = expected === null ||
        typeof expected === "string" && expected.length <= MAX_VALUE_CHARS;
      return valueOk && expectedOk && ttlSeconds !== null
        ? { op, key, expected: expected as string | null, value: value as string, ttlSeconds }
        : null;
    }
    default:
      return null;
  }
}

function _live(raw: unknown, nowMs: number): _Entry | null {
  if (!_isRecord(raw) || typeof raw.v !== "string" || typeof raw.x !== "number") return null;
  return raw.x > nowMs ? { v: raw.v, x: raw.x } : null;
}

/**
 * Applies one operation to an object's storage. The object holds at most one entry (its key's); an alarm at the
 * entry's expiry wipes it. Exported for tests, which pass a fake storage and clock.
 */
export async function applyCoordinatorOp(
  storage: DurableObjectStorageLike,
  op: CoordinatorOp,
  nowMs: number,
): Promise<CoordinatorResult> {
  const stored = await storage.get(ENTRY_KEY);
  const entry = _live(stored, nowMs);
  // An entry is stored together with the key it belongs to, so one object never answers for another key.
  const current = entry !== null && _isRecord(stored) && stored.k === op.key ? entry : null;
  const write = async (value: string, ttlSeconds: number): Promise<void> => {
    const x = nowMs + ttlSeconds * 1000;
    await storage.put(ENTRY_KEY, { k: op.key, v: value, x });
    await storage.setAlarm(x);
  };
  switch (op.op) {
    case "get":
      return { value: current?.v ?? null };
    case "set":
      await write(op.value, op.ttlSeconds);
      return { ok: true };
    case "delete":
      await storage.delete(ENTRY_KEY);
      return { ok: true };
    case "take":
      if (current === null) return { value: null };
      await storage.delete(ENTRY_KEY);
      return { value: current.v };
    case "cas":
      if ((current?.v ?? null) !== op.expected) return { ok: false };
      await write(op.value, op.ttlSeconds);
      return { ok: true };
  }
}

function _json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

async function _readBody(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) return null;
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * The Durable Object class. Export it from the Worker entry under the `class_name` that `wrangler.toml` binds
 * (`BrokerCoordinator`). It answers only `POST` with a JSON {@link CoordinatorOp}.
 */
export class BrokerCoordinator {
  readonly #storage: DurableObjectStorageLike;

  /**
   * Called by the Workers runtime, once per object.
   *
   * @param state The object's state; only its storage is used.
   * @param _env The Worker's bindings (unused).
   */
  constructor(state: DurableObjectStateLike, _env?: unknown) {
    this.#storage = state.storage;
  }

  /** Handles one operation. */
  async fetch(request: Request): Promise<Response> {
    if (request.method !== "POST") return _json({ error: "method_not_allowed" }, 405);
    const op = parseCoordinatorOp(await _readBody(request));
    if (op === null) return _json({ error: "invalid_request" }, 400);
    return _json(await applyCoordinatorOp(this.#storage, op, Date.now()));
  }

  /** Wipes the entry once it has expired. */
  async alarm(): Promise<void> {
    const stored = await this.#storage.get(ENTRY_KEY);
    if (_live(stored, Date.now()) === null) await this.#storage.deleteAll();
  }
}

/** Options for {@link createDurableObjectStore}. */
export interface DurableObjectStoreOptions {
  /** Prefix added to every object name, so several brokers can share one namespace. @default "" */
  namePrefix?: string;
}

class DurableObjectStore implements AtomicKvStore {
  readonly #namespace: DurableObjectNamespaceLike;
  readonly #prefix: string;

  constructor(namespace: DurableObjectNamespaceLike, options: DurableObjectStoreOptions) {
    this.#namespace = namespace;
    this.#prefix = options.namePrefix ?? "";
  }

  async #send(op: CoordinatorOp): Promise<CoordinatorResult> {
    // A fresh stub per call: stubs are cheap, and none is carried from one request's I/O context to another's.
    const id = this.#namespace.idFromName(this.#prefix + op.key);
    const stub = this.#namespace.get(id as never);
    const response = await stub.fetch(
      new Request(COORDINATOR_URL, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(op),
      }),
    );
    const body: unknown = await response.json().catch(() => null);
    if (!response.ok || !_isRecord(body)) {
      throw new Error(`Coordinator operation "${op.op}" failed: status ${response.status}`);
    }
    const result: CoordinatorResult = {};
    if (typeof body.value === "string" || body.value === null) result.value = body.value;
    if (typeof body.ok === "boolean") result.ok = body.ok;
    return result;
  }

  async get(key: string): Promise<string | null> {
    return (await this.#send({ op: "get", key })).value ?? null;
  }

  async set(key: string, value: string, options: KvSetOptions): Promise<void> {
    await this.#send({ op: "set", key, value, ttlSeconds: options.ttlSeconds });
  }

  async delete(key: string): Promise<void> {
    await this.#send({ op: "delete", key });
  }

  async take(key: string): Promise<string | null> {
    return (await this.#send({ op: "take", key })).value ?? null;
  }

  async compareAndSet(
    key: string,
    expected: string | null,
    value: string,
    options: KvSetOptions,
  ): Promise<boolean> {
    return (await this.#send({ op: "cas", key, expected, value, ttlSeconds: options.ttlSeconds })).ok ===
      true;
  }
}

/**
 * An {@link AtomicKvStore} backed by the {@link BrokerCoordinator} Durable Object: one object per key, so `take`
 * and `compareAndSet` are linearizable across every isolate and location.
 *
 * @param namespace The Durable Object namespace binding bound to `BrokerCoordinator`.
 * @param options A prefix for object names, to share one namespace between brokers.
 * @returns The store; its operations reject when the object answers with an error.
 */
export function createDurableObjectStore(
  namespace: DurableObjectNamespaceLike,
  options: DurableObjectStoreOptions = {},
): AtomicKvStore {
  return new DurableObjectStore(namespace, options);
}
