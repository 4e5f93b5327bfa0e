import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RedemptionHandler } from './redemption.handler';

/**
 * Finishes redemptions whose request died half-way (process crash between the stock reservation
 * and the wallet debit, say): every step is idempotent, so driving them again completes or
 * declines the redemption and releases whatever it held.
 */
@Injectable()
export class RedemptionRecovery {
  constructor(
    private readonly dataSource: DataSource,
    private readonly redemptions: RedemptionHandler,
  ) {}

  async resumeUnfinished(now: Date, olderThanMs: number): Promise<number> {
    const rows: { tenant_id: string; redemption_id: string }[] = await this.dataSource.query(
      `SELECT tenant_id, redemption_id FROM rewards_redemptions WHERE status IN ('requested', 'cancelling') AND updated_at <= $1 LIMIT 1000`,
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
