import assert from "node:assert/strict";
import { createDeadlineQueue, type DeadlineClock } from "../../src/proxy/_deadlines.ts";
import { createProxyHandler } from "../../src/proxy/mod.ts";
import { createFakeArcGIS } from "../../src/testing/mod.ts";
import type { UpstreamToken } from "../../src/types.ts";
import { entry, GIS, IDENTITY, proxyConfig, rejectsWith, SERVICES, START_MS } from "./_harness.ts";

/** A manual clock: timers run only when the test moves time. */
function fakeClock(options: { unref?: boolean } = {}) {
  const unrefed = new Set<number>();
  let nowMs = 0;
  let nextId = 1;
  const timers = new Map<number, { dueMs: number; callback: () => void }>();
  const clock: DeadlineClock = {
    now: () => nowMs,
    setTimer: (callback, delayMs) => {
      const id = nextId++;
      timers.set(id, { dueMs: nowMs + delayMs, callback });
      return id;
    },
    clearTimer: (timer) => {
      timers.delete(timer as number);
    },
    refTimer: (timer, referenced) => {
      if (!options.unref) return false;
      if (referenced) unrefed.delete(timer as number);
      else unrefed.add(timer as number);
      return true;
    },
  };
  return {
    clock,
    timers,
    unrefed,
    /** Moves time to `toMs`, running due timers in order. */
    advanceTo(toMs: number) {
      for (let guard = 0; guard < 1000; guard++) {
        const due = [...timers].filter(([, t]) => t.dueMs <= toMs).sort((a, b) => a[1].dueMs - b[1].dueMs)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        nowMs = Math.max(nowMs, due[1].dueMs);
        due[1].callback();
      }
      nowMs = toMs;
    },
  };
}

Deno.test("shared deadlines: one timer for all, each callback on time and in order", () => {
  const t = fakeClock();
  const queue = createDeadlineQueue(100, { shared: true, clock: t.clock });
  const ran: string[] = [];
  queue.add(() => ran.push("a"));
  t.advanceTo(10);
  queue.add(() => ran.push("b"));
  t.advanceTo(20);
  queue.add(() => ran.push("c"));
  assert.equal(t.timers.size, 1, "one timer for three deadlines");
  t.advanceTo(99);
  assert.equal(ran.length, 0);
  t.advanceTo(100);
  assert.deepEqual(ran, ["a"]);
  t.advanceTo(115);
  assert.deepEqual(ran, ["a", "b"]);
  t.advanceTo(200);
  assert.deepEqual(ran, ["a", "b", "c"]);
  assert.equal(t.timers.size, 0, "nothing pending: no timer");
});

Deno.test("shared deadlines: a cancelled deadline never runs, and the timer goes once nothing is pending", () => {
  const t = fakeClock();
  const queue = createDeadlineQueue(50, { shared: true, clock: t.clock });
  const ran: string[] = [];
  const a = queue.add(() => ran.push("a"));
  t.advanceTo(5);
  const b = queue.add(() => ran.push("b"));
  a.cancel();
  assert.equal(t.timers.size, 1, "b still pending");
  t.advanceTo(50); // a's instant: the timer may fire early, finds nothing due, waits for b
  assert.equal(ran.length, 0);
  assert.equal(t.timers.size, 1);
  b.cancel();
  assert.equal(t.timers.size, 0);
  t.advanceTo(500);
  assert.equal(ran.length, 0);
  b.cancel(); // harmless twice
  const c = queue.add(() => ran.push("c"));
  t.advanceTo(550);
  c.cancel(); // harmless after it ran
  assert.deepEqual(ran, ["c"]);
  assert.equal(t.timers.size, 0);
});

