/**
 * The broker's configuration: one JSON-serializable object, validated with zod when the broker is created.
 * Secrets are never inlined: fields ending in `Env` name an environment variable that holds the secret.
 *
 * @module
 */
import * as z from "zod/mini";
import { en } from "zod/locales";
import type { BrokerConfig, BrokerConfigInput } from "./types.ts";
import { isLoopbackUrl } from "../util/loopback.ts";
import { agolHostedOrgId, type ArcGISUrls, classifyTarget, createArcGISUrls } from "./arcgis_urls.ts";
import {
  AGOL_PORTAL_HOST_PATTERN,
  ASYMMETRIC_ALGORITHMS,
  DEFAULT_ALGORITHMS,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  DEFAULT_REQUIRED_CLAIMS,
  MAX_CLOCK_TOLERANCE_SECONDS,
  REFRESH_AHEAD_SAFETY_MARGINS,
} from "./constants.ts";

// zod/mini (a fraction of classic zod's size in the Workers bundle) loads no locale: without one, every message
// this schema does not set itself would read "Invalid input". Register English unless the host chose a locale,
// exactly as classic zod does on its first schema.
if (!z.config().localeError) z.config(en());

/** The URL, or `null` when `value` does not parse (the field's own check reports that once). */
function _parsedUrl(value: string): URL | null {
  return URL.canParse(value) ? new URL(value) : null;
}

const urlString = z.string().check(z.refine((s) => URL.canParse(s), { message: "Expected an absolute URL" }));

const envName = z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
  message: "Expected an environment variable name",
}));

const nonEmpty = (): z.ZodMiniString<string> => z.string().check(z.minLength(1));

const oneOrMany = z.union([nonEmpty(), z.array(nonEmpty()).check(z.minLength(1))]);

const algorithm = z.string().check(z.refine((a) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a), {
  message: `Expected an asymmetric algorithm (${ASYMMETRIC_ALGORITHMS.join(", ")}); HS* and none are refused`,
}));

/** An integer (zod's `int` format check) with `checks` after it. */
const integer = (...checks: z.core.$ZodCheck<number>[]): z.ZodMiniNumber<number> =>
  z.number().check(z.int(), ...checks);

const seconds = integer(z.nonnegative());
const positiveSeconds = integer(z.positive());

const jwksOptions = z.strictObject({
  /** How long fetched keys are fresh. */
  cacheMaxAgeSeconds: z._default(positiveSeconds, 600),
  /** Minimum time between two refetches caused by an unknown `kid` or a failed fetch. */
  cooldownSeconds: z._default(positiveSeconds, 30),
  /** How long stale keys keep verifying while the IdP is down. */
  staleMaxAgeSeconds: z._default(seconds, 86_400),
  /** Timeout of one discovery or JWKS fetch. */
  fetchTimeoutMs: z._default(integer(z.positive(), z.lte(60_000)), 5_000),
  /** Largest accepted discovery or JWKS body. */
  maxBodyBytes: z._default(integer(z.positive(), z.lte(4 * 1024 * 1024)), 256 * 1024),
});

const idTokens = z.strictObject({
  /** The audience ID tokens must carry: the client id of the app that receives them. */
  audience: oneOrMany,
  /** Expected `typ` header of ID tokens, if the IdP sets one. */
  typ: z.optional(nonEmpty()),
});

const introspectionSchema = z.strictObject({
  /** RFC 7662 endpoint; from discovery's `introspection_endpoint` when absent. */
  endpoint: z.optional(urlString),
  /** The broker's client id at the IdP. */
  clientId: nonEmpty(),
  /** Environment variable holding the client secret (`client_secret_basic`). */
  clientSecretEnv: z.optional(envName),
  /** Environment variable holding a private JWK, JSON (`private_key_jwt`). */
  privateKeyEnv: z.optional(envName),
  /** `opaque`: only tokens that are not JWTs; `all`: this issuer's JWTs too (Okta's org server). */
  useFor: z._default(z.enum(["opaque", "all"]), "opaque"),
  /** Answers kept in isolate memory (keyed by a hash of the token). */
  cacheMaxEntries: z._default(integer(z.nonnegative(), z.lte(1_000_000)), 10_000),
  /** An active answer is kept until the token's `exp`, and at most this long when set. */
  cacheMaxSeconds: z.optional(positiveSeconds),
  /** How long an `active: false` answer is kept. */
  inactiveCacheSeconds: z._default(seconds.check(z.lte(3_600)), 60),
  /** Timeout of one introspection call. */
  fetchTimeoutMs: z._default(integer(z.positive(), z.lte(60_000)), 5_000),
});

