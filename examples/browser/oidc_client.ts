/// <reference lib="dom" />
/**
 * A tiny, dependency-free OpenID Connect client for the example pages: authorization code flow with PKCE (S256)
 * in the page, tokens kept in `sessionStorage`. It is what a real single-page app does with its own IdP (most apps
 * would use their IdP's SDK instead); the demo only points it at a local provider.
 *
 * @module
 */

/** Options for {@link createOidcClient}. */
export interface OidcClientOptions {
  /** The issuer URL; discovery is read from `{issuer}/.well-known/openid-configuration`. */
  issuer: string;
  /** The public (SPA) client id registered at the IdP. */
  clientId: string;
  /** Where the IdP sends the browser back; usually the page itself. */
  redirectUri: string;
  /** Scopes to ask for. @default "openid" */
  scope?: string;
  /** RFC 8707 resource indicator (the API audience), when the IdP issues JWT access tokens per resource. */
  resource?: string;
  /** Extra authorize parameters (e.g. `prompt`). @default {} */
  extraAuthorizeParams?: Record<string, string>;
  /** Where tokens and the PKCE verifier are kept. @default sessionStorage */
  storage?: Storage;
  /** Clock, epoch ms. @default Date.now */
  now?: () => number;
}

/** Tokens the client holds. */
export interface OidcTokens {
  /** The access token (a JWT the broker verifies). */
  accessToken: string;
  /** Expiry of the access token, epoch ms. */
  expiresAt: number;
  /** The ID token, if any. */
  idToken?: string;
  /** The refresh token, if the IdP issued one. */
  refreshToken?: string;
}

/** The client. */
export interface OidcClient {
  /**
   * Finishes a sign-in when the current URL carries the IdP's answer (`code` + `state`); removes those
   * parameters from the address bar. Resolves to whether a sign-in was completed.
   */
  handleRedirect(): Promise<boolean>;
  /** Sends the browser to the IdP's authorize endpoint. Never resolves (the page navigates away). */
  signIn(): Promise<never>;
  /** A current access token, refreshed if possible, or `null` when the user must sign in again. */
  getAccessToken(): Promise<string | null>;
  /** The tokens held now, if any. */
  tokens(): OidcTokens | null;
  /** Forgets the tokens. */
  signOut(): void;
}

interface _Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
}

interface _PendingAuth {
  state: string;
  verifier: string;
  nonce: string;
  redirectUri: string;
}

/** Seconds before `exp` at which an access token counts as expired. */
const EXPIRY_MARGIN_MS = 30_000;

