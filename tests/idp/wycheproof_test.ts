/**
 * Project Wycheproof's JSON Web Signature and JSON Web Key vectors, run through the validator's JWS layer:
 * the format and canonical-encoding check, the header check, the key sanity of a published key set, key choice
 * and jose's compact verification (no JWT claim checks: the payloads are not claim sets, B16).
 *
 * How each group is turned into what the validator would see in production:
 * - The key set is the group's `public` key (set) when it has one; otherwise its `private` one with the private
 *   members removed from asymmetric keys, as an IdP would publish it (symmetric keys stay, and are refused).
 * - The issuer's configured algorithms are the keys' own `alg` values where they are algorithms we support,
 *   else the usual algorithm of the key type (RS256, ES256/ES384/ES512 by curve, EdDSA).
 *
 * Every disagreement with a vector's `result` is listed in EXPECTED_DEVIATIONS with its reason; the test fails
 * on any other disagreement, and on a listed deviation that stops happening. Where the format, header and key
 * checks let a vector through to the signature, jose's `compactVerify` with the same key is asked too, as an
 * oracle for our WebCrypto signature step: the two must agree.
 */
import assert from "node:assert/strict";
import * as jose from "jose";
import { ASYMMETRIC_ALGORITHMS } from "../../src/config/constants.ts";
import { keyTypeOf } from "../../src/config/schema.ts";
import { isBrokerError } from "../../src/errors.ts";
import { buildKeySet, findKey, JwksRejectedError, type KeySet, verifyJws } from "../../src/idp/mod.ts";
import { checkCompactJws, checkJwsHeader, decodeJwsPart } from "../../src/idp/compact_jws.ts";
import { importVerificationKey } from "../../src/idp/key_set.ts";

interface Vector {
  tcId: number;
  comment: string;
  jws: unknown;
  result: "valid" | "invalid" | "acceptable";
  flags?: string[];
}

interface Group {
  comment: string;
  public?: Record<string, unknown>;
  private?: Record<string, unknown>;
  tests: Vector[];
}

const VECTORS = new URL("../vectors/wycheproof/", import.meta.url);
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/** Why the validator disagrees with a vector, by file and tcId. */
const EXPECTED_DEVIATIONS: Record<string, Record<number, string>> = {
  json_web_signature_test: {
    1: "HS256: symmetric algorithms are refused by policy (only asymmetric algorithms are accepted)",
    348: "HS256: symmetric algorithms are refused by policy",
    352: "HS256: symmetric algorithms are refused by policy",
    357: "HS256: symmetric algorithms are refused by policy",
    358: "HS256: symmetric algorithms are refused by policy",
    359: "HS256: symmetric algorithms are refused by policy",
    372: "HS256 refused by policy; also a known quirk: the token contains '?' yet is marked valid",
    373: "HS256 refused by policy; also a known quirk: the token contains '?' yet is marked valid",
    376: "HS256: symmetric algorithms are refused by policy",
    377: "HS256: symmetric algorithms are refused by policy",
    259: "empty payload: the format check requires three non-empty segments (a JWT payload is never empty)",
    264: "empty payload: the format check requires three non-empty segments",
    268: "empty payload: the format check requires three non-empty segments",
    272: "empty payload: the format check requires three non-empty segments",
    320: "empty payload: the format check requires three non-empty segments",
    325: "empty payload: the format check requires three non-empty segments",
    346: "known quirk: a PS256 key verifies a PS384 token; one algorithm per key (RFC 8725 §3.1) refuses it",
    350: "known quirk: a PS256 key verifies a PS384 token; one algorithm per key (RFC 8725 §3.1) refuses it",
    347: "known quirk: the key says alg ES521, which is no JWS algorithm, so the key is unusable",
    351: "known quirk: the key says alg ES521, which is no JWS algorithm, so the key is unusable",
  },
  json_web_key_test: {
    2: "HS256 key set: symmetric keys are refused by policy",
    13: "HS256 key: symmetric keys are refused by policy",
    14: "HS384 key: symmetric keys are refused by policy",
    15: "HS512 key: symmetric keys are refused by policy",
  },
};

function publishedKeys(group: Group): unknown[] {
  const source = group.public ?? group.private ?? {};
  const keys = Array.isArray(source.keys) ? source.keys as Record<string, unknown>[] : [source];
  if (group.public !== undefined) return keys;
  return keys.map((key) => {
    if (key.kty === "oct") return key;
    const copy = { ...key };
    for (const member of PRIVATE_MEMBERS) delete copy[member];
    return copy;
  });
}

function defaultAlgorithm(key: Record<string, unknown>): string {
  if (key.kty === "EC") {
    return ({ "P-384": "ES384", "P-521": "ES512" } as Record<string, string>)[key.crv as string] ?? "ES256";
  }
  if (key.kty === "OKP") return "EdDSA";
  return "RS256";
}

