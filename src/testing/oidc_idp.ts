/**
 * {@link startOidcIdp}: a real OpenID provider (the npm package `oidc-provider`) on `127.0.0.1`, for tests, the
 * demo and browser tests. It issues JWT access tokens for one resource (RFC 8707 resource indicators, RFC 9068
 * `at+jwt`), opaque access tokens for a second resource (validated by RFC 7662 introspection, which a
 * `client_secret_basic` client and a `private_key_jwt` client may call), ID tokens, and client-credentials tokens, signed with keys generated here; it can rotate its keys,
 * stop and start again on the same port (to play an IdP outage), and get tokens for a user programmatically by
 * driving the authorization code flow with PKCE over HTTP.
 *
 * Logins are a development login: the interaction page lists the configured users (a demo user by default) and
 * signs in whoever is picked, with no password; a `login_hint` naming a user signs in without a page. Consent is
 * granted automatically. Nothing is printed.
 *
 * This file is a platform adapter for Deno and Node (`node:http`); it is not part of the edge core.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as jose from "jose";
import { concatBytes } from "../util/bytes.ts";

/** Signing algorithms the test IdP can use. */
export type OidcIdpAlgorithm = "RS256" | "PS256" | "ES256" | "ES384" | "EdDSA";

/** A user the test IdP can sign in. */
export interface OidcIdpUser {
  /** The subject (`sub`) and login name. */
  sub: string;
  /** Claims for ID tokens (by scope) and access tokens (all of them), e.g. `groups`, `preferred_username`. */
  claims?: Readonly<Record<string, unknown>>;
}

/** Options for {@link startOidcIdp}. */
export interface StartOidcIdpOptions {
  /** Algorithm of access tokens, ID tokens and every generated key. @default "RS256" */
  algorithm?: OidcIdpAlgorithm;
  /** `aud` of access tokens. @default "arcgis-broker" */
  audience?: string;
  /** The resource indicator access tokens are issued for (absolute URI). @default "urn:arcgis-broker" */
  resource?: string;
  /** Scopes of that resource. @default ["arcgis"] */
  resourceScopes?: readonly string[];
  /** A second resource whose access tokens are opaque (introspection only); same scopes. @default "urn:arcgis-broker:opaque" */
  opaqueResource?: string;
  /** `aud` of the opaque resource's tokens, as introspection reports it. @default "arcgis-broker-opaque" */
  opaqueAudience?: string;
  /** Users who can sign in. @default [OIDC_IDP_DEMO_USER] */
  users?: readonly OidcIdpUser[];
  /** Client id of the public SPA client (authorization code + PKCE, no secret). @default "spa" */
  spaClientId?: string;
  /** Redirect URIs of the SPA client, besides the IdP's own `/dev/callback`. @default [] */
  spaRedirectUris?: readonly string[];
  /**
   * The SPA client's OpenID Connect back-channel logout URI (e.g. the broker's `{mount}/backchannel-logout`):
   * signing out at the IdP posts a logout token there. @default none
   */
  spaBackchannelLogoutUri?: string;
  /** Where the IdP may send the browser after an RP-initiated logout. @default [] */
  spaPostLogoutRedirectUris?: readonly string[];
  /** Client id of the confidential client-credentials client. @default "broker-service" */
  serviceClientId?: string;
  /** Its secret. @default random */
  serviceClientSecret?: string;
  /** Access token lifetime, seconds. @default 300 */
  accessTokenTtlSeconds?: number;
  /** ID token lifetime, seconds. @default 300 */
  idTokenTtlSeconds?: number;
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
}

/** How a relying-party client authenticates at the token endpoint. */
export type OidcIdpClientAuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt";

/**
 * A confidential relying party of the test IdP, e.g. an ArcGIS portal whose members sign in through this IdP
 * (authorization code flow, userinfo, RP-initiated logout). Consent is granted without a page.
 */
export interface OidcIdpClient {
  /** Client id. */
  clientId: string;
  /** How it authenticates at the token endpoint. @default "client_secret_post" when a secret is given, else "private_key_jwt" */
  tokenEndpointAuthMethod?: OidcIdpClientAuthMethod;
  /** Its secret (the `client_secret_*` methods). @default undefined */
  clientSecret?: string;
  /** Where its public keys are published (`private_key_jwt`); fetched by the IdP when it verifies an assertion. @default undefined */
  jwksUri?: string;
  /** Redirect URIs (exact match). */
  redirectUris: readonly string[];
  /** Where the IdP may send the browser after RP-initiated logout. @default [] */
  postLogoutRedirectUris?: readonly string[];
  /** Require PKCE (S256) from this client. @default false */
  requirePkce?: boolean;
}

