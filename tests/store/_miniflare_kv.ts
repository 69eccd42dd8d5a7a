/**
 * A real local Workers KV namespace from Miniflare, in process, for the Cloudflare adapter tests.
 *
 * @module
 */
import { Miniflare } from "miniflare";
import type { CloudflareKvNamespaceLike } from "../../src/store/cloudflare_kv_store.ts";

/** An open Miniflare KV namespace and how to dispose of it. */
export interface OpenedMiniflareKv {
  /** The namespace, as the adapter's structural type. */
  ns: CloudflareKvNamespaceLike;
  /** Stops Miniflare. */
  dispose(): Promise<void>;
}

/** Starts Miniflare with one KV namespace (about half a second). */
export async function openMiniflareKv(): Promise<OpenedMiniflareKv> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response('') } }",
    kvNamespaces: ["KV"],
  });
  try {
    // Miniflare's KVNamespace type comes from workers-types, which deno check cannot reconcile with ours.
    const ns = (await mf.getKVNamespace("KV")) as unknown as CloudflareKvNamespaceLike;
    return { ns, dispose: () => mf.dispose() };
  } catch (error) {
    await mf.dispose();
    throw error;
  }
}
