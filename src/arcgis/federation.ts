/**
 * Confirms, once per isolate, that a configured server belongs to the configured portal before any portal token
 * is traded for a server token there:
 * - an ArcGIS Enterprise server: its `rest/info` `owningSystemUrl` must be the portal;
 * - an ArcGIS Online hosted-services root (`services*.arcgis.com/<orgId>/arcgis`): every hosted service reports
 *   `https://www.arcgis.com`, so the check is the organization instead: the org segment of the URL must equal
 *   `portals/self` `id` (and `arcgis.orgId` when configured).
 * The token service URL is never taken from the answer: server tokens always come from the configured portal.
 *
 * @module
 */
import type { LogFn } from "../deps.ts";
import { failureFromEnvelope, upstreamError } from "./_errors.ts";
import { FEDERATION_CHECK_TTL_SECONDS } from "./constants.ts";
import type { PortalApi } from "./portal_api.ts";
import type { CachedToken } from "./token_cache.ts";
import { type ArcGISUrls, samePortal, type ServerRoot } from "../config/arcgis_urls.ts";

/** Options for {@link createFederation}. */
export interface FederationOptions {
  /** Portal URLs. */
  urls: ArcGISUrls;
  /** Portal calls. */
  api: PortalApi;
  /** `arcgis.orgId`, when configured. */
  orgId?: string;
  /** Clock, epoch ms. */
  now: () => number;
  /** Log hook. */
  log: LogFn;
}

/** Federation checks. */
export interface Federation {
  /**
   * Resolves when `server` belongs to the configured portal (remembered per isolate for an hour); rejects with
   * `ERR_ARCGIS_BAD_GATEWAY` when it does not. `portalToken` is used for `portals/self` on ArcGIS Online.
   */
  ensure(server: ServerRoot, portalToken: CachedToken): Promise<void>;
}

class PortalFederation implements Federation {
  readonly #urls: ArcGISUrls;
  readonly #api: PortalApi;
  readonly #orgId: string | undefined;
  readonly #now: () => number;
  readonly #log: LogFn;
  readonly #confirmed = new Map<string, number>();
  readonly #pending = new Map<string, Promise<void>>();

  constructor(options: FederationOptions) {
    this.#urls = options.urls;
    this.#api = options.api;
    this.#orgId = options.orgId;
    this.#now = options.now;
    this.#log = options.log;
  }

  ensure(server: ServerRoot, portalToken: CachedToken): Promise<void> {
    const until = this.#confirmed.get(server.root);
    if (until !== undefined && until > this.#now()) return Promise.resolve();
    let pending = this.#pending.get(server.root);
    if (pending === undefined) {
      pending = this.#check(server, portalToken).then(() => {
        this.#confirmed.set(server.root, this.#now() + FEDERATION_CHECK_TTL_SECONDS * 1000);
      }).finally(() => this.#pending.delete(server.root));
      this.#pending.set(server.root, pending);
    }
    return pending;
  }

  #refuse(server: ServerRoot, why: string): never {
    this.#log({ level: "error", msg: `Server refused: ${why}`, server: server.root });
    throw upstreamError(
      "ERR_ARCGIS_BAD_GATEWAY",
      `ArcGIS server is not part of the configured portal: ${why}`,
    );
  }

  async #check(server: ServerRoot, portalToken: CachedToken): Promise<void> {
    if (server.agolHosted) {
      if (!this.#urls.isArcGISOnline) this.#refuse(server, "hosted services need an ArcGIS Online portal");
      if (this.#orgId !== undefined && server.agolOrgId !== this.#orgId) {
        this.#refuse(server, "org id mismatch");
      }
      const self = await this.#api.portalSelf(portalToken.token, portalToken.referer);
      if (!self.ok) throw failureFromEnvelope(self.error, "Cannot read portals/self");
      if (self.value.id === undefined || self.value.id !== server.agolOrgId) {
        this.#refuse(server, "org id mismatch");
      }
      return;
    }
    if (this.#urls.isArcGISOnline) this.#refuse(server, "an ArcGIS Online portal has no federated servers");
    const info = await this.#api.serverInfo(server.root);
    if (!info.ok) throw failureFromEnvelope(info.error, "Cannot read the server's rest/info");
    const owner = info.value.owningSystemUrl;
    if (owner === undefined || !samePortal(owner, this.#urls.portal)) {
      this.#refuse(server, "not federated with the configured portal");
    }
  }
}

/** Creates the {@link Federation} checks. */
export function createFederation(options: FederationOptions): Federation {
  return new PortalFederation(options);
}