/** The IdP's endpoints, as its discovery document names them. */
export interface OidcIdpEndpoints {
  /** `authorization_endpoint`. */
  authorization: string;
  /** `token_endpoint`. */
  token: string;
  /** `userinfo_endpoint`; it also accepts the access token as an `access_token` query parameter. */
  userinfo: string;
  /** `jwks_uri`. */
  jwks: string;
  /** `end_session_endpoint` (RP-initiated logout; its confirmation page submits itself). */
  endSession: string;
}

/** Tokens from the authorization code flow. */
export interface OidcIdpTokens {
  /** The JWT access token (`typ: at+jwt`, `aud`: the configured audience). */
  accessToken: string;
  /** The ID token (`aud`: the SPA client id). */
  idToken: string;
  /** Access token lifetime, seconds. */
  expiresIn: number;
  /** Granted scopes. */
  scope: string;
}

/** Options for {@link OidcIdp.login}. */
export interface OidcIdpLoginOptions {
  /** Which user signs in. */
  sub: string;
  /** Requested scopes. @default "openid profile email groups" plus the resource scopes */
  scope?: string;
  /** `nonce` of the authorization request (ends up in the ID token). @default random */
  nonce?: string;
  /** The resource indicator: {@link OidcIdp.resource} (JWT) or {@link OidcIdp.opaqueResource}. @default resource */
  resource?: string;
}

/** A running test IdP. */
export interface OidcIdp extends AsyncDisposable {
  /** The issuer, `http://127.0.0.1:<port>`. */
  readonly issuer: string;
  /** The port, stable across {@link OidcIdp.stop} and {@link OidcIdp.start}. */
  readonly port: number;
  /** Where the JWKS is served. */
  readonly jwksUri: string;
  /** `aud` of access tokens. */
  readonly audience: string;
  /** The resource indicator. */
  readonly resource: string;
  /** The resource whose access tokens are opaque. */
  readonly opaqueResource: string;
  /** `aud` of opaque access tokens, as introspection reports it. */
  readonly opaqueAudience: string;
  /** The RFC 7662 introspection endpoint. */
  readonly introspectionEndpoint: string;
  /** Client id of a confidential client that authenticates with `private_key_jwt` (for introspection). */
  readonly jwtClientId: string;
  /** Its private signing key, a JWK with `alg` (ES256): every member is a string. */
  readonly jwtClientPrivateJwk: Readonly<Record<string, string>>;
  /** Signing algorithm. */
  readonly algorithm: OidcIdpAlgorithm;
  /** The SPA client id. */
  readonly spaClientId: string;
  /** The client-credentials client id. */
  readonly serviceClientId: string;
  /** Its secret. */
  readonly serviceClientSecret: string;
  /** Whether it currently listens. */
  readonly running: boolean;
  /** Kid of the key that signs new tokens. */
  signingKid(): string;
  /** Kids in the published JWKS, signing key first. */
  publishedKids(): string[];
  /** Adds a user, or replaces the one with the same `sub` (its claims apply to tokens issued from now on). */
  setUser(user: OidcIdpUser): void;
  /** The IdP's endpoints. */
  readonly endpoints: OidcIdpEndpoints;
  /** Adds (or replaces) a confidential relying-party client, e.g. a fake ArcGIS portal's OpenID Connect login. */
  addClient(client: OidcIdpClient): void;
  /** Signs `sub` in through the authorization code flow with PKCE and returns the tokens. */
  login(options: OidcIdpLoginOptions): Promise<OidcIdpTokens>;
  /**
   * Signs `sub` out at the IdP the way a user does (RP-initiated logout, confirmed), in the session {@link login}
   * made for them; with a back-channel logout URI configured, the IdP posts the logout token before this resolves.
   */
  logout(options: { sub: string }): Promise<void>;
  /** A client-credentials access token for the resource (or `options.resource`). */
  clientCredentials(options?: { scope?: string; resource?: string }): Promise<string>;
  /** Generates a new signing key; the previous keys stay published unless `keepPrevious` is false. Returns its kid. */
  rotateKey(options?: { keepPrevious?: boolean }): Promise<string>;
  /** Stops publishing a key that no longer signs. */
  removeKey(kid: string): Promise<void>;
  /** Stops listening (connections refused) without forgetting state. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops and releases everything. */
  close(): Promise<void>;
}

