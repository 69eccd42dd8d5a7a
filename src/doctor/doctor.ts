/**
 * {@link runDoctor}: checks a broker config against the real world and says, finding by finding, what is wrong
 * and how to fix it: the config itself and its secrets; each issuer's discovery and JWKS (algorithms, key types,
 * keys without `alg`); a sample token, check by check, with the rule that admits it; the portal (`info`,
 * `portals/self` with the app credentials, the org id); each server's `rest/info` (`owningSystemUrl` must be the
 * portal); each `user` profile's OAuth app and redirect URI (an authorize probe); the shared credentials.
 *
 * Web APIs only (it runs under Deno and Node). Nothing it prints contains a secret or the sample token.
 *
 * @module
 */
import { ConfigError, parseConfig, resolveSecrets, type Secrets } from "../config/load.ts";
import { expandIssuers, TENANT_PLACEHOLDER } from "../config/schema.ts";
import type { BrokerConfig, IssuerConfig } from "../config/types.ts";
import { type ArcGISUrls, createArcGISUrls, samePortal } from "../config/arcgis_urls.ts";
import { createTokenVerifier } from "../idp/token_verifier.ts";
import { discoveryUrl } from "../idp/discovery.ts";
import { fetchJson } from "../idp/fetch_json.ts";
import { buildKeySet } from "../idp/key_set.ts";
import {
  checkTimes,
  checkTyp,
  claimsPolicyOf,
  classifyToken,
  grantedScopes,
  tokenTimesOf,
} from "../idp/claims.ts";
import { REFUSAL_REASONS } from "../idp/refusal_reason.ts";
import { createPolicy } from "../policy/policy.ts";
import { createMemoryStore } from "../store/memory_store.ts";
import { isBrokerError } from "../errors.ts";
import { decodeBase64url } from "../util/bytes.ts";
import type { Identity } from "../types.ts";

/** How a check came out. */
export type DoctorStatus = "pass" | "warn" | "fail";

/** One finding of the doctor. */
export interface DoctorFinding {
  /** What was checked, e.g. `config`, `idp https://idp.example.com`, `token`, `portal`, `server …`. */
  area: string;
  /** The check, e.g. `discovery`, `aud`, `redirect URI`. */
  check: string;
  /** How it came out. */
  status: DoctorStatus;
  /** What was found, in words; never a secret or a token. */
  detail: string;
  /** The change that fixes it (for `warn` and `fail`). */
  fix?: string;
}

/** What the doctor found. */
export interface DoctorReport {
  /** Every finding, in the order checked. */
  findings: DoctorFinding[];
  /** True when no finding failed. */
  ok: boolean;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  /** The environment holding the secrets the config names. @default {} */
  env?: Readonly<Record<string, unknown>>;
  /** A sample bearer token to explain, check by check. @default none */
  token?: string;
  /** The fetch used for every probe. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** The clock, epoch ms. @default Date.now */
  now?: () => number;
  /** Timeout of each ArcGIS probe, in milliseconds. @default `arcgis.fetchTimeoutMs` */
  arcgisTimeoutMs?: number;
}

class _Findings {
  readonly list: DoctorFinding[] = [];
  add(area: string, check: string, status: DoctorStatus, detail: string, fix?: string): void {
    this.list.push({ area, check, status, detail, ...(fix === undefined ? {} : { fix }) });
  }
}

