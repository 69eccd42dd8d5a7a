/**
 * Typed calls to the configured portal's sharing API and to configured servers' `rest/info`. Every URL comes
 * from {@link ArcGISUrls}; answers are `unknown` until a zod schema accepts them. Calls resolve to the parsed
 * answer or to the ArcGIS error envelope (for callers that give some errors a meaning, such as a dead refresh
 * token), and reject with an upstream `BrokerError` otherwise.
 *
 * @module
 */
import * as z from "zod/mini";
import { type ArcGISErrorInfo, upstreamError } from "./_errors.ts";
import type { ArcGISHttp } from "./arcgis_http.ts";
import type { ArcGISUrls } from "../config/arcgis_urls.ts";

/** A parsed answer or the ArcGIS error envelope. */
export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ArcGISErrorInfo };

/** A token with its absolute expiry. */
export interface IssuedToken {
  /** The token. */
  token: string;
  /** Expiry, epoch ms. */
  expires: number;
  /** `ssl` of the answer (false when absent). */
  ssl: boolean;
  /** ArcGIS user name, when the answer names one. */
  username?: string;
}

/** An OAuth answer that carries a refresh token. */
export interface IssuedRefreshToken extends IssuedToken {
  /** The refresh token. */
  refreshToken: string;
  /** Refresh-token expiry, epoch ms (undefined when the answer does not say). */
  refreshExpires?: number;
}

/** The parts of `community/self` the link checks read. */
export interface PortalUser {
  /** ArcGIS user name. */
  username: string;
  /** Organization id. */
  orgId?: string;
  /** IdP-side user name (SAML/OIDC users). */
  idpUsername?: string;
}

const _oauthToken = z.object({
  access_token: z.string().check(z.minLength(1)),
  expires_in: z.number().check(z.positive()),
  username: z.optional(z.string()),
  ssl: z.optional(z.boolean()),
  refresh_token: z.optional(z.string().check(z.minLength(1))),
  refresh_token_expires_in: z.optional(z.number().check(z.positive())),
});

const _generatedToken = z.object({
  token: z.string().check(z.minLength(1)),
  expires: z.union([z.number(), z.pipe(z.string().check(z.regex(/^\d+$/)), z.transform(Number))]),
  ssl: z.optional(z.boolean()),
});

const _user = z.object({
  username: z.string().check(z.minLength(1)),
  orgId: z.nullable(z.optional(z.string())),
  idpUsername: z.nullable(z.optional(z.string())),
});

const _portalSelf = z.object({ id: z.optional(z.string().check(z.minLength(1))) });

const _serverInfo = z.object({
  owningSystemUrl: z.optional(z.string()),
});

/** Form parameters of one call. */
type _Params = Record<string, string | undefined>;

/** The portal API. */
export interface PortalApi {
  /** `oauth2/token` `client_credentials` (app tokens). */
  clientCredentials(p: { clientId: string; clientSecret: string; expirationMinutes: number }): Promise<
    ApiResult<IssuedToken>
  >;
  /** `oauth2/token` `authorization_code` with the PKCE verifier. */
  authorizationCode(p: {
    clientId: string;
    clientSecret?: string;
    code: string;
    redirectUri: string;
    codeVerifier: string;
  }): Promise<ApiResult<IssuedRefreshToken>>;
  /** `oauth2/token` `refresh_token`. */
  refreshToken(
    p: { clientId: string; clientSecret?: string; refreshToken: string },
  ): Promise<ApiResult<IssuedToken>>;
  /** `oauth2/token` `exchange_refresh_token` (new refresh token; the old family dies). */
  exchangeRefreshToken(p: {
    clientId: string;
    clientSecret?: string;
    refreshToken: string;
    redirectUri: string;
  }): Promise<ApiResult<IssuedRefreshToken>>;
  /** `generateToken` with username and password, optionally bound to a referer. */
  generateToken(
    p: { username: string; password: string; referer?: string; expirationMinutes: number },
  ): Promise<
    ApiResult<IssuedToken>
  >;
  /** `generateToken` with a portal token and `serverUrl`: a server token for a federated server. */
  generateServerToken(
    p: { token: string; serverUrl: string; referer?: string; expirationMinutes?: number },
  ): Promise<
    ApiResult<IssuedToken>
  >;
  /** `oauth2/revokeToken`. */
  revokeToken(p: { clientId: string; clientSecret?: string; token: string }): Promise<void>;
  /** `community/self` with a token. */
  communitySelf(token: string, referer?: string): Promise<ApiResult<PortalUser>>;
  /** `portals/self` with a token: the org id. */
  portalSelf(token: string, referer?: string): Promise<ApiResult<{ id?: string }>>;
  /** `{serverRoot}/rest/info` (no token). */
  serverInfo(serverRoot: string): Promise<ApiResult<{ owningSystemUrl?: string }>>;
}

