/**
 * Test harness for the token service: a fake ArcGIS on an injected fetch (no network), an in-memory store, and
 * one clock shared by the broker, the store and the fake.
 */
import { parseConfig } from "../../src/config/load.ts";
import type { BrokerConfig, BrokerConfigInput } from "../../src/config/schema.ts";
import type { Deps, LogEntry } from "../../src/deps.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import type { AtomicKvStore, KvStore } from "../../src/store/kv_store.ts";
import { createFakeArcGIS } from "../../src/testing/mod.ts";
import type { CreateFakeArcGISOptions, FakeArcGIS } from "../../src/testing/mod.ts";
import type { Identity } from "../../src/types.ts";
import {
  type ArcGISServicesOptions,
  type ArcGISTokenService,
  createArcGISServices,
} from "../../src/arcgis/mod.ts";
import type { LinkService } from "../../src/types.ts";

export const START_MS = 1_750_000_000_000;
export const ORIGIN = "https://gis.example.com";
export const PORTAL = `${ORIGIN}/portal/sharing/rest`;
export const SERVER = `${ORIGIN}/server`;
export const ISSUER = "https://idp.example.com";
export const CALLBACK = "https://broker.example.com/arcgis/link/callback";
export const RETURN_URL = "https://app.example.com/";
export const CLIENT_ID = "broker-app";
export const CLIENT_SECRET = "broker-app-secret";
export const API_KEY = "AAPTfakeApiKey0000000000000000000000000000";
export const ORG_ID = "FakeOrg123456789";

function _key(fill: number): string {
  return btoa(String.fromCharCode(...new Uint8Array(32).fill(fill)));
}

export const SECRETS: Record<string, string> = {
  BROKER_KEYS: `k1:${_key(7)}`,
  APP_SECRET: CLIENT_SECRET,
  SVC_PASSWORD: "carol-password",
  API_KEY: API_KEY,
};

/** A config with one profile of each mode; override parts with `overrides`. */
export function testConfig(overrides: Partial<BrokerConfigInput> = {}): BrokerConfig {
  return parseConfig({
    issuers: [{ issuer: ISSUER, audience: "broker" }],
    arcgis: { portalUrl: PORTAL, orgId: ORG_ID, servers: [SERVER] },
    profiles: {
      me: { mode: "user", clientId: CLIENT_ID, redirectUri: CALLBACK, idpUsernameClaim: "email" },
      viewer: { mode: "app", clientId: CLIENT_ID, clientSecretEnv: "APP_SECRET" },
      viewerWeb: {
        mode: "app",
        clientId: CLIENT_ID,
        clientSecretEnv: "APP_SECRET",
        exposeToBrowser: true,
        browserTokenMaxSeconds: 900,
      },
      legacy: {
        mode: "account",
        username: "carol",
        passwordEnv: "SVC_PASSWORD",
        acknowledgeNamedUserTerms: true,
        referer: "https://app.example.com/",
      },
      legacyWeb: {
        mode: "account",
        username: "carol",
        passwordEnv: "SVC_PASSWORD",
        acknowledgeNamedUserTerms: true,
        exposeToBrowser: true,
        browserTokenMaxSeconds: 600,
      },
      basemap: { mode: "apiKey", apiKeyEnv: "API_KEY" },
    },
    rules: [{ profile: "me" }],
    link: { returnUrls: [RETURN_URL, "https://app.example.com/maps/"] },
    sealing: { keysEnv: "BROKER_KEYS" },
    ...overrides,
  });
}

/** An identity as the verifier would produce it. */
export function identity(subject: string, email = `${subject}@example.com`, issuer = ISSUER): Identity {
  return {
    issuer,
    subject,
    claims: { iss: issuer, sub: subject, email },
    tokenKind: "access",
    expiresAt: Math.floor(START_MS / 1000) + 3600,
  };
}

export interface Harness {
  fake: FakeArcGIS;
  service: ArcGISTokenService;
  links: LinkService;
  config: BrokerConfig;
  store: AtomicKvStore;
  logs: LogEntry[];
  background: Promise<unknown>[];
  now(): number;
  advance(ms: number): void;
  fetchCalls: number;
  /** Waits for every background refresh started so far. */
  settle(): Promise<void>;
  /** Counts fake requests of an endpoint. */
  count(endpoint: Parameters<FakeArcGIS["count"]>[0]): number;
  /** Links `who` to ArcGIS user `user` through the whole flow; resolves to the completeLink result. */
  link(who: Identity, user: string, options?: { returnTo?: string }): Promise<{ userId: string }>;
  /** Runs the flow up to the callback; resolves to the return URL (with `linkId`). */
  callback(who: Identity, user: string, options?: { returnTo?: string }): Promise<string>;
}

