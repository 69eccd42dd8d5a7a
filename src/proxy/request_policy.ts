/**
 * Stage 2 of the proxy, the policy: what the entry lets this caller do with this target. The method (405), the
 * operation (token minting and administration never, 403; a read-only entry forwards only the reads of
 * `read_operations.ts`, 403), the query (`token` stripped; JSONP `callback` and `f=html` refused,
 * 403), the profile (403), the declared body length (400/413) and the per-identity rate limit (429).
 *
 * @module
 */
import { BrokerError } from "../errors.ts";
import { chooseProxyProfile } from "../policy/profile_choice.ts";
import type { Identity } from "../types.ts";
import { _notAllowed, type _ProxySettings, _sha256Hex } from "./_proxy_settings.ts";
import type { OperationClass } from "./read_operations.ts";
import { filterQueryString } from "./form_filter.ts";
import type { ResolvedTarget } from "./resolve_target.ts";

/** A per-identity rate limiter: resolves `false` when `key` is over its limit (e.g. a Workers rate-limit binding). */
export type ProxyRateLimiter = (key: string) => Promise<boolean>;

/** Per-request input from the authenticated route. */
export interface ProxyRequestContext {
  /** The verified caller. */
  identity: Identity;
  /** The profiles the caller's rules grant, in rule order; an allowlist entry's `profile` can only narrow them. */
  profiles: readonly string[];
}

/** What the policy admits. */
export interface PolicyDecision {
  /** The upper-cased method. */
  method: string;
  /** The target without any `token` parameter: what is sent (before our token is added) and what tokens are for. */
  url: URL;
  /** The profile whose token is injected. */
  profile: string;
  /** The declared `Content-Length`, when there is one. */
  contentLength?: number;
  /** The operation the target names (see `read_operations.ts`). */
  operation: OperationClass;
  /** Where the token goes: the entry's `tokenIn`, but always the header for header-only profiles (API keys). */
  tokenIn: "header" | "query";
}

/** Methods that can read (POST too: reads with long parameters are sent as forms). */
const _READ_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST"]);

/** True when a read-only entry may forward `operation` with `method`. */
function _isRead(operation: OperationClass, method: string): boolean {
  if (operation.kind !== "read" || !_READ_METHODS.has(method)) return false;
  return operation.getOnly !== true || method !== "POST";
}

/** Checks the rate limit of an identity; built once per handler. */
export type _RateCheck = (identity: Identity) => Promise<void>;

/** The rate-limit key of an identity: SHA-256 over length-prefixed issuer and subject. */
export async function proxyRateLimitKey(identity: Identity): Promise<string> {
  const { issuer, subject } = identity;
  return await _sha256Hex(`${issuer.length}:${issuer}|${subject.length}:${subject}`);
}

/** A {@link _RateCheck} over `rateLimit` that throws `ERR_RATE_LIMITED`; none when there is no limiter. */
export function _createRateCheck(
  rateLimit: ProxyRateLimiter | undefined,
  retryAfterSeconds: number,
): _RateCheck | undefined {
  if (rateLimit === undefined) return undefined;
  // Keys of the identities seen (the verifier hands out one frozen Identity per token), so a limited proxy does
  // not hash every request; resolved strings only, weakly held.
  const keys = new WeakMap<Identity, string>();
  return async function checkRate(identity) {
    let key = keys.get(identity);
    if (key === undefined) {
      key = await proxyRateLimitKey(identity);
      keys.set(identity, key);
    }
    if (!(await rateLimit(key))) {
      throw new BrokerError("ERR_RATE_LIMITED", "Too many proxy requests", { retryAfterSeconds });
    }
  };
}

/** The declared `Content-Length`: 400 when malformed, 413 over `maxBodyBytes`. */
function _contentLength(request: Request, maxBodyBytes: number): number | undefined {
  const header = request.headers.get("content-length");
  if (header === null) return undefined;
  const text = header.trim();
  if (!/^\d+$/.test(text)) throw new BrokerError("ERR_INVALID_REQUEST", "Malformed Content-Length");
  const length = Number(text);
  if (length > maxBodyBytes) throw new BrokerError("ERR_BODY_TOO_LARGE", "Request body too large");
  return length;
}

/** Applies the policy of `target`'s entry to `request`; throws a `BrokerError` for what it refuses. */
export async function checkRequestPolicy(
  request: Request,
  target: ResolvedTarget,
  options: { context: ProxyRequestContext; settings: _ProxySettings; checkRate: _RateCheck | undefined },
): Promise<PolicyDecision> {
  const { entry, operation } = target;
  const method = request.method.toUpperCase();
  if (!(entry.methods as readonly string[]).includes(method)) {
    throw new BrokerError("ERR_METHOD_NOT_ALLOWED", "Method not allowed for this proxy target");
  }
  if (!entry.allowEdits && !_isRead(operation, method)) {
    await options.settings.logTarget(
      "info",
      "Proxy operation refused: not a read and the entry is read-only",
      target.url,
      {
        resourceType: operation.type,
        operation: operation.operation,
        method,
      },
    );
    throw _notAllowed("Proxy request not allowed");
  }
  const search = filterQueryString(target.url.search); // strips `token`, refuses `callback` and `f=html`
  let url = target.url;
  if (search !== url.search) {
    url = new URL(url.href);
    url.search = search;
  }
  const profile = chooseProxyProfile(options.context.profiles, entry.profile);
  const contentLength = _contentLength(request, options.settings.proxy.maxBodyBytes);
  if (options.checkRate !== undefined) await options.checkRate(options.context.identity);
  const tokenIn = options.settings.headerOnlyProfiles.has(profile) ? "header" : entry.tokenIn;
  const decision: PolicyDecision = { method, url, profile, operation, tokenIn };
  if (contentLength !== undefined) decision.contentLength = contentLength;
  return decision;
}
