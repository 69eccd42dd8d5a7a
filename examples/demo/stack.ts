/**
 * The demo, as one function: on loopback it starts a real OpenID provider with a demo user (`oidc-provider`), the
 * fake ArcGIS from `./testing` with a secured FeatureLayer (36 points), and a web app (an existing Hono app) that
 * mounts the broker at `/arcgis` and serves the two example pages with a local copy of the Maps SDK's assets.
 *
 * Everything here is what a real deployment does with its own IdP and ArcGIS; only the URLs point at local
 * stand-ins. The browser tests start the same stack, with a controllable clock, short token lifetimes, or the
 * fake ArcGIS answering as `www.arcgis.com` / `services.arcgis.com` over TLS.
 *
 * @module
 */
import { Hono } from "hono";
import {
  type Broker,
  type BrokerConfigInput,
  createBroker,
  createMemoryStore,
  type LogFn,
  silentLog,
} from "arcgis-token-broker";
import {
  createFakeArcGIS,
  DEFAULT_ORG_ID,
  type ServedFakeArcGIS,
  serveFakeArcGIS,
} from "arcgis-token-broker/testing";
import type { FakeArcGIS, FakeUser } from "arcgis-token-broker/testing";
import { type OidcIdp, type OidcIdpUser, startOidcIdp } from "arcgis-token-broker/testing-idp";
import { buildBrowser } from "../../scripts/build_browser.ts";
import type { PageConfig } from "../browser/page_common.ts";
import { serveStaticFile } from "./static_files.ts";

/** The demo user at the IdP. */
export const DEMO_IDP_USER: OidcIdpUser = Object.freeze({
  sub: "demo",
  claims: Object.freeze({
    name: "Demo User",
    preferred_username: "demo",
    email: "demo@example.com",
    email_verified: true,
    groups: Object.freeze(["gis-viewers"]),
  }),
});

/** The demo user's ArcGIS account (an org member whose IdP user name is the IdP's `email`). */
export const DEMO_ARCGIS_USER: FakeUser = Object.freeze({
  username: "demo_user",
  password: "not-used-in-the-demo",
  fullName: "Demo User",
  role: "org_user",
  idpUsername: "demo@example.com",
  groups: [],
});

/** The broker's OAuth app at ArcGIS (a public client: PKCE, no secret). */
export const DEMO_ARCGIS_CLIENT_ID = "demo-broker-app";

/** Where the broker is mounted in the web app. */
export const DEMO_MOUNT_PATH = "/arcgis";

/** The environment variable of the demo's sealing keyring (generated at start). */
const SEALING_ENV = "BROKER_SEALING_KEYS";

/** Options for {@link startDemoStack}. */
export interface DemoStackOptions {
  /** Port of the web app (pages + broker); 0 picks a free one. @default 0 */
  port?: number;
  /** Clock of the broker and the fake ArcGIS, epoch ms. @default Date.now */
  now?: () => number;
  /** Lifetime of the ArcGIS user access tokens the fake issues, in minutes. @default 30 */
  arcgisTokenMinutes?: number;
  /** Lifetime of the IdP's access tokens, in seconds. @default 3600 */
  idpTokenTtlSeconds?: number;
  /**
   * Serve the fake ArcGIS as ArcGIS Online over TLS: portal `https://www.arcgis.com/sharing/rest`, hosted
   * services on `https://services.arcgis.com/<orgId>/arcgis`. The browser must resolve `*.arcgis.com` to
   * `127.0.0.1:<arcgisOnline.port>` and trust the certificate; the broker reaches the fake in process.
   */
  arcgisOnline?: { certPem: string; keyPem: string };
  /** Adjusts the broker config before it is built (tests). */
  adjustConfig?: (config: BrokerConfigInput) => BrokerConfigInput;
  /** Broker log hook. @default silent */
  log?: LogFn;
  /** Build the page bundle if it is missing or stale. @default true */
  build?: boolean;
}

/** A running demo. */
export interface DemoStack {
  /** The registerToken page. */
  pageUrl: string;
  /** The proxy page. */
  proxyPageUrl: string;
  /** The Leaflet + esri-leaflet page (session cookie). */
  leafletPageUrl: string;
  /** The OpenLayers page (session cookie). */
  openlayersPageUrl: string;
  /** The secured tiled MapServer (`…/MapServer`), on the on-premises flavour only. */
  tileServiceUrl?: string;
  /** The web app's origin. */
  origin: string;
  /** The broker's mount URL. */
  brokerUrl: string;
  /** The secured layer. */
  layerUrl: string;
  /** The IdP. */
  idp: OidcIdp;
  /** The fake ArcGIS (request log, tokens, hooks). */
  fake: FakeArcGIS;
  /** Where the fake listens (`http://127.0.0.1:<port>` or `https://127.0.0.1:<port>`). */
  fakeOrigin: string;
  /** The fake's port. */
  fakePort: number;
  /** The broker config in use. */
  config: BrokerConfigInput;
  /** The broker. */
  broker: Broker;
  /** Stops everything. */
  close(): Promise<void>;
}

