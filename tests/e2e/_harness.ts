/**
 * Shared pieces of the end-to-end tests that run a real entry (`examples/deno/main.ts`, `wrangler dev`) as a
 * separate process: the upstreams on loopback (the `oidc-provider` IdP and the fake ArcGIS), the broker config
 * that points at them, reading a child's output until it is ready (bounded), and the link flow followed over
 * HTTP the way a browser would.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { BrokerConfigInput } from "../../mod.ts";
import { type ServedFakeArcGIS, serveFakeArcGIS } from "../../src/testing/mod.ts";
import { type OidcIdp, startOidcIdp } from "../../src/testing/oidc_idp.ts";
import { DEMO_ARCGIS_CLIENT_ID, DEMO_ARCGIS_USER, DEMO_IDP_USER } from "../../examples/demo/stack.ts";

/** The environment variable of the sealing keyring in these tests. */
export const SEALING_ENV = "BROKER_SEALING_KEYS";

/** A fresh sealing keyring (`kid:base64-32-bytes`). */
export function sealingKeyring(): string {
  let binary = "";
  for (const b of crypto.getRandomValues(new Uint8Array(32))) binary += String.fromCharCode(b);
  return `e2e1:${btoa(binary)}`;
}

/** A port that was free a moment ago (the child process binds it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The IdP and the fake ArcGIS on loopback. */
export interface Upstreams {
  /** The IdP. */
  idp: OidcIdp;
  /** The served fake ArcGIS. */
  arcgis: ServedFakeArcGIS;
  /** The secured layer (`…/Trailheads/FeatureServer/0`). */
  layerUrl: string;
  /** Stops both. */
  close(): Promise<void>;
}

/** Options for {@link startUpstreams}. */
export interface UpstreamsOptions {
  /** The broker's link callback, registered at the fake ArcGIS as the OAuth app's redirect URI. */
  callbackUrl: string;
  /** Lifetime of ArcGIS user access tokens, minutes. @default 30 */
  arcgisTokenMinutes?: number;
}

/** Starts the IdP (with the demo user) and the fake ArcGIS (the demo user signed in at its authorize page). */
export async function startUpstreams(options: UpstreamsOptions): Promise<Upstreams> {
  const idp = await startOidcIdp({ users: [DEMO_IDP_USER] });
  let arcgis: ServedFakeArcGIS;
  try {
    arcgis = serveFakeArcGIS({
      users: [{ ...DEMO_ARCGIS_USER }],
      signedInUser: DEMO_ARCGIS_USER.username,
      apps: [{
        clientId: DEMO_ARCGIS_CLIENT_ID,
        clientSecret: crypto.randomUUID(),
        redirectUris: [options.callbackUrl],
      }],
      services: [{ root: "/server", name: "Trailheads", type: "FeatureServer", access: "org" }],
      limits: { userAccessTokenMinutes: options.arcgisTokenMinutes ?? 30 },
    });
  } catch (error) {
    await idp.close();
    throw error;
  }
  return {
    idp,
    arcgis,
    layerUrl: `${arcgis.urls.servers["/server"].restServices}/Trailheads/FeatureServer/0`,
    async close() {
      await arcgis.close();
      await idp.close();
    },
  };
}

/** The broker config for a broker at `brokerOrigin` (mounted at `/arcgis`) in front of `up`. */
export function e2eConfig(up: Upstreams, brokerOrigin: string): BrokerConfigInput {
  const server = up.arcgis.urls.servers["/server"];
  return {
    issuers: [{
      issuer: up.idp.issuer,
      audience: up.idp.audience,
      algorithms: ["RS256"],
      typ: "at+jwt",
      requiredScopes: ["arcgis"],
      allowInsecureLoopback: true,
    }],
    arcgis: {
      portalUrl: up.arcgis.urls.sharingRest,
      orgId: up.arcgis.fake.orgId,
      servers: [server.root],
      allowInsecureLoopback: true,
    },
    profiles: {
      me: {
        mode: "user",
        clientId: DEMO_ARCGIS_CLIENT_ID,
        redirectUri: `${brokerOrigin}/arcgis/link/callback`,
        idpUsernameClaim: "email",
      },
    },
    rules: [{ issuer: up.idp.issuer, profile: "me" }],
    proxy: { allow: [{ url: `${server.restServices}/`, methods: ["GET", "POST"] }] },
    link: { returnUrls: [`${brokerOrigin}/app/`] },
    sealing: { keysEnv: SEALING_ENV },
    mountPath: "/arcgis",
  };
}

