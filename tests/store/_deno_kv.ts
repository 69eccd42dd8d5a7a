/**
 * Opens an in-memory Deno KV for tests. `Deno.openKv` is unstable: the test command needs `--unstable-kv` or
 * `"unstable": ["kv"]` in `deno.json`; without it the tests fail with that hint instead of silently skipping.
 *
 * @module
 */
import type { DenoKvLike } from "../../src/store/deno_kv_store.ts";

/** An open in-memory Deno KV and how to close it. */
export interface OpenedDenoKv {
  /** The database, as the adapter's structural type. */
  kv: DenoKvLike;
  /** Closes the database. */
  close(): void;
}

/** Opens `Deno.openKv(":memory:")`. */
export async function openMemoryDenoKv(): Promise<OpenedDenoKv> {
  if (typeof Deno.openKv !== "function") {
    throw new Error('Deno KV is unavailable: run with --unstable-kv or set "unstable": ["kv"] in deno.json');
  }
  const kv = await Deno.openKv(":memory:");
  return { kv, close: () => kv.close() };
}
