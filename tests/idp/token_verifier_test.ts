/**
 * Adversarial tests of the token layer (checklist J group) through createTokenVerifier(), with a fake IdP that is
 * only a counting fetch function. Every rejection must be ERR_INVALID_TOKEN with the generic message, and tokens
 * refused on their header or claims must not cost a JWKS fetch.
 */
import assert from "node:assert/strict";
import * as jose from "jose";
import { BrokerError, isBrokerError } from "../../src/errors.ts";
import { createTokenVerifier } from "../../src/idp/mod.ts";
import { REFUSAL_REASONS, type RefusalReason } from "../../src/idp/refusal_reason.ts";
import type { TokenVerifier, VerifyOptions } from "../../src/types.ts";
import type { IssuerConfig } from "../../src/config/schema.ts";
import {
  accessClaims,
  AUDIENCE,
  b64json,
  createClock,
  createFakeIdp,
  generateSigningKey,
  ISSUER,
  issuerConfig,
  issuerConfigs,
  type SigningKey,
  signToken,
  T0,
  testDeps,
} from "./_helpers.ts";

const rsa = await generateSigningKey("RS256", "rsa-1");
const ec = await generateSigningKey("ES256", "ec-1");
const ed = await generateSigningKey("EdDSA", "ed-1");
const attacker = await generateSigningKey("RS256", "rsa-1");
const pss = await generateSigningKey("PS256", "pss-1");
const NOW_S = Math.floor(T0 / 1000);

interface Setup {
  verifier: TokenVerifier;
  idp: ReturnType<typeof createFakeIdp>;
  clock: ReturnType<typeof createClock>;
}

function setup(overrides: Partial<Parameters<typeof issuerConfig>[0]> = {}, keys?: unknown[]): Setup {
  const clock = createClock();
  const idp = createFakeIdp(keys ?? [rsa.publicJwk, ec.publicJwk, ed.publicJwk]);
  const config = issuerConfig({
    jwksUri: `${ISSUER}/jwks`,
    algorithms: ["RS256", "ES256", "EdDSA"],
    ...overrides,
  });
  return { verifier: createTokenVerifier([config], testDeps(clock, idp.fetch)), idp, clock };
}

/** The reason code each refusal detail of these tests stands for. */
const _EXPECTED_REASON: Readonly<Record<string, RefusalReason>> = {
  "compact JWS": "malformed",
  "larger than": "malformed",
  "not allowed": "alg_not_allowed",
  "algorithm mismatch": "key_unusable",
  "Unknown key id": "kid_unknown",
  "Signature verification failed": "signature_invalid",
  "Signature": "signature_invalid",
  "crit": "header_not_allowed",
  "b64": "header_not_allowed",
  "Nested": "header_not_allowed",
  '"exp" is missing': "claim_missing",
  '"iat" is missing': "claim_missing",
  '"jti" is missing': "claim_missing",
  "not a number": "claim_invalid",
  "expired": "expired",
  "not yet valid": "not_yet_valid",
  "future": "issued_in_future",
  "too old": "too_old",
  "Unknown issuer": "iss_unknown",
  '"aud"': "aud_mismatch",
  "Audience": "aud_mismatch",
  "untrusted audience": "aud_mismatch",
  "untrusted": "aud_mismatch",
  '"sub"': "sub_malformed",
  "type": "typ_not_accepted",
  "Token type": "typ_not_accepted",
  "Token type not accepted": "typ_not_accepted",
  "scope": "scope_missing",
  '"scope"': "claim_invalid",
  "Client": "client_not_allowed",
  '"client_id"': "claim_invalid",
  "lacks azp": "client_not_allowed",
  "azp mismatch": "client_not_allowed",
  "ID tokens are not accepted": "id_token_as_bearer",
  "ID tokens": "id_token_as_bearer",
  "Security event": "event_token",
  "kind not accepted": "id_token_as_bearer",
  "ID token is required": "access_token_not_accepted",
};

