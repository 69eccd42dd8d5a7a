/** A minimal valid config input, for tests that vary one field at a time. */
export function minimalConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    issuers: [{ issuer: "https://idp.example.com", audience: "arcgis-broker" }],
    arcgis: { portalUrl: "https://myorg.maps.arcgis.com/sharing/rest", orgId: "ORG123" },
    profiles: {
      viewer: { mode: "app", clientId: "app-client", clientSecretEnv: "ARCGIS_APP_SECRET" },
    },
    rules: [{ profile: "viewer" }],
    sealing: { keysEnv: "BROKER_SEALING_KEYS" },
    ...overrides,
  };
}

/** A 32-byte sealing keyring in the `kid:base64` format. */
export const TEST_KEYRING = `k1:${btoa(String.fromCharCode(...new Uint8Array(32).map((_, i) => i + 1)))}`;

/** Secrets matching {@link minimalConfig}. */
export const TEST_SECRETS: Record<string, string> = {
  ARCGIS_APP_SECRET: "app-secret-value-1234",
  BROKER_SEALING_KEYS: TEST_KEYRING,
};
