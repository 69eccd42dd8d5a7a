import assert from "node:assert/strict";
import type { ProxyEntryConfig } from "../../src/config/schema.ts";
import { createAllowlist, isDeniedPath, isEditOperationPath } from "../../src/proxy/mod.ts";

function entry(url: string, extra: Partial<ProxyEntryConfig> = {}): ProxyEntryConfig {
  return { url, methods: ["GET", "POST"], tokenIn: "header", allowEdits: false, ...extra };
}

const ORG = "https://services.arcgis.com/ORG123/arcgis/rest/services/";

Deno.test("createAllowlist() matches scheme, host and port exactly", () => {
  const list = createAllowlist([entry(ORG), entry("https://gis.example.com:8443/server/rest/services/")]);
  assert.ok(list.match(new URL(`${ORG}X/FeatureServer`)));
  assert.equal(
    list.match(new URL("https://services.arcgis.com.evil.com/ORG123/arcgis/rest/services/X")),
    undefined,
  );
  assert.equal(
    list.match(new URL("https://evil.services.arcgis.com/ORG123/arcgis/rest/services/X")),
    undefined,
  );
  assert.equal(
    list.match(new URL("https://services.arcgis.com:8443/ORG123/arcgis/rest/services/X")),
    undefined,
  );
  assert.equal(list.match(new URL("http://services.arcgis.com/ORG123/arcgis/rest/services/X")), undefined);
  assert.ok(list.match(new URL("https://gis.example.com:8443/server/rest/services/X/MapServer")));
  assert.equal(list.match(new URL("https://gis.example.com/server/rest/services/X/MapServer")), undefined);
});

Deno.test("createAllowlist() matches the path prefix on whole segments, the org id included", () => {
  const list = createAllowlist([entry("https://h.example/a/b/")]);
  assert.ok(list.match(new URL("https://h.example/a/b")));
  assert.ok(list.match(new URL("https://h.example/a/b/")));
  assert.ok(list.match(new URL("https://h.example/a/b/c/d")));
  assert.equal(list.match(new URL("https://h.example/a/bc")), undefined);
  assert.equal(list.match(new URL("https://h.example/a")), undefined);
  assert.equal(list.match(new URL("https://h.example/A/b/c")), undefined, "paths are case-sensitive");
  const org = createAllowlist([entry(ORG)]);
  assert.equal(org.match(new URL("https://services.arcgis.com/OTHERORG/arcgis/rest/services/X")), undefined);
  assert.equal(org.match(new URL("https://services.arcgis.com/ORG1234/arcgis/rest/services/X")), undefined);
});

Deno.test("createAllowlist() denies everything when empty", () => {
  const list = createAllowlist([]);
  assert.equal(list.match(new URL(`${ORG}X/FeatureServer`)), undefined);
});

Deno.test("createAllowlist() prefers the most specific entry", () => {
  const general = entry(ORG);
  const editable = entry(`${ORG}Editable/FeatureServer`, { allowEdits: true });
  const list = createAllowlist([general, editable]);
  assert.equal(list.match(new URL(`${ORG}Editable/FeatureServer/0/applyEdits`)), editable);
  assert.equal(list.match(new URL(`${ORG}Other/FeatureServer/0/applyEdits`)), general);
});

Deno.test("isDeniedPath() refuses token and admin endpoints in any case and encoding", () => {
  for (
    const path of [
      "/portal/sharing/rest/generateToken",
      "/portal/sharing/rest/GENERATETOKEN",
      "/portal/sharing/generateToken",
      "/server/tokens/generateToken",
      "/server/tokens/",
      "/portal/sharing/rest/oauth2/token",
      "/portal/sharing/rest/OAuth2/authorize",
      "/server/admin/services",
      "/server/Admin",
      "/portal/sharing/rest/community/self",
      "/portal/sharing/rest/Community/Self",
      "/portal/sharing/rest/portals/self",
      "/portal/sharing/rest/portals/SELF/",
      "/server/%61dmin/x",
      "/portal/sharing/rest/%67enerateToken",
    ]
  ) {
    assert.ok(isDeniedPath(path), path);
  }
  for (
    const path of [
      "/server/rest/services/X/MapServer",
      "/portal/sharing/rest/community/users/x",
      "/portal/sharing/rest/portals/abc123",
      "/server/rest/services/administration/MapServer",
    ]
  ) {
    assert.ok(!isDeniedPath(path), path);
  }
});

Deno.test("isEditOperationPath() finds edit operations as path segments in any case", () => {
  for (
    const path of [
      "/s/rest/services/X/FeatureServer/applyEdits",
      "/s/rest/services/X/FeatureServer/0/applyEdits",
      "/s/rest/services/X/FeatureServer/0/addFeatures",
      "/s/rest/services/X/FeatureServer/0/UPDATEFEATURES",
      "/s/rest/services/X/FeatureServer/0/deleteFeatures",
      "/s/rest/services/X/FeatureServer/0/12/addAttachment",
      "/s/rest/services/X/FeatureServer/0/12/updateAttachment",
      "/s/rest/services/X/FeatureServer/0/12/deleteAttachments",
      "/s/rest/services/X/FeatureServer/0/calculate",
      "/s/rest/services/X/FeatureServer/0/append",
      "/s/rest/services/X/FeatureServer/0/%61pplyEdits",
    ]
  ) {
    assert.ok(isEditOperationPath(path), path);
  }
  for (
    const path of [
      "/s/rest/services/X/FeatureServer/0/query",
      "/s/rest/services/X/FeatureServer/0",
      "/s/rest/services/X/MapServer/tile/1/2/3",
      "/s/rest/services/X/FeatureServer/0/12/attachments/3",
    ]
  ) {
    assert.ok(!isEditOperationPath(path), path);
  }
});