const issuerFields = z.strictObject({
  issuer: urlString,
  issuerAliases: z._default(z.array(urlString), []),
  tenants: z.optional(
    z.array(
      z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
        message: "Expected a tenant id (GUID or domain name)",
      })),
    ).check(z.minLength(1)),
  ),
  audience: z.optional(oneOrMany),
  jwksUri: z.optional(urlString),
  algorithms: z._default(z.array(algorithm).check(z.minLength(1)), [...DEFAULT_ALGORITHMS]),
  clockToleranceSeconds: z._default(
    seconds.check(z.lte(MAX_CLOCK_TOLERANCE_SECONDS)),
    DEFAULT_CLOCK_TOLERANCE_SECONDS,
  ),
  maxTokenAgeSeconds: z.optional(positiveSeconds),
  requiredClaims: z._default(z.array(nonEmpty()), [...DEFAULT_REQUIRED_CLAIMS]),
  typ: z.optional(nonEmpty()),
  requiredScopes: z._default(z.array(nonEmpty()), []),
  clientIds: z.optional(z.array(nonEmpty()).check(z.minLength(1))),
  idTokens: z.optional(idTokens),
  introspection: z.optional(introspectionSchema),
  /** Allow plain http for the issuer, discovery and JWKS, on loopback hosts only (for tests and the demo). */
  allowInsecureLoopback: z._default(z.boolean(), false),
  jwks: z._default(jwksOptions, jwksOptions.parse({})),
});

/** The placeholder of an issuer template (Entra ID multi-tenant apps). */
export const TENANT_PLACEHOLDER = "{tenantid}";

/**
 * Every exact issuer an issuer entry accepts: `issuer` and `issuerAliases`, each template expanded over
 * `tenants`. Returns `[spelling, tenant]` pairs, the configured `issuer`'s spellings first.
 */
export function expandIssuers(
  entry: { issuer: string; issuerAliases: readonly string[]; tenants?: readonly string[] },
): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (const spelling of [entry.issuer, ...entry.issuerAliases]) {
    if (!spelling.includes(TENANT_PLACEHOLDER)) out.push([spelling, undefined]);
    else {for (const tenant of entry.tenants ?? []) {
        out.push([spelling.replace(TENANT_PLACEHOLDER, tenant), tenant]);
      }}
  }
  return out;
}

