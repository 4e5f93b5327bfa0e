import { parseLegacyHash, type LegacyPasswordHash } from './legacy-hash';

/**
 * How much one verification of an imported hash costs, in verifications of the argon2id hash
 * Tessera itself stores (19 MiB, 2 passes: ~14 ms of one core). An importer picks the parameters,
 * so a sign-in against its hashes may cost seventy of ours; login charges that to the tenant's
 * share of sign-ins in flight, so its users' hashes occupy its own share of libuv's few threads.
 *
 * Measured on the 2-core machine (same run, one thread each): argon2id 19 MiB × 2 14 ms, bcrypt
 * cost 10 63 ms, PBKDF2-SHA256 100k 14 ms, PBKDF2-SHA512 100k 38 ms, scrypt N 2^14 r 8 40 ms.
 * The ratios, not the milliseconds, are what is used; each format's cost grows linearly in its
 * work parameter (bcrypt's doubles per cost step).
 */
export function legacyVerificationWork(stored: unknown): number {
  const parsed = parseLegacyHash(stored);
  // A hash that cannot be parsed is refused without any verification.
  return parsed.ok ? workOf(parsed.hash) : 0;
}

const OURS = { argon2Kib: 19_456, argon2Passes: 2 } as const;

function workOf(hash: LegacyPasswordHash): number {
  switch (hash.format) {
    case 'bcrypt':
      return 4.4 * 2 ** (Number(hash.hash.slice(4, 6)) - 10);
    case 'pbkdf2-sha256':
      return hash.iterations / 100_000;
    case 'pbkdf2-sha512':
      return (2.7 * hash.iterations) / 100_000;
    case 'firebase-scrypt':
      return (2.8 * 2 ** hash.memCost * hash.rounds) / 2 ** 17;
    case 'argon2i':
    case 'argon2id': {
      const [, memory, passes] = /m=(\d+),t=(\d+)/.exec(hash.hash) ?? [];
      return (Number(memory) * Number(passes)) / (OURS.argon2Kib * OURS.argon2Passes);
    }
  }
}
