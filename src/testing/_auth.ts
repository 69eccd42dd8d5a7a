/**
 * Token validity (498 cases) and access decisions (403) of the fake, per the reference's decision table.
 *
 * @module
 */
import type { FakeTokenInfo } from "./types.ts";
import type { _Ctx, _Server, _Service, _State } from "./_context.ts";

/** Where a token is presented: the portal, or a server root. */
export type _Audience = { portal: true } | { server: _Server };

/**
 * The token's record when it is valid here, else undefined (→ 498). Invalid: unknown, revoked, expired
 * (`now >= expiresMs`), a refresh token, a server token of another root (or at the portal), a portal user token on
 * a root that does not accept portal tokens, a referer-bound token whose request `Referer` does not start with the
 * bound value.
 */
export function validToken(ctx: _Ctx, token: string, audience: _Audience): FakeTokenInfo | undefined {
  const state = ctx.state;
  const info = state.tokens.get(token);
  if (!info || info.revoked || info.kind === "refresh") return undefined;
  if (state.now() >= info.expiresMs) return undefined;
  if (info.referer !== undefined) {
    const referer = ctx.request.headers.get("referer");
    if (referer === null || !referer.startsWith(info.referer)) return undefined;
  }
  if ("portal" in audience) {
    return info.kind === "server" ? undefined : info;
  }
  const server = audience.server;
  switch (info.kind) {
    case "server":
      return info.serverRoot === server.path ? info : undefined;
    case "portal":
      return server.acceptsPortalTokens ? info : undefined;
    default:
      // App tokens and API keys are governed by the item-access config.
      return info;
  }
}

function _userAllowed(state: _State, username: string, service: _Service): boolean {
  const user = state.users.get(username);
  if (!user) return false;
  const sameOrg = (user.orgId ?? state.orgId) === state.orgId;
  const access = service.access;
  if (access === "public") return true;
  if (access === "org") return sameOrg;
  if (access.org && sameOrg) return true;
  if (access.users?.includes(username)) return true;
  const groups = user.groups ?? [];
  return access.groups?.some((g) => groups.includes(g)) ?? false;
}

/** Whether a valid token's principal may use the service. */
export function allowed(state: _State, info: FakeTokenInfo, service: _Service): boolean {
  if (service.access === "public") return true;
  if (info.kind === "apikey") {
    const services = state.apiKeys.get(info.token)?.services;
    if (services === undefined) return true;
    const key = `${service.name}/${service.type}`.toLowerCase();
    return services.some((s) => s.toLowerCase() === service.name.toLowerCase() || s.toLowerCase() === key);
  }
  if (info.username !== undefined) return _userAllowed(state, info.username, service);
  if (info.clientId !== undefined) {
    const access = service.access;
    if (access === "org") return true;
    return access.org === true || (access.clientIds?.includes(info.clientId) ?? false);
  }
  return false;
}
