import assert from "node:assert/strict";
import { ConfigError, createBrokerCache } from "../../src/hono/broker.ts";
import { minimalConfig, TEST_SECRETS } from "../support/config_fixtures.ts";

const configText = JSON.stringify(minimalConfig());

Deno.test("a broker cache reuses one broker while the config text and secrets are unchanged", () => {
  const cache = createBrokerCache();
  const env = { BROKER_CONFIG: configText, ...TEST_SECRETS, UNRELATED: "x" };
  const first = cache.get(env);
  assert.equal(cache.get({ ...env }), first, "a new env object with the same values reuses the broker");
  assert.equal(
    cache.get({ ...env, UNRELATED: "y" }),
    first,
    "variables the config does not name do not matter",
  );
  const otherConfig = cache.get({
    ...env,
    BROKER_CONFIG: JSON.stringify(minimalConfig({ mountPath: "/gis" })),
  });
  assert.notEqual(otherConfig, first);
  assert.equal(otherConfig.config.mountPath, "/gis");
  const otherSecret = cache.get({
    ...env,
    BROKER_CONFIG: configText,
    ARCGIS_APP_SECRET: "rotated-secret-value",
  });
  assert.notEqual(otherSecret, otherConfig);
});

Deno.test("a broker cache fails closed without BROKER_CONFIG or a named secret, naming what is missing", () => {
  const cache = createBrokerCache();
  assert.throws(
    () => cache.get({ ...TEST_SECRETS }),
    (e) => e instanceof ConfigError && /BROKER_CONFIG/.test(e.message),
  );
  assert.throws(
    () => cache.get({ BROKER_CONFIG: configText, BROKER_SEALING_KEYS: TEST_SECRETS.BROKER_SEALING_KEYS }),
    (e) =>
      e instanceof ConfigError && /ARCGIS_APP_SECRET/.test(e.message) &&
      !e.message.includes(TEST_SECRETS.BROKER_SEALING_KEYS),
  );
});

Deno.test("the Workers rate-limiting binding named by the config must exist", () => {
  const cache = createBrokerCache();
  const config = JSON.stringify(minimalConfig({ proxy: { rateLimitBinding: "LIMITER" } }));
  assert.throws(
    () => cache.get({ BROKER_CONFIG: config, ...TEST_SECRETS }),
    (e) => e instanceof ConfigError && /LIMITER/.test(e.message),
  );
  const keys: string[] = [];
  const broker = cache.get({
    BROKER_CONFIG: config,
    ...TEST_SECRETS,
    LIMITER: {
      limit: ({ key }: { key: string }) => {
        keys.push(key);
        return Promise.resolve({ success: false });
      },
    },
  });
  assert.equal(broker.config.proxy.rateLimitBinding, "LIMITER");
  assert.deepEqual(keys, [], "nothing is limited before a request");
});
