/**
 * What the stages of one proxy handler share: the validated config, the compiled allowlist and the target logger.
 * Built once per handler by `createProxyHandler`; nothing here changes per request.
 *
 * @module
 */
import type { ProxyConfig } from "../config/types.ts";
import type { LogFn } from "../deps.ts";
import { BrokerError } from "../errors.ts";
import type { Allowlist } from "./allowlist.ts";
import { LOG_HASH_HEX_CHARS } from "./constants.ts";
import { createTokenRedactor, type TokenRedactor } from "./token_redaction.ts";

/** Logs an event about a target: its origin and a short hash, never the URL itself. Never rejects. */
export type _TargetLogger = (
  level: "info" | "warn",
  msg: string,
  url: URL,
  fields?: Record<string, unknown>,
) => Promise<void>;

/** The per-handler settings every stage reads. */
export interface _ProxySettings {
  /** The validated `proxy` section. */
  proxy: ProxyConfig;
  /** The compiled allowlist. */
  allowlist: Allowlist;
  /** Plain http and IP-literal loopback targets (tests only). */
  allowInsecureLoopback: boolean;
  /** The target logger. */
  logTarget: _TargetLogger;
  /** Profiles whose tokens travel only in the header, whatever an entry's `tokenIn` (API keys). */
  headerOnlyProfiles: ReadonlySet<string>;
  /** The redactor of a token; the handler keeps the last one, as most requests use the same token. */
  redactorFor(token: string): TokenRedactor;
}

/** A {@link _ProxySettings.redactorFor} that remembers the redactor of the last token (per handler). */
export function _createRedactorCache(): (token: string) => TokenRedactor {
  let last: { token: string; redactor: TokenRedactor } | undefined;
  return function redactorFor(token) {
    if (last?.token !== token) last = { token, redactor: createTokenRedactor(token) };
    return last.redactor;
  };
}

const _encoder = new TextEncoder();

/** SHA-256 of `text`, lower-case hex. */
export async function _sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", _encoder.encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A {@link _TargetLogger} over `log`. */
export function _createTargetLogger(log: LogFn): _TargetLogger {
  return async function logTarget(level, msg, url, fields = {}) {
    try {
      const hash = (await _sha256Hex(url.href)).slice(0, LOG_HASH_HEX_CHARS);
      log({ level, msg, targetOrigin: url.origin, targetHash: hash, ...fields });
    } catch {
      // logging never fails a request
    }
  };
}

/** 403 for a target or operation no entry admits. */
export function _notAllowed(message = "Proxy target not allowed"): BrokerError {
  return new BrokerError("ERR_TARGET_NOT_ALLOWED", message);
}

/** 502 with a generic message. */
export function _badGateway(message = "Upstream request failed"): BrokerError {
  return new BrokerError("ERR_ARCGIS_BAD_GATEWAY", message);
}

/** Cancels a body that will not be sent on. */
export async function _discard(body: ReadableStream<Uint8Array> | Uint8Array | null): Promise<void> {
  if (body instanceof ReadableStream) await body.cancel().catch(() => {});
}
