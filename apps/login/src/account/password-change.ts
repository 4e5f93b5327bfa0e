import { randomUUID } from 'node:crypto';
import { hash } from '@node-rs/argon2';
import { accept, reject, type CommandRunner, type Decider } from '#cqrs';
import type { Position } from '#eventstore';
import {
  accountStreamFor,
  ARGON2ID_OPTIONS,
  PasswordChanged,
  passwordProblemsOf,
  type AccountEvent,
  type PasswordProblem,
} from '#contracts';

/** Whether an account stream names a live account, folded from register's account events. */
interface AccountLife {
  readonly live: boolean;
}

interface ChangePassword {
  readonly type: 'ChangePassword';
  readonly userId: string;
  readonly passwordHash: string;
}

/**
 * The change rule, on register's account stream: a live account takes a new password; an erased
 * (or never registered) one does not. Decided on the stream as read and appended at that revision,
 * as the legacy rehash is, so an erasure that landed meanwhile is never followed by a password.
 */
export const passwordChangeDecider: Decider<ChangePassword, AccountEvent, AccountLife, { kind: 'AccountNotFound' }> = {
  initialState: () => ({ live: false }),
  evolve(state, event) {
    switch (event.type) {
      case 'UserRegistered':
      case 'UserImported':
        return { live: true };
      case 'UserErased':
        return { live: false };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (!state.live) return reject({ kind: 'AccountNotFound' });
    return accept(PasswordChanged({ userId: command.userId, passwordHash: command.passwordHash, reason: 'change' }));
  },
};

export type PasswordChangeOutcome =
  | { readonly changed: true; readonly position?: Position }
  | { readonly changed: false; readonly problems: readonly PasswordProblem[] }
  | { readonly changed: false; readonly gone: true };

/**
 * A signed-in person's new password: held to the rules sign-up holds it to (#contracts), hashed
 * with argon2id like register's, and appended to the account stream as PasswordChanged (reason
 * `change`), which login's and register's read models already apply. The current password is
 * checked before this, by the caller, under the sign-in lock-out.
 */
export class PasswordChange {
  constructor(private readonly commands: CommandRunner) {}

  /** The rule check alone: what the page says before any argon2id work is spent. */
  problemsOf(password: string, email: string): readonly PasswordProblem[] {
    return passwordProblemsOf(password, email);
  }

  async change(tenantId: string, userId: string, email: string, password: string): Promise<PasswordChangeOutcome> {
    const problems = passwordProblemsOf(password, email);
    if (problems.length > 0) return { changed: false, problems };
    const passwordHash = await hash(password, ARGON2ID_OPTIONS);
    const now = new Date();
    const outcome = await this.commands.handle({
      streamName: accountStreamFor(tenantId, userId),
      decider: passwordChangeDecider,
      command: { type: 'ChangePassword' as const, userId, passwordHash },
      context: { tenantId, correlationId: randomUUID(), now },
      retriesOnConflict: 2,
    });
    return outcome.accepted ? { changed: true, position: outcome.position } : { changed: false, gone: true };
  }
}
