/**
 * The ROCA fingerprint (Nemec et al., CCS 2017, CVE-2017-15361): RSA moduli made by a vulnerable Infineon
 * library are, modulo each small prime r, a power of 65537. A random modulus passes that test for all of these
 * primes with negligible probability, so a match means the key's private half may be recoverable.
 *
 * @module
 */

const _PRIMES = [
  3,
  5,
  7,
  11,
  13,
  17,
  19,
  23,
  29,
  31,
  37,
  41,
  43,
  47,
  53,
  59,
  61,
  67,
  71,
  73,
  79,
  83,
  89,
  97,
  101,
  103,
  107,
  109,
  113,
  127,
  131,
  137,
  139,
  149,
  151,
  157,
  163,
  167,
];

/** For each prime, the set of residues that are powers of 65537 modulo it. */
const _SUBGROUPS: ReadonlyArray<{ prime: bigint; powers: ReadonlySet<number> }> = _PRIMES.map((prime) => {
  const powers = new Set<number>();
  let value = 1;
  const generator = 65537 % prime;
  while (!powers.has(value)) {
    powers.add(value);
    value = (value * generator) % prime;
  }
  return { prime: BigInt(prime), powers };
});

/** True when the modulus `n` carries the ROCA fingerprint. */
export function hasRocaFingerprint(n: bigint): boolean {
  for (const { prime, powers } of _SUBGROUPS) {
    if (!powers.has(Number(n % prime))) return false;
  }
  return true;
}