/** Reads a JSON body, or `undefined` when there is none. */
async function _json(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function _record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

/** The ArcGIS error of a JSON answer (`{"error":{code,message}}`, also OAuth's `{"error":"…"}`), if any. */
function _arcgisError(body: unknown): string | undefined {
  const error = _record(body).error;
  if (error === undefined) return undefined;
  if (typeof error === "string") return error;
  const e = _record(error);
  return [e.code, e.error, e.message ?? e.error_description].filter((p) => p !== undefined).join(" ");
}

function _describeError(error: unknown): string {
  if (error instanceof Error) return error.name === "TimeoutError" ? "timed out" : error.message;
  return "unknown error";
}

// ---------------------------------------------------------------------------------------------------------------
// IdP: discovery and JWKS
// ---------------------------------------------------------------------------------------------------------------

interface _IssuerKeys {
  /** The fetched JWKS, when it could be fetched. */
  jwks?: unknown;
}

async function _checkIssuer(
  issuer: IssuerConfig,
  index: number,
  fetchFn: typeof fetch,
  out: _Findings,
): Promise<_IssuerKeys> {
  const area = `idp ${issuer.issuer}`;
  const field = `issuers.${index}`;
  const options = {
    timeoutMs: issuer.jwks.fetchTimeoutMs,
    maxBodyBytes: issuer.jwks.maxBodyBytes,
    allowInsecureLoopback: issuer.allowInsecureLoopback,
  };
  if (issuer.issuer.includes(TENANT_PLACEHOLDER) && issuer.jwksUri === undefined) {
    out.add(area, "discovery", "warn", "A templated issuer has no discovery document of its own", undefined);
    return {};
  }
  if (issuer.introspection !== undefined && issuer.introspection.useFor === "all") {
    out.add(area, "discovery", "pass", "Tokens are introspected; no JWKS is needed");
    return {};
  }
  let jwksUri = issuer.jwksUri;
  let discovery: Record<string, unknown> = {};
  if (!issuer.issuer.includes(TENANT_PLACEHOLDER)) {
    try {
      discovery = _record(
        await fetchJson(fetchFn, discoveryUrl(issuer.issuer), { ...options, what: "discovery" }),
      );
      if (discovery.issuer !== issuer.issuer) {
        const named = typeof discovery.issuer === "string" ? `"${discovery.issuer}"` : "no issuer";
        out.add(
          area,
          "discovery",
          "fail",
          `The discovery document names ${named}, not the configured issuer (tokens carry the IdP's spelling in iss)`,
          typeof discovery.issuer === "string"
            ? `set ${field}.issuer to exactly "${discovery.issuer}" (trailing slash included)`
            : `check ${field}.issuer: {issuer}/.well-known/openid-configuration must be the IdP's discovery document`,
        );
      } else out.add(area, "discovery", "pass", `Discovery names the issuer exactly`);
      if (jwksUri === undefined && typeof discovery.jwks_uri === "string") jwksUri = discovery.jwks_uri;
    } catch (error) {
      out.add(
        area,
        "discovery",
        issuer.jwksUri === undefined ? "fail" : "warn",
        `Cannot read ${discoveryUrl(issuer.issuer)}: ${_describeError(error)}`,
        `check ${field}.issuer (it must be the IdP's exact iss) and that the broker can reach the IdP`,
      );
    }
  }
  if (jwksUri === undefined) return {};
  let jwks: unknown;
  try {
    jwks = await fetchJson(fetchFn, jwksUri, { ...options, what: "JWKS" });
  } catch (error) {
    out.add(area, "jwks", "fail", `Cannot read the JWKS: ${_describeError(error)}`, `check ${field}.jwksUri`);
    return {};
  }
  let keySet;
  try {
    keySet = buildKeySet(jwks, issuer.algorithms);
  } catch (error) {
    out.add(
      area,
      "jwks",
      "fail",
      `The JWKS is refused: ${_describeError(error)}`,
      "point at the IdP's public JWKS",
    );
    return { jwks };
  }
  const raw = (_record(jwks).keys as unknown[] | undefined ?? []).map(_record);
  const kinds = [...new Set(raw.map(_keyLabel))];
  if (keySet.keys.length === 0) {
    const suggested = [
      ...new Set(raw.map((k) => typeof k.alg === "string" ? k.alg : _defaultAlg(_keyLabel(k)))),
    ]
      .filter((a) => a !== undefined);
    out.add(
      area,
      "algorithms",
      "fail",
      `No key of the JWKS fits ${JSON.stringify(issuer.algorithms)}: its keys are ${kinds.join(", ")}`,
      `set ${field}.algorithms to the IdP's signing algorithm, e.g. ${JSON.stringify(suggested)}`,
    );
  } else {
    out.add(
      area,
      "algorithms",
      "pass",
      `${keySet.keys.length} key(s) verify with ${[...new Set(keySet.keys.map((k) => k.alg))].join(", ")}`,
    );
  }
  for (const key of raw) {
    const kid = typeof key.kid === "string" ? `"${key.kid}"` : "without kid";
    if (typeof key.alg === "string" && !issuer.algorithms.includes(key.alg) && key.use !== "enc") {
      out.add(
        area,
        `key ${kid}`,
        "warn",
        `The key's alg is ${key.alg}, not among ${
          JSON.stringify(issuer.algorithms)
        }: tokens it signs are refused`,
        `add "${key.alg}" to ${field}.algorithms if the IdP signs access tokens with this key`,
      );
    } else if (key.alg === undefined) {
      const bound = keySet.keys.find((k) => (k.kid ?? "") === (key.kid ?? "") && k.jwk.kty === key.kty);
      out.add(
        area,
        `key ${kid}`,
        bound === undefined ? "warn" : "pass",
        bound === undefined
          ? `The key has no alg and no configured algorithm fits its type ${_keyLabel(key)}`
          : `The key has no alg: it verifies ${bound.alg}, the configured algorithm for ${
            _keyLabel(key)
          } keys`,
        bound === undefined
          ? `add the algorithm the IdP uses for ${_keyLabel(key)} keys to ${field}.algorithms`
          : undefined,
      );
    }
  }
  const advertised = discovery.id_token_signing_alg_values_supported;
  if (Array.isArray(advertised) && !issuer.algorithms.some((a) => advertised.includes(a))) {
    out.add(
      area,
      "algorithms",
      "warn",
      `Discovery advertises ${JSON.stringify(advertised)}, none of the configured algorithms`,
      `check ${field}.algorithms against the IdP's signing algorithm`,
    );
  }
  return { jwks };
}

function _keyLabel(key: Record<string, unknown>): string {
  if (key.kty === "EC" || key.kty === "OKP") return `${key.kty}:${key.crv}`;
  return String(key.kty);
}

function _defaultAlg(label: string): string | undefined {
  return ({
    "RSA": "RS256",
    "EC:P-256": "ES256",
    "EC:P-384": "ES384",
    "EC:P-521": "ES512",
    "OKP:Ed25519": "EdDSA",
  })[
    label
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// A sample token, check by check
// ---------------------------------------------------------------------------------------------------------------

function _decodePart(part: string | undefined): Record<string, unknown> | undefined {
  if (part === undefined) return undefined;
  try {
    return _record(JSON.parse(new TextDecoder().decode(decodeBase64url(part))));
  } catch {
    return undefined;
  }
}

function _refusalText(error: unknown): { reason: string; text: string } {
  if (isBrokerError(error) && error.reason !== undefined) {
    const known = (REFUSAL_REASONS as Record<string, string>)[error.reason];
    return { reason: error.reason, text: known ?? error.message };
  }
  return { reason: isBrokerError(error) ? error.code : "error", text: _describeError(error) };
}

async function _checkToken(
  config: BrokerConfig,
  token: string,
  keys: ReadonlyMap<string, _IssuerKeys>,
  deps: { fetch: typeof fetch; now: () => number },
  out: _Findings,
): Promise<void> {
  const area = "token";
  const [headerPart, payloadPart] = token.split(".");
  const header = _decodePart(headerPart);
  const payload = _decodePart(payloadPart);
  if (header === undefined || payload === undefined || token.split(".").length !== 3) {
    out.add(area, "format", "fail", "The sample is not a compact JWS (an opaque token needs introspection)");
  } else {
    const iss = typeof payload.iss === "string" ? payload.iss : undefined;
    const index = config.issuers.findIndex((entry) =>
      expandIssuers(entry).some(([spelling]) => spelling === iss)
    );
    const entry = config.issuers[index];
    if (entry === undefined) {
      const near = config.issuers.find((e) =>
        iss !== undefined && e.issuer.replace(/\/$/, "") === iss.replace(/\/$/, "")
      );
      out.add(
        area,
        "iss",
        "fail",
        `iss "${iss ?? "(none)"}" is not a configured issuer`,
        near !== undefined
          ? `the spellings differ only by a trailing slash: set the issuer to exactly "${iss}"`
          : "add this issuer to issuers[] or use a token of a configured issuer",
      );
    } else {
      const field = `issuers.${index}`;
      out.add(area, "iss", "pass", `iss names ${field}`);
      const alg = String(header.alg);
      out.add(
        area,
        "alg",
        entry.algorithms.includes(alg) ? "pass" : "fail",
        `alg ${alg}${entry.algorithms.includes(alg) ? " is" : " is not"} among ${
          JSON.stringify(entry.algorithms)
        }`,
        entry.algorithms.includes(alg) ? undefined : `add "${alg}" to ${field}.algorithms`,
      );
      const jwks = keys.get(entry.issuer)?.jwks;
      if (jwks !== undefined && typeof header.kid === "string") {
        const known = (_record(jwks).keys as unknown[] | undefined ?? []).some((k) =>
          _record(k).kid === header.kid
        );
        out.add(
          area,
          "kid",
          known ? "pass" : "fail",
          known ? `kid "${header.kid}" is in the JWKS` : `kid "${header.kid}" is not in the IdP's JWKS`,
          known
            ? undefined
            : `check ${field}.jwksUri: the token was signed by a key this JWKS does not publish`,
        );
      }
      const policy = claimsPolicyOf(entry);
      const kind = classifyToken(typeof header.typ === "string" ? header.typ : undefined, payload, policy);
      const step = (check: string, run: () => string | undefined, passText: string, fix: string): void => {
        let problem: string | undefined;
        try {
          problem = run();
        } catch (error) {
          problem = _refusalText(error).text;
        }
        if (problem === undefined) out.add(area, check, "pass", passText);
        else out.add(area, check, "fail", problem, fix);
      };
      step(
        "kind",
        () => kind === "id" && policy.idAudiences === undefined ? "This is an ID token" : undefined,
        `a${kind === "id" ? "n ID" : "n access"} token`,
        "send the access token as bearer (or enable ID tokens with their own audience)",
      );
      step(
        "typ",
        () => void checkTyp(typeof header.typ === "string" ? header.typ : undefined, kind, policy),
        `typ ${header.typ === undefined ? "(none)" : `"${header.typ}"`} is accepted`,
        `set ${field}.typ to the IdP's typ header (e.g. "at+jwt"), or remove it`,
      );
      step(
        "times",
        () => checkTimes(tokenTimesOf(payload), policy, deps.now())?.detail,
        "exp, nbf and iat are within the clock tolerance",
        "get a fresh token, or check the clocks of the IdP and the broker",
      );
      const aud = typeof payload.aud === "string"
        ? [payload.aud]
        : Array.isArray(payload.aud)
        ? payload.aud
        : [];
      step(
        "aud",
        () =>
          policy.audiences === undefined || aud.some((a) => policy.audiences!.has(String(a)))
            ? undefined
            : `aud ${JSON.stringify(payload.aud ?? null)} names none of ${
              JSON.stringify([...policy.audiences])
            }`,
        policy.audiences === undefined
          ? "aud is not checked (scope-only model)"
          : "aud names a configured audience",
        `set ${field}.audience to the audience the IdP puts in its access tokens for the broker's API`,
      );
      step(
        "scopes",
        () => {
          const missing = policy.requiredScopes.filter((s) => !grantedScopes(payload).has(s));
          return missing.length === 0 ? undefined : `Missing scope(s) ${JSON.stringify(missing)}`;
        },
        "every required scope is granted",
        `ask the IdP for the scopes, or adjust ${field}.requiredScopes`,
      );
      step(
        "client",
        () => {
          if (policy.clientIds === undefined) return undefined;
          const clients = ["azp", "client_id", "appid"].map((n) => payload[n]).filter((c) => c !== undefined);
          const bad = clients.filter((c) => !policy.clientIds!.has(String(c)));
          if (clients.length === 0) return "No client claim (azp, client_id, appid)";
          return bad.length === 0 ? undefined : `Client ${JSON.stringify(bad)} is not in clientIds`;
        },
        policy.clientIds === undefined ? "clients are not checked" : "the client is allowed",
        `add the client id to ${field}.clientIds`,
      );
    }
  }
  // The verdict is the broker's own verifier, with the same config.
  const verifier = createTokenVerifier(config.issuers, {
    now: deps.now,
    fetch: deps.fetch,
    store: createMemoryStore({ now: deps.now }),
    log: () => {},
    waitUntil: () => {},
  }, { maxTokenBytes: config.validation.maxTokenBytes, memoMaxEntries: 0 });
  let identity: Identity;
  try {
    identity = await verifier.verify(token);
  } catch (error) {
    const { reason, text } = _refusalText(error);
    out.add(
      area,
      "verifier",
      "fail",
      `The broker refuses the token: ${reason} (${text})`,
      "fix the checks above",
    );
    return;
  }
  out.add(area, "verifier", "pass", `The broker accepts the token of subject "${identity.subject}"`);
  const index = config.rules.findIndex((rule) =>
    createPolicy({ rules: [rule] }).profilesFor(identity).length > 0
  );
  if (index < 0) {
    out.add(
      area,
      "rule",
      "fail",
      "No rule admits this identity (no_rule): it would get 403",
      "add a rule for its issuer and claims (rules[] are tried in order; the first match wins)",
    );
  } else {
    const profiles = createPolicy({ rules: [config.rules[index]] }).profilesFor(identity);
    out.add(area, "rule", "pass", `rules.${index} admits it, with profile(s) ${JSON.stringify(profiles)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ArcGIS: portal, servers, OAuth apps, credentials
// ---------------------------------------------------------------------------------------------------------------

interface _ArcGISProbe {
  fetch: typeof fetch;
  timeoutMs: number;
}

async function _get(
  probe: _ArcGISProbe,
  url: string,
): Promise<{ status: number; body: unknown; text?: string }> {
  const response = await probe.fetch(url, {
    redirect: "manual",
    signal: AbortSignal.timeout(probe.timeoutMs),
  });
  return { status: response.status, body: await _json(response) };
}

async function _post(probe: _ArcGISProbe, url: string, form: Record<string, string>): Promise<unknown> {
  const response = await probe.fetch(url, {
    method: "POST",
    body: new URLSearchParams(form),
    redirect: "manual",
    signal: AbortSignal.timeout(probe.timeoutMs),
  });
  return await _json(response);
}

async function _checkArcGIS(
  config: BrokerConfig,
  secrets: Secrets,
  probe: _ArcGISProbe,
  out: _Findings,
): Promise<void> {
  const urls: ArcGISUrls = createArcGISUrls(config.arcgis);
  try {
    const info = await _get(probe, `${urls.endpoint("info")}?f=json`);
    const error = _arcgisError(info.body);
    if (info.status !== 200 || info.body === undefined || error !== undefined) {
      out.add(
        "portal",
        "info",
        "fail",
        `${urls.endpoint("info")} answered ${error ?? `status ${info.status}`}`,
        "check arcgis.portalUrl: the portal's REST root ends in /sharing/rest",
      );
    } else out.add("portal", "info", "pass", `The portal answers at ${urls.sharingRest}`);
  } catch (error) {
    out.add(
      "portal",
      "info",
      "fail",
      `Cannot reach the portal: ${_describeError(error)}`,
      "check arcgis.portalUrl and the network",
    );
    return;
  }
  // portals/self with the first app profile's token when there is one (it names the org of the app).
  let token: string | undefined;
  for (const [name, profile] of Object.entries(config.profiles)) {
    const area = `profile ${name}`;
    try {
      if (profile.mode === "app" && secrets[profile.clientSecretEnv] !== undefined) {
        const body = _record(
          await _post(probe, urls.endpoint("oauth2/token"), {
            client_id: profile.clientId,
            client_secret: secrets[profile.clientSecretEnv],
            grant_type: "client_credentials",
            expiration: "5",
            f: "json",
          }),
        );
        if (typeof body.access_token === "string") {
          token ??= body.access_token;
          out.add(area, "credentials", "pass", "The OAuth app's client credentials get a token");
        } else {
          out.add(
            area,
            "credentials",
            "fail",
            `ArcGIS refuses the app's credentials: ${_arcgisError(body) ?? "no token"}`,
            `check profiles.${name}.clientId and the secret in "${profile.clientSecretEnv}" (the app's Client ID and Client Secret)`,
          );
        }
      } else if (profile.mode === "account" && secrets[profile.passwordEnv] !== undefined) {
        const body = _record(
          await _post(probe, urls.endpoint("generateToken"), {
            username: profile.username,
            password: secrets[profile.passwordEnv],
            client: profile.referer === undefined ? "requestip" : "referer",
            ...(profile.referer === undefined ? {} : { referer: profile.referer }),
            expiration: "5",
            f: "json",
          }),
        );
        if (typeof body.token === "string") {
          out.add(area, "credentials", "pass", "The account's password gets a token");
        } else {out.add(
            area,
            "credentials",
            "fail",
            `ArcGIS refuses the account: ${_arcgisError(body) ?? "no token"}`,
            `check profiles.${name}.username and the password in "${profile.passwordEnv}"`,
          );}
      } else if (profile.mode === "apiKey" && secrets[profile.apiKeyEnv] !== undefined) {
        const self = await _get(
          probe,
          `${urls.endpoint("portals/self")}?f=json&token=${encodeURIComponent(secrets[profile.apiKeyEnv])}`,
        );
        const error = _arcgisError(self.body);
        if (error === undefined) {
          out.add(area, "credentials", "pass", "The API key is accepted by the portal");
        } else {out.add(
            area,
            "credentials",
            "fail",
            `The API key is refused (expired or revoked?): ${error}`,
            `create a new key on the developer credentials item and put it in "${profile.apiKeyEnv}"`,
          );}
      } else if (profile.mode === "user") {
        const authorize = new URL(urls.endpoint("oauth2/authorize"));
        authorize.search = new URLSearchParams({
          client_id: profile.clientId,
          response_type: "code",
          redirect_uri: profile.redirectUri,
        }).toString();
        const response = await probe.fetch(authorize, {
          redirect: "manual",
          signal: AbortSignal.timeout(probe.timeoutMs),
        });
        const text = await response.text();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const error = _arcgisError(body) ?? (response.status >= 400 ? text.slice(0, 300) : undefined);
        if (error === undefined) {
          out.add(
            area,
            "redirect URI",
            "pass",
            "ArcGIS accepts the OAuth app and its redirect URI (authorize probe)",
          );
        } else if (/redirect_uri/i.test(error)) {
          out.add(
            area,
            "redirect URI",
            "fail",
            `The OAuth app does not list the redirect URI "${profile.redirectUri}"`,
            `add it to the app's redirect URLs (ArcGIS: the app item → Settings → Redirect URLs), or fix profiles.${name}.redirectUri`,
          );
        } else if (/client/i.test(error)) {
          out.add(
            area,
            "client id",
            "fail",
            `ArcGIS does not know the OAuth app "${profile.clientId}"`,
            `set profiles.${name}.clientId to the Client ID of the app registered in this portal`,
          );
        } else {
          out.add(
            area,
            "authorize",
            "fail",
            `The authorize probe failed: ${error.replace(/\s+/g, " ").slice(0, 160)}`,
            `check profiles.${name}`,
          );
        }
      }
    } catch (error) {
      out.add(
        area,
        "credentials",
        "fail",
        `Cannot reach the portal: ${_describeError(error)}`,
        "check arcgis.portalUrl and the network",
      );
    }
  }
  try {
    const self = await _get(
      probe,
      `${urls.endpoint("portals/self")}?f=json${
        token === undefined ? "" : `&token=${encodeURIComponent(token)}`
      }`,
    );
    const id = _record(self.body).id;
    if (typeof id !== "string") {
      out.add(
        "portal",
        "org id",
        "warn",
        "portals/self names no organization id (anonymous access shows none)",
        "add an app profile, or check arcgis.orgId by hand",
      );
    } else if (config.arcgis.orgId === undefined) {
      out.add(
        "portal",
        "org id",
        "warn",
        `The portal's organization id is "${id}"; arcgis.orgId is not set`,
        `set arcgis.orgId to "${id}"`,
      );
    } else if (config.arcgis.orgId !== id) {
      out.add(
        "portal",
        "org id",
        "fail",
        `The portal's organization id is "${id}", not arcgis.orgId "${config.arcgis.orgId}"`,
        `set arcgis.orgId to "${id}"`,
      );
    } else out.add("portal", "org id", "pass", `arcgis.orgId equals the portal's organization id`);
  } catch (error) {
    out.add(
      "portal",
      "org id",
      "fail",
      `Cannot read portals/self: ${_describeError(error)}`,
      "check arcgis.portalUrl",
    );
  }
  for (const [index, server] of urls.servers.entries()) {
    const area = `server ${server.root}`;
    try {
      const info = await _get(probe, `${server.root}/rest/info?f=json`);
      const owner = _record(info.body).owningSystemUrl;
      if (info.status !== 200 || info.body === undefined || _arcgisError(info.body) !== undefined) {
        out.add(
          area,
          "rest/info",
          "fail",
          `${server.root}/rest/info answered status ${info.status}`,
          `check arcgis.servers.${index}: a server's root is https://host/<webadaptor> (e.g. /server)`,
        );
      } else if (typeof owner !== "string" || !samePortal(owner, urls.portal)) {
        out.add(
          area,
          "federation",
          "fail",
          typeof owner === "string"
            ? `Its owningSystemUrl is "${owner}", not the portal "${urls.portal}"`
            : "It names no owningSystemUrl: it is not federated with the portal",
          `federate the server with the portal, or remove arcgis.servers.${index}`,
        );
      } else out.add(area, "federation", "pass", "owningSystemUrl is the portal");
    } catch (error) {
      out.add(
        area,
        "rest/info",
        "fail",
        `Cannot reach the server: ${_describeError(error)}`,
        `check arcgis.servers.${index}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Checks `config` (an object or JSON text) and the world it points at. Never throws for a bad config: every
 * problem is a finding.
 *
 * @param config The broker config, as written (`BROKER_CONFIG`).
 * @param options The environment with the secrets, a sample token, and the fetch and clock to use.
 * @returns Every finding, and whether none failed.
 */
export async function runDoctor(config: unknown, options: DoctorOptions = {}): Promise<DoctorReport> {
  const out = new _Findings();
  const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;
  let parsed: BrokerConfig;
  try {
    parsed = parseConfig(typeof config === "string" ? JSON.parse(config) : config);
    out.add(
      "config",
      "schema",
      "pass",
      `${parsed.issuers.length} issuer(s), ${
        Object.keys(parsed.profiles).length
      } profile(s), ${parsed.rules.length} rule(s)`,
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const issue of error.issues) {
        out.add("config", issue.path || "(root)", "fail", issue.message, issue.fix);
      }
    } else out.add("config", "JSON", "fail", "The config is not JSON text", "give the config as JSON");
    return { findings: out.list, ok: false };
  }
  let secrets: Record<string, string> = {};
  try {
    secrets = { ...resolveSecrets(parsed, options.env ?? {}) };
    out.add("config", "secrets", "pass", "Every secret the config names is set");
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) out.add("config", issue.path, "fail", issue.message, issue.fix);
    const env = options.env ?? {};
    for (const [name, value] of Object.entries(env)) {
      if (typeof value === "string" && value !== "") secrets[name] = value;
    }
  }
  const keys = new Map<string, _IssuerKeys>();
  for (const [index, issuer] of parsed.issuers.entries()) {
    keys.set(issuer.issuer, await _checkIssuer(issuer, index, fetchFn, out));
  }
  if (options.token !== undefined) {
    await _checkToken(parsed, options.token.trim(), keys, { fetch: fetchFn, now }, out);
  }
  await _checkArcGIS(parsed, secrets, {
    fetch: fetchFn,
    timeoutMs: options.arcgisTimeoutMs ?? parsed.arcgis.fetchTimeoutMs,
  }, out);
  return { findings: out.list, ok: out.list.every((f) => f.status !== "fail") };
}

const _MARK: Record<DoctorStatus, string> = { pass: "ok  ", warn: "WARN", fail: "FAIL" };

/**
 * The report as text for a terminal: one line per finding, its fix below it, and a summary.
 *
 * @param report What {@link runDoctor} found.
 * @returns The text, ending with a newline.
 */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = ["arcgis-token-broker doctor", ""];
  let area = "";
  for (const finding of report.findings) {
    if (finding.area !== area) {
      area = finding.area;
      lines.push(area);
    }
    lines.push(`  ${_MARK[finding.status]} ${finding.check}: ${finding.detail}`);
    if (finding.fix !== undefined && finding.status !== "pass") lines.push(`       fix: ${finding.fix}`);
  }
  const fails = report.findings.filter((f) => f.status === "fail").length;
  const warns = report.findings.filter((f) => f.status === "warn").length;
  lines.push(
    "",
    fails === 0 ? `No problem found (${warns} warning(s))` : `${fails} problem(s), ${warns} warning(s)`,
  );
  return `${lines.join("\n")}\n`;
}
