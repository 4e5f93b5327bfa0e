import { createHmac, hkdfSync } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { ACCOUNT_STREAM_PREFIX, ERASURE_STREAM_PREFIX, TRACKING_STREAM_PREFIX } from '#contracts';
import type { CommandContext, CommandRunner, EventEnvelope, Projection } from '#cqrs';
import type { JsonObject } from '#eventstore';
import { earningSourceOf, erasureOf } from '../earning/tracked-events.contract';
import { programDecider } from '../program/program.decider';
import type { ProgramDefinition } from '../program/program.events';
import { programStreamFor, REFERRAL_STREAM_PREFIX, referralStreamFor, walletStreamFor } from '../rewards.streams';
import { walletDecider } from '../wallet/wallet.decider';
import { referralDecider } from './referral.decider';
import type { ReferralQualified } from './referral.events';

/** `R` and nine symbols without look-alikes (no 0/O, 1/I/L): 31^9, about 2.6 * 10^13 codes. */
export const REFERRAL_CODE = /^R[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{9}$/;
const SYMBOLS = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/** The property of a qualifying tracked event that names the code. */
export const REFERRAL_CODE_PROPERTY = 'referral_code';
export const REFERRALS_PROJECTION = 'rewards.referrals';

/** Keyed from the master key: codes are stable for a member, and nobody derives one from a user id alone. */
export function referralCodeKey(masterKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'tessera/rewards/referral-codes/v1', 32));
}

/**
 * Referrals: a member's code (the same every time it is asked for, claimed on its own stream), and
 * the `rewards.referrals` projection that follows the log: register's sign-ups (the e-mail blind
 * index behind the same-person guard), tracked qualifying events from server sources naming a code
 * (decided on the code's stream), and qualified referrals (credited to both wallets, once each).
 */
export class Referrals {
  constructor(
    private readonly commands: CommandRunner,
    private readonly codeKey: Buffer,
  ) {}

  codeOf(tenantId: string, userId: string): string {
    const digest = createHmac('sha256', this.codeKey).update(`${tenantId}\n${userId}`).digest();
    let code = 'R';
    for (let index = 0; index < 9; index++) code += SYMBOLS[digest[index]! % SYMBOLS.length];
    return code;
  }

  /** The member's code, claimed for them on first use; undefined in the (2.6 * 10^13 to one) case another member holds it. */
  async issue(tenantId: string, userId: string, context: CommandContext): Promise<string | undefined> {
    const code = this.codeOf(tenantId, userId);
    const outcome = await this.commands.handle({
      streamName: referralStreamFor(tenantId, code),
      decider: referralDecider,
      command: { type: 'Issue', code, referrer: userId, now: context.now },
      context,
    });
    return outcome.accepted ? code : undefined;
  }

  async rewardedFor(tenantId: string, code: string): Promise<number> {
    return (await this.commands.load(referralStreamFor(tenantId, code), referralDecider)).state.rewarded;
  }

  projection(): Projection {
    return {
      name: REFERRALS_PROJECTION,
      filter: {
        streamNamePrefixes: [TRACKING_STREAM_PREFIX, ACCOUNT_STREAM_PREFIX, REFERRAL_STREAM_PREFIX, ERASURE_STREAM_PREFIX],
        eventTypePrefixes: ['MessageReceived', 'UserRegistered', 'UserErased', 'ErasureRequested', 'ReferralQualified'],
      },
      applyBatch: async (envelopes, tx) => {
        for (const envelope of envelopes) await this.apply(envelope, tx);
      },
    };
  }

  private async apply(envelope: EventEnvelope, tx: EntityManager): Promise<void> {
    const { tenantId, correlationId } = envelope.metadata;
    const context: CommandContext = { tenantId, correlationId, now: envelope.createdAt };
    const { type } = envelope.event;
    if (type === 'ReferralQualified') return this.reward(envelope.event as ReturnType<typeof ReferralQualified>, context);
    const erased = erasureOf(envelope);
    if (erased) {
      await tx.query('DELETE FROM rewards_member_emails WHERE tenant_id = $1 AND user_id = ANY($2)', [tenantId, erased.userIds]);
      return;
    }
    if (type === 'UserRegistered') {
      const { userId, emailIndex } = envelope.event.data as JsonObject;
      if (typeof userId === 'string' && typeof emailIndex === 'string')
        await tx.query(
          `INSERT INTO rewards_member_emails (tenant_id, user_id, email_index) VALUES ($1, $2, $3)
           ON CONFLICT (tenant_id, user_id) DO UPDATE SET email_index = EXCLUDED.email_index`,
          [tenantId, userId, emailIndex],
        );
      return;
    }
    const earning = earningSourceOf(envelope);
    const code = earning?.source.properties[REFERRAL_CODE_PROPERTY];
    // Only the tenant's own servers vouch for a referee's order: a write key anyone can copy does not.
    if (!earning || earning.source.kind !== 'server' || typeof code !== 'string' || !REFERRAL_CODE.test(code)) return;
    const policy = (await this.program(tenantId))?.referrals;
    if (!policy || earning.source.name !== policy.qualifyingEvent) return;
    const referee = earning.userId;
    const referrer = (await this.commands.load(referralStreamFor(tenantId, code), referralDecider)).state.referrer;
    // In the projection's transaction: a sign-up earlier in the same batch is seen.
    const rows: { user_id: string; email_index: string }[] = await tx.query(
      'SELECT user_id, email_index FROM rewards_member_emails WHERE tenant_id = $1 AND user_id = ANY($2::text[])',
      [tenantId, [referee, referrer ?? '']],
    );
    const emailOf = (userId: string | null) => rows.find((row) => row.user_id === userId)?.email_index ?? null;
    const refereeWallet = await this.commands.load(walletStreamFor(tenantId, referee), walletDecider);
    await this.commands.handle({
      streamName: referralStreamFor(tenantId, code),
      decider: referralDecider,
      command: {
        type: 'Qualify',
        referee,
        sourceId: earning.source.id,
        referrerEmail: emailOf(referrer),
        refereeEmail: emailOf(referee),
        refereeReferredBefore: refereeWallet.state.referred,
        policy,
        now: envelope.createdAt,
      },
      context,
    });
  }

  /** Both sides, each once: a redelivery, or the projection running again after a crash, credits nothing more. */
  private async reward(event: ReturnType<typeof ReferralQualified>, context: CommandContext): Promise<void> {
    const { referralId, referrer, referee, referrerPoints, refereePoints } = event.data;
    const program = await this.program(context.tenantId);
    for (const [userId, role, points] of [
      [referrer, 'referrer', referrerPoints],
      [referee, 'referee', refereePoints],
    ] as const) {
      await this.commands.handle({
        streamName: walletStreamFor(context.tenantId, userId),
        decider: walletDecider,
        command: { type: 'RewardReferral', userId, referralId, role, points, program, now: new Date(event.data.qualifiedAt) },
        context,
      });
    }
  }

  private async program(tenantId: string): Promise<ProgramDefinition | undefined> {
    return (await this.commands.load(programStreamFor(tenantId), programDecider)).state.program;
  }
}