/** Checks one issuer entry beyond its field types (audience model, templates, introspection). */
function _checkIssuer(
  issuer: z.output<typeof issuerFields>,
  path: Array<string | number>,
  add: (path: Array<string | number>, message: string, fix?: string) => void,
): void {
  if (
    issuer.audience === undefined && (issuer.clientIds === undefined || issuer.requiredScopes.length === 0)
  ) {
    add(
      [...path, "audience"],
      "Required",
      'set "audience" to the aud your IdP puts in access tokens; or, for IdPs whose tokens carry no aud ' +
        '(IdentityServer\'s scope-only model, Cognito), set both "clientIds" and "requiredScopes": they then ' +
        "bind a token to the broker (docs/idps/)",
    );
  }
  const spellings: Array<[Array<string | number>, string]> = [
    [[...path, "issuer"], issuer.issuer],
    ...issuer.issuerAliases.map((
      a,
      i,
    ): [Array<string | number>, string] => [[...path, "issuerAliases", i], a]),
  ];
  let templated = false;
  for (const [where, spelling] of spellings) {
    const count = spelling.split(TENANT_PLACEHOLDER).length - 1;
    if (count > 1) add(where, `Expected "${TENANT_PLACEHOLDER}" at most once`);
    if (count > 0) templated = true;
    if (/[{}]/.test(spelling.replaceAll(TENANT_PLACEHOLDER, ""))) {
      add(where, `Expected no braces other than the "${TENANT_PLACEHOLDER}" placeholder`);
    }
    const url = _parsedUrl(spelling);
    if (url !== null && url.protocol !== "https:" && !(issuer.allowInsecureLoopback && isLoopbackUrl(url))) {
      add(where, "Expected an https URL");
    }
  }
  if (templated && issuer.tenants === undefined) {
    add(
      [...path, "tenants"],
      `Required by the "${TENANT_PLACEHOLDER}" issuer`,
      `list the tenant ids this issuer accepts, e.g. "tenants": ["72f988bf-86f1-41af-91ab-2d7cd011db47"] ` +
        "(docs/idps/entra.md)",
    );
  }
  if (!templated && issuer.tenants !== undefined) {
    add([...path, "tenants"], `Expected no tenants: no issuer spelling has "${TENANT_PLACEHOLDER}"`);
  }
  const introspection = issuer.introspection;
  if (introspection !== undefined) {
    if ((introspection.clientSecretEnv === undefined) === (introspection.privateKeyEnv === undefined)) {
      add(
        [...path, "introspection"],
        'Expected exactly one of "clientSecretEnv" (client secret) and "privateKeyEnv" (private_key_jwt)',
        'name the environment variable of the client secret in "clientSecretEnv", or of a private JWK in ' +
          '"privateKeyEnv", not both',
      );
    }
    const url = introspection.endpoint === undefined ? null : _parsedUrl(introspection.endpoint);
    if (url !== null && url.protocol !== "https:" && !(issuer.allowInsecureLoopback && isLoopbackUrl(url))) {
      add([...path, "introspection", "endpoint"], "Expected an https URL");
    }
  }
}

// Checked on the entry itself, so that a missing audience is reported even when another section is invalid.
const issuerSchema = issuerFields.check(z.superRefine((issuer, ctx) => {
  _checkIssuer(
    issuer,
    [],
    (path, message, fix) =>
      ctx.addIssue({ code: "custom", path, message, ...(fix === undefined ? {} : { params: { fix } }) }),
  );
}));

const browserExposure = {
  /** Hand this shared identity's token to browsers (`/credentials`, `/token`); otherwise proxy only. */
  exposeToBrowser: z._default(z.boolean(), false),
  /** Longest lifetime of a token handed to a browser for a shared identity. */
  browserTokenMaxSeconds: z._default(positiveSeconds.check(z.lte(3_600)), 900),
};

const userProfile = z.strictObject({
  mode: z.literal("user"),
  clientId: nonEmpty(),
  clientSecretEnv: z.optional(envName),
  redirectUri: urlString,
  idpUsernameClaim: z.optional(nonEmpty()),
  /** Lifetime asked for the refresh token at authorize time (`expiration`, minutes). */
  refreshTokenExpirationMinutes: z._default(integer(z.positive(), z.lte(129_600)), 20_160),
  /** Rotate the refresh token with `exchange_refresh_token` when less than this is left. */
  rotationMarginSeconds: z._default(positiveSeconds, 86_400),
});

const appProfile = z.strictObject({
  mode: z.literal("app"),
  clientId: nonEmpty(),
  clientSecretEnv: envName,
  /** Lifetime asked for app tokens (`expiration`, minutes). */
  expirationMinutes: z._default(integer(z.positive(), z.lte(20_160)), 120),
  ...browserExposure,
});

const accountProfile = z.strictObject({
  mode: z.literal("account"),
  username: nonEmpty(),
  passwordEnv: envName,
  acknowledgeNamedUserTerms: z.literal(true, {
    message: "Expected true: sharing one named account can break Esri's named-user terms (see README)",
  }),
  /** Bind the token to this referer (`client=referer`); the proxy then sends it as `Referer`. */
  referer: z.optional(nonEmpty()),
  expirationMinutes: z._default(integer(z.positive(), z.lte(20_160)), 60),
  ...browserExposure,
});

