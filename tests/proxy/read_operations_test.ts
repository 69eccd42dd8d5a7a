/**
 * Read-only entries forward the reads of `read_operations.ts` and nothing else; token minting and administration
 * are refused for every entry; names are compared on decoded canonical segments.
 */
import assert from "node:assert/strict";
import { classifyOperation } from "../../src/proxy/read_operations.ts";
import { _comparableSegments } from "../../src/proxy/_path_segments.ts";
import { MAX_TARGET_CHARS } from "../../src/proxy/mod.ts";
import { entry, GIS, PORTAL, rejectsWith, SERVICES, setup } from "./_harness.ts";

const ITEM = "0123456789abcdef0123456789abcdef";
const FS = `${SERVICES}/Trailheads/FeatureServer`;

function kind(path: string): string {
  return classifyOperation(_comparableSegments(new URL(path, GIS).pathname)).kind;
}

/** The writes and administrative operations the security review got through read-only entries. */
const REVIEW_WRITES = [
  `${PORTAL}/content/users/alice/items/${ITEM}/delete`,
  `${PORTAL}/content/users/alice/items/${ITEM}/update`,
  `${PORTAL}/content/users/alice/shareItems`,
  `${PORTAL}/content/items/${ITEM}/protect`,
  `${PORTAL}/content/items/${ITEM}/share`,
  `${PORTAL}/community/users/alice/update`,
  `${PORTAL}/community/users/alice/delete`,
  `${PORTAL}/community/createGroup`,
  `${PORTAL}/community/groups/${ITEM}/addUsers`,
  `${FS}/synchronizeReplica`,
  `${FS}/createReplica`,
  `${FS}/0/applyEdits`,
  `${FS}/0/someFutureOperation`,
  `${SERVICES}/Trailheads/VersionManagementServer/versions/${ITEM}/delete`,
  `${SERVICES}/Print/GPServer/Export%20Web%20Map%20Task/execute`,
];

const ADMIN = [
  `${PORTAL}/portals/P3ePLMYs2RVChkJx/update`,
  `${PORTAL}/portals/P3ePLMYs2RVChkJx/updateUserRole`,
  `${PORTAL}/portals/self`,
  `${PORTAL}/accounts/self`,
  `${PORTAL}/community/self`,
  `${PORTAL}/generateToken`,
  `${PORTAL}/oauth2/token`,
  `${GIS}/server/admin/services`,
  `${GIS}/server/tokens/generateToken`,
];

const READS = [
  `${FS}`,
  `${FS}/0`,
  `${FS}/0/query`,
  `${FS}/0/12/attachments/3`,
  `${FS}/queryDomains`,
  `${SERVICES}/Basemap/MapServer/tile/3/2/1`,
  `${SERVICES}/Basemap/MapServer/export`,
  `${SERVICES}/Basemap/MapServer/0/queryRelatedRecords`,
  `${SERVICES}/Imagery/ImageServer/exportImage`,
  `${SERVICES}/Streets/VectorTileServer/tile/3/2/1.pbf`,
  `${SERVICES}/Streets/VectorTileServer/resources/styles/root.json`,
  `${SERVICES}/City/SceneServer/layers/0/nodes/12/geometries/0`,
  `${SERVICES}/Locator/GeocodeServer/findAddressCandidates`,
  `${SERVICES}/Utilities/Geometry/GeometryServer/project`,
  `${SERVICES}/Print/GPServer/Export%20Web%20Map%20Task`,
  `${SERVICES}/Print/GPServer/Task/jobs/j0123/results/Output_File`,
  `${SERVICES}/Route/NAServer/Route/solve`,
  `${SERVICES}/`,
  `${SERVICES}/Folder`,
  `${PORTAL}/content/items/${ITEM}`,
  `${PORTAL}/content/items/${ITEM}/data`,
  `${PORTAL}/content/items/${ITEM}/info/thumbnail/thumb.png`,
  `${PORTAL}/search`,
  `${PORTAL}/community/users/alice`,
  `${PORTAL}/community/groups/${ITEM}`,
  `${PORTAL}/portals/P3ePLMYs2RVChkJx`,
];

Deno.test("classifyOperation() reads the review's writes as writes and its admin paths as denied", () => {
  for (const path of REVIEW_WRITES) assert.equal(kind(path), "write", path);
  for (const path of ADMIN) assert.equal(kind(path), "denied", path);
  for (const path of READS) assert.equal(kind(path), "read", path);
});

Deno.test("classifyOperation() marks item data, item files and attachments as raw content", () => {
  const raw = (path: string) => classifyOperation(_comparableSegments(new URL(path).pathname)).raw;
  assert.equal(raw(`${PORTAL}/content/items/${ITEM}/data`), true);
  assert.equal(raw(`${PORTAL}/content/items/${ITEM}/resources/a.json`), true);
  assert.equal(raw(`${FS}/0/12/attachments/3`), true);
  assert.equal(raw(`${FS}/0/query`), false);
  assert.equal(raw(`${PORTAL}/content/items/${ITEM}`), false);
});