/** One algorithm per key type, as the config schema requires. */
function configuredAlgorithms(keys: unknown[]): string[] {
  const byType = new Map<string, string>();
  for (const key of keys as Record<string, unknown>[]) {
    const declared = key.alg as string;
    const alg = (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(declared)
      ? declared
      : defaultAlgorithm(key);
    if (!byType.has(keyTypeOf(alg))) byType.set(keyTypeOf(alg), alg);
  }
  return byType.size === 0 ? ["RS256"] : [...byType.values()];
}

type Outcome = "valid" | "invalid";

async function run(token: unknown, keySet: KeySet | undefined, algorithms: string[]): Promise<Outcome> {
  if (keySet === undefined) return "invalid";
  const text = typeof token === "string" ? token : JSON.stringify(token);
  try {
    await verifyJws(text, keySet, { algorithms, maxTokenBytes: 8192 });
    return "valid";
  } catch (error) {
    if (!isBrokerError(error, "ERR_INVALID_TOKEN")) throw error;
    return "invalid";
  }
}

/** jose's verdict on a vector that reaches the signature step with our checks, or undefined. */
async function joseVerdict(token: unknown, keySet: KeySet | undefined, algorithms: string[]) {
  if (keySet === undefined || typeof token !== "string") return undefined;
  let match;
  try {
    const parts = checkCompactJws(token, 8192);
    const header = checkJwsHeader(decodeJwsPart(parts, "header"), new Set(algorithms));
    match = findKey(keySet, header.kid, header.alg);
  } catch {
    return undefined;
  }
  if (!("found" in match)) return undefined;
  try {
    await jose.compactVerify(token, await importVerificationKey(match.found), {
      algorithms: [match.found.alg],
    });
    return "valid";
  } catch {
    return "invalid";
  }
}

interface Tally {
  oracleChecked: number;
  total: number;
  agree: number;
  acceptable: number;
  deviations: Array<{ tcId: number; expected: string; got: Outcome; reason: string }>;
  unexpected: Array<{ tcId: number; comment: string; expected: string; got: Outcome }>;
}

async function runFile(name: string): Promise<Tally> {
  const file = JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, VECTORS)));
  const deviations = EXPECTED_DEVIATIONS[name];
  const tally: Tally = {
    oracleChecked: 0,
    total: 0,
    agree: 0,
    acceptable: 0,
    deviations: [],
    unexpected: [],
  };
  for (const group of file.testGroups as Group[]) {
    const keys = publishedKeys(group);
    const algorithms = configuredAlgorithms(keys);
    let keySet: KeySet | undefined;
    try {
      keySet = buildKeySet({ keys }, algorithms);
    } catch (error) {
      if (!(error instanceof JwksRejectedError)) throw error;
    }
    for (const vector of group.tests) {
      tally.total++;
      const got = await run(vector.jws, keySet, algorithms);
      const oracle = await joseVerdict(vector.jws, keySet, algorithms);
      if (oracle !== undefined) {
        tally.oracleChecked++;
        assert.equal(
          got,
          oracle,
          `tcId ${vector.tcId}: our signature step and jose's compactVerify disagree`,
        );
      }
      if (vector.result === "acceptable") {
        tally.acceptable++;
      } else if (got === vector.result) {
        tally.agree++;
        assert.equal(
          deviations[vector.tcId],
          undefined,
          `tcId ${vector.tcId} is listed as a deviation but agrees`,
        );
      } else if (deviations[vector.tcId] !== undefined) {
        tally.deviations.push({
          tcId: vector.tcId,
          expected: vector.result,
          got,
          reason: deviations[vector.tcId],
        });
      } else {
        tally.unexpected.push({ tcId: vector.tcId, comment: vector.comment, expected: vector.result, got });
      }
    }
  }
  return tally;
}

Deno.test("Wycheproof JSON Web Signature vectors agree with the JWS layer, or are listed deviations", async () => {
  const tally = await runFile("json_web_signature_test");
  assert.deepEqual(tally.unexpected, []);
  assert.equal(tally.total, 401);
  assert.ok(tally.oracleChecked >= 300, `only ${tally.oracleChecked} vectors reached the signature step`);
  assert.equal(tally.deviations.length, Object.keys(EXPECTED_DEVIATIONS.json_web_signature_test).length);
  assert.equal(tally.agree + tally.deviations.length + tally.acceptable, tally.total);
  // Every deviation is a vector marked valid that we refuse: never one we accept against the vectors.
  assert.ok(tally.deviations.every((d) => d.expected === "valid" && d.got === "invalid"));
});

Deno.test("Wycheproof JSON Web Key vectors agree with the key sanity checks, or are listed deviations", async () => {
  const tally = await runFile("json_web_key_test");
  assert.deepEqual(tally.unexpected, []);
  assert.equal(tally.total, 26);
  assert.equal(tally.deviations.length, Object.keys(EXPECTED_DEVIATIONS.json_web_key_test).length);
  assert.ok(tally.deviations.every((d) => d.expected === "valid" && d.got === "invalid"));
});

Deno.test("Wycheproof private key sets, published as they are, are refused whole", async () => {
  const file = JSON.parse(await Deno.readTextFile(new URL("json_web_key_test.json", VECTORS)));
  for (const group of file.testGroups as Group[]) {
    const keys = (group.private as { keys: unknown[] }).keys;
    assert.throws(() => buildKeySet({ keys }, configuredAlgorithms(keys)), JwksRejectedError, group.comment);
  }
});
