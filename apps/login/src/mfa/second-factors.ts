import { randomUUID } from 'node:crypto';
import type { CommandRunner, StreamCommand } from '#cqrs';
import type { AppendResult, StreamAppend } from '#eventstore';
import type { LockoutPolicy } from '../sign-in/lockout.decider';
import { factorsDecider, hasSecondFactor, type FactorsCommand, type FactorsRejection, type FactorsState } from './factors.decider';
import { factorsStreamFor, type FactorEvent } from './factors.events';
import { newRecoveryCodes, newTotpSecret, recoveryCodeHash } from './totp';

export type CodeCheck =
  | { readonly ok: true; readonly method: 'totp' | 'recovery-code' }
  | { readonly ok: false; readonly reason: 'wrong' | 'locked' | 'not-enrolled' };

/** Stores a decision's append, guarded by its revision, in a write of the caller's (see CommandRunner's storeWith). */
export type StoreAlongside = (append: StreamAppend) => Promise<AppendResult | undefined>;
/** A factors command's storeWith (see CommandRunner). */
export type FactorsStoreWith = NonNullable<StreamCommand<FactorsCommand, FactorEvent, FactorsState, FactorsRejection>['storeWith']>;

/** A storeWith that hands a decision to `alongside` when it holds a `success` event; any other is appended on its own. */
export function storedAlongsideOn(success: FactorEvent['type'], alongside: StoreAlongside): FactorsStoreWith {
  return async ({ events, append }) => (events.some((event) => event.type === success) ? alongside(append) : undefined);
}

/** A person's second factors, as the sign-in step and the account pages use them (decided by factorsDecider). */
export class SecondFactors {
  private readonly decider: ReturnType<typeof factorsDecider>;

  constructor(
    private readonly commands: CommandRunner,
    policy: LockoutPolicy,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.decider = factorsDecider(policy);
  }

  /** The person's factors as the store holds them; `current`: their stream's revision read moments ago (see CommandRunner.load). */
  async state(tenantId: string, userId: string, current?: bigint): Promise<FactorsState> {
    return (await this.commands.load(factorsStreamFor(tenantId, userId), this.decider, current)).state;
  }

  async required(tenantId: string, userId: string): Promise<boolean> {
    return hasSecondFactor(await this.state(tenantId, userId));
  }

  /** A new secret to show (QR code and manual key); it counts once a code from it is confirmed. */
  async startTotp(tenantId: string, userId: string): Promise<{ secret: string } | { rejected: FactorsRejection['kind'] }> {
    const secret = newTotpSecret();
    const outcome = await this.run(tenantId, { type: 'StartTotpEnrolment', userId, secret, now: this.clock() });
    return outcome.accepted ? { secret } : { rejected: outcome.rejection.kind };
  }

  /** The pending secret, to show again while the enrolment is not confirmed. */
  async pendingSecret(tenantId: string, userId: string): Promise<string | null> {
    return (await this.state(tenantId, userId)).pendingSecret;
  }

  /** Confirms the enrolment with a code; the recovery codes come back once, in clear, for the page. */
  async confirmTotp(
    tenantId: string,
    userId: string,
    code: string,
  ): Promise<{ recoveryCodes: string[] } | { rejected: FactorsRejection['kind'] }> {
    const recoveryCodes = newRecoveryCodes();
    const outcome = await this.run(tenantId, {
      type: 'ConfirmTotp',
      userId,
      code: code.replace(/\s/g, ''),
      recoveryCodeHashes: recoveryCodes.map(recoveryCodeHash),
      now: this.clock(),
    });
    return outcome.accepted ? { recoveryCodes } : { rejected: outcome.rejection.kind };
  }

  /**
   * Checks a code of the person's. `alongside` stores a right code's events in a write of the
   * caller's (the sign-in it completes), guarded as CommandRunner's storeWith is; a wrong one's are
   * appended on their own, so they count whatever the caller does.
   */
  verify(tenantId: string, userId: string, code: string, alongside?: StoreAlongside): Promise<CodeCheck> {
    const storeWith = alongside && storedAlongsideOn('SecondFactorVerified', alongside);
    return this.check(tenantId, { type: 'VerifySecondFactor', userId, code, now: this.clock() }, storeWith);
  }

  remove(tenantId: string, userId: string, code: string): Promise<CodeCheck> {
    return this.check(tenantId, { type: 'RemoveTotp', userId, code, now: this.clock() });
  }

  /** An operator's reset for a person who lost every factor; true when there was something to remove. */
  async reset(tenantId: string, userId: string): Promise<boolean> {
    const outcome = await this.run(tenantId, { type: 'ResetFactors', userId, now: this.clock() });
    return outcome.accepted && outcome.events.length > 0;
  }

  private async check(tenantId: string, command: FactorsCommand, storeWith?: FactorsStoreWith): Promise<CodeCheck> {
    const outcome = await this.run(tenantId, command, storeWith);
    if (!outcome.accepted) return { ok: false, reason: outcome.rejection.kind === 'Locked' ? 'locked' : 'not-enrolled' };
    const verified = outcome.events.find((event) => event.type === 'SecondFactorVerified');
    if (verified?.type === 'SecondFactorVerified') return { ok: true, method: verified.data.method };
    return { ok: false, reason: outcome.events.some((event) => event.type === 'SecondFactorLocked') ? 'locked' : 'wrong' };
  }

  private run(tenantId: string, command: FactorsCommand, storeWith?: FactorsStoreWith) {
    const now = this.clock();
    return this.commands.handle<FactorsCommand, FactorEvent, FactorsState, FactorsRejection>({
      streamName: factorsStreamFor(tenantId, command.userId),
      decider: this.decider,
      command,
      context: { tenantId, correlationId: randomUUID(), now },
      // Two tabs, or two code posts at once: the second is decided on what the first did (a code used once).
      retriesOnConflict: 2,
      storeWith,
    });
  }
}