export interface HarnessOptions {
  config?: BrokerConfig;
  fake?: CreateFakeArcGISOptions;
  service?: Partial<ArcGISServicesOptions>;
  /** Replaces the store the service gets as `deps.store`. */
  store?: (now: () => number) => KvStore;
  /** Wraps the fetch the service gets. */
  wrapFetch?: (inner: typeof fetch) => typeof fetch;
}

export function createHarness(options: HarnessOptions = {}): Harness {
  let nowMs = START_MS;
  const now = (): number => nowMs;
  const fake = createFakeArcGIS({
    now,
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [CALLBACK] }],
    ...options.fake,
  });
  const store = createMemoryStore({ now });
  const logs: LogEntry[] = [];
  const background: Promise<unknown>[] = [];
  const config = options.config ?? testConfig();
  const harness = {
    fetchCalls: 0,
  } as Harness;
  const baseFetch: typeof fetch = (input, init) => {
    harness.fetchCalls++;
    return fake.fetch(input as Request | URL | string, init);
  };
  const deps: Deps = {
    now,
    fetch: options.wrapFetch ? options.wrapFetch(baseFetch) : baseFetch,
    store: options.store ? options.store(now) : store,
    log: (entry) => logs.push(entry),
    waitUntil: (promise) => background.push(promise),
  };
  const { tokens: service, links } = createArcGISServices(config, deps, {
    secrets: SECRETS,
    ...options.service,
  });
  const callback = async (who: Identity, user: string, opts: { returnTo?: string } = {}): Promise<string> => {
    const { authorizeUrl } = await links.startLink(who, ["me"], opts.returnTo);
    const answer = await fake.fetch(authorizeUrl, {
      headers: { "x-fake-arcgis-user": user },
      redirect: "manual",
    });
    const location = answer.headers.get("location");
    if (answer.status !== 302 || location === null) throw new Error(`authorize answered ${answer.status}`);
    return await links.linkCallback(new URL(location).searchParams);
  };
  Object.assign(harness, {
    fake,
    service,
    links,
    config,
    store,
    logs,
    background,
    now,
    advance: (ms: number) => {
      nowMs += ms;
    },
    settle: async () => {
      for (let i = 0; i < 10 && background.length > 0; i++) {
        const batch = background.splice(0);
        await Promise.allSettled(batch);
      }
    },
    count: (endpoint: Parameters<FakeArcGIS["count"]>[0]) => fake.count(endpoint),
    callback,
    link: async (who: Identity, user: string, opts: { returnTo?: string } = {}) => {
      const back = await callback(who, user, opts);
      const linkId = new URL(back).searchParams.get("linkId");
      if (linkId === null) throw new Error("no linkId");
      return await links.completeLink(who, linkId);
    },
  });
  return harness;
}

/** Counts `oauth2/token` requests of one grant type. */
export function grants(fake: FakeArcGIS, grant: string): number {
  return fake.count((r) => r.endpoint === "portal:oauth2/token" && r.body.grant_type === grant);
}

/** Every raw value in a store (memory store internals are private: read the keys we know of through `get`). */
export async function rawValues(store: KvStore, keys: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const key of keys) {
    const value = await store.get(key);
    if (value !== null) out.push(value);
  }
  return out;
}

/** A store wrapper that records every key written. */
export function recordingStore(inner: KvStore): KvStore & { keys: Set<string>; writes: Map<string, string> } {
  const keys = new Set<string>();
  const writes = new Map<string, string>();
  const wrapped = {
    keys,
    writes,
    get: (key: string) => inner.get(key),
    set: async (key: string, value: string, options: { ttlSeconds: number }) => {
      keys.add(key);
      writes.set(key, value);
      await inner.set(key, value, options);
    },
    delete: (key: string) => inner.delete(key),
  };
  const atomic = inner as Partial<AtomicKvStore>;
  if (atomic.take && atomic.compareAndSet) {
    Object.assign(wrapped, {
      take: (key: string) => atomic.take!(key),
      compareAndSet: async (
        key: string,
        expected: string | null,
        value: string,
        o: { ttlSeconds: number },
      ) => {
        keys.add(key);
        writes.set(key, value);
        return await atomic.compareAndSet!(key, expected, value, o);
      },
    });
  }
  return wrapped;
}