Deno.test("proxy: a read-only entry refuses every write of the review with 403 before any upstream request", async () => {
  for (const target of REVIEW_WRITES) {
    const h = setup({ allow: [entry(`${SERVICES}/`), entry(`${PORTAL}/`)] });
    const error = await rejectsWith(() => h.call(target, { method: "POST" }));
    assert.equal(error.code, "ERR_TARGET_NOT_ALLOWED", target);
    assert.equal(h.fake.requests.length, 0, target);
    assert.equal(h.tokenCalls.length, 0, target);
    const log = h.logs.find((l) => l.msg.includes("not a read"));
    assert.ok(log !== undefined, `the log names the refusal for ${target}`);
    assert.equal(typeof log.operation, "string");
    assert.ok(!JSON.stringify(log).includes("/rest/"), "no raw target in the log");
  }
});

Deno.test("proxy: the log names the refused operation", async () => {
  const h = setup({ allow: [entry(`${SERVICES}/`)] });
  await rejectsWith(() => h.call(`${FS}/0/applyEdits`, { method: "POST" }));
  const log = h.logs.find((l) => l.msg.includes("not a read"))!;
  assert.equal(log.operation, "applyedits");
  assert.equal(log.resourceType, "FeatureServer");
});

Deno.test("proxy: token minting and administration are refused even with allowEdits", async () => {
  for (const target of ADMIN) {
    const h = setup({ allow: [entry(`${GIS}/`, { allowEdits: true })] });
    const error = await rejectsWith(() => h.call(target));
    assert.equal(error.code, "ERR_TARGET_NOT_ALLOWED", target);
    assert.equal(h.fake.requests.length, 0, target);
  }
});

Deno.test("proxy: reads pass a read-only entry, by GET and by POST", async () => {
  const h = setup();
  const get = await h.call(`${FS}/0/query?f=json&where=1%3D1`);
  assert.equal(get.status, 200);
  await get.body?.cancel();
  const post = await h.call(`${FS}/0/query`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "f=json&where=1%3D1",
  });
  assert.equal(post.status, 200);
  assert.ok((await post.json()).features.length > 0);
});

Deno.test("proxy: a read-only entry refuses PUT, DELETE and PATCH even on a read path", async () => {
  for (const method of ["PUT", "DELETE", "PATCH"]) {
    const h = setup({
      allow: [entry(`${SERVICES}/`, { methods: ["GET", "POST", "PUT", "DELETE", "PATCH"] })],
    });
    const error = await rejectsWith(() => h.call(`${FS}/0/query`, { method }));
    assert.equal(error.code, "ERR_TARGET_NOT_ALLOWED", method);
    assert.equal(h.fake.requests.length, 0);
  }
});

Deno.test("proxy: empty segments and encoded non-ASCII bytes in the path are 400", async () => {
  for (
    const target of [
      `${PORTAL}/community//self`,
      `${FS}//0/query`,
      `${FS}/0/applyEd%C4%B1ts`,
      `${FS}/0/%C3%A9`,
    ]
  ) {
    const h = setup({ allow: [entry(`${SERVICES}/`), entry(`${PORTAL}/`)] });
    const error = await rejectsWith(() => h.call(target));
    assert.equal(error.code, "ERR_TARGET_MALFORMED", target);
    assert.equal(h.fake.requests.length, 0);
  }
  const h = setup();
  const trailing = await h.call(`${FS}/0/`);
  assert.equal(trailing.status, 200, "one trailing slash is fine");
  await trailing.body?.cancel();
});

Deno.test("proxy: a target longer than MAX_TARGET_CHARS is 414, one at the cap is not", async () => {
  const h = setup();
  const base = `${FS}/0/query?f=json&where=`;
  const error = await rejectsWith(() => h.call(base + "x".repeat(MAX_TARGET_CHARS - base.length + 1)));
  assert.equal(error.code, "ERR_TARGET_TOO_LONG");
  assert.equal(h.fake.requests.length, 0);
  const atCap = await h.call(base + "1".repeat(MAX_TARGET_CHARS - base.length));
  assert.notEqual(atCap.status, 414);
  await atCap.body?.cancel();
});

Deno.test("proxy: item data that looks like a 498 envelope is passed on as content, with no token refresh", async () => {
  const authored = '{"error":{"code":498,"message":"written by anyone"}}';
  const h = setup({
    allow: [entry(`${PORTAL}/`)],
    fetch: () => Promise.resolve(new Response(authored, { headers: { "content-type": "application/json" } })),
  });
  const data = await h.call(`${PORTAL}/content/items/${ITEM}/data`);
  assert.equal(data.status, 200);
  assert.equal(await data.text(), authored);
  assert.equal(h.tokenCalls.length, 1);
  assert.ok(h.tokenCalls.every((c) => c.options.forceRefresh !== true));
  // The same text from an ArcGIS resource is an error envelope: refreshed once, then a 502.
  const item = await rejectsWith(() => h.call(`${PORTAL}/content/items/${ITEM}`));
  assert.equal(item.code, "ERR_ARCGIS_BAD_GATEWAY");
  assert.equal(h.tokenCalls.filter((c) => c.options.forceRefresh === true).length, 1);
});
