import assert from "node:assert/strict";
import {
  addProxyRules,
  type BrokerCredentials,
  createArcGISCredentialsClient,
  type Navigation,
  proxyInterceptor,
  type RegisterTokenProperties,
  type Timers,
} from "../../src/client/mod.ts";

const BROKER = "https://app.example.com/arcgis";
const PORTAL = "https://gis.example.com/portal/sharing/rest";
const SERVER = "https://gis.example.com/server/rest/services";
const TOKEN_MS = 30 * 60_000;

/** A virtual clock with timers that only run when the test says so. */
function createVirtualTime(startMs: number) {
  let nowMs = startMs;
  let nextId = 1;
  const tasks = new Map<number, { at: number; run: () => void }>();
  const timers: Timers = {
    setTimeout: (run, delayMs) => {
      const id = nextId++;
      tasks.set(id, { at: nowMs + delayMs, run });
      return id;
    },
    clearTimeout: (handle) => {
      tasks.delete(handle as number);
    },
  };
  return {
    timers,
    now: () => nowMs,
    pending: () => [...tasks.values()].map((t) => t.at).sort((a, b) => a - b),
    /** Moves the clock to the next timer and runs it; returns false when none is pending. */
    fireNext(): boolean {
      const next = [...tasks.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (next === undefined) return false;
      tasks.delete(next[0]);
      nowMs = Math.max(nowMs, next[1].at);
      next[1].run();
      return true;
    },
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

interface FakeBrokerCall {
  method: string;
  path: string;
  authorization: string | null;
  body: unknown;
}

/** A fake broker: `/credentials`, `/link`, `/link/complete`, with switchable answers. */
function createFakeBroker(now: () => number) {
  const calls: FakeBrokerCall[] = [];
  let issued = 0;
  const state = {
    linked: true,
    completeStatus: 200,
    failNext: undefined as undefined | { status: number; retryAfter?: string },
  };
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = request.method === "POST" ? await request.json() : undefined;
    const path = url.pathname.slice("/arcgis".length);
    calls.push({ method: request.method, path, authorization: request.headers.get("authorization"), body });
    const json = (value: unknown, status = 200, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify(value), {
        status,
        headers: { "content-type": "application/json", ...headers },
      });
    if (path === "/credentials") {
      if (state.failNext !== undefined) {
        const failure = state.failNext;
        state.failNext = undefined;
        return json(
          { error: "temporarily_unavailable" },
          failure.status,
          failure.retryAfter ? { "retry-after": failure.retryAfter } : {},
        );
      }
      if (!state.linked) return json({ error: "link_required", link: "/arcgis/link" }, 403);
      issued++;
      const expires = now() + TOKEN_MS;
      const answer: BrokerCredentials = {
        userId: "alice",
        expires: expires - 60_000,
        credentials: [
          { server: PORTAL, token: `portal-${issued}`, expires, ssl: true, userId: "alice" },
          {
            server: SERVER,
            token: `server-${issued}`,
            expires: expires - 60_000,
            ssl: true,
            userId: "alice",
          },
        ],
      };
      return json(answer);
    }
    if (path === "/link" && request.method === "POST") {
      return json({ authorizeUrl: `${PORTAL}/oauth2/authorize?client_id=x&state=s` });
    }
    if (path === "/link/complete") {
      if (state.completeStatus !== 200) return json({ error: "invalid_request" }, state.completeStatus);
      state.linked = true;
      return json({ linked: true, userId: "alice" });
    }
    return json({ error: "not_found" }, 404);
  };
  return { fetch: fetch as typeof globalThis.fetch, calls, state };
}

function createNavigation(href: string) {
  const assigned: string[] = [];
  const replaced: string[] = [];
  let current = href;
  const navigation: Navigation = {
    href: () => current,
    assign: (url) => {
      assigned.push(url);
    },
    replace: (url) => {
      replaced.push(url);
      current = url;
    },
  };
  return { navigation, assigned, replaced };
}

function setup(options: { href?: string; linked?: boolean } = {}) {
  const time = createVirtualTime(1_750_000_000_000);
  const broker = createFakeBroker(time.now);
  broker.state.linked = options.linked ?? true;
  const nav = createNavigation(options.href ?? "https://app.example.com/map?view=1");
  const registered: RegisterTokenProperties[] = [];
  const errors: Error[] = [];
  let idpTokens = 0;
  const events: Array<() => void> = [];
  const client = createArcGISCredentialsClient({
    brokerUrl: `${BROKER}/`,
    getIdpToken: () => Promise.resolve(`idp-token-${++idpTokens}`),
    identityManager: { registerToken: (p) => registered.push(p) },
    fetch: broker.fetch,
    now: time.now,
    timers: time.timers,
    navigation: nav.navigation,
    onError: (e) => {
      errors.push(e);
      events.splice(0).forEach((f) => f());
    },
    onCredentials: () => events.splice(0).forEach((f) => f()),
  });
  /** Fires the next timer and waits until its refresh registered credentials or failed. */
  const fireAndSettle = async (): Promise<boolean> => {
    const settled = new Promise<void>((resolve) => events.push(resolve));
    if (!time.fireNext()) return false;
    await settled;
    return true;
  };
  return { time, broker, nav, registered, errors, client, fireAndSettle };
}

Deno.test("start() registers every credential with registerToken and schedules the next one before the earliest expiry", async () => {
  const t = setup();
  await t.client.start();
  assert.deepEqual(t.registered, [
    { server: PORTAL, token: "portal-1", expires: t.time.now() + TOKEN_MS, ssl: true, userId: "alice" },
    {
      server: SERVER,
      token: "server-1",
      expires: t.time.now() + TOKEN_MS - 60_000,
      ssl: true,
      userId: "alice",
    },
  ]);
  assert.deepEqual(t.time.pending(), [t.time.now() + TOKEN_MS - 60_000 - 120_000]);
  assert.equal(t.broker.calls[0].authorization, "Bearer idp-token-1");
  assert.equal(t.client.current?.userId, "alice");
  t.client.stop();
});

Deno.test("the helper re-registers fresh tokens before the registered ones expire, cycle after cycle", async () => {
  const t = setup();
  await t.client.start();
  const registeredUntil = new Map<string, number>();
  const track = () => {
    for (const p of t.registered.splice(0)) registeredUntil.set(p.server, p.expires!);
  };
  track();
  for (let cycle = 0; cycle < 8; cycle++) {
    const before = new Map(registeredUntil);
    assert.ok(await t.fireAndSettle());
    for (const [server, expires] of before) {
      assert.ok(t.time.now() < expires - 60_000, `re-registered ${server} with at least a minute left`);
    }
    track();
    for (const [server, expires] of registeredUntil) {
      assert.ok(expires > (before.get(server) ?? 0), `${server} got a later expiry`);
    }
  }
  assert.equal(t.broker.calls.filter((c) => c.path === "/credentials").length, 9);
  assert.equal(
    new Set(t.broker.calls.map((c) => c.authorization)).size,
    9,
    "a fresh IdP token for every call",
  );
  t.client.stop();
  assert.deepEqual(t.time.pending(), []);
});

Deno.test("link_required starts the link flow: POST /link with the page address, then a full-page redirect", async () => {
  const t = setup({ linked: false });
  await t.client.start();
  const link = t.broker.calls.find((c) => c.path === "/link")!;
  assert.equal(link.method, "POST");
  assert.deepEqual(link.body, { returnTo: "https://app.example.com/map?view=1" });
  assert.equal(link.authorization?.startsWith("Bearer "), true);
  assert.deepEqual(t.nav.assigned, [`${PORTAL}/oauth2/authorize?client_id=x&state=s`]);
  assert.deepEqual(t.time.pending(), [], "nothing runs after navigating away");
  assert.equal(t.registered.length, 0);
});

Deno.test("back with ?linkId= the helper completes the link, cleans the address and registers credentials", async () => {
  const t = setup({ href: "https://app.example.com/map?view=1&linkId=abc123#here", linked: false });
  await t.client.start();
  const complete = t.broker.calls.find((c) => c.path === "/link/complete")!;
  assert.deepEqual(complete.body, { linkId: "abc123" });
  assert.deepEqual(t.nav.replaced, ["https://app.example.com/map?view=1#here"]);
  assert.equal(t.registered.length, 2);
  assert.deepEqual(t.nav.assigned, []);
  t.client.stop();
});

Deno.test("a failed link completion does not start another redirect (no loop)", async () => {
  const t = setup({ href: "https://app.example.com/?linkId=expired", linked: false });
  t.broker.state.completeStatus = 400;
  await t.client.start();
  assert.deepEqual(t.nav.assigned, []);
  assert.equal(t.errors.length, 2);
  assert.deepEqual(t.nav.replaced, ["https://app.example.com/"]);
});

Deno.test("onLinkRequired can keep the page and start the link later", async () => {
  const time = createVirtualTime(0);
  const broker = createFakeBroker(time.now);
  broker.state.linked = false;
  const nav = createNavigation("https://app.example.com/");
  let start: (() => Promise<void>) | undefined;
  const client = createArcGISCredentialsClient({
    brokerUrl: BROKER,
    getIdpToken: () => Promise.resolve("t"),
    identityManager: { registerToken: () => {} },
    fetch: broker.fetch,
    now: time.now,
    timers: time.timers,
    navigation: nav.navigation,
    onLinkRequired: (event) => {
      start = event.link;
      return false;
    },
  });
  await client.start();
  assert.deepEqual(nav.assigned, []);
  await start!();
  assert.equal(nav.assigned.length, 1);
});

Deno.test("a broker outage is retried after Retry-After, keeping the registered tokens", async () => {
  const t = setup();
  await t.client.start();
  t.registered.length = 0;
  t.broker.state.failNext = { status: 503, retryAfter: "20" };
  const firedAt = t.time.pending()[0];
  assert.ok(await t.fireAndSettle());
  assert.equal(t.errors.length, 1);
  assert.deepEqual(t.time.pending(), [firedAt + 20_000]);
  assert.ok(await t.fireAndSettle());
  assert.equal(t.registered.length, 2);
  t.client.stop();
});

Deno.test("concurrent refresh() calls share one broker call", async () => {
  const t = setup();
  await Promise.all([t.client.refresh(), t.client.refresh(), t.client.refresh()]);
  assert.equal(t.broker.calls.length, 1);
  t.client.stop();
});

Deno.test("stop() cancels the schedule", async () => {
  const t = setup();
  await t.client.start();
  t.client.stop();
  assert.equal(t.time.fireNext(), false);
  await t.client.refresh();
  assert.equal(t.broker.calls.length, 1);
});

Deno.test("proxyInterceptor() adds the IdP bearer only to requests that go through the broker proxy", async () => {
  const interceptor = proxyInterceptor({
    brokerProxyUrl: `${BROKER}/proxy`,
    urlPrefixes: ["https://gis.example.com/server/rest/services/Secure/"],
    getIdpToken: () => Promise.resolve("idp"),
  });
  assert.deepEqual(interceptor.urls, [
    `${BROKER}/proxy`,
    "https://gis.example.com/server/rest/services/Secure/",
  ]);
  const cases: Array<[string, boolean]> = [
    ["https://gis.example.com/server/rest/services/Secure/Parks/FeatureServer/0/query?f=json", true],
    ["https://GIS.example.com/server/rest/services/secure/Parks/MapServer", true],
    [`${BROKER}/proxy?https://gis.example.com/server/rest/services/Secure/X/MapServer?f=json`, true],
    ["https://gis.example.com/server/rest/services/SecureX/Parks/FeatureServer", false],
    ["https://gis.example.com/server/rest/services/Public/FeatureServer", false],
    ["http://gis.example.com/server/rest/services/Secure/Parks/FeatureServer", false],
    ["https://evil.example.com/server/rest/services/Secure/", false],
    [`${BROKER}/proxyX?https://gis.example.com/`, false],
  ];
  for (const [url, expected] of cases) {
    const params = { url, requestOptions: { headers: { "X-Other": "1" } as Record<string, string> } };
    await interceptor.before(params);
    assert.equal(params.requestOptions.headers.Authorization === "Bearer idp", expected, url);
    assert.equal(params.requestOptions.headers["X-Other"], "1");
  }
  const rules: Array<{ urlPrefix: string; proxyUrl: string }> = [];
  addProxyRules({ addProxyRule: (rule) => rules.push(rule) }, {
    brokerProxyUrl: `${BROKER}/proxy`,
    urlPrefixes: ["https://gis.example.com/server/rest/services/Secure/"],
    getIdpToken: () => Promise.resolve("idp"),
  });
  assert.deepEqual(rules, [{
    urlPrefix: "https://gis.example.com/server/rest/services/Secure/",
    proxyUrl: `${BROKER}/proxy`,
  }]);
  assert.throws(() =>
    proxyInterceptor({ brokerProxyUrl: "/relative", urlPrefixes: [], getIdpToken: () => Promise.resolve("") })
  );
});

Deno.test("proxyInterceptor() accepts plain http prefixes on loopback only", async () => {
  const local = "http://127.0.0.1:8702/server/rest/services/Trailheads/FeatureServer";
  const interceptor = proxyInterceptor({
    brokerProxyUrl: `${BROKER}/proxy`,
    urlPrefixes: [local],
    getIdpToken: () => Promise.resolve("idp"),
  });
  const params = {
    url: `${local}/0/query?f=json`,
    requestOptions: { headers: {} as Record<string, string> },
  };
  await interceptor.before(params);
  assert.equal(params.requestOptions.headers.Authorization, "Bearer idp");
  for (const prefix of ["http://gis.example.com/server/rest/services/", "http://127.0.0.1.evil.com/x/"]) {
    assert.throws(
      () =>
        proxyInterceptor({
          brokerProxyUrl: `${BROKER}/proxy`,
          urlPrefixes: [prefix],
          getIdpToken: () => Promise.resolve(""),
        }),
      TypeError,
      prefix,
    );
  }
});

Deno.test("the browser helper imports nothing outside src/client", async () => {
  for (const name of ["mod.ts", "credentials_client.ts", "proxy_interceptor.ts", "constants.ts"]) {
    const text = await Deno.readTextFile(new URL(`../../src/client/${name}`, import.meta.url));
    for (const match of text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms)) {
      assert.match(match[1], /^\.\/[a-z_]+\.ts$/, `${name} imports ${match[1]}`);
    }
    assert.ok(!text.includes('@arcgis/core"'), `${name} imports @arcgis/core`);
  }
});