/** Asserts `verify` rejects with ERR_INVALID_TOKEN, the generic message, and no trace of the token anywhere. */
async function assertInvalid(
  verifier: TokenVerifier,
  token: string,
  reason?: RegExp,
  options?: VerifyOptions,
): Promise<void> {
  await assert.rejects(verifier.verify(token, options), (error: unknown) => {
    assert.ok(isBrokerError(error, "ERR_INVALID_TOKEN"), `expected ERR_INVALID_TOKEN, got ${String(error)}`);
    assert.equal(error.message, "Invalid bearer token");
    let text = "";
    for (let e: unknown = error; e instanceof Error; e = e.cause) text += `${e.message}\n${e.stack ?? ""}\n`;
    if (token.length > 20) assert.ok(!text.includes(token), "the token leaked into the error");
    if (reason !== undefined) assert.match((error.cause as Error).message, reason);
    // Every refusal carries its own stable reason code, the one its detail stands for.
    assert.ok(
      error.reason !== undefined && error.reason in REFUSAL_REASONS,
      `no reason code: ${error.reason}`,
    );
    if (reason !== undefined) {
      const expected = _EXPECTED_REASON[reason.source];
      assert.ok(expected !== undefined, `add /${reason.source}/ to _EXPECTED_REASON`);
      assert.equal(error.reason, expected, `reason code for /${reason.source}/`);
    }
    return true;
  });
}

async function hmacToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret: Uint8Array<ArrayBuffer>,
) {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(input)));
  return `${input}.${jose.base64url.encode(mac)}`;
}

for (const key of [rsa, ec, ed]) {
  Deno.test(`verify() accepts a valid ${key.alg} access token and returns the identity`, async () => {
    const { verifier, idp } = setup();
    const identity = await verifier.verify(await signToken(key, accessClaims({ groups: ["gis"] })));
    assert.equal(identity.issuer, ISSUER);
    assert.equal(identity.subject, "alice");
    assert.equal(identity.tokenKind, "access");
    assert.equal(identity.expiresAt, NOW_S + 300);
    assert.deepEqual(identity.claims.groups, ["gis"]);
    assert.ok(Object.isFrozen(identity.claims) && Object.isFrozen(identity.claims.groups));
    assert.equal(idp.jwksCalls(), 1);
  });
}

Deno.test("verify() rejects alg none, signed or unsigned, without fetching keys", async () => {
  const { verifier, idp } = setup();
  const unsigned = `${b64json({ alg: "none" })}.${b64json(accessClaims())}.`;
  await assertInvalid(verifier, unsigned, /compact JWS/);
  await assertInvalid(verifier, `${b64json({ alg: "none" })}.${b64json(accessClaims())}.AAAA`, /not allowed/);
  await assertInvalid(verifier, `${b64json({ alg: "NONE", kid: "rsa-1" })}.${b64json(accessClaims())}.AAAA`);
  assert.equal(idp.jwksCalls(), 0);
});

Deno.test("verify() rejects HS256 signed with the issuer's public key as the secret", async () => {
  const { verifier, idp } = setup();
  const secrets = [
    new TextEncoder().encode(JSON.stringify(rsa.publicJwk)),
    new TextEncoder().encode(rsa.publicJwk.n!),
    new Uint8Array(
      await crypto.subtle.exportKey("spki", await importPublicKey(rsa.publicJwk)),
    ),
  ];
  for (const secret of secrets) {
    await assertInvalid(
      verifier,
      await hmacToken({ alg: "HS256", kid: "rsa-1" }, accessClaims(), secret),
      /not allowed/,
    );
  }
  assert.equal(idp.jwksCalls(), 0);
});

Deno.test("verify() rejects an algorithm the issuer does not allow, before fetching keys", async () => {
  const { verifier, idp } = setup({ algorithms: ["RS256"] }, [rsa.publicJwk, pss.publicJwk]);
  await assertInvalid(verifier, await signToken(pss, accessClaims()), /not allowed/);
  await assertInvalid(verifier, await signToken(ec, accessClaims()), /not allowed/);
  assert.equal(idp.jwksCalls(), 0);
});

Deno.test("verify() binds every key to one algorithm (RFC 8725 §3.1, jose B5)", async () => {
  const { alg: _alg, ...pssNoAlg } = pss.publicJwk;
  const { verifier } = setup({ algorithms: ["PS256", "ES256"] }, [pssNoAlg, ec.publicJwk]);
  // The alg-less RSA key takes PS256, the only RSA algorithm configured, and verifies PS256 tokens.
  assert.equal((await verifier.verify(await signToken(pss, accessClaims()))).subject, "alice");
  // An ES256 token naming the RSA key's kid, or an RSA key claimed by an ES256 header, is refused.
  await assertInvalid(
    verifier,
    await signToken({ ...ec, kid: "pss-1" }, accessClaims()),
    /algorithm mismatch/,
  );
  const { verifier: strict } = setup({ algorithms: ["RS256", "ES256"] }, [{ ...ec.publicJwk, kid: "rsa-1" }]);
  await assertInvalid(strict, await signToken(rsa, accessClaims()), /algorithm mismatch/);
});

