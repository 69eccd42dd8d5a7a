/**
 * Configurations that cannot work, each with what a user must read about it: the entries (Deno, Workers) refuse
 * them at startup with the field, the problem and the fix, and never print a value or a stack trace.
 *
 * @module
 */
import { SEALING_ENV, sealingKeyring } from "./_harness.ts";

/** One broken setup and what the entry must say about it. */
export interface StartupCase {
  /** What is wrong, for the test name. */
  name: string;
  /** The environment (config text and secrets). */
  env: Record<string, string>;
  /** Patterns the printed error must match: the field path with its problem, and the fix. */
  expect: RegExp[];
  /** Text that must never be printed (a secret value). */
  secret?: string;
}

/** A config that works once its secrets are set (nothing is fetched at startup). */
export function workingConfig(): Record<string, unknown> {
  return {
    issuers: [{ issuer: "https://idp.example.com", audience: "arcgis-broker" }],
    arcgis: {
      portalUrl: "https://gis.example.com/portal/sharing/rest",
      servers: ["https://gis.example.com/server"],
    },
    profiles: {
      me: {
        mode: "user",
        clientId: "broker-app",
        redirectUri: "https://broker.example.com/arcgis/link/callback",
      },
    },
    rules: [{ profile: "me" }],
    proxy: { allow: [{ url: "https://gis.example.com/server/rest/services/" }] },
    link: { returnUrls: ["https://app.example.com/"] },
    sealing: { keysEnv: SEALING_ENV },
  };
}

const SHORT_KEY = btoa("sixteen-byte-key");

/** The broken setups of issue 10's "Startup errors a user can act on". */
export function startupCases(): StartupCase[] {
  const config = workingConfig();
  const arcgis = config.arcgis as Record<string, unknown>;
  return [
    {
      name: "a malformed keyring",
      env: { BROKER_CONFIG: JSON.stringify(config), [SEALING_ENV]: `k1:${SHORT_KEY}` },
      expect: [
        /sealing\.keysEnv: Malformed keyring in "BROKER_SEALING_KEYS": entry 1 key is 16 bytes, expected 32/,
        /fix: write "kid:base64key" entries.*32 random bytes/,
      ],
      secret: SHORT_KEY,
    },
    {
      name: "a missing secret",
      env: {
        BROKER_CONFIG: JSON.stringify({
          ...config,
          profiles: { viewer: { mode: "app", clientId: "app", clientSecretEnv: "ARCGIS_APP_SECRET" } },
          rules: [{ profile: "viewer" }],
        }),
        [SEALING_ENV]: sealingKeyring(),
      },
      expect: [
        /profiles\.viewer\.clientSecretEnv: Required: the environment variable "ARCGIS_APP_SECRET" is not set/,
        /fix: set "ARCGIS_APP_SECRET"/,
      ],
    },
    {
      name: "a missing field",
      env: {
        BROKER_CONFIG: JSON.stringify({ ...config, arcgis: { servers: arcgis.servers } }),
        [SEALING_ENV]: sealingKeyring(),
      },
      expect: [/arcgis\.portalUrl: Required/],
    },
    {
      name: "a user profile without link.returnUrls",
      env: { BROKER_CONFIG: JSON.stringify({ ...config, link: {} }), [SEALING_ENV]: sealingKeyring() },
      expect: [
        /link\.returnUrls: Required by the user profile "me": without a return URL every link answers 404/,
        /fix: list the app pages the link flow may return to/,
      ],
    },
    {
      name: "a proxy entry no profile can serve",
      env: {
        BROKER_CONFIG: JSON.stringify({
          ...config,
          proxy: { allow: [{ url: "https://other.example.com/server/rest/services/" }] },
        }),
        [SEALING_ENV]: sealingKeyring(),
      },
      expect: [
        /proxy\.allow\.0\.url: No profile can serve this entry/,
        /fix: add the server's root \(e\.g\. "https:\/\/other\.example\.com\/server"\) to arcgis\.servers/,
      ],
    },
  ];
}

/** A line of a JavaScript stack trace. */
export const STACK_LINE: RegExp = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;
