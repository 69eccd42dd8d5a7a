/**
 * The whole broker (`createBroker`) in one process: the fake ArcGIS and a signing IdP stand-in behind an injected
 * fetch, one shared clock. The real-IdP variant (oidc-provider on loopback) lives in `oidc_flow_test.ts`.
 */
import { Hono } from "hono";
import * as jose from "jose";
import { type Broker, type BrokerOptions, createBroker } from "../../src/hono/broker.ts";
import type { BrokerConfigInput } from "../../src/config/schema.ts";
import { createMemoryStore } from "../../src/store/memory_store.ts";
import type { LogEntry } from "../../src/deps.ts";
import { createFakeArcGIS, type FakeArcGIS } from "../../src/testing/mod.ts";

export const START_MS = 1_750_000_000_000;
export const ARCGIS = "http://127.0.0.1:8702";
export const PORTAL = `${ARCGIS}/portal/sharing/rest`;
export const SERVER = `${ARCGIS}/server`;
export const IDP = "https://idp.example.com";
export const BROKER = "http://127.0.0.1:8787";
export const CALLBACK = `${BROKER}/arcgis/link/callback`;
export const RETURN_URL = "http://127.0.0.1:8080/app/";
export const CLIENT_ID = "broker-app";
export const CLIENT_SECRET = "broker-app-secret-value";
export const ORG_ID = "FakeOrg123456789";
export const SERVICE = `${SERVER}/rest/services/Trailheads/FeatureServer`;

export const SECRETS: Record<string, string> = {
  BROKER_SEALING_KEYS: `k1:${btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))}`,
  ARCGIS_APP_SECRET: CLIENT_SECRET,
};

export function brokerConfig(overrides: Partial<BrokerConfigInput> = {}): BrokerConfigInput {
  return {
    issuers: [{ issuer: IDP, audience: "arcgis-broker", algorithms: ["ES256"], requiredScopes: ["arcgis"] }],
    arcgis: { portalUrl: PORTAL, orgId: ORG_ID, servers: [SERVER], allowInsecureLoopback: true },
    profiles: {
      me: { mode: "user", clientId: CLIENT_ID, redirectUri: CALLBACK, idpUsernameClaim: "email" },
      viewer: {
        mode: "app",
        clientId: CLIENT_ID,
        clientSecretEnv: "ARCGIS_APP_SECRET",
        exposeToBrowser: true,
      },
    },
    rules: [
      { claim: "groups", includes: "gis-users", profile: "me" },
      { claim: "groups", includes: "viewers", profile: "viewer" },
    ],
    proxy: { allow: [{ url: `${SERVER}/rest/services/` }] },
    link: { returnUrls: [RETURN_URL] },
    cors: { origins: ["http://127.0.0.1:8080"] },
    sealing: { keysEnv: "BROKER_SEALING_KEYS" },
    ...overrides,
  };
}

export interface BrokerHarness {
  app: Hono;
  broker: Broker;
  fake: FakeArcGIS;
  logs: LogEntry[];
  idpFetches: number;
  advance(ms: number): void;
  now(): number;
  /** Signs an access token for `sub` with the IdP key. */
  token(sub: string, claims?: Record<string, unknown>): Promise<string>;
  /** Signs any JWT with the IdP key (`kid` "k1", ES256 unless the header says otherwise). */
  sign(payload: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** Runs the link flow for `sub` as ArcGIS user `user`; resolves to the `/link/complete` response. */
  link(bearer: string, user: string): Promise<Response>;
}

export async function createBrokerHarness(
  options: {
    config?: BrokerConfigInput;
    fake?: Parameters<typeof createFakeArcGIS>[0];
    broker?: Partial<BrokerOptions>;
  } = {},
): Promise<BrokerHarness> {
  let nowMs = START_MS;
  const now = (): number => nowMs;
  const fake = createFakeArcGIS({
    now,
    apps: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [CALLBACK] }],
    ...options.fake,
  });
  const { privateKey, publicKey } = await jose.generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const logs: LogEntry[] = [];
  const harness = { idpFetches: 0 } as BrokerHarness;
  const fetchRouter: typeof fetch = (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin === IDP) {
      harness.idpFetches++;
      const body = url.pathname === "/.well-known/openid-configuration"
        ? { issuer: IDP, jwks_uri: `${IDP}/jwks` }
        : url.pathname === "/jwks"
        ? { keys: [jwk] }
        : null;
      return Promise.resolve(
        body === null
          ? new Response("not found", { status: 404 })
          : Response.json(body, { headers: { "content-type": "application/json" } }),
      );
    }
    return fake.fetch(request);
  };
  const broker = createBroker(options.config ?? brokerConfig(), {
    now,
    fetch: fetchRouter,
    store: createMemoryStore({ now }),
    log: (entry) => logs.push(entry),
    secrets: SECRETS,
    ...options.broker,
  });
  const app = new Hono();
  app.route("/arcgis", broker.routes());
  const token = async (sub: string, claims: Record<string, unknown> = {}): Promise<string> => {
    const iat = Math.floor(nowMs / 1000);
    return await new jose.SignJWT({
      scope: "openid arcgis",
      groups: ["gis-users"],
      email: `${sub}@example.com`,
      ...claims,
    })
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
      .setIssuer(IDP)
      .setAudience("arcgis-broker")
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(privateKey);
  };
  const link = async (bearer: string, user: string): Promise<Response> => {
    const start = await app.request(`${BROKER}/arcgis/link`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ returnTo: RETURN_URL }),
    });
    if (start.status !== 200) throw new Error(`/link answered ${start.status}: ${await start.text()}`);
    const { authorizeUrl } = await start.json();
    const authorize = await fake.fetch(authorizeUrl, {
      headers: { "x-fake-arcgis-user": user },
      redirect: "manual",
    });
    const callback = authorize.headers.get("location");
    if (authorize.status !== 302 || callback === null) {
      throw new Error(`authorize answered ${authorize.status}`);
    }
    const back = await app.request(callback);
    const location = back.headers.get("location");
    if (back.status !== 303 || location === null) throw new Error(`callback answered ${back.status}`);
    const linkId = new URL(location).searchParams.get("linkId");
    return await app.request(`${BROKER}/arcgis/link/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: JSON.stringify({ linkId }),
    });
  };
  Object.assign(harness, {
    app,
    broker,
    fake,
    logs,
    now,
    advance: (ms: number) => {
      nowMs += ms;
    },
    token,
    link,
    sign: (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      new jose.SignJWT(payload).setProtectedHeader({ alg: "ES256", kid: "k1", ...header }).sign(privateKey),
  });
  return harness;
}
