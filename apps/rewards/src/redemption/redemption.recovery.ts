import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RedemptionHandler } from './redemption.handler';

/**
 * Finishes redemptions whose request died half-way (process crash between the wallet debit and
 * the stock reservation, say, or during a decline's refund): every step is idempotent, so driving
 * them again completes or declines the redemption and gives back whatever it held.
 */
@Injectable()
export class RedemptionRecovery {
  constructor(
    private readonly dataSource: DataSource,
    private readonly redemptions: RedemptionHandler,
  ) {}

  async resumeUnfinished(now: Date, olderThanMs: number): Promise<number> {
    const rows: { tenant_id: string; redemption_id: string }[] = await this.dataSource.query(
      `SELECT tenant_id, redemption_id FROM rewards_redemptions WHERE status IN ('requested', 'cancelling', 'declining') AND updated_at <= $1 LIMIT 1000`,
      [new Date(now.getTime() - olderThanMs)],
    );
    for (const row of rows) {
      await this.redemptions.drive(row.tenant_id, row.redemption_id, {
        tenantId: row.tenant_id,
        correlationId: `recovery:${row.redemption_id}`,
        now,
      });
    }
    return rows.length;
  }
}
