/**
 * Signs the IdP tokens of the HTTP benchmark: one key per algorithm (RS256, ES256, EdDSA), a JWKS with the public
 * halves, and for each algorithm `count` distinct tokens (a distinct `jti` each), so that every request of a
 * fresh-token run carries a token the broker has never seen.
 *
 * Runs under Node (`node bench/token_pool.mjs <issuer> <audience> <count> <out.json>`): Node signs with OpenSSL,
 * several times faster than Deno's WebCrypto for RSA (about 0.26 ms an RS256 token here, 0.03 ms ES256 and
 * EdDSA). `<count>` is one number for every algorithm, or one per algorithm: `RS256=50000,ES256=38000,EdDSA=122000`.
 * Writes `{ jwks: { keys }, tokens: { RS256: string[], ES256: string[], EdDSA: string[] } }`.
 */
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { writeFileSync } from "node:fs";

const [issuer, audience, countText, out] = process.argv.slice(2);
/** Tokens to sign per algorithm. */
const counts = /^\d+$/.test(countText ?? "")
  ? { RS256: Number(countText), ES256: Number(countText), EdDSA: Number(countText) }
  : Object.fromEntries(
    (countText ?? "").split(",").map((part) => part.split("=")).map(([a, n]) => [a, Number(n)]),
  );
if (!issuer || !audience || !["RS256", "ES256", "EdDSA"].every((a) => counts[a] > 0) || !out) {
  console.error(
    "Usage: node bench/token_pool.mjs <issuer> <audience> <count | RS256=n,ES256=n,EdDSA=n> <out.json>",
  );
  process.exit(2);
}

const b64url = (buffer) => Buffer.from(buffer).toString("base64url");
const algs = [
  { alg: "RS256", type: "rsa", options: { modulusLength: 2048 }, hash: "sha256", encoding: undefined },
  { alg: "ES256", type: "ec", options: { namedCurve: "P-256" }, hash: "sha256", encoding: "ieee-p1363" },
  { alg: "EdDSA", type: "ed25519", options: {}, hash: null, encoding: undefined },
];
const now = Math.floor(Date.now() / 1000);
const keys = [];
const tokens = {};
for (const { alg, type, options, hash, encoding } of algs) {
  const { privateKey, publicKey } = generateKeyPairSync(type, options);
  const kid = `bench-${alg}`;
  keys.push({ ...publicKey.export({ format: "jwk" }), kid, alg, use: "sig" });
  const header = b64url(JSON.stringify({ alg, kid, typ: "JWT" }));
  const key = encoding === undefined ? privateKey : { key: privateKey, dsaEncoding: encoding };
  const salt = randomBytes(6).toString("hex");
  const list = [];
  for (let i = 0; i < counts[alg]; i++) {
    const payload = b64url(JSON.stringify({
      iss: issuer,
      aud: audience,
      sub: "bench-user",
      scope: "openid arcgis",
      iat: now,
      exp: now + 3600,
      jti: `${salt}-${i}`,
    }));
    const signature = sign(hash, Buffer.from(`${header}.${payload}`), key);
    list.push(`${header}.${payload}.${b64url(signature)}`);
  }
  tokens[alg] = list;
}
writeFileSync(out, JSON.stringify({ jwks: { keys }, tokens }));