const apiKeyProfile = z.strictObject({
  mode: z.literal("apiKey"),
  apiKeyEnv: envName,
  /** An API key never reaches a browser: only `false` is accepted. */
  exposeToBrowser: z._default(
    z.literal(false, { message: "An API key is never handed to a browser" }),
    false,
  ),
  /** How long the broker treats the key as valid before re-reading it. */
  assumedLifetimeSeconds: z._default(positiveSeconds, 86_400),
});

const profileSchema = z.discriminatedUnion("mode", [userProfile, appProfile, accountProfile, apiKeyProfile]);

const ruleSchema = z.strictObject({
  issuer: z.optional(urlString),
  claim: z.optional(nonEmpty()),
  equals: z.optional(z.union([z.string(), z.number(), z.boolean()])),
  includes: z.optional(z.union([z.string(), z.number()])),
  matches: z.optional(
    z.string().check(z.refine((p) => {
      try {
        new RegExp(p, "u");
        return true;
      } catch {
        return false;
      }
    }, { message: "Expected a valid regular expression" })),
  ),
  exists: z.optional(z.boolean()),
  profile: oneOrMany,
});

const proxyEntry = z.strictObject({
  url: urlString,
  methods: z._default(
    z.array(z.enum(["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH"])).check(z.minLength(1)),
    ["GET", "POST"],
  ),
  tokenIn: z._default(z.enum(["header", "query"]), "header"),
  allowEdits: z._default(z.boolean(), false),
  profile: z.optional(nonEmpty()),
});

const proxySchema = z.strictObject({
  allow: z._default(z.array(proxyEntry), []),
  maxBodyBytes: z._default(integer(z.positive()), 10 * 1024 * 1024),
  /** Bodies up to this size are buffered so a 498/499 can be retried once. */
  retryMaxBodyBytes: z._default(integer(z.nonnegative()), 64 * 1024),
  fetchTimeoutMs: z._default(integer(z.positive()), 30_000),
  /** Name of a Workers rate-limiting binding used per identity. */
  rateLimitBinding: z.optional(nonEmpty()),
});

const arcgisSchema = z.strictObject({
  // An unparsable URL is reported once, by urlString; this check only looks at parsable ones.
  portalUrl: urlString.check(
    z.refine((u) => !URL.canParse(u) || /\/sharing\/rest\/?$/.test(new URL(u).pathname), {
      message: "Expected the portal's REST root, ending in /sharing/rest",
    }),
  ),
  orgId: z.optional(nonEmpty()),
  servers: z._default(z.array(urlString), []),
  fetchTimeoutMs: z._default(integer(z.positive()), 10_000),
  allowInsecureLoopback: z._default(z.boolean(), false),
  /** A cached token younger than this is not replaced because upstream answered 498/499 for it. */
  forcedRefreshFloorSeconds: z._default(seconds, 60),
});

const cacheSchema = z.strictObject({
  /** A cached ArcGIS token is reused only while more than this is left. */
  safetyMarginSeconds: z._default(integer(z.gte(60)), 120),
  /** How long a failed ArcGIS token call is remembered, so ArcGIS is not hammered. */
  negativeCacheSeconds: z._default(positiveSeconds, 15),
});

const linkSchema = z.strictObject({
  returnUrls: z._default(z.array(urlString), []),
});

const corsSchema = z.strictObject({
  origins: z._default(
    z.array(
      z.string().check(z.refine((o) => URL.canParse(o) && new URL(o).origin === o, {
        message: "Expected an exact origin like https://app.example.com",
      })),
    ),
    [],
  ),
  maxAgeSeconds: z._default(seconds, 600),
});

const validationSchema = z.strictObject({
  maxTokenBytes: z._default(integer(z.gte(512), z.lte(64 * 1024)), 8 * 1024),
  memoMaxEntries: z._default(integer(z.nonnegative()), 10_000),
});