function _badAnswer(endpoint: string): never {
  throw upstreamError("ERR_ARCGIS_BAD_GATEWAY", `ArcGIS call "${endpoint}" failed: unexpected answer`);
}

class HttpPortalApi implements PortalApi {
  readonly #http: ArcGISHttp;
  readonly #urls: ArcGISUrls;
  readonly #now: () => number;

  constructor(http: ArcGISHttp, urls: ArcGISUrls, now: () => number) {
    this.#http = http;
    this.#urls = urls;
    this.#now = now;
  }

  async #call<S extends z.ZodMiniType>(
    url: string,
    endpoint: string,
    params: _Params,
    schema: S,
    referer?: string,
  ): Promise<ApiResult<z.output<S>>> {
    const result = await this.#http.post(url, {
      endpoint,
      params,
      ...(referer !== undefined ? { referer } : {}),
    });
    if (!result.ok) return result;
    const parsed = schema.safeParse(result.body);
    if (!parsed.success) _badAnswer(endpoint);
    return { ok: true, value: parsed.data };
  }

  /** Calls `oauth2/token`; `startedAt` (before the call) anchors `expires_in`, so expiries err on the early side. */
  async #oauth(params: _Params): Promise<{ r: ApiResult<z.output<typeof _oauthToken>>; startedAt: number }> {
    const startedAt = this.#now();
    const r = await this.#call(this.#urls.endpoint("oauth2/token"), "oauth2/token", params, _oauthToken);
    return { r, startedAt };
  }

  #issued(value: z.output<typeof _oauthToken>, startedAt: number): IssuedToken {
    return {
      token: value.access_token,
      expires: startedAt + value.expires_in * 1000,
      ssl: value.ssl ?? false,
      ...(value.username !== undefined ? { username: value.username } : {}),
    };
  }

  #withRefresh(value: z.output<typeof _oauthToken>, startedAt: number, endpoint: string): IssuedRefreshToken {
    if (value.refresh_token === undefined) _badAnswer(endpoint);
    return {
      ...this.#issued(value, startedAt),
      refreshToken: value.refresh_token,
      ...(value.refresh_token_expires_in !== undefined
        ? { refreshExpires: startedAt + value.refresh_token_expires_in * 1000 }
        : {}),
    };
  }

  async clientCredentials(
    p: { clientId: string; clientSecret: string; expirationMinutes: number },
  ): Promise<ApiResult<IssuedToken>> {
    const { r, startedAt } = await this.#oauth({
      grant_type: "client_credentials",
      client_id: p.clientId,
      client_secret: p.clientSecret,
      expiration: String(p.expirationMinutes),
    });
    return r.ok ? { ok: true, value: this.#issued(r.value, startedAt) } : { ok: false, error: r.error };
  }

  async authorizationCode(p: {
    clientId: string;
    clientSecret?: string;
    code: string;
    redirectUri: string;
    codeVerifier: string;
  }): Promise<ApiResult<IssuedRefreshToken>> {
    const { r, startedAt } = await this.#oauth({
      grant_type: "authorization_code",
      client_id: p.clientId,
      client_secret: p.clientSecret,
      code: p.code,
      redirect_uri: p.redirectUri,
      code_verifier: p.codeVerifier,
    });
    return r.ok
      ? { ok: true, value: this.#withRefresh(r.value, startedAt, "oauth2/token") }
      : { ok: false, error: r.error };
  }

  async refreshToken(
    p: { clientId: string; clientSecret?: string; refreshToken: string },
  ): Promise<ApiResult<IssuedToken>> {
    const { r, startedAt } = await this.#oauth({
      grant_type: "refresh_token",
      client_id: p.clientId,
      client_secret: p.clientSecret,
      refresh_token: p.refreshToken,
    });
    return r.ok ? { ok: true, value: this.#issued(r.value, startedAt) } : { ok: false, error: r.error };
  }

  async exchangeRefreshToken(p: {
    clientId: string;
    clientSecret?: string;
    refreshToken: string;
    redirectUri: string;
  }): Promise<ApiResult<IssuedRefreshToken>> {
    const { r, startedAt } = await this.#oauth({
      grant_type: "exchange_refresh_token",
      client_id: p.clientId,
      client_secret: p.clientSecret,
      refresh_token: p.refreshToken,
      redirect_uri: p.redirectUri,
    });
    return r.ok
      ? { ok: true, value: this.#withRefresh(r.value, startedAt, "oauth2/token") }
      : { ok: false, error: r.error };
  }

  async #generate(params: _Params, referer?: string): Promise<ApiResult<IssuedToken>> {
    const r = await this.#call(
      this.#urls.endpoint("generateToken"),
      "generateToken",
      params,
      _generatedToken,
      referer,
    );
    if (!r.ok) return r;
    return { ok: true, value: { token: r.value.token, expires: r.value.expires, ssl: r.value.ssl ?? false } };
  }

  generateToken(
    p: { username: string; password: string; referer?: string; expirationMinutes: number },
  ): Promise<ApiResult<IssuedToken>> {
    return this.#generate({
      username: p.username,
      password: p.password,
      expiration: String(p.expirationMinutes),
      ...(p.referer !== undefined ? { client: "referer", referer: p.referer } : {}),
    }, p.referer);
  }

  generateServerToken(
    p: { token: string; serverUrl: string; referer?: string; expirationMinutes?: number },
  ): Promise<ApiResult<IssuedToken>> {
    return this.#generate({
      token: p.token,
      serverUrl: p.serverUrl,
      ...(p.expirationMinutes !== undefined ? { expiration: String(p.expirationMinutes) } : {}),
      ...(p.referer !== undefined ? { client: "referer", referer: p.referer } : {}),
    }, p.referer);
  }

  async revokeToken(p: { clientId: string; clientSecret?: string; token: string }): Promise<void> {
    await this.#http.post(this.#urls.endpoint("oauth2/revokeToken"), {
      endpoint: "oauth2/revokeToken",
      params: { client_id: p.clientId, client_secret: p.clientSecret, auth_token: p.token },
    });
  }

  async communitySelf(token: string, referer?: string): Promise<ApiResult<PortalUser>> {
    const r = await this.#call(
      this.#urls.endpoint("community/self"),
      "community/self",
      { token },
      _user,
      referer,
    );
    if (!r.ok) return r;
    return {
      ok: true,
      value: {
        username: r.value.username,
        ...(r.value.orgId != null ? { orgId: r.value.orgId } : {}),
        ...(r.value.idpUsername != null ? { idpUsername: r.value.idpUsername } : {}),
      },
    };
  }

  async portalSelf(token: string, referer?: string): Promise<ApiResult<{ id?: string }>> {
    return await this.#call(
      this.#urls.endpoint("portals/self"),
      "portals/self",
      { token },
      _portalSelf,
      referer,
    );
  }

  async serverInfo(serverRoot: string): Promise<ApiResult<{ owningSystemUrl?: string }>> {
    return await this.#call(`${serverRoot}/rest/info`, "rest/info", {}, _serverInfo);
  }
}

/** Creates the {@link PortalApi} of one configuration. */
export function createPortalApi(http: ArcGISHttp, urls: ArcGISUrls, now: () => number): PortalApi {
  return new HttpPortalApi(http, urls, now);
}
