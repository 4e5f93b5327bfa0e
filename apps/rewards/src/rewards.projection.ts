import type { EntityManager } from 'typeorm';
import type { EventEnvelope } from '../../../libs/cqrs/src/event-envelope';
import type { Projection } from '../../../libs/cqrs/src/projection-runner';
import { TENANT_STREAM_PREFIX } from '../../register/src/account/account.streams';
import type { TenantEvent } from '../../register/src/tenants/tenant.events';
import type { CatalogEvent } from './catalog/catalog.events';
import type { RedemptionEvent } from './redemption/redemption.events';
import { REDEMPTION_STREAM_PREFIX, REWARD_STREAM_PREFIX, WALLET_STREAM_PREFIX } from './rewards.streams';
import type { WalletEvent } from './wallet/wallet.events';

/**
 * Rewards' read models: tenant keys (from register), the catalog and redemptions for admin views,
 * and the lots and tier reviews the expiry job looks for. Balances are not here: a member's view
 * is folded from the wallet stream itself, so it always includes the caller's own writes.
 */
export const rewardsReadModelProjection: Projection = {
  name: 'rewards.read-models',
  filter: { streamNamePrefixes: [TENANT_STREAM_PREFIX, REWARD_STREAM_PREFIX, REDEMPTION_STREAM_PREFIX, WALLET_STREAM_PREFIX] },
  async apply(envelope: EventEnvelope, tx: EntityManager) {
    const event = envelope.event as TenantEvent | CatalogEvent | RedemptionEvent | WalletEvent;
    const tenantId = envelope.metadata.tenantId;
    switch (event.type) {
      case 'TenantCreated':
        await tx.query('INSERT INTO rewards_tenants (tenant_id, slug, api_key_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
          event.data.tenantId,
          event.data.slug,
          event.data.apiKeyHash,
        ]);
        return;
      case 'RewardCreated': {
        const d = event.data;
        await tx.query(
          `INSERT INTO rewards_catalog (tenant_id, reward_id, name, cost, stock, per_member_limit, valid_from, valid_until, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [tenantId, d.rewardId, d.name, d.cost, d.stock, d.perMemberLimit, d.validFrom, d.validUntil, d.createdAt],
        );
        return;
      }
      case 'StockReserved':
      case 'StockReleased':
        await tx.query('UPDATE rewards_catalog SET held = held + $3 WHERE tenant_id = $1 AND reward_id = $2', [tenantId, event.data.rewardId, event.type === 'StockReserved' ? 1 : -1]);
        return;
      case 'RedemptionRequested': {
        const d = event.data;
        await tx.query(
          `INSERT INTO rewards_redemptions (tenant_id, redemption_id, user_id, reward_id, cost, status, requested_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, 'requested', $6, $6)`,
          [tenantId, d.redemptionId, d.userId, d.rewardId, d.cost, d.requestedAt],
        );
        return;
      }
      case 'RedemptionConfirmed':
      case 'RedemptionDeclined':
      case 'RedemptionFulfilled':
      case 'RedemptionCancellationRequested':
      case 'RedemptionCancellationCompleted': {
        const status = REDEMPTION_STATUS[event.type];
        const reason = event.type === 'RedemptionDeclined' ? event.data.reason : null;
        await tx.query('UPDATE rewards_redemptions SET status = $3, reason = coalesce($4, reason), updated_at = $5 WHERE tenant_id = $1 AND redemption_id = $2', [
          tenantId,
          event.data.redemptionId,
          status,
          reason,
          envelope.metadata.occurredAt || envelope.createdAt,
        ]);
        return;
      }
      case 'PointsEarned':
        await upsertLot(tx, tenantId, event.data.userId, event.data.lotId, event.data.points, event.data.expiresAt);
        return;
      case 'PointsAdjusted':
        if (event.data.points > 0) for (const lot of event.data.lots) await upsertLot(tx, tenantId, event.data.userId, lot.lotId, lot.points, event.data.expiresAt);
        else await moveLots(tx, tenantId, event.data.userId, event.data.lots, -1);
        return;
      case 'PointsRedeemed':
        await moveLots(tx, tenantId, event.data.userId, event.data.lots, -1);
        return;
      case 'RedemptionCancelled':
        await moveLots(tx, tenantId, event.data.userId, event.data.lots, 1);
        return;
      case 'PointsExpired':
        await moveLots(tx, tenantId, event.data.userId, [{ lotId: event.data.lotId, points: event.data.points }], -1);
        return;
      case 'TierChanged':
      case 'TierRetained': {
        const tier = event.type === 'TierChanged' ? event.data.to : event.data.tier;
        await tx.query(
          `INSERT INTO rewards_members (tenant_id, user_id, tier, tier_review_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id, user_id) DO UPDATE SET tier = excluded.tier, tier_review_at = excluded.tier_review_at`,
          [tenantId, event.data.userId, tier, event.data.reviewAt],
        );
        return;
      }
      default:
        return;
    }
  },
};

const REDEMPTION_STATUS = {
  RedemptionConfirmed: 'confirmed',
  RedemptionDeclined: 'declined',
  RedemptionFulfilled: 'fulfilled',
  RedemptionCancellationRequested: 'cancelling',
  RedemptionCancellationCompleted: 'cancelled',
} as const;

function upsertLot(tx: EntityManager, tenantId: string, userId: string, lotId: string, points: number, expiresAt: string | null) {
  return tx.query(
    'INSERT INTO rewards_lots (tenant_id, user_id, lot_id, remaining, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
    [tenantId, userId, lotId, points, expiresAt],
  );
}

async function moveLots(tx: EntityManager, tenantId: string, userId: string, lots: readonly { lotId: string; points: number }[], sign: 1 | -1) {
  for (const lot of lots) {
    await tx.query('UPDATE rewards_lots SET remaining = remaining + $4 WHERE tenant_id = $1 AND user_id = $2 AND lot_id = $3', [tenantId, userId, lot.lotId, sign * lot.points]);
  }
}