const errorsSchema = z.strictObject({
  /** Put the refusal reason code in `error_description` (it is always in the log). */
  exposeReasons: z._default(z.boolean(), false),
});

const brokerConfigFields = z.strictObject({
  issuers: z.array(issuerSchema).check(z.minLength(1)),
  arcgis: arcgisSchema,
  profiles: z.record(z.string().check(z.regex(/^[A-Za-z0-9_-]+$/)), profileSchema),
  rules: z._default(z.array(ruleSchema), []),
  proxy: z._default(proxySchema, proxySchema.parse({})),
  link: z._default(linkSchema, linkSchema.parse({})),
  cors: z._default(corsSchema, corsSchema.parse({})),
  sealing: z.strictObject({ keysEnv: envName }),
  cache: z._default(cacheSchema, cacheSchema.parse({})),
  validation: z._default(validationSchema, validationSchema.parse({})),
  errors: z._default(errorsSchema, errorsSchema.parse({})),
  /** Where the host mounts `routes()`, used to build link URLs in answers. */
  mountPath: z._default(z.string().check(z.regex(/^\/[^?#]*$/)), "/arcgis"),
});

type _Ctx = z.core.$RefinementCtx<z.output<typeof brokerConfigFields>>;

/** Reports a problem that no single field's schema can see, with the change that fixes it. */
function _issue(ctx: _Ctx, path: Array<string | number>, message: string, fix: string): void {
  ctx.addIssue({ code: "custom", path, message, params: { fix } });
}

/** The ArcGIS URLs of the `arcgis` section, or `null` when one of them does not parse (reported elsewhere). */
function _arcgisUrlsOf(arcgis: z.output<typeof arcgisSchema>): ArcGISUrls | null {
  if (![arcgis.portalUrl, ...arcgis.servers].every((u) => URL.canParse(u))) return null;
  return createArcGISUrls(arcgis);
}

/** A proxy entry no ArcGIS token applies to: every request through it would be refused. */
function _unservableEntry(ctx: _Ctx, index: number, url: URL, orgId: string | undefined): void {
  const hostedOrg = agolHostedOrgId(url);
  const message = hostedOrg !== undefined
    ? `No profile can serve this entry: its hosted services belong to the organization "${hostedOrg}", ` +
      `not to arcgis.orgId${orgId === undefined ? " (unset)" : ` "${orgId}"`}`
    : "No profile can serve this entry: the URL is not on the portal's host, under a server of " +
      "arcgis.servers, or on the organization's ArcGIS Online hosted services";
  const fix = hostedOrg !== undefined
    ? "point the entry at your organization's hosted services, or set arcgis.orgId to the organization that owns them"
    : `add the server's root (e.g. "${url.origin}/server") to arcgis.servers, or remove the entry`;
  _issue(ctx, ["proxy", "allow", index, "url"], message, fix);
}

const brokerConfigObject = brokerConfigFields.check(z.superRefine((config, ctx) => {
  const profileNames = new Set(Object.keys(config.profiles));
  const granted = new Set(
    config.rules.flatMap((rule) => typeof rule.profile === "string" ? [rule.profile] : rule.profile),
  );
  for (const [name, profile] of Object.entries(config.profiles)) {
    if (profile.mode === "user" && config.link.returnUrls.length === 0) {
      _issue(
        ctx,
        ["link", "returnUrls"],
        `Required by the user profile "${name}": without a return URL every link answers 404`,
        'list the app pages the link flow may return to, e.g. "link": { "returnUrls": ["https://app.example.com/"] }',
      );
    }
    if ((profile.mode === "app" || profile.mode === "account") && profile.exposeToBrowser) {
      const minSeconds = config.cache.safetyMarginSeconds * REFRESH_AHEAD_SAFETY_MARGINS;
      if (profile.browserTokenMaxSeconds <= minSeconds) {
        _issue(
          ctx,
          ["profiles", name, "browserTokenMaxSeconds"],
          `Expected more than ${minSeconds} (twice cache.safetyMarginSeconds): a shorter token is never reused ` +
            "from the cache, so every request would mint a new one",
          `raise it above ${minSeconds} or lower cache.safetyMarginSeconds`,
        );
      }
    }
  }
  const issuers = new Set(config.issuers.map((i) => i.issuer));
  config.rules.forEach((rule, index) => {
    for (const name of typeof rule.profile === "string" ? [rule.profile] : rule.profile) {
      if (!profileNames.has(name)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", index, "profile"],
          message: `Unknown profile "${name}"`,
        });
      }
    }
    if (rule.issuer !== undefined && !issuers.has(rule.issuer)) {
      ctx.addIssue({ code: "custom", path: ["rules", index, "issuer"], message: "Unknown issuer" });
    }
    if (config.issuers.length > 1 && rule.issuer === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["rules", index, "issuer"],
        message: "Expected an issuer: with several issuers every rule names one",
      });
    }
    const tests = ["equals", "includes", "matches", "exists"].filter((k) =>
      rule[k as keyof typeof rule] !== undefined
    );
    if (rule.claim === undefined ? tests.length > 0 : tests.length !== 1) {
      ctx.addIssue({
        code: "custom",
        path: ["rules", index],
        message: "Expected a claim with exactly one of equals, includes, matches, exists (or neither)",
      });
    }
  });
  const targets = _arcgisUrlsOf(config.arcgis);
  const targetOptions = {
    allowInsecureLoopback: config.arcgis.allowInsecureLoopback,
    ...(config.arcgis.orgId === undefined ? {} : { orgId: config.arcgis.orgId }),
  };
  config.proxy.allow.forEach((entry, index) => {
    if (entry.profile !== undefined && !profileNames.has(entry.profile)) {
      ctx.addIssue({
        code: "custom",
        path: ["proxy", "allow", index, "profile"],
        message: `Unknown profile "${entry.profile}"`,
      });
    } else if (entry.profile !== undefined && !granted.has(entry.profile)) {
      _issue(
        ctx,
        ["proxy", "allow", index, "profile"],
        `No rule grants the profile "${entry.profile}", so no identity can use this entry`,
        `add "${entry.profile}" to the profile list of the rules whose identities should reach it`,
      );
    }
    const url = _parsedUrl(entry.url);
    if (url === null) return;
    if (url.protocol !== "https:" && !(config.arcgis.allowInsecureLoopback && isLoopbackUrl(url))) {
      ctx.addIssue({
        code: "custom",
        path: ["proxy", "allow", index, "url"],
        message: "Expected an https URL",
      });
    }
    if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
      ctx.addIssue({
        code: "custom",
        path: ["proxy", "allow", index, "url"],
        message: "Expected a URL without credentials, query or fragment",
      });
    }
    if (targets !== null && classifyTarget(targets, url, targetOptions) === undefined) {
      _unservableEntry(ctx, index, url, config.arcgis.orgId);
    }
  });
  const spellingOwner = new Map<string, number>();
  const introspecting = config.issuers.findIndex((issuer) => issuer.introspection !== undefined);
  config.issuers.forEach((issuer, index) => {
    const add = (path: Array<string | number>, message: string, fix?: string) =>
      fix === undefined ? ctx.addIssue({ code: "custom", path, message }) : _issue(ctx, path, message, fix);
    if (issuer.introspection !== undefined && introspecting !== index) {
      add(
        ["issuers", index, "introspection"],
        `Expected introspection on one issuer only (issuers.${introspecting} has it): an opaque token names no issuer`,
      );
    }
    const jwksUrl = issuer.jwksUri === undefined ? null : _parsedUrl(issuer.jwksUri);
    if (
      jwksUrl !== null && jwksUrl.protocol !== "https:" &&
      !(issuer.allowInsecureLoopback && isLoopbackUrl(jwksUrl))
    ) {
      add(["issuers", index, "jwksUri"], "Expected an https URL");
    }
    for (const [spelling] of expandIssuers(issuer)) {
      const owner = spellingOwner.get(spelling);
      if (owner === undefined) spellingOwner.set(spelling, index);
      else {
        add(
          ["issuers", index, "issuer"],
          owner === index
            ? "Duplicate issuer spelling"
            : `Duplicate issuer: also accepted by issuers.${owner}`,
        );
      }
    }
    const byType = new Map<string, string[]>();
    for (const alg of issuer.algorithms) {
      const kty = keyTypeOf(alg);
      byType.set(kty, [...(byType.get(kty) ?? []), alg]);
    }
    for (const [kty, algs] of byType) {
      if (algs.length > 1) {
        ctx.addIssue({
          code: "custom",
          path: ["issuers", index, "algorithms"],
          message: `Ambiguous algorithms for key type "${kty}" (${algs.join(", ")}): a key without "alg" ` +
            "must map to exactly one algorithm",
        });
      }
    }
    issuer.algorithms.forEach((alg, i) => {
      if (issuer.algorithms.indexOf(alg) !== i) {
        ctx.addIssue({
          code: "custom",
          path: ["issuers", index, "algorithms", i],
          message: "Duplicate algorithm",
        });
      }
    });
    if (issuer.requiredClaims.indexOf("exp") < 0) {
      ctx.addIssue({
        code: "custom",
        path: ["issuers", index, "requiredClaims"],
        message: 'Expected "exp" among the required claims',
      });
    }
  });
  if (
    AGOL_PORTAL_HOST_PATTERN.test(_parsedUrl(config.arcgis.portalUrl)?.hostname ?? "") &&
    config.arcgis.orgId === undefined
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["arcgis", "orgId"],
      message:
        "Expected the organization id: on ArcGIS Online links and hosted services are checked against it",
    });
  }
  const arcgisUrls: Array<[Array<string | number>, string]> = [
    [["arcgis", "portalUrl"], config.arcgis.portalUrl],
    ...config.arcgis.servers.map((s, i): [Array<string | number>, string] => [["arcgis", "servers", i], s]),
  ];
  for (const [path, value] of arcgisUrls) {
    const url = _parsedUrl(value);
    if (url === null) continue;
    if (url.protocol !== "https:" && !(config.arcgis.allowInsecureLoopback && isLoopbackUrl(url))) {
      ctx.addIssue({ code: "custom", path, message: "Expected an https URL" });
    }
  }
  for (const [index, value] of config.link.returnUrls.entries()) {
    const url = _parsedUrl(value);
    if (url === null) continue;
    if (url.protocol !== "https:" && !isLoopbackUrl(url)) {
      ctx.addIssue({ code: "custom", path: ["link", "returnUrls", index], message: "Expected an https URL" });
    }
  }
}));