Deno.test("shared deadlines, unreferenced timer: left to run out when idle, never a timer per request", () => {
  const t = fakeClock({ unref: true });
  const queue = createDeadlineQueue(50, { shared: true, clock: t.clock });
  const ran: string[] = [];
  let armed = 0;
  const setTimer = t.clock.setTimer;
  t.clock.setTimer = (callback, delayMs) => {
    armed++;
    return setTimer(callback, delayMs);
  };
  for (let i = 0; i < 10; i++) {
    queue.add(() => ran.push(`r${i}`)).cancel(); // one request at a time, each done within 1 ms
    t.advanceTo(i + 1);
  }
  assert.equal(armed, 1, "one timer for ten requests one after another");
  assert.equal(t.timers.size, 1);
  assert.ok(
    [...t.timers.keys()].every((id) => t.unrefed.has(id)),
    "the idle timer does not hold the process",
  );
  const slow = queue.add(() => ran.push("slow"));
  assert.equal(t.unrefed.size, 0, "referenced again while something is pending");
  t.advanceTo(50); // the idle timer runs out early for the slow one and waits again
  assert.equal(ran.length, 0);
  t.advanceTo(60);
  assert.deepEqual(ran, ["slow"]);
  slow.cancel();
  t.advanceTo(1000);
  assert.equal(t.timers.size, 0, "nothing pending: not armed again");
  assert.deepEqual(ran, ["slow"]);
});

Deno.test("shared deadlines: a throwing callback does not stop the others; a callback may add a deadline", () => {
  const t = fakeClock();
  const queue = createDeadlineQueue(10, { shared: true, clock: t.clock });
  const ran: string[] = [];
  queue.add(() => {
    ran.push("a");
    throw new Error("boom");
  });
  queue.add(() => {
    ran.push("b");
    queue.add(() => ran.push("b2"));
  });
  t.advanceTo(10);
  assert.deepEqual(ran, ["a", "b"]);
  assert.equal(t.timers.size, 1, "armed for the deadline added while firing");
  t.advanceTo(20);
  assert.deepEqual(ran, ["a", "b", "b2"]);
  assert.equal(t.timers.size, 0);
});

Deno.test("unshared deadlines (Workers): a timer each, cleared on cancel", () => {
  const t = fakeClock();
  const queue = createDeadlineQueue(10, { shared: false, clock: t.clock });
  const ran: string[] = [];
  const a = queue.add(() => ran.push("a"));
  queue.add(() => ran.push("b"));
  assert.equal(t.timers.size, 2);
  a.cancel();
  assert.equal(t.timers.size, 1);
  t.advanceTo(10);
  assert.deepEqual(ran, ["b"]);
});

function sharedTimerHandler(fetchTimeoutMs: number) {
  const fake = createFakeArcGIS({ origin: GIS, startTimeMs: START_MS });
  const token = fake.issueToken({ kind: "server", username: "alice", serverRoot: "/server" });
  const handler = createProxyHandler(
    { proxy: proxyConfig([entry(`${SERVICES}/`)], { fetchTimeoutMs }) },
    { fetch: fake.fetch, log: () => {} },
    {
      tokens: (): Promise<UpstreamToken> =>
        Promise.resolve({ token, expires: START_MS + 3_600_000, profile: "p" }),
      shareTimers: true,
    },
  );
  return { fake, handler };
}

const LAYER = `${SERVICES}/Trailheads/FeatureServer/0`;

Deno.test("proxy with shared timers: a hung upstream times out with 504 while other requests complete", async () => {
  const { fake, handler } = sharedTimerHandler(5);
  fake.injectFailure({ match: "FeatureServer/layer", mode: { kind: "hang" } });
  const hung = rejectsWith(() =>
    handler.handle(new Request(`https://broker.example.com/arcgis/proxy?${LAYER}?f=json`), {
      identity: IDENTITY,
      profiles: ["viewer"],
    })
  );
  const ok = await handler.handle(
    new Request(`https://broker.example.com/arcgis/proxy?${SERVICES}/Trailheads/FeatureServer?f=json`),
    { identity: IDENTITY, profiles: ["viewer"] },
  );
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  assert.equal((await hung).code, "ERR_UPSTREAM_TIMEOUT");
});

Deno.test("proxy with shared timers: a client abort while the upstream is slow aborts the upstream request", async () => {
  const { fake, handler } = sharedTimerHandler(30_000);
  fake.injectFailure({ match: "FeatureServer/layer", mode: { kind: "hang" } });
  const controller = new AbortController();
  const pending = handler.handle(
    new Request(`https://broker.example.com/arcgis/proxy?${LAYER}?f=json`, { signal: controller.signal }),
    { identity: IDENTITY, profiles: ["viewer"] },
  );
  await Promise.resolve();
  controller.abort();
  const error = await rejectsWith(() => pending);
  assert.equal(error.code, "ERR_ARCGIS_BAD_GATEWAY");
});
