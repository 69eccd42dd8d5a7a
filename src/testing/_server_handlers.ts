/**
 * Server-site endpoints of the fake: `rest/info`, standalone `tokens/generateToken`, and the services catalog.
 *
 * @module
 */
import {
  FAKE_SERVER_VERSION,
  FAKE_SHORT_LIVED_TOKEN_VALIDITY_MINUTES,
  FEDERATED_GENERATE_TOKEN_ERROR,
  GENERATE_TOKEN_GET_ERROR,
  INVALID_URL_ERROR,
} from "./constants.ts";
import {
  type _Ctx,
  type _Server,
  arcgisError,
  json,
  portalUrl,
  publicOrigin,
  serverUrl,
  sharingUrl,
} from "./_context.ts";
import { issuePasswordToken } from "./_portal_handlers.ts";

/** `S/rest/info`: federated (and hosted) roots point at the portal, standalone ones at their own token service. */
export function serverInfo(ctx: _Ctx, server: _Server): Response {
  const origin = publicOrigin(ctx);
  const federated = server.federated || server.hosted;
  const body: Record<string, unknown> = {
    currentVersion: FAKE_SERVER_VERSION,
    fullVersion: `${FAKE_SERVER_VERSION}.0`,
  };
  if (federated) body.owningSystemUrl = portalUrl(ctx.state, origin);
  body.authInfo = {
    isTokenBasedSecurity: true,
    tokenServicesUrl: federated
      ? `${sharingUrl(ctx.state, origin)}/generateToken`
      : `${serverUrl(ctx.state, server, origin)}/tokens/generateToken`,
    shortLivedTokenValidity: FAKE_SHORT_LIVED_TOKEN_VALIDITY_MINUTES,
  };
  return json(ctx, body);
}

/** `S/tokens/generateToken` (standalone servers only): `{token, expires}`, a server token for this root. */
export function serverGenerateToken(ctx: _Ctx, server: _Server): Response {
  const state = ctx.state;
  if (server.hosted) return arcgisError(ctx, INVALID_URL_ERROR);
  if (server.federated) return arcgisError(ctx, FEDERATED_GENERATE_TOKEN_ERROR);
  if (ctx.request.method !== "POST") return arcgisError(ctx, GENERATE_TOKEN_GET_ERROR);
  const issued = issuePasswordToken(ctx, {
    kind: "server",
    defaultMinutes: state.limits.serverTokenDefaultMinutes,
    serverRoot: server.path,
  });
  if (issued instanceof Response) return issued;
  return json(ctx, { token: issued.token, expires: issued.expiresMs });
}

/** `S/rest/services[/folder]`: the catalog (public). */
export function serverCatalog(ctx: _Ctx, server: _Server, folder: string): Response {
  const prefix = folder === "" ? "" : `${folder.toLowerCase()}/`;
  const services = ctx.state.services.filter((s) => s.root === server.path);
  const inFolder = services.filter((s) => s.name.toLowerCase().startsWith(prefix));
  const folders = new Set<string>();
  const listed: { name: string; type: string }[] = [];
  for (const s of inFolder) {
    const rest = s.name.slice(prefix.length);
    if (rest.includes("/")) folders.add(s.name.slice(0, prefix.length + rest.indexOf("/")));
    else listed.push({ name: s.name, type: s.type });
  }
  if (folder !== "" && inFolder.length === 0) return arcgisError(ctx, INVALID_URL_ERROR);
  return json(ctx, { currentVersion: FAKE_SERVER_VERSION, folders: [...folders], services: listed });
}
