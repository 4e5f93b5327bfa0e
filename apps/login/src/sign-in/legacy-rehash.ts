import { randomUUID } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { accept, CommandRunner, type Decider } from '#cqrs';
import { accountStreamFor, ARGON2ID_OPTIONS, PasswordRehashed, type AccountEvent } from '#contracts';
import { legacyVerificationWork, verifyLegacyPassword } from '#password-hashes';
import type { Credential } from '../directory';

/**
 * Where an imported hash is verified: given its work (in verifications of our own argon2id), the
 * lane may refuse (429) a tenant whose share of sign-ins in flight cannot take that much more.
 */
export type LegacyVerificationLane = <T>(work: number, verification: () => Promise<T>) => Promise<T>;

/** What checking a typed password against a credential found. */
export type PasswordVerdict = 'match' | 'legacy-match' | 'no-match';

/**
 * One verification per attempt, whatever the credential holds: argon2id, an imported hash, or
 * nothing (an unknown address, an imported person who brought no hash), which is verified
 * against the dummy hash and never matches, so it costs what a wrong password costs. An imported
 * hash costs what its format and (capped) parameters cost: that an address holds one is a
 * difference in timing until its first sign-in replaces it.
 */
export async function checkPassword(
  credential: Credential | undefined,
  password: string,
  dummyHash: string,
  legacyLane: LegacyVerificationLane = (_work, verification) => verification(),
): Promise<PasswordVerdict> {
  if (credential?.passwordHash) return (await verify(credential.passwordHash, password).catch(() => false)) ? 'match' : 'no-match';
  if (credential?.legacyPassword) {
    const stored = credential.legacyPassword;
    // A hash the import's checks let through but that cannot be read now is a wrong password, never a sign-in.
    const verdict = await legacyLane(legacyVerificationWork(stored), () => verifyLegacyPassword(stored, password));
    return verdict.kind === 'match' ? 'legacy-match' : 'no-match';
  }
  await verify(dummyHash, password).catch(() => false);
  return 'no-match';
}

/** Whether an account stream still holds an imported hash, folded from register's account events. */
interface LegacyHashState {
  readonly replaces: string | null;
}

interface ReplaceLegacyHash {
  readonly type: 'ReplaceLegacyHash';
  readonly userId: string;
  readonly passwordHash: string;
}

/**
 * The rehash rule: an imported hash is replaced once, and only while it is the account's hash. A
 * reset, a change, an erasure or another rehash since means there is nothing left to replace.
 */
export const legacyHashDecider: Decider<ReplaceLegacyHash, AccountEvent, LegacyHashState, never> = {
  initialState: () => ({ replaces: null }),
  evolve(state, event) {
    switch (event.type) {
      case 'UserImported': {
        const format = (event.data.legacyPassword as { format?: unknown } | null)?.format;
        return { replaces: typeof format === 'string' ? format : null };
      }
      case 'PasswordChanged':
      case 'PasswordRehashed':
      case 'UserErased':
        return { replaces: null };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (state.replaces === null) return accept();
    return accept(PasswordRehashed({ userId: command.userId, passwordHash: command.passwordHash, replaced: state.replaces }));
  },
};

export interface RehashLogger {
  warn(fields: object, message: string): void;
}

/**
 * After a sign-in with an imported hash: hashes the password just typed with argon2id and appends
 * PasswordRehashed to the account's stream, decided on the stream as read and appended at that
 * revision, so a reset that landed meanwhile is never overwritten by the old password. A failure
 * costs nothing but a later retry: the sign-in stands, and the next one with the old hash tries again.
 */
export class LegacyPasswordRehash {
  constructor(
    private readonly runner: CommandRunner,
    private readonly logger?: RehashLogger,
  ) {}

  async replace(tenantId: string, userId: string, password: string): Promise<void> {
    try {
      const passwordHash = await hash(password, ARGON2ID_OPTIONS);
      await this.runner.handle({
        streamName: accountStreamFor(tenantId, userId),
        decider: legacyHashDecider,
        command: { type: 'ReplaceLegacyHash' as const, userId, passwordHash },
        context: { tenantId, correlationId: randomUUID(), now: new Date() },
        retriesOnConflict: 1,
      });
    } catch (error) {
      // Never the password or a hash: the error of a store append names streams and revisions only.
      this.logger?.warn({ tenantId, userId, err: error }, 'could not replace an imported password hash; the next sign-in retries');
    }
  }
}
