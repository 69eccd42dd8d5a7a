/**
 * Cloudflare Workers entry of the broker (`wrangler.toml`: `main = "examples/workers/worker.ts"`).
 *
 * - `createBrokerWorker()` builds the broker once per isolate from `BROKER_CONFIG` and the secrets it names, and
 *   rebuilds it only when they change, so the JWKS cache, the verified-token memo and the token cache survive
 *   across requests. Without `BROKER_CONFIG` (or with an invalid one) every request gets a 503: it fails closed.
 * - Store: isolate memory over Workers KV (`BROKER_KV`). Mutual exclusion (single-use link `state`, refresh-token
 *   rotation): a Durable Object per key (`BROKER_COORDINATOR`), when bound.
 * - In-flight work is never shared across requests: on Workers a promise started by one request must not be
 *   awaited by another.
 * - Each request's `ctx.waitUntil` reaches the isolate-wide broker through `AsyncLocalStorage` (`nodejs_als`).
 *
 * @module
 */
import { BrokerCoordinator, createBrokerWorker } from "arcgis-token-broker/cloudflare";

/** The Durable Object class bound as `BROKER_COORDINATOR` in `wrangler.toml`. */
export { BrokerCoordinator };

// Workers' module syntax requires a default export.
export default createBrokerWorker();