/** The default user: a viewer in the demo. */
export const OIDC_IDP_DEMO_USER: OidcIdpUser = Object.freeze({
  sub: "demo",
  claims: Object.freeze({
    name: "Demo User",
    preferred_username: "demo",
    email: "demo@example.com",
    email_verified: true,
    groups: Object.freeze(["gis-viewers"]),
  }),
});

const _LOOPBACK = "127.0.0.1";
const _DEV_CALLBACK_PATH = "/dev/callback";
const _MAX_REDIRECTS = 12;
const _MAX_FORM_BYTES = 16 * 1024;

// --- the parts of oidc-provider we use (it ships no types) ---

interface _InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, unknown>;
  session?: { accountId?: string };
  grantId?: string;
}

interface _Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

interface _GrantClass {
  new (init: { accountId: string; clientId: string }): _Grant;
  find(id: string): Promise<_Grant | undefined>;
}

interface _Provider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<_InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options: { mergeWithLastSubmission: boolean },
  ): Promise<void>;
  Grant: _GrantClass;
  silent?: boolean;
}

interface _GrantContext {
  oidc: {
    result?: { consent?: { grantId?: string } };
    session: { accountId: string; grantIdFor(clientId: string): string | undefined };
    client: { clientId: string };
    params: Record<string, unknown>;
    provider: { Grant: _GrantClass };
  };
}

type _ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => _Provider;

let _providerClass: Promise<_ProviderClass> | undefined;

/** Imports oidc-provider once, muting the warning it prints at import time on runtimes other than Node LTS. */
function _loadProvider(): Promise<_ProviderClass> {
  _providerClass ??= (async () => {
    const warn = console.warn;
    console.warn = () => {};
    try {
      const module = await import("oidc-provider");
      return module.default as unknown as _ProviderClass;
    } finally {
      console.warn = warn;
    }
  })();
  return _providerClass;
}

// --- a small in-memory adapter, shared by every Provider instance of one IdP (so rotation keeps sessions) ---

interface _Stored {
  payload: Record<string, unknown>;
  expiresAtMs: number;
}

function _createAdapterFactory(): (model: string) => Record<string, unknown> {
  const entries = new Map<string, _Stored>();
  const byUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const byGrant = new Map<string, Set<string>>();
  const read = (key: string): Record<string, unknown> | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (Date.now() >= entry.expiresAtMs) {
      entries.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return (model: string) => {
    const keyOf = (id: string) => `${model}:${id}`;
    return {
      upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
        const key = keyOf(id);
        const expiresAtMs = typeof expiresIn === "number"
          ? Date.now() + expiresIn * 1000
          : Number.POSITIVE_INFINITY;
        entries.set(key, { payload, expiresAtMs });
        if (typeof payload.uid === "string" && model === "Session") byUid.set(payload.uid, id);
        if (typeof payload.userCode === "string") byUserCode.set(payload.userCode, id);
        if (typeof payload.grantId === "string") {
          const members = byGrant.get(payload.grantId) ?? new Set<string>();
          members.add(key);
          byGrant.set(payload.grantId, members);
        }
        return Promise.resolve();
      },
      find: (id: string) => Promise.resolve(read(keyOf(id))),
      findByUid: (uid: string) => {
        const id = byUid.get(uid);
        return Promise.resolve(id === undefined ? undefined : read(keyOf(id)));
      },
      findByUserCode: (userCode: string) => {
        const id = byUserCode.get(userCode);
        return Promise.resolve(id === undefined ? undefined : read(keyOf(id)));
      },
      consume(id: string): Promise<void> {
        const payload = read(keyOf(id));
        if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
        return Promise.resolve();
      },
      destroy(id: string): Promise<void> {
        entries.delete(keyOf(id));
        return Promise.resolve();
      },
      revokeByGrantId(grantId: string): Promise<void> {
        for (const key of byGrant.get(grantId) ?? []) entries.delete(key);
        byGrant.delete(grantId);
        return Promise.resolve();
      },
    };
  };
}

// --- helpers ---

interface _Key {
  kid: string;
  privateJwk: jose.JWK;
}

async function _generateKey(alg: OidcIdpAlgorithm): Promise<_Key> {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const kid = crypto.randomUUID();
  return { kid, privateJwk: { ...(await jose.exportJWK(privateKey)), kid, alg, use: "sig" } };
}

