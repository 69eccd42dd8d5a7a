/**
 * An existing Hono app that adds the broker: it mounts the broker's routes under `/arcgis` and protects one of its
 * own routes with `broker.authenticate()`, which puts the verified IdP identity in `c.var.identity`.
 *
 *     BROKER_CONFIG="$(cat broker.config.json)" BROKER_SEALING_KEYS=k1:... npx deno run -A examples/hono_app.ts
 *
 * @module
 */
import { Hono } from "hono";
import { type Broker, type BrokerEnv, brokerFromEnv } from "arcgis-token-broker";

/** Builds the app around a broker. */
export function createApp(broker: Broker): Hono<BrokerEnv> {
  const app = new Hono<BrokerEnv>();

  // The app's own public route.
  app.get("/", (c) => c.text("Hello from my app"));

  // The broker: /arcgis/credentials, /arcgis/token, /arcgis/link…, /arcgis/proxy, /arcgis/health.
  app.route("/arcgis", broker.routes());

  // RFC 8414 metadata of the token endpoint; the well-known segment comes before the mount path, so at the root.
  app.route("/", broker.wellKnown());

  // One of the app's own routes, open only to callers with a valid IdP access token.
  app.get("/api/me", broker.authenticate(), (c) => {
    const { issuer, subject } = c.var.identity;
    return c.json({ issuer, subject });
  });

  return app;
}

if (import.meta.main) {
  // Fails closed: brokerFromEnv throws a ConfigError naming what is missing when BROKER_CONFIG is not set.
  const broker = brokerFromEnv(Deno.env.toObject());
  Deno.serve({ port: 8000 }, createApp(broker).fetch);
}