Deno.test("verify() treats kid as an opaque string: injection attempts find no key and cost no extra fetch", async () => {
  const { verifier, idp } = setup();
  await verifier.verify(await signToken(rsa, accessClaims()));
  const kids = [
    "../../../../dev/null",
    "' OR '1'='1",
    "__proto__",
    "constructor",
    "rsa-1\u0000",
    "RSA-1",
    "*",
  ];
  for (const kid of kids) {
    await assertInvalid(verifier, await signToken({ ...rsa, kid }, accessClaims()), /Unknown key id/);
  }
  assert.equal(idp.jwksCalls(), 1);
});

Deno.test("verify() refuses jku, x5u, jwk and x5c headers and never fetches what they point at", async () => {
  const { verifier, idp } = setup();
  const attackerJwk = attacker.publicJwk;
  const headers: Record<string, unknown>[] = [
    { jku: "https://evil.example/jwks" },
    { x5u: "https://evil.example/cert.pem" },
    { jwk: attackerJwk },
    { x5c: ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"] },
  ];
  for (const header of headers) {
    await assertInvalid(verifier, await signToken(attacker, accessClaims(), header));
    await assertInvalid(verifier, await signToken(rsa, accessClaims(), header));
  }
  assert.equal(idp.requests.length, 0);
});

Deno.test("verify() rejects a token signed by someone else under the issuer's kid", async () => {
  const { verifier } = setup();
  await assertInvalid(verifier, await signToken(attacker, accessClaims()), /Signature verification failed/);
});

Deno.test("verify() refuses crit and b64 even when the signature is good", async () => {
  const { verifier, idp } = setup();
  await assertInvalid(verifier, await signToken(rsa, accessClaims(), { crit: ["exp"], exp: 1 }), /crit/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims(), { crit: [] }), /crit/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims(), { crit: ["b64"], b64: false }), /crit/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims(), { b64: false }), /b64/);
  assert.equal(idp.jwksCalls(), 0);
});

Deno.test("verify() rejects JWE, JSON serialization, nested JWTs and oversized tokens before any fetch", async () => {
  const { verifier, idp } = setup();
  const good = await signToken(rsa, accessClaims());
  const [h, p, s] = good.split(".");
  await assertInvalid(verifier, `${h}.${p}.${s}.${s}.${s}`, /compact JWS/);
  const flattened = await new jose.FlattenedSign(new TextEncoder().encode(JSON.stringify(accessClaims())))
    .setProtectedHeader({ alg: "RS256", kid: "rsa-1" }).sign(rsa.privateKey);
  await assertInvalid(verifier, JSON.stringify(flattened), /compact JWS/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims(), { cty: "JWT" }), /Nested/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ pad: "x".repeat(9000) })), /larger than/);
  assert.equal(idp.jwksCalls(), 0);
});

Deno.test("verify() refuses other spellings of a valid token that jose itself would accept (B6)", async () => {
  const { verifier } = setup();
  const good = await signToken(rsa, accessClaims());
  await verifier.verify(good);
  const publicKey = await jose.importJWK(rsa.publicJwk, "RS256");
  const padded = `${good}==`.slice(0, good.length + (4 - (good.split(".")[2].length % 4)) % 4);
  const spellings = [`${good.slice(0, -4)} ${good.slice(-4)}`, padded];
  // Non-zero trailing bits: the last character of a 256-byte signature carries 4 unused bits.
  const last = good.at(-1)!;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  spellings.push(good.slice(0, -1) + alphabet[alphabet.indexOf(last) | 1]);
  for (const spelling of spellings) {
    if (spelling === good) continue;
    await assert.doesNotReject(
      jose.compactVerify(spelling, publicKey),
      "jose accepts the alternative spelling",
    );
    await assertInvalid(verifier, spelling);
  }
});