function _random(bytes = 32): string {
  return jose.base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

function _escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function _readForm(req: IncomingMessage): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Uint8Array[] = [];
  for await (const chunk of req) {
    const bytes = chunk as Uint8Array;
    size += bytes.byteLength;
    if (size > _MAX_FORM_BYTES) throw new Error("Form too large");
    chunks.push(bytes);
  }
  return new URLSearchParams(new TextDecoder().decode(concatBytes(chunks)));
}

function _send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader("content-type", contentType);
  res.setHeader("cache-control", "no-store");
  res.end(body);
}

function _loginPage(uid: string, users: readonly OidcIdpUser[], clientId: string): string {
  const buttons = users.map((user) => {
    const label = typeof user.claims?.name === "string" ? `${user.claims.name} (${user.sub})` : user.sub;
    return `<button type="submit" name="login" value="${_escapeHtml(user.sub)}">${
      _escapeHtml(label)
    }</button>`;
  }).join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body><h1>Test IdP: development sign-in</h1><p>Sign in to <code>${_escapeHtml(clientId)}</code> as:</p>
<form method="post" action="/interaction/${_escapeHtml(uid)}">${buttons}</form></body></html>`;
}

/** The RP-initiated logout confirmation: a form that submits itself ("yes, sign me out"), so no click is needed. */
function _autoSubmitLogout(ctx: { body: unknown; type: string }, form: string): Promise<void> {
  ctx.type = "html";
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing out</title></head>
<body><p>Signing out of the test IdP…</p>${form}<input type="hidden" form="op.logoutForm" name="logout" value="yes">
<script>document.forms[0].submit()</script></body></html>`;
  return Promise.resolve();
}