/**
 * Reads a child's output until `pattern` matches (returns the match) or `timeoutMs` passes (throws with the
 * output so far). The stream keeps being drained afterwards, so the child never blocks on a full pipe.
 */
export async function waitForOutput(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  timeoutMs: number,
  sink: string[],
): Promise<RegExpMatchArray> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Not ready in ${timeoutMs} ms. Output:\n${text.slice(-4000)}`)),
      timeoutMs,
    );
  });
  try {
    for (let i = 0; i < 100_000; i++) {
      const { value, done } = await Promise.race([reader.read(), timeout]);
      if (done) throw new Error(`The process ended before it was ready. Output:\n${text.slice(-4000)}`);
      const chunk = decoder.decode(value, { stream: true });
      text += chunk;
      sink.push(chunk);
      const match = text.match(pattern);
      if (match) {
        // Keep draining in the background into `sink`.
        (async () => {
          for (let j = 0; j < 1_000_000; j++) {
            const next = await reader.read().catch(() => ({ done: true, value: undefined }));
            if (next.done) return;
            if (next.value) sink.push(decoder.decode(next.value, { stream: true }));
          }
        })();
        return match;
      }
    }
    throw new Error("Too much output before ready");
  } finally {
    clearTimeout(timer);
  }
}

/** `Authorization` header for a bearer token. */
export function bearer(token: string): HeadersInit {
  return { authorization: `Bearer ${token}` };
}

/** What {@link linkOverHttp} saw. */
export interface LinkOutcome {
  /** The ArcGIS user linked. */
  userId: string;
  /** The URLs visited, in order (authorize, callback, return URL). */
  hops: string[];
}

/**
 * Links the IdP user's ArcGIS account the way a browser would, over HTTP: `POST /link`, the ArcGIS authorize
 * page (the fake answers for its signed-in user), the broker's callback, the return URL with `linkId`, then
 * `POST /link/complete`.
 */
export async function linkOverHttp(
  brokerUrl: string,
  idpToken: string,
  returnTo: string,
): Promise<LinkOutcome> {
  const start = await fetch(`${brokerUrl}/link`, {
    method: "POST",
    headers: { ...bearer(idpToken), "content-type": "application/json" },
    body: JSON.stringify({ returnTo }),
  });
  const started = await start.json();
  assert.equal(start.status, 200, JSON.stringify(started));
  assert.equal(typeof started.authorizeUrl, "string");
  const hops: string[] = [started.authorizeUrl];
  let url = started.authorizeUrl as string;
  let linkId: string | null = null;
  for (let hop = 0; hop < 5 && linkId === null; hop++) {
    const response = await fetch(url, { redirect: "manual" });
    await response.body?.cancel();
    const location = response.headers.get("location");
    assert.ok(
      response.status >= 300 && response.status < 400 && location,
      `hop ${hop}: status ${response.status}`,
    );
    url = new URL(location, url).href;
    hops.push(url);
    if (url.startsWith(returnTo)) linkId = new URL(url).searchParams.get("linkId");
  }
  assert.ok(linkId, `the flow ended at the return URL with a linkId: ${hops.join(" → ")}`);
  const complete = await fetch(`${brokerUrl}/link/complete`, {
    method: "POST",
    headers: { ...bearer(idpToken), "content-type": "application/json" },
    body: JSON.stringify({ linkId }),
  });
  const completed = await complete.json();
  assert.equal(complete.status, 200, JSON.stringify(completed));
  return { userId: completed.userId, hops };
}

/**
 * Stops a `wrangler dev` child started in its own process group: SIGTERM to wrangler first (it stops workerd and
 * reaps it), up to 5 s for it to exit, then SIGKILL to whatever is left of the group.
 */
export async function stopProcessGroup(child: Deno.ChildProcess): Promise<void> {
  try {
    Deno.kill(child.pid, "SIGTERM");
  } catch {
    // already gone
  }
  let killer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([child.status, new Promise((resolve) => killer = setTimeout(resolve, 5_000))]);
  clearTimeout(killer);
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    // the group is already gone
  }
  await child.status;
}