/**
 * The zod schema of {@link BrokerConfig}: it accepts a {@link BrokerConfigInput} and returns the validated config
 * with defaults applied.
 */
export const brokerConfigSchema: z.ZodMiniType<BrokerConfig, BrokerConfigInput> = brokerConfigObject;

// The annotation above proves the schema's output and input fit the interfaces; these prove the converse, so
// the hand-written interfaces in types.ts describe exactly what the schema produces and accepts.
type _Plain<T> = T extends (infer U)[] ? _Plain<U>[]
  : T extends readonly (infer U)[] ? readonly _Plain<U>[]
  : T extends object ? { [K in keyof T]: _Plain<T[K]> }
  : T;
type _Same<A, B> = (<T>() => T extends _Plain<A> ? 1 : 2) extends (<T>() => T extends _Plain<B> ? 1 : 2)
  ? true
  : false;
type _Assert<T extends true> = T;
type _OutputMatches = _Assert<_Same<z.output<typeof brokerConfigObject>, BrokerConfig>>;
type _InputMatches = _Assert<_Same<z.input<typeof brokerConfigObject>, BrokerConfigInput>>;

/** Key type (`kty`, with the curve for EC/OKP) an algorithm needs. */
export function keyTypeOf(alg: string): string {
  if (alg.startsWith("RS") || alg.startsWith("PS")) return "RSA";
  if (alg === "ES256") return "EC:P-256";
  if (alg === "ES384") return "EC:P-384";
  if (alg === "ES512") return "EC:P-521";
  return "OKP";
}

export type * from "./types.ts";