/** A cookie jar for one browser session (names and values only: one host, every path). */
class _CookieJar {
  readonly #cookies = new Map<string, string>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const index = pair.indexOf("=");
      if (index < 1) continue;
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (value === "" || /;\s*max-age=0/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

function _listen(
  port: number,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Server> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, _LOOPBACK, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function _closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// --- the IdP ---

class TestOidcIdp implements OidcIdp {
  readonly issuer: string;
  readonly port: number;
  readonly jwksUri: string;
  readonly audience: string;
  readonly resource: string;
  readonly opaqueResource: string;
  readonly opaqueAudience: string;
  readonly introspectionEndpoint: string;
  readonly jwtClientId = "broker-jwt";
  readonly jwtClientPrivateJwk: Readonly<Record<string, string>>;
  readonly #jwtClientPublicJwk: jose.JWK;
  readonly algorithm: OidcIdpAlgorithm;
  readonly spaClientId: string;
  readonly serviceClientId: string;
  readonly serviceClientSecret: string;
  readonly endpoints: OidcIdpEndpoints;
  readonly #users: Map<string, OidcIdpUser>;
  readonly #clients = new Map<string, OidcIdpClient>();
  readonly #resourceScopes: readonly string[];
  readonly #spaRedirectUris: readonly string[];
  readonly #spaLogout: { backchannel?: string; postLogout: readonly string[] };
  readonly #sessions = new Map<string, _CookieJar>();
  readonly #accessTokenTtlSeconds: number;
  readonly #idTokenTtlSeconds: number;
  readonly #cookieKeys = [_random(), _random()];
  readonly #adapter = _createAdapterFactory();
  readonly #ProviderClass: _ProviderClass;
  #keys: _Key[];
  #provider!: _Provider;
  #handler!: (req: IncomingMessage, res: ServerResponse) => void;
  #server: Server | undefined;
  #closed = false;

  constructor(
    ProviderClass: _ProviderClass,
    port: number,
    firstKey: _Key,
    options: StartOidcIdpOptions,
    clientKey: { privateJwk: jose.JWK; publicJwk: jose.JWK },
  ) {
    this.#ProviderClass = ProviderClass;
    this.port = port;
    this.issuer = `http://${_LOOPBACK}:${port}`;
    this.jwksUri = `${this.issuer}/jwks`;
    this.endpoints = Object.freeze({
      authorization: `${this.issuer}/auth`,
      token: `${this.issuer}/token`,
      userinfo: `${this.issuer}/me`,
      jwks: this.jwksUri,
      endSession: `${this.issuer}/session/end`,
    });
    this.algorithm = options.algorithm ?? "RS256";
    this.audience = options.audience ?? "arcgis-broker";
    this.resource = options.resource ?? "urn:arcgis-broker";
    this.opaqueResource = options.opaqueResource ?? "urn:arcgis-broker:opaque";
    this.opaqueAudience = options.opaqueAudience ?? "arcgis-broker-opaque";
    this.introspectionEndpoint = `${this.issuer}/token/introspection`;
    this.jwtClientPrivateJwk = Object.freeze({ ...clientKey.privateJwk } as Record<string, string>);
    this.#jwtClientPublicJwk = clientKey.publicJwk;
    this.#resourceScopes = options.resourceScopes ?? ["arcgis"];
    this.#users = new Map((options.users ?? [OIDC_IDP_DEMO_USER]).map((user) => [user.sub, user]));
    this.spaClientId = options.spaClientId ?? "spa";
    this.#spaRedirectUris = [`${this.issuer}${_DEV_CALLBACK_PATH}`, ...(options.spaRedirectUris ?? [])];
    this.#spaLogout = {
      ...(options.spaBackchannelLogoutUri === undefined
        ? {}
        : { backchannel: options.spaBackchannelLogoutUri }),
      postLogout: options.spaPostLogoutRedirectUris ?? [],
    };
    this.serviceClientId = options.serviceClientId ?? "broker-service";
    this.serviceClientSecret = options.serviceClientSecret ?? _random();
    this.#accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 300;
    this.#idTokenTtlSeconds = options.idTokenTtlSeconds ?? 300;
    this.#keys = [firstKey];
    this.#build();
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  setUser(user: OidcIdpUser): void {
    this.#users.set(user.sub, user);
  }

  addClient(client: OidcIdpClient): void {
    const method = client.tokenEndpointAuthMethod ??
      (client.clientSecret !== undefined ? "client_secret_post" : "private_key_jwt");
    if (method === "private_key_jwt" ? client.jwksUri === undefined : client.clientSecret === undefined) {
      throw new Error(
        `Test IdP client "${client.clientId}" needs ${
          method === "private_key_jwt" ? "a jwksUri" : "a secret"
        }`,
      );
    }
    this.#clients.set(client.clientId, { ...client, tokenEndpointAuthMethod: method });
    this.#build();
  }

  signingKid(): string {
    return this.#keys[0].kid;
  }

  publishedKids(): string[] {
    return this.#keys.map((key) => key.kid);
  }

  /** (Re)creates the Provider with the current keys; state lives in the shared adapter. */
  #build(): void {
    const users = this.#users;
    const clients = this.#clients;
    const origins = new Set(this.#spaRedirectUris.map((uri) => new URL(uri).origin));
    const resourceServer = {
      scope: this.#resourceScopes.join(" "),
      audience: this.audience,
      accessTokenFormat: "jwt",
      accessTokenTTL: this.#accessTokenTtlSeconds,
      jwt: { sign: { alg: this.algorithm } },
    };
    const opaqueServer = {
      scope: this.#resourceScopes.join(" "),
      audience: this.opaqueAudience,
      accessTokenFormat: "opaque",
      accessTokenTTL: this.#accessTokenTtlSeconds,
    };
    const provider = new this.#ProviderClass(this.issuer, {
      adapter: this.#adapter,
      jwks: { keys: this.#keys.map((key) => key.privateJwk) },
      cookies: { keys: this.#cookieKeys },
      clients: [
        {
          client_id: this.spaClientId,
          token_endpoint_auth_method: "none",
          grant_types: ["authorization_code", "refresh_token"],
          response_types: ["code"],
          redirect_uris: [...this.#spaRedirectUris],
          id_token_signed_response_alg: this.algorithm,
          post_logout_redirect_uris: [...this.#spaLogout.postLogout],
          ...(this.#spaLogout.backchannel === undefined ? {} : {
            backchannel_logout_uri: this.#spaLogout.backchannel,
            backchannel_logout_session_required: true,
          }),
        },
        {
          client_id: this.serviceClientId,
          client_secret: this.serviceClientSecret,
          grant_types: ["client_credentials"],
          response_types: [],
          redirect_uris: [],
          id_token_signed_response_alg: this.algorithm,
        },
        {
          client_id: this.jwtClientId,
          token_endpoint_auth_method: "private_key_jwt",
          token_endpoint_auth_signing_alg: "ES256",
          jwks: { keys: [this.#jwtClientPublicJwk] },
          grant_types: ["client_credentials"],
          response_types: [],
          redirect_uris: [],
          id_token_signed_response_alg: this.algorithm,
        },
        ...[...this.#clients.values()].map((client) => ({
          client_id: client.clientId,
          ...(client.clientSecret !== undefined ? { client_secret: client.clientSecret } : {}),
          ...(client.jwksUri !== undefined ? { jwks_uri: client.jwksUri } : {}),
          token_endpoint_auth_method: client.tokenEndpointAuthMethod,
          ...(client.tokenEndpointAuthMethod === "private_key_jwt"
            ? { token_endpoint_auth_signing_alg: "RS256" }
            : {}),
          grant_types: ["authorization_code"],
          response_types: ["code"],
          redirect_uris: [...client.redirectUris],
          post_logout_redirect_uris: [...(client.postLogoutRedirectUris ?? [])],
          id_token_signed_response_alg: this.algorithm,
        })),
      ],
      clientDefaults: { id_token_signed_response_alg: this.algorithm },
      claims: {
        openid: ["sub"],
        profile: ["name", "preferred_username", "given_name", "family_name"],
        email: ["email", "email_verified"],
        groups: ["groups"],
      },
      conformIdTokenClaims: false,
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        // Any authenticated confidential client may introspect (the broker's service and private_key_jwt clients).
        introspection: {
          enabled: true,
          allowedPolicy: (_ctx: unknown, client: { clientAuthMethod: string }) =>
            client.clientAuthMethod !== "none",
        },
        backchannelLogout: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: _autoSubmitLogout,
          // A plain page (the default one loads a web font from the internet).
          postLogoutSuccessSource: (ctx: { body: string }) => {
            ctx.body = "<!doctype html><title>Signed out</title><p>Signed out at the identity provider</p>";
          },
        },
        resourceIndicators: {
          enabled: true,
          // Relying parties (a portal's login) get opaque tokens for the userinfo endpoint, not the API resource.
          defaultResource: (_ctx: unknown, client: { clientId: string }) =>
            clients.has(client.clientId) ? undefined : this.resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, indicator: string) => {
            if (indicator === this.opaqueResource) return opaqueServer;
            if (indicator !== this.resource) throw new Error("Unknown resource");
            return resourceServer;
          },
        },
      },
      interactions: {
        url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
      },
      findAccount: (_ctx: unknown, sub: string) => {
        const user = users.get(sub);
        if (user === undefined) return undefined;
        return { accountId: sub, claims: () => ({ ...user.claims, sub }) };
      },
      extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) => {
        const user = token.accountId === undefined ? undefined : users.get(token.accountId);
        return user === undefined ? undefined : { ...user.claims };
      },
      ttl: {
        AccessToken: this.#accessTokenTtlSeconds,
        ClientCredentials: this.#accessTokenTtlSeconds,
        IdToken: this.#idTokenTtlSeconds,
        AuthorizationCode: 60,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
        RefreshToken: 3600,
      },
      clientBasedCORS: (_ctx: unknown, origin: string) => origins.has(origin),
      renderError: (ctx: { type: string; body: unknown }, out: Record<string, unknown>) => {
        ctx.type = "application/json";
        ctx.body = { error: out.error, error_description: out.error_description };
      },
      pkce: {
        required: (_ctx: unknown, client: { clientId: string }) =>
          clients.get(client.clientId)?.requirePkce ?? true,
      },
      acceptQueryParamAccessTokens: true,
      // Relying parties added with addClient() are first-party: their grant is made without a consent page.
      loadExistingGrant: async (ctx: _GrantContext) => {
        const grantId = ctx.oidc.result?.consent?.grantId ??
          ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
        if (grantId) return await ctx.oidc.provider.Grant.find(grantId);
        if (!clients.has(ctx.oidc.client.clientId)) return undefined;
        const grant = new ctx.oidc.provider.Grant({
          accountId: ctx.oidc.session.accountId,
          clientId: ctx.oidc.client.clientId,
        });
        grant.addOIDCScope(String(ctx.oidc.params.scope ?? "openid"));
        await grant.save();
        return grant;
      },
    });
    provider.silent = true;
    this.#provider = provider;
    this.#handler = provider.callback();
  }

