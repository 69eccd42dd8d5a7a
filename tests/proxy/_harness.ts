/**
 * Shared setup of the proxy tests: a fake ArcGIS behind `deps.fetch`, a proxy handler over it, a token source
 * that counts its calls, and a log collector.
 */
import type { ProxyConfig, ProxyEntryConfig } from "../../src/config/schema.ts";
import type { LogEntry } from "../../src/deps.ts";
import { BrokerError } from "../../src/errors.ts";
import { createProxyHandler, type ProxyHandler, type ProxyHandlerOptions } from "../../src/proxy/mod.ts";
import { createFakeArcGIS } from "../../src/testing/mod.ts";
import type { CreateFakeArcGISOptions, FakeArcGIS } from "../../src/testing/mod.ts";
import type { Identity, TokenForUrlOptions, UpstreamToken } from "../../src/types.ts";

/** Public origin the fake's services pretend to live at (the fake routes on paths only). */
export const GIS = "https://gis.example.com";
export const SERVICES = `${GIS}/server/rest/services`;
export const PORTAL = `${GIS}/portal/sharing/rest`;
export const BROKER = "https://broker.example.com";
export const PROXY = `${BROKER}/arcgis/proxy`;
export const START_MS = Date.UTC(2026, 0, 1);

export const IDENTITY: Identity = {
  issuer: "https://idp.example.com",
  subject: "user-1",
  claims: { sub: "user-1" },
  tokenKind: "access",
  expiresAt: START_MS / 1000 + 3600,
};

/** An allowlist entry with the schema's defaults. */
export function entry(url: string, extra: Partial<ProxyEntryConfig> = {}): ProxyEntryConfig {
  return { url, methods: ["GET", "POST"], tokenIn: "header", allowEdits: false, ...extra };
}

/** A proxy config with the schema's defaults. */
export function proxyConfig(allow: ProxyEntryConfig[], extra: Partial<ProxyConfig> = {}): ProxyConfig {
  return {
    allow,
    maxBodyBytes: 10 * 1024 * 1024,
    retryMaxBodyBytes: 64 * 1024,
    fetchTimeoutMs: 30_000,
    ...extra,
  };
}

/** One call of the token source. */
export interface TokenCall {
  profile: string;
  url: string;
  options: TokenForUrlOptions;
}

/** Options of {@link setup}. */
export interface SetupOptions {
  allow?: ProxyEntryConfig[];
  proxy?: Partial<ProxyConfig>;
  fake?: CreateFakeArcGISOptions;
  /** A referer the tokens are bound to. */
  referer?: string;
  /** Replaces `deps.fetch` (default: the fake). */
  fetch?: typeof fetch;
  rateLimit?: ProxyHandlerOptions["rateLimit"];
  allowInsecureLoopback?: boolean;
  /** A forced refresh hands back the refused token (as the token service does under its refresh floor). */
  keepRejected?: boolean;
}

/** What {@link setup} returns. */
export interface Harness {
  fake: FakeArcGIS;
  handler: ProxyHandler;
  logs: LogEntry[];
  tokenCalls: TokenCall[];
  /** The token the source hands out now. */
  token(): string;
  /** Sends `<PROXY>?<target>` through the handler. */
  call(target: string, init?: RequestInit, profiles?: readonly string[]): Promise<Response>;
}

/** Builds a fake ArcGIS, a token source minting real fake server tokens, and the handler. */
export function setup(options: SetupOptions = {}): Harness {
  const fake = createFakeArcGIS({ origin: GIS, startTimeMs: START_MS, ...options.fake });
  const mint = () =>
    fake.issueToken({
      kind: "server",
      username: "alice",
      serverRoot: "/server",
      ...(options.referer !== undefined ? { referer: options.referer } : {}),
    });
  let current = mint();
  const tokenCalls: TokenCall[] = [];
  const logs: LogEntry[] = [];
  const handler = createProxyHandler(
    {
      proxy: proxyConfig(options.allow ?? [entry(`${SERVICES}/`)], options.proxy),
      allowInsecureLoopback: options.allowInsecureLoopback ?? false,
    },
    { fetch: options.fetch ?? fake.fetch, log: (e) => logs.push(e) },
    {
      tokens: (
        identity: Identity,
        profile: string,
        url: URL,
        opts: TokenForUrlOptions,
      ): Promise<UpstreamToken> => {
        if (identity !== IDENTITY) throw new Error("wrong identity");
        tokenCalls.push({ profile, url: url.href, options: opts });
        if (opts.forceRefresh === true) {
          if (opts.rejectedToken !== current) throw new Error("rejectedToken is not the token that was sent");
          if (options.keepRejected !== true) current = mint();
        }
        const token: UpstreamToken = { token: current, expires: START_MS + 3_600_000, profile };
        if (options.referer !== undefined) token.referer = options.referer;
        return Promise.resolve(token);
      },
      ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit } : {}),
    },
  );
  return {
    fake,
    handler,
    logs,
    tokenCalls,
    token: () => current,
    call: (target, init, profiles = ["viewer"]) =>
      handler.handle(new Request(`${PROXY}?${target}`, init), { identity: IDENTITY, profiles }),
  };
}

/** Runs `fn` and returns the BrokerError code it rejects with (fails the test when it resolves). */
export async function rejectsWith(fn: () => Promise<unknown>): Promise<BrokerError> {
  try {
    const result = await fn();
    if (result instanceof Response) await result.body?.cancel();
  } catch (error) {
    if (error instanceof BrokerError) return error;
    throw error;
  }
  throw new Error("Expected a BrokerError, got a response");
}

/** Reads a body as text. */
export async function text(response: Response): Promise<string> {
  return await response.text();
}