Deno.test("verify() requires exp and treats exp == now as expired", async () => {
  const { verifier, idp } = setup({ clockToleranceSeconds: 0 });
  const { exp: _exp, ...noExp } = accessClaims();
  await assertInvalid(verifier, await signToken(rsa, noExp), /"exp" is missing/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ exp: NOW_S })), /expired/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ exp: NOW_S - 1 })), /expired/);
  await assertInvalid(
    verifier,
    await signToken(rsa, accessClaims({ exp: String(NOW_S + 60) })),
    /not a number/,
  );
  assert.equal(idp.jwksCalls(), 0);
  assert.equal(
    (await verifier.verify(await signToken(rsa, accessClaims({ exp: NOW_S + 1 })))).expiresAt,
    NOW_S + 1,
  );
});

Deno.test("verify() applies the clock tolerance to exp, nbf and iat at the boundary", async () => {
  const { verifier } = setup({ clockToleranceSeconds: 30 });
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ exp: NOW_S - 30 })), /expired/);
  await verifier.verify(await signToken(rsa, accessClaims({ exp: NOW_S - 29 })));
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ nbf: NOW_S + 31 })), /not yet valid/);
  await verifier.verify(await signToken(rsa, accessClaims({ nbf: NOW_S + 30 })));
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ iat: NOW_S + 31 })), /future/);
  await verifier.verify(await signToken(rsa, accessClaims({ iat: NOW_S + 30 })));
});

Deno.test("verify() enforces maxTokenAgeSeconds, which needs iat", async () => {
  const { verifier } = setup({
    maxTokenAgeSeconds: 600,
    clockToleranceSeconds: 0,
    requiredClaims: ["exp", "sub"],
  });
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ iat: NOW_S - 601 })), /too old/);
  await verifier.verify(await signToken(rsa, accessClaims({ iat: NOW_S - 600 })));
  const { iat: _iat, ...noIat } = accessClaims();
  await assertInvalid(verifier, await signToken(rsa, noIat), /"iat" is missing/);
});

Deno.test("verify() requires the exact issuer, before fetching keys", async () => {
  const { verifier, idp } = setup();
  for (
    const iss of [
      `${ISSUER}/`,
      "https://IDP.example.com",
      "https://idp.example.com:443",
      "http://idp.example.com",
    ]
  ) {
    await assertInvalid(verifier, await signToken(rsa, accessClaims({ iss })), /Unknown issuer/);
  }
  const { iss: _iss, ...noIss } = accessClaims();
  await assertInvalid(verifier, await signToken(rsa, noIss), /Unknown issuer/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ iss: [ISSUER] })), /Unknown issuer/);
  assert.equal(idp.jwksCalls(), 0);
});