  /** Serves one request: the interaction pages here, everything else by the current Provider. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = new URL(req.url ?? "/", this.issuer).pathname;
      if (path.startsWith("/interaction/")) return await this.#interaction(req, res);
      if (path === _DEV_CALLBACK_PATH) {
        return _send(res, 200, "text/plain", "Signed in: the code is in the URL");
      }
      this.#handler(req, res);
    } catch {
      if (!res.headersSent) _send(res, 500, "text/plain", "Test IdP error");
      else res.end();
    }
  }

  /** The development login and the automatic consent. */
  async #interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const provider = this.#provider;
    let details: _InteractionDetails;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return _send(res, 400, "text/plain", "Unknown or expired interaction");
    }
    const { prompt, params, session } = details;
    if (prompt.name === "login") {
      let login = typeof params.login_hint === "string" ? params.login_hint : undefined;
      if (req.method === "POST") login = (await _readForm(req)).get("login") ?? undefined;
      if (login === undefined || !this.#users.has(login)) {
        const clientId = typeof params.client_id === "string" ? params.client_id : "";
        return _send(
          res,
          200,
          "text/html; charset=utf-8",
          _loginPage(details.uid, [...this.#users.values()], clientId),
        );
      }
      return await provider.interactionFinished(req, res, { login: { accountId: login } }, {
        mergeWithLastSubmission: false,
      });
    }
    if (prompt.name === "consent") {
      const accountId = session?.accountId;
      const clientId = params.client_id;
      if (typeof accountId !== "string" || typeof clientId !== "string") {
        return _send(res, 400, "text/plain", "No session");
      }
      const grant = details.grantId === undefined
        ? new provider.Grant({ accountId, clientId })
        : (await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId });
      const missing = prompt.details;
      if (Array.isArray(missing.missingOIDCScope)) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
      if (Array.isArray(missing.missingOIDCClaims)) {
        grant.addOIDCClaims(missing.missingOIDCClaims as string[]);
      }
      const resourceScopes = missing.missingResourceScopes as Record<string, string[]> | undefined;
      for (const [indicator, scopes] of Object.entries(resourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(" "));
      }
      const grantId = await grant.save();
      return await provider.interactionFinished(req, res, { consent: { grantId } }, {
        mergeWithLastSubmission: true,
      });
    }
    return _send(res, 400, "text/plain", "Unsupported prompt");
  }

  /** Takes over the server {@link startOidcIdp} started. */
  adopt(server: Server): void {
    this.#server = server;
  }

  async start(): Promise<void> {
    if (this.#closed) throw new Error("Test IdP is closed");
    if (this.#server !== undefined) return;
    this.#server = await _listen(this.port, (req, res) => void this.handle(req, res));
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    await _closeServer(server);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async rotateKey(options: { keepPrevious?: boolean } = {}): Promise<string> {
    const key = await _generateKey(this.algorithm);
    this.#keys = options.keepPrevious === false ? [key] : [key, ...this.#keys];
    this.#build();
    return key.kid;
  }

  removeKey(kid: string): Promise<void> {
    if (this.#keys[0].kid === kid) return Promise.reject(new Error("Cannot remove the signing key"));
    this.#keys = this.#keys.filter((key) => key.kid !== kid);
    this.#build();
    return Promise.resolve();
  }

  async #fetch(url: string, init: RequestInit = {}): Promise<Response> {
    return await fetch(url, { ...init, redirect: "manual" });
  }

  async login(options: OidcIdpLoginOptions): Promise<OidcIdpTokens> {
    if (!this.#users.has(options.sub)) throw new Error(`Unknown test user "${options.sub}"`);
    const verifier = _random();
    const challenge = jose.base64url.encode(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
    );
    const state = _random(16);
    const redirectUri = this.#spaRedirectUris[0];
    const authorize = new URL(`${this.issuer}/auth`);
    for (
      const [name, value] of Object.entries({
        client_id: this.spaClientId,
        response_type: "code",
        redirect_uri: redirectUri,
        scope: options.scope ?? ["openid profile email groups", ...this.#resourceScopes].join(" "),
        state,
        nonce: options.nonce ?? _random(16),
        code_challenge: challenge,
        code_challenge_method: "S256",
        login_hint: options.sub,
        resource: options.resource ?? this.resource,
      })
    ) authorize.searchParams.set(name, value);
    const jar = new _CookieJar();
    let url = authorize.href;
    let code: string | undefined;
    for (let hop = 0; hop < _MAX_REDIRECTS && code === undefined; hop++) {
      const response = await this.#fetch(url, { headers: { cookie: jar.header() } });
      jar.take(response);
      await response.body?.cancel();
      const location = response.headers.get("location");
      if (location === null) throw new Error(`Login stopped at status ${response.status}`);
      const next = new URL(location, url);
      if (next.href.startsWith(redirectUri)) {
        if (next.searchParams.get("state") !== state) throw new Error("Login returned a wrong state");
        const error = next.searchParams.get("error");
        if (error !== null) throw new Error(`Login failed: ${error}`);
        code = next.searchParams.get("code") ?? undefined;
        if (code === undefined) throw new Error("Login returned no code");
      }
      url = next.href;
    }
    if (code === undefined) throw new Error("Login did not finish");
    this.#sessions.set(options.sub, jar);
    const response = await this.#fetch(`${this.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: this.spaClientId,
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      }),
    });
    const body = await response.json() as Record<string, unknown>;
    if (
      response.status !== 200 || typeof body.access_token !== "string" || typeof body.id_token !== "string"
    ) {
      throw new Error(`Token exchange failed: ${String(body.error ?? response.status)}`);
    }
    return {
      accessToken: body.access_token,
      idToken: body.id_token,
      expiresIn: Number(body.expires_in),
      scope: String(body.scope ?? ""),
    };
  }

  async logout(options: { sub: string }): Promise<void> {
    const jar = this.#sessions.get(options.sub);
    if (jar === undefined) throw new Error(`No IdP session of "${options.sub}" to sign out`);
    const page = await this.#fetch(`${this.issuer}/session/end?client_id=${this.spaClientId}`, {
      headers: { cookie: jar.header() },
    });
    jar.take(page);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())?.[1];
    if (page.status !== 200 || xsrf === undefined) throw new Error(`Logout page answered ${page.status}`);
    const confirm = await this.#fetch(`${this.issuer}/session/end/confirm`, {
      method: "POST",
      headers: { cookie: jar.header(), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ xsrf, logout: "yes" }),
    });
    await confirm.body?.cancel();
    if (confirm.status !== 303 && confirm.status !== 302) {
      throw new Error(`Logout answered ${confirm.status}`);
    }
    this.#sessions.delete(options.sub);
  }

  async clientCredentials(options: { scope?: string; resource?: string } = {}): Promise<string> {
    const response = await this.#fetch(`${this.issuer}/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${btoa(`${this.serviceClientId}:${this.serviceClientSecret}`)}`,
      },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        scope: options.scope ?? this.#resourceScopes.join(" "),
        resource: options.resource ?? this.resource,
      }),
    });
    const body = await response.json() as Record<string, unknown>;
    if (response.status !== 200 || typeof body.access_token !== "string") {
      throw new Error(
        `Client credentials failed: ${String(body.error ?? response.status)} ${
          String(body.error_description)
        }`,
      );
    }
    return body.access_token;
  }
}