const EXAMPLES_DIR = decodeURIComponent(new URL("../browser/", import.meta.url).pathname);
const ASSETS_DIR = decodeURIComponent(
  new URL("../../node_modules/@arcgis/core/assets/", import.meta.url).pathname,
);
const NODE_MODULES = decodeURIComponent(new URL("../../node_modules/", import.meta.url).pathname);
/** Pages of the demo, one per way in, by path. */
const PAGES: Readonly<Record<string, string>> = {
  "/": "index.html",
  "/index.html": "index.html",
  "/proxy.html": "proxy.html",
  "/leaflet.html": "leaflet.html",
  "/openlayers.html": "openlayers.html",
};

function _sealingKeyring(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `demo1:${btoa(binary)}`;
}

function _isArcGISOnlineHost(url: URL): boolean {
  return url.hostname === "arcgis.com" || url.hostname.endsWith(".arcgis.com");
}

/** Starts the demo stack. Close it with `close()`. */
export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  if (options.build ?? true) await buildBrowser();
  const now = options.now ?? Date.now;
  const cleanups: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  };
  try {
    // 1. The web app's listener first: its origin goes into the IdP client, the ArcGIS app and the config.
    let handler: (request: Request) => Response | Promise<Response> = () =>
      new Response("Starting", { status: 503 });
    const web = Deno.serve(
      { port: options.port ?? 0, hostname: "127.0.0.1", onListen() {} },
      (request) => handler(request),
    );
    cleanups.push(() => web.shutdown());
    const origin = `http://127.0.0.1:${web.addr.port}`;
    const pageUrl = `${origin}/`;
    const proxyPageUrl = `${origin}/proxy.html`;
    const leafletPageUrl = `${origin}/leaflet.html`;
    const openlayersPageUrl = `${origin}/openlayers.html`;
    const pageUrls = [pageUrl, proxyPageUrl, leafletPageUrl, openlayersPageUrl];
    const callbackUrl = `${origin}${DEMO_MOUNT_PATH}/link/callback`;

    // 2. The organization's IdP, with the pages registered as redirect URIs of its SPA client.
    const idp = await startOidcIdp({
      users: [DEMO_IDP_USER],
      spaRedirectUris: pageUrls,
      // Signing out at the IdP tells the broker over the back channel (ends sessions, purges ArcGIS tokens).
      spaBackchannelLogoutUri: `${origin}${DEMO_MOUNT_PATH}/backchannel-logout`,
      spaPostLogoutRedirectUris: pageUrls,
      accessTokenTtlSeconds: options.idpTokenTtlSeconds ?? 3600,
      idTokenTtlSeconds: options.idpTokenTtlSeconds ?? 3600,
    });
    cleanups.push(() => idp.close());

    // 3. ArcGIS: the fake, with the demo user signed in at its authorize page (an SSO session, as with the
    //    org's OIDC login configured in ArcGIS) and the broker registered as an OAuth app.
    const online = options.arcgisOnline;
    const fake = createFakeArcGIS({
      now,
      ...(online
        ? {
          portalPath: "",
          origin: "https://www.arcgis.com",
          portalOrigin: "https://www.arcgis.com",
          hosted: { origin: "https://services.arcgis.com" },
          servers: [],
        }
        : {}),
      users: [{ ...DEMO_ARCGIS_USER }],
      signedInUser: DEMO_ARCGIS_USER.username,
      apps: [{
        clientId: DEMO_ARCGIS_CLIENT_ID,
        clientSecret: crypto.randomUUID(),
        redirectUris: [callbackUrl],
      }],
      apiKeys: [],
      services: [
        {
          name: "Trailheads",
          type: "FeatureServer",
          access: "org",
          root: online ? `/${DEFAULT_ORG_ID}/arcgis` : "/server",
        },
        // A secured tiled map service for Leaflet and OpenLayers (on the federated server).
        ...(online
          ? []
          : [{ name: "Trails", type: "MapServer" as const, access: "org" as const, root: "/server" }]),
      ],
      limits: { userAccessTokenMinutes: options.arcgisTokenMinutes ?? 30 },
    });
    const served: ServedFakeArcGIS = serveFakeArcGIS({
      fake,
      ...(online ? { cert: online.certPem, key: online.keyPem } : {}),
    });
    cleanups.push(() => served.close());
    const urls = online ? fake.urls() : served.urls;
    // The secured service's site: the org's hosted root on ArcGIS Online, a federated server otherwise.
    const site = online ? urls.hosted : urls.servers["/server"];
    if (site === undefined) throw new Error("The fake ArcGIS has no hosted root");
    const restServices = site.restServices;
    const layerUrl = `${restServices}/Trailheads/FeatureServer/0`;
    const tileServiceUrl = online ? undefined : `${restServices}/Trails/MapServer`;

    // 4. The broker, configured as a real deployment would be, pointed at the stand-ins.
    let config: BrokerConfigInput = {
      issuers: [{
        issuer: idp.issuer,
        audience: idp.audience,
        algorithms: ["RS256"],
        typ: "at+jwt",
        requiredScopes: ["arcgis"],
        clientIds: [idp.spaClientId],
        allowInsecureLoopback: true,
      }],
      arcgis: {
        portalUrl: urls.sharingRest,
        orgId: fake.orgId,
        // On ArcGIS Online, list the org's hosted root: /credentials then includes it (with the portal token),
        // so the SDK never needs its own generateToken(serverUrl) call for services.arcgis.com.
        servers: [site.root],
        allowInsecureLoopback: true,
      },
      profiles: {
        me: {
          mode: "user",
          clientId: DEMO_ARCGIS_CLIENT_ID,
          redirectUri: callbackUrl,
          idpUsernameClaim: "email",
        },
      },
      rules: [{ issuer: idp.issuer, profile: "me" }],
      proxy: { allow: [{ url: `${restServices}/`, methods: ["GET", "HEAD", "POST"] }] },
      link: { returnUrls: pageUrls },
      cors: { origins: [origin] },
      sealing: { keysEnv: SEALING_ENV },
      mountPath: DEMO_MOUNT_PATH,
    };
    if (options.adjustConfig) config = options.adjustConfig(config);
    const broker = createBroker(config, {
      now,
      store: createMemoryStore({ now }),
      log: options.log ?? silentLog,
      secrets: { [SEALING_ENV]: _sealingKeyring() },
      // ArcGIS Online hosts are the fake (in process); everything else is a normal fetch.
      fetch: online
        ? (input, init) => {
          const request = new Request(input, init);
          return _isArcGISOnlineHost(new URL(request.url)) ? fake.fetch(request) : fetch(request);
        }
        : undefined,
    });

    // 5. The web app: an existing Hono app with the broker mounted and the pages served.
    const pageConfig: PageConfig = {
      issuer: idp.issuer,
      clientId: idp.spaClientId,
      scope: "openid profile email groups arcgis",
      resource: idp.resource,
      brokerUrl: `${origin}${DEMO_MOUNT_PATH}`,
      layerUrl,
      portalUrl: online ? "https://www.arcgis.com" : urls.portal,
      assetsPath: `${origin}/assets`,
      fontsUrl: `${origin}/fonts`,
      center: [-122.545, 37.885],
      zoom: 11,
      endSessionEndpoint: `${idp.issuer}/session/end`,
      basemapUrl: `${origin}/basemap/land-10m.json`,
      ...(tileServiceUrl === undefined ? {} : { tileServiceUrl }),
    };
    const app = new Hono();
    app.route(DEMO_MOUNT_PATH, broker.routes());
    app.get("/config.json", (c) => c.json(pageConfig, 200, { "cache-control": "no-store" }));
    for (const [path, file] of Object.entries(PAGES)) {
      app.get(path, (c) => serveStaticFile(EXAMPLES_DIR, file, c.req.raw));
    }
    // The ArcGIS user behind the proxy, asked of the broker on the server: the page never sees an ArcGIS token.
    app.get("/demo/arcgis-user", broker.authenticate(), async (c) => {
      const identity = c.get("identity");
      try {
        const { userId, expires } = await broker.tokens.credentials(
          identity,
          broker.policy.profilesFor(identity),
        );
        return c.json({ userId, expires }, 200, { "cache-control": "no-store" });
      } catch {
        return c.json({ error: "unavailable" }, 404);
      }
    });
    app.get(
      "/basemap/*",
      (c) =>
        serveStaticFile(`${NODE_MODULES}world-atlas`, c.req.path.slice("/basemap/".length), c.req.raw, {
          cacheControl: "public, max-age=86400",
        }),
    );
    app.get(
      "/vendor/leaflet/*",
      (c) =>
        serveStaticFile(
          `${NODE_MODULES}leaflet/dist`,
          c.req.path.slice("/vendor/leaflet/".length),
          c.req.raw,
        ),
    );
    app.get(
      "/vendor/ol/*",
      (c) => serveStaticFile(`${NODE_MODULES}ol`, c.req.path.slice("/vendor/ol/".length), c.req.raw),
    );
    app.get("/page.css", (c) => serveStaticFile(EXAMPLES_DIR, "page.css", c.req.raw));
    app.get("/favicon.ico", () => new Response(null, { status: 204 }));
    app.get("/dist/*", (c) =>
      serveStaticFile(EXAMPLES_DIR, c.req.path.slice(1), c.req.raw, {
        cacheControl: c.req.path.startsWith("/dist/chunks/")
          ? "public, max-age=31536000, immutable"
          : "no-cache",
      }));
    app.get("/assets/*", (c) =>
      serveStaticFile(ASSETS_DIR, c.req.path.slice("/assets/".length), c.req.raw, {
        cacheControl: "public, max-age=3600",
      }));
    handler = (request) => app.fetch(request);

    return {
      pageUrl,
      proxyPageUrl,
      leafletPageUrl,
      openlayersPageUrl,
      ...(tileServiceUrl === undefined ? {} : { tileServiceUrl }),
      origin,
      brokerUrl: pageConfig.brokerUrl,
      layerUrl,
      idp,
      fake,
      fakeOrigin: served.origin,
      fakePort: served.port,
      config,
      broker,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