Deno.test("verify() reads duplicate JSON members as the last one, as RFC 7515 §4 allows (B14)", async () => {
  const { verifier } = setup();
  const claims = JSON.stringify(accessClaims()).replace('{"iss":', '{"iss":"https://evil.example","iss":');
  const header = b64json({ alg: "RS256", kid: "rsa-1", typ: "at+jwt" });
  const input = `${header}.${jose.base64url.encode(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: "RSASSA-PKCS1-v1_5" },
    rsa.privateKey,
    new TextEncoder().encode(input),
  );
  const identity = await verifier.verify(`${input}.${jose.base64url.encode(new Uint8Array(signature))}`);
  // What was checked is what is returned: one parse serves both.
  assert.equal(identity.issuer, ISSUER);
  assert.equal(identity.claims.iss, ISSUER);
});

Deno.test("verify() requires our audience", async () => {
  const { verifier } = setup();
  const { aud: _aud, ...noAud } = accessClaims();
  await assertInvalid(verifier, await signToken(rsa, noAud), /"aud"/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ aud: "someone-else" })), /Audience/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ aud: [] })), /"aud"/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ aud: [AUDIENCE, 7] })), /"aud"/);
  await verifier.verify(await signToken(rsa, accessClaims({ aud: ["other", AUDIENCE] })));
});

Deno.test("verify() accepts any of several configured audiences", async () => {
  const { verifier } = setup({ audience: ["api-a", "api-b"] });
  await verifier.verify(await signToken(rsa, accessClaims({ aud: "api-b" })));
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ aud: AUDIENCE })), /Audience/);
});

Deno.test("verify() requires sub as a non-empty string", async () => {
  const { verifier } = setup();
  const { sub: _sub, ...noSub } = accessClaims();
  await assertInvalid(verifier, await signToken(rsa, noSub), /"sub"/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ sub: "" })), /"sub"/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ sub: 42 })), /"sub"/);
});

Deno.test("verify() requires every configured requiredClaims member", async () => {
  const { verifier } = setup({ requiredClaims: ["exp", "iat", "sub", "jti"] });
  await assertInvalid(verifier, await signToken(rsa, accessClaims()), /"jti" is missing/);
  await verifier.verify(await signToken(rsa, accessClaims({ jti: "1" })));
});

Deno.test("verify() checks typ when configured, case-insensitively and with or without application/", async () => {
  const { verifier } = setup({ typ: "at+jwt" });
  await verifier.verify(await signToken(rsa, accessClaims(), { typ: "at+jwt" }));
  await verifier.verify(await signToken(rsa, accessClaims({ jti: "2" }), { typ: "application/AT+JWT" }));
  await assertInvalid(verifier, await signToken(rsa, accessClaims(), { typ: "JWT" }), /type/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims(), { typ: undefined }), /type/);
});

Deno.test("verify() refuses explicitly typed non-access tokens when no typ is configured", async () => {
  const { verifier } = setup();
  for (const typ of ["logout+jwt", "secevent+jwt", "dpop+jwt", "JOSE"]) {
    await assertInvalid(verifier, await signToken(rsa, accessClaims(), { typ }), /Token type/);
  }
  await verifier.verify(await signToken(rsa, accessClaims(), { typ: "JWT" }));
  await verifier.verify(await signToken(rsa, accessClaims({ jti: "3" }), { typ: undefined }));
});

Deno.test("verify() checks requiredScopes in a scope string, a scope array and scp", async () => {
  const { verifier } = setup({ requiredScopes: ["arcgis"] });
  await verifier.verify(await signToken(rsa, accessClaims({ scope: "openid arcgis" })));
  await verifier.verify(await signToken(rsa, accessClaims({ scope: ["openid", "arcgis"] })));
  await verifier.verify(await signToken(rsa, accessClaims({ scope: undefined, scp: "arcgis" })));
  await verifier.verify(await signToken(rsa, accessClaims({ scope: undefined, scp: ["arcgis", "x"] })));
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ scope: "openid arcgisx" })), /scope/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ scope: ["openid arcgis"] })), /scope/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ scope: undefined })), /scope/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ scope: 7 })), /"scope"/);
});

Deno.test("verify() matches clientIds against client_id, else azp", async () => {
  const { verifier } = setup({ clientIds: ["spa"] });
  await verifier.verify(await signToken(rsa, accessClaims({ client_id: "spa" })));
  await verifier.verify(await signToken(rsa, accessClaims({ client_id: undefined, azp: "spa" })));
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ client_id: "other" })), /Client/);
  await assertInvalid(
    verifier,
    await signToken(rsa, accessClaims({ client_id: "other", azp: "spa" })),
    /Client/,
  );
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ client_id: undefined })), /Client/);
  await assertInvalid(verifier, await signToken(rsa, accessClaims({ client_id: ["spa"] })), /"client_id"/);
});

function idClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: "alice",
    aud: "spa",
    iat: NOW_S,
    exp: NOW_S + 300,
    nonce: "n-1",
    ...overrides,
  };
}

Deno.test("verify() refuses ID tokens unless the issuer enables them", async () => {
  const { verifier } = setup({ audience: ["arcgis-broker", "spa"] });
  await assertInvalid(
    verifier,
    await signToken(rsa, idClaims(), { typ: "JWT" }),
    /ID tokens are not accepted/,
  );
  const atHash = idClaims({ nonce: undefined, at_hash: "x" });
  await assertInvalid(verifier, await signToken(rsa, atHash, { typ: undefined }), /ID tokens/);
  // typ at+jwt makes it an access token (RFC 9068), which this config accepts for audience "spa".
  assert.equal((await verifier.verify(await signToken(rsa, atHash))).tokenKind, "access");
});

Deno.test("verify() accepts ID tokens with idTokens configured, and only for their own audience", async () => {
  const { verifier } = setup({ idTokens: { audience: "spa" } });
  const identity = await verifier.verify(await signToken(rsa, idClaims(), { typ: "JWT" }));
  assert.equal(identity.tokenKind, "id");
  // Without nonce/at_hash the audience tells: it is one of the ID token audiences.
  const plain = await verifier.verify(
    await signToken(rsa, idClaims({ nonce: undefined }), { typ: undefined }),
  );
  assert.equal(plain.tokenKind, "id");
  await assertInvalid(
    verifier,
    await signToken(rsa, idClaims({ aud: "other" }), { typ: "JWT" }),
    /untrusted audience/,
  );
  const noNonce = idClaims({ aud: "other", nonce: undefined });
  await assertInvalid(verifier, await signToken(rsa, noNonce, { typ: "JWT" }), /Audience/);
  await assertInvalid(verifier, await signToken(rsa, idClaims(), { typ: "at+jwt" }), /Audience/);
});

Deno.test("verify() refuses ID tokens with untrusted extra audiences, and checks azp (B3)", async () => {
  const { verifier } = setup({ idTokens: { audience: ["spa", "spa-2"] } });
  const sign = (claims: Record<string, unknown>) => signToken(rsa, idClaims(claims), { typ: "JWT" });
  await assertInvalid(verifier, await sign({ aud: ["spa", "other"], azp: "spa" }), /untrusted/);
  await assertInvalid(verifier, await sign({ aud: ["spa", "spa-2"] }), /lacks azp/);
  await assertInvalid(verifier, await sign({ aud: "spa", azp: "evil" }), /azp mismatch/);
  await verifier.verify(await sign({ aud: ["spa", "spa-2"], azp: "spa" }));
});

Deno.test("verify() never takes a logout token or another security event token for a bearer token", async () => {
  const { verifier } = setup({ idTokens: { audience: "spa" } });
  const logout = { iss: ISSUER, sub: "alice", aud: "spa", iat: NOW_S, exp: NOW_S + 120, jti: "l1" };
  const events = { "http://schemas.openid.net/event/backchannel-logout": {} };
  await assertInvalid(
    verifier,
    await signToken(rsa, { ...logout, events }, { typ: "logout+jwt" }),
    /Token type not accepted/,
  );
  await assertInvalid(
    verifier,
    await signToken(rsa, { ...logout, events }, { typ: "JWT" }),
    /Security event/,
  );
  await assertInvalid(
    verifier,
    await signToken(rsa, logout, { typ: "logout+jwt" }),
    /Token type not accepted/,
  );
  await assertInvalid(
    verifier,
    await signToken(rsa, idClaims(), { typ: "secevent+jwt" }),
    /Token type not accepted/,
  );
});

Deno.test("verify() checks the ID token typ when configured, and honours accept", async () => {
  const { verifier } = setup({ idTokens: { audience: "spa", typ: "JWT" } });
  await assertInvalid(verifier, await signToken(rsa, idClaims(), { typ: undefined }), /type/);
  const token = await signToken(rsa, idClaims(), { typ: "JWT" });
  await assertInvalid(verifier, token, /kind not accepted/, { accept: ["access"] });
  assert.equal((await verifier.verify(token, { accept: ["id"] })).tokenKind, "id");
  // A memo hit honours accept too.
  await assertInvalid(verifier, token, /kind not accepted/, { accept: ["access"] });
  await assertInvalid(verifier, await signToken(rsa, accessClaims()), /ID token is required/, {
    accept: ["id"],
  });
});

Deno.test("verify() takes keys only from the issuer named by iss (multi-issuer)", async () => {
  const clock = createClock();
  const other = await generateSigningKey("ES256", "rsa-1");
  const idpA = createFakeIdp([rsa.publicJwk], "https://a.example.com");
  const idpB = createFakeIdp([other.publicJwk], "https://b.example.com");
  const fetchFn =
    ((input: string, init?: RequestInit) =>
      (input.startsWith("https://a.") ? idpA : idpB).fetch(input, init)) as typeof fetch;
  const configs: IssuerConfig[] = issuerConfigs([
    { issuer: "https://a.example.com", audience: AUDIENCE, algorithms: ["RS256"] },
    { issuer: "https://b.example.com", audience: AUDIENCE, algorithms: ["ES256"] },
  ]);
  const verifier = createTokenVerifier(configs, testDeps(clock, fetchFn));
  const forB = await signToken(other, accessClaims({ iss: "https://b.example.com" }));
  assert.equal((await verifier.verify(forB)).issuer, "https://b.example.com");
  // iss A, signed with B's key (same kid string): A allows no ES256, and A's keys never include B's.
  await assertInvalid(
    verifier,
    await signToken(other, accessClaims({ iss: "https://a.example.com" })),
    /not allowed/,
  );
  const rsaForA = await signToken(attacker, accessClaims({ iss: "https://a.example.com" }));
  await assertInvalid(verifier, rsaForA, /Signature/);
  assert.equal(idpA.jwksCalls(), 1);
  assert.equal(idpB.jwksCalls(), 1);
  assert.deepEqual(verifier.health().map((h) => [h.issuer, h.lastFetch, h.keys]), [
    ["https://a.example.com", "ok", 1],
    ["https://b.example.com", "ok", 1],
  ]);
});

Deno.test("the memo returns the same identity for a repeated token and re-checks time on every hit", async () => {
  const { verifier, idp, clock } = setup({ clockToleranceSeconds: 0 });
  const token = await signToken(rsa, accessClaims({ exp: NOW_S + 60, nbf: NOW_S }));
  const first = await verifier.verify(token);
  assert.equal(await verifier.verify(token), first);
  clock.set((NOW_S + 60) * 1000);
  await assertInvalid(verifier, token, /expired/);
  assert.equal(idp.jwksCalls(), 1);
});

Deno.test("the memo re-checks nbf on a hit when the clock moves backwards", async () => {
  const { verifier, clock } = setup({ clockToleranceSeconds: 0 });
  const token = await signToken(rsa, accessClaims({ nbf: NOW_S }));
  await verifier.verify(token);
  clock.set(T0 - 5_000);
  await assertInvalid(verifier, token, /not yet valid/);
});

Deno.test("a memo entry does not outlive the freshness of the key set that verified it", async () => {
  const { verifier, idp, clock } = setup();
  const token = await signToken(rsa, accessClaims({ exp: NOW_S + 3600 }));
  await verifier.verify(token);
  clock.advance(600_000);
  await verifier.verify(token);
  assert.equal(idp.jwksCalls(), 2);
});

Deno.test("a memoized token stops verifying once a refetch drops its key", async () => {
  const { verifier, idp, clock } = setup();
  const old = await signToken(rsa, accessClaims());
  await verifier.verify(old);
  const rotated = await generateSigningKey("RS256", "rsa-2");
  idp.jwks.keys = [rotated.publicJwk];
  clock.advance(31_000);
  await verifier.verify(await signToken(rotated, accessClaims()));
  assert.equal(idp.jwksCalls(), 2);
  await assertInvalid(verifier, old, /Unknown key id/);
});

Deno.test("a disabled memo verifies every time", async () => {
  const clock = createClock();
  const idp = createFakeIdp([rsa.publicJwk]);
  const verifier = createTokenVerifier(
    [issuerConfig({ jwksUri: `${ISSUER}/jwks` })],
    testDeps(clock, idp.fetch),
    {
      memoMaxEntries: 0,
    },
  );
  const token = await signToken(rsa, accessClaims());
  assert.notEqual(await verifier.verify(token), await verifier.verify(token));
});

Deno.test("createTokenVerifier() refuses bad options and empty issuer lists", () => {
  const deps = testDeps(createClock(), createFakeIdp([]).fetch);
  for (const options of [{ maxTokenBytes: 0 }, { memoMaxEntries: -1 }, { maxTokenBytes: 1.5 }]) {
    assert.throws(() => createTokenVerifier([issuerConfig()], deps, options), (e: unknown) => {
      return e instanceof BrokerError && e.code === "ERR_CONFIG_INVALID";
    });
  }
  assert.throws(() => createTokenVerifier([], deps), /no issuers/);
  assert.throws(() => createTokenVerifier([issuerConfig(), issuerConfig()], deps), /duplicate issuer/);
});

Deno.test("verify() rejects non-string input without throwing anything but ERR_INVALID_TOKEN", async () => {
  const { verifier } = setup();
  for (const value of [undefined, null, 42, {}, ["a.b.c"]]) {
    await assert.rejects(
      verifier.verify(value as unknown as string),
      (e: unknown) => isBrokerError(e, "ERR_INVALID_TOKEN"),
    );
  }
});

export type { SigningKey };

async function importPublicKey(jwk: jose.JWK): Promise<CryptoKey> {
  const key = await jose.importJWK(jwk, "RS256");
  if (!(key instanceof CryptoKey)) throw new Error("Expected a public CryptoKey");
  return key;
}
