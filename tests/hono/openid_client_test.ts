/**
 * RFC 8414 metadata for the token endpoint, checked with a real OAuth client: openid-client (v6) discovers the
 * broker on loopback and drives `/token` (RFC 8693 token exchange) with `genericGrantRequest`.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import * as client from "openid-client";
import { authorizationServerMetadataPath } from "../../src/hono/routes.ts";
import { createBrokerHarness, SERVER } from "../integration/_broker_harness.ts";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";

Deno.test("authorizationServerMetadataPath() puts the well-known segment before the mount path", () => {
  assert.equal(authorizationServerMetadataPath("/arcgis"), "/.well-known/oauth-authorization-server/arcgis");
  assert.equal(authorizationServerMetadataPath("/arcgis/"), "/.well-known/oauth-authorization-server/arcgis");
  assert.equal(authorizationServerMetadataPath("/"), "/.well-known/oauth-authorization-server");
});

Deno.test("openid-client discovers the broker's RFC 8414 metadata and exchanges an IdP token at /token", async () => {
  const h = await createBrokerHarness();
  const host = new Hono();
  host.route("/", h.broker.wellKnown());
  host.route("/", h.app);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, host.fetch);
  try {
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const metadata = await (await fetch(`${origin}/.well-known/oauth-authorization-server/arcgis`)).json();
    assert.equal(metadata.issuer, `${origin}/arcgis`);
    assert.equal(metadata.token_endpoint, `${origin}/arcgis/token`);
    assert.deepEqual(metadata.grant_types_supported, [TOKEN_EXCHANGE]);

    const config = await client.discovery(
      new URL(`${origin}/arcgis`),
      "arcgis-app",
      undefined,
      client.None(),
      {
        algorithm: "oauth2",
        execute: [client.allowInsecureRequests],
      },
    );
    assert.equal(config.serverMetadata().token_endpoint, `${origin}/arcgis/token`);
    const subject = await h.token("alice", { groups: ["viewers"] });
    const answer = await client.genericGrantRequest(config, TOKEN_EXCHANGE, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      resource: SERVER,
    });
    assert.equal(answer.issued_token_type, ACCESS_TOKEN);
    assert.equal(answer.token_type.toLowerCase(), "bearer");
    assert.equal(h.fake.inspectToken(answer.access_token)?.kind, "server");

    // A refusal reaches the client as an RFC 6749 §5.2 error.
    await assert.rejects(
      client.genericGrantRequest(config, TOKEN_EXCHANGE, {
        subject_token: subject,
        subject_token_type: ACCESS_TOKEN,
        audience: "urn:unrelated",
      }),
      (error: unknown) => {
        assert.ok(error instanceof client.ResponseBodyError);
        assert.equal(error.error, "invalid_target");
        return true;
      },
    );
  } finally {
    await server.shutdown();
  }
});