function _randomString(bytes: number): string {
  return _base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

function _base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function _challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return _base64url(new Uint8Array(digest));
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Creates an {@link OidcClient}. */
export function createOidcClient(options: OidcClientOptions): OidcClient {
  const storage = options.storage ?? sessionStorage;
  const now = options.now ?? Date.now;
  const issuer = options.issuer.replace(/\/$/, "");
  const keyBase = `oidc:${issuer}:${options.clientId}`;
  const tokensKey = `${keyBase}:tokens`;
  const pendingKey = `${keyBase}:pending`;
  let discovery: Promise<_Discovery> | undefined;

  function discover(): Promise<_Discovery> {
    discovery ??= (async () => {
      const response = await fetch(`${issuer}/.well-known/openid-configuration`);
      if (!response.ok) throw new Error(`Cannot read OIDC discovery: status ${response.status}`);
      const body: unknown = await response.json();
      if (
        !_isRecord(body) || body.issuer !== issuer && body.issuer !== options.issuer ||
        typeof body.authorization_endpoint !== "string" || typeof body.token_endpoint !== "string"
      ) {
        throw new Error("Unexpected OIDC discovery document");
      }
      return { authorization_endpoint: body.authorization_endpoint, token_endpoint: body.token_endpoint };
    })();
    discovery.catch(() => discovery = undefined);
    return discovery;
  }

  function readTokens(): OidcTokens | null {
    const raw = storage.getItem(tokensKey);
    if (raw === null) return null;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (
        _isRecord(parsed) && typeof parsed.accessToken === "string" && typeof parsed.expiresAt === "number"
      ) {
        return parsed as unknown as OidcTokens;
      }
    } catch {
      // fall through: corrupted storage counts as signed out
    }
    storage.removeItem(tokensKey);
    return null;
  }

  async function tokenRequest(params: Record<string, string>): Promise<OidcTokens> {
    const { token_endpoint } = await discover();
    const body = new URLSearchParams({ client_id: options.clientId, ...params });
    if (options.resource) body.set("resource", options.resource);
    const response = await fetch(token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    const json: unknown = await response.json().catch(() => null);
    if (!response.ok || !_isRecord(json) || typeof json.access_token !== "string") {
      const code = _isRecord(json) && typeof json.error === "string"
        ? json.error
        : `status ${response.status}`;
      throw new Error(`Token request failed: ${code}`);
    }
    const expiresIn = typeof json.expires_in === "number" ? json.expires_in : 300;
    const tokens: OidcTokens = { accessToken: json.access_token, expiresAt: now() + expiresIn * 1000 };
    if (typeof json.id_token === "string") tokens.idToken = json.id_token;
    if (typeof json.refresh_token === "string") tokens.refreshToken = json.refresh_token;
    storage.setItem(tokensKey, JSON.stringify(tokens));
    return tokens;
  }

  let refreshing: Promise<string | null> | undefined;

  return {
    async handleRedirect(): Promise<boolean> {
      const url = new URL(location.href);
      const code = url.searchParams.get("code");
      const state = url.searchParams.get("state");
      const error = url.searchParams.get("error");
      if (code === null && error === null) return false;
      const rawPending = storage.getItem(pendingKey);
      const pending: _PendingAuth | null = rawPending === null ? null : JSON.parse(rawPending);
      if (pending === null || state === null || pending.state !== state) return false;
      storage.removeItem(pendingKey);
      for (const name of ["code", "state", "error", "error_description", "iss", "session_state"]) {
        url.searchParams.delete(name);
      }
      history.replaceState(null, "", url.href);
      if (error !== null) throw new Error(`Sign-in failed: ${error}`);
      await tokenRequest({
        grant_type: "authorization_code",
        code: code as string,
        redirect_uri: pending.redirectUri,
        code_verifier: pending.verifier,
      });
      return true;
    },

    async signIn(): Promise<never> {
      const { authorization_endpoint } = await discover();
      const pending: _PendingAuth = {
        state: _randomString(16),
        verifier: _randomString(32),
        nonce: _randomString(16),
        redirectUri: options.redirectUri,
      };
      storage.setItem(pendingKey, JSON.stringify(pending));
      const url = new URL(authorization_endpoint);
      const params: Record<string, string> = {
        response_type: "code",
        client_id: options.clientId,
        redirect_uri: options.redirectUri,
        scope: options.scope ?? "openid",
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await _challenge(pending.verifier),
        code_challenge_method: "S256",
        ...options.extraAuthorizeParams,
      };
      if (options.resource) params.resource = options.resource;
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      location.assign(url.href);
      return new Promise<never>(() => {});
    },

    getAccessToken(): Promise<string | null> {
      const tokens = readTokens();
      if (tokens === null) return Promise.resolve(null);
      if (tokens.expiresAt - EXPIRY_MARGIN_MS > now()) return Promise.resolve(tokens.accessToken);
      if (tokens.refreshToken === undefined) return Promise.resolve(null);
      refreshing ??= tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refreshToken })
        .then((t) => t.accessToken, () => null)
        .finally(() => refreshing = undefined);
      return refreshing;
    },

    tokens(): OidcTokens | null {
      return readTokens();
    },

    signOut(): void {
      storage.removeItem(tokensKey);
      storage.removeItem(pendingKey);
    },
  };
}
