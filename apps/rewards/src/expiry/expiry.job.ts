import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ProgramHandler } from '../program/program.handler';
import { WalletHandler } from '../wallet/wallet.handler';

export interface ExpiryRun {
  readonly walletsChecked: number;
  readonly pointsExpired: number;
  readonly tierChanges: number;
  /** Lots announced as expiring soon (PointsExpiringSoon). */
  readonly reminders: number;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * Expires lots past their date and reviews tiers whose period ended. The read models only say
 * where to look; each wallet's decider decides, against the stream's revision. Two runs at once
 * (two replicas, or a run that overlaps the next) race on that revision: the loser re-decides on
 * the winner's events and finds nothing left to do, so every lot expires once.
 */
@Injectable()
export class ExpiryJob {
  constructor(
    private readonly dataSource: DataSource,
    private readonly wallets: WalletHandler,
    private readonly programs: ProgramHandler,
  ) {}

  async runOnce(now: Date): Promise<ExpiryRun> {
    const due: { tenant_id: string; user_id: string }[] = await this.dataSource.query(
      `SELECT tenant_id, user_id FROM rewards_lots WHERE remaining > 0 AND expires_at <= $1
       UNION SELECT tenant_id, user_id FROM rewards_members WHERE tier_review_at <= $1
       LIMIT 10000`,
      [now],
    );
    let pointsExpired = 0;
    let tierChanges = 0;
    for (const { tenant_id: tenantId, user_id: userId } of due) {
      const context = { tenantId, correlationId: `expiry:${now.toISOString()}`, now };
      const expired = await this.wallets.handle({ type: 'ExpirePoints', userId, now }, context);
      if (expired.accepted) for (const event of expired.events) if (event.type === 'PointsExpired') pointsExpired += event.data.points;
      const { program } = await this.programs.current(tenantId);
      const reviewed = await this.wallets.handle({ type: 'ReviewTier', userId, program, now }, context);
      if (reviewed.accepted) tierChanges += reviewed.events.filter((event) => event.type === 'TierChanged').length;
    }
    return { walletsChecked: due.length, pointsExpired, tierChanges, reminders: await this.remind(now) };
  }

  /**
   * Reminders: wallets with a lot not yet announced that expires within 30 days (the most a program
   * may ask for), tenant by tenant with its own `remindDaysBefore`; tenants without reminders are skipped.
   */
  private async remind(now: Date): Promise<number> {
    const horizon = new Date(now.getTime() + 30 * DAY_MS);
    const tenants: { tenant_id: string }[] = await this.dataSource.query(
      'SELECT DISTINCT tenant_id FROM rewards_lots WHERE remaining > 0 AND NOT reminded AND expires_at > $1 AND expires_at <= $2',
      [now, horizon],
    );
    let reminders = 0;
    for (const { tenant_id: tenantId } of tenants) {
      const { program } = await this.programs.current(tenantId);
      const days = program?.expiry?.remindDaysBefore;
      if (!days) continue;
      const members: { user_id: string }[] = await this.dataSource.query(
        `SELECT DISTINCT user_id FROM rewards_lots
         WHERE tenant_id = $1 AND remaining > 0 AND NOT reminded AND expires_at > $2 AND expires_at <= $3 LIMIT 10000`,
        [tenantId, now, new Date(now.getTime() + days * DAY_MS)],
      );
      for (const { user_id: userId } of members) {
        const outcome = await this.wallets.handle(
          { type: 'RemindExpiring', userId, program, now },
          { tenantId, correlationId: `expiry:${now.toISOString()}`, now },
        );
        if (outcome.accepted) reminders += outcome.events.length;
      }
    }
    return reminders;
  }
}
