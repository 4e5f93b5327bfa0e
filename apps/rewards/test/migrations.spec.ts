import { randomBytes, randomUUID } from 'node:crypto';
import { ServiceInfrastructure } from '#cqrs';
import { createTestDatabase } from '../../../test/support/database';
import {
  RewardsBoundedTotals1733500000000,
  RewardsErasedMembers1732360000001,
  RewardsReadModels1732360000000,
  RewardsTenantKeys1765200000000,
} from '../src/rewards.migrations';
import { rewardsEventTypes } from '../src/rewards.runtime';
import { startRewardsApp } from './rewards-harness';

/** The bigint migration runs on a database the previous release populated, and keeps every row. */
describe('rewards migrations on a populated database', () => {
  test('lots become bigint with their values, and the sweep index covers declining redemptions', async () => {
    const databaseUrl = await createTestDatabase('rewards_migration');
    const masterKey = randomBytes(32).toString('base64');
    const tenantId = randomUUID();
    // The previous release's schema, with rows in it.
    const previous = await ServiceInfrastructure.connect({
      service: 'rewards',
      databaseUrl,
      masterKey: Buffer.from(masterKey, 'base64'),
      entities: [],
      migrations: [RewardsReadModels1732360000000, RewardsErasedMembers1732360000001],
      events: rewardsEventTypes,
    });
    await previous.pool.query(
      `INSERT INTO rewards_lots (tenant_id, user_id, lot_id, remaining, expires_at)
       VALUES ($1, 'a', 'big', 2147483647, NULL), ($1, 'a', 'small', 5, now()), ($1, 'b', 'spent', 0, NULL)`,
      [tenantId],
    );
    await previous.close();

    const rewards = await startRewardsApp(databaseUrl, masterKey);
    try {
      const pool = rewards.runtime.infrastructure.pool;
      const column = await pool.query(
        `SELECT data_type FROM information_schema.columns WHERE table_name = 'rewards_lots' AND column_name = 'remaining'`,
      );
      expect(column.rows).toEqual([{ data_type: 'bigint' }]);
      const lots = await pool.query<{ lot_id: string; remaining: string }>(
        'SELECT lot_id, remaining FROM rewards_lots WHERE tenant_id = $1 ORDER BY lot_id',
        [tenantId],
      );
      expect(lots.rows.map((row) => [row.lot_id, Number(row.remaining)])).toEqual([
        ['big', 2147483647],
        ['small', 5],
        ['spent', 0],
      ]);
      // What an integer could not hold, the column now does (a lot stored before awards were capped).
      await pool.query(`UPDATE rewards_lots SET remaining = remaining + 2147483647 WHERE tenant_id = $1 AND lot_id = 'big'`, [tenantId]);
      const grown = await pool.query<{ remaining: string }>(`SELECT remaining FROM rewards_lots WHERE tenant_id = $1 AND lot_id = 'big'`, [
        tenantId,
      ]);
      expect(Number(grown.rows[0]!.remaining)).toBe(2 * 2147483647);
      const index = await pool.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes WHERE indexname = 'rewards_redemptions_unfinished'`,
      );
      expect(index.rows[0]!.indexdef).toContain('declining');
    } finally {
      await rewards.close();
    }
  });

  test('catalog rows of the previous release read as active, for every tier, without category or codes', async () => {
    const databaseUrl = await createTestDatabase('rewards_migration_catalog');
    const masterKey = randomBytes(32).toString('base64');
    const tenantId = randomUUID();
    const rewardId = randomUUID();
    const previous = await ServiceInfrastructure.connect({
      service: 'rewards',
      databaseUrl,
      masterKey: Buffer.from(masterKey, 'base64'),
      entities: [],
      migrations: [
        RewardsReadModels1732360000000,
        RewardsErasedMembers1732360000001,
        RewardsBoundedTotals1733500000000,
        RewardsTenantKeys1765200000000,
      ],
      events: rewardsEventTypes,
    });
    await previous.pool.query(
      `INSERT INTO rewards_catalog (tenant_id, reward_id, name, cost, stock, held, per_member_limit, valid_from, valid_until, created_at)
       VALUES ($1, $2, 'Mug', 10, 5, 2, NULL, now(), NULL, now())`,
      [tenantId, rewardId],
    );
    await previous.close();

    const rewards = await startRewardsApp(databaseUrl, masterKey);
    try {
      const rows = await rewards.runtime.infrastructure.pool.query(
        'SELECT name, stock, held, category, active, tiers, voucher_kind FROM rewards_catalog WHERE tenant_id = $1',
        [tenantId],
      );
      expect(rows.rows).toEqual([{ name: 'Mug', stock: 5, held: 2, category: null, active: true, tiers: null, voucher_kind: null }]);
    } finally {
      await rewards.close();
    }
  });
});
