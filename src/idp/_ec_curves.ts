/**
 * Short Weierstrass parameters of the NIST curves JWS uses (FIPS 186-4 / SEC 2: y² = x³ − 3x + b mod p), to check
 * that a published EC key is a point on its stated curve before any runtime imports it.
 *
 * @module
 */

/** One curve: field prime, `b`, and the byte length of a coordinate. */
interface _Curve {
  p: bigint;
  b: bigint;
  bytes: number;
}

const _CURVES: Readonly<Record<string, _Curve>> = {
  "P-256": {
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    bytes: 32,
  },
  "P-384": {
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    bytes: 48,
  },
  "P-521": {
    p: 2n ** 521n - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
    bytes: 66,
  },
};

/** Coordinate length in bytes for a supported curve, or `undefined`. */
export function ecCoordinateBytes(crv: string): number | undefined {
  return Object.hasOwn(_CURVES, crv) ? _CURVES[crv].bytes : undefined;
}

/** Big-endian bytes to a non-negative integer. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** True when (x, y) (big-endian coordinates of the right length) is a point on `crv`. */
export function isOnCurve(crv: string, x: Uint8Array, y: Uint8Array): boolean {
  if (!Object.hasOwn(_CURVES, crv)) return false;
  const { p, b, bytes } = _CURVES[crv];
  if (x.length !== bytes || y.length !== bytes) return false;
  const xi = bytesToBigInt(x);
  const yi = bytesToBigInt(y);
  if (xi >= p || yi >= p) return false;
  const left = (yi * yi) % p;
  const right = (((xi * xi) % p) * xi - 3n * xi + b) % p;
  return left === ((right % p) + p) % p;
}