/**
 * Starts a test IdP on `127.0.0.1` (a free port unless `options.port`), listening when the promise resolves.
 * Close it with `close()` or `await using`. Needs the npm package `oidc-provider` (an optional peer dependency).
 *
 * @param options Algorithm, audience, users, clients and token lifetimes.
 * @returns The running IdP.
 * @throws {Error} When `oidc-provider` cannot be imported or the port cannot be bound.
 *
 * @example Real tokens for a test
 * ```ts
 * import { startOidcIdp } from "arcgis-token-broker/testing-idp";
 *
 * await using idp = await startOidcIdp({ users: [{ sub: "alice", claims: { groups: ["gis"] } }] });
 * const { accessToken } = await idp.login({ sub: "alice" });
 * // issuer: idp.issuer, audience: idp.audience
 * ```
 */
export async function startOidcIdp(options: StartOidcIdpOptions = {}): Promise<OidcIdp> {
  const ProviderClass = await _loadProvider();
  const firstKey = await _generateKey(options.algorithm ?? "RS256");
  const clientPair = await jose.generateKeyPair("ES256", { extractable: true });
  const clientKid = crypto.randomUUID();
  const clientKey = {
    privateJwk: { ...(await jose.exportJWK(clientPair.privateKey)), kid: clientKid, alg: "ES256" },
    publicJwk: { ...(await jose.exportJWK(clientPair.publicKey)), kid: clientKid, alg: "ES256", use: "sig" },
  };
  // Listen first to learn the port: the issuer (and so the Provider) depends on it.
  let idp: TestOidcIdp | undefined;
  const server = await _listen(options.port ?? 0, (req, res) => {
    if (idp === undefined) _send(res, 503, "text/plain", "Starting");
    else void idp.handle(req, res);
  });
  try {
    idp = new TestOidcIdp(
      ProviderClass,
      (server.address() as AddressInfo).port,
      firstKey,
      options,
      clientKey,
    );
  } catch (error) {
    await _closeServer(server);
    throw error;
  }
  idp.adopt(server);
  return idp;
}
