import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { EventEnvelope, Projection } from '#cqrs';
import { TENANT_STREAM_PREFIX, type TenantEvent } from '#contracts';
import { applyTenantKeyEvents } from '#tenant-keys';
import { TENANT_KEYS_TABLE } from './tenants/tenant-directory';
import type { CatalogEvent } from './catalog/catalog.events';
import type { RedemptionEvent } from './redemption/redemption.events';
import { forgetTransactions, transactionOf, writeTransactions, type TransactionRow } from './reports/transaction-ledger';
import { REDEMPTION_STREAM_PREFIX, REWARD_STREAM_PREFIX, WALLET_STREAM_PREFIX } from './rewards.streams';
import type { WalletEvent } from './wallet/wallet.events';

type ReadModelEvent = TenantEvent | CatalogEvent | RedemptionEvent | WalletEvent;

/**
 * Rewards' read models: tenants and their keys (from register), the catalog and redemptions for admin views,
 * and the lots and tier reviews the expiry job looks for; an erased member's rows are forgotten.
 * Balances are not here: a member's view is folded from the wallet stream itself, so it always
 * includes the caller's own writes.
 *
 * Set-based: a batch is folded in memory into one multi-row statement per table and kind of
 * change, so its transaction is a handful of statements however many events it holds. That
 * matters beyond this projection: on the PostgreSQL store a subscription holds back events
 * committed after any transaction still open in the database, this one included.
 */
export const rewardsReadModelProjection: Projection = {
  name: 'rewards.read-models',
  filter: { streamNamePrefixes: [TENANT_STREAM_PREFIX, REWARD_STREAM_PREFIX, REDEMPTION_STREAM_PREFIX, WALLET_STREAM_PREFIX] },
  // Every effect of a batch is in these tables: a crash loses the last batches with their
  // checkpoint and they are replayed. Not waiting for the flush keeps each transaction short.
  asynchronousCommit: true,
  async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
    let changes = new ReadModelChanges();
    for (const envelope of envelopes) {
      const event = envelope.event as ReadModelEvent;
      if (event.type === 'MemberErased') {
        // Everything before the erasure lands first, so the erasure forgets all of it.
        await changes.write(tx);
        changes = new ReadModelChanges();
        await forgetMember(tx, envelope.metadata.tenantId, event.data.userId);
      } else {
        const at = envelope.metadata.occurredAt || envelope.createdAt.toISOString();
        changes.add(envelope.metadata.tenantId, event, at);
        changes.record(envelope.metadata.tenantId, envelope.id, event, at);
      }
    }
    await changes.write(tx);
  },
};

const REDEMPTION_STATUS = {
  RedemptionConfirmed: 'confirmed',
  RedemptionDeclineStarted: 'declining',
  RedemptionDeclined: 'declined',
  RedemptionFulfilled: 'fulfilled',
  RedemptionCancellationRequested: 'cancelling',
  RedemptionCancellationCompleted: 'cancelled',
} as const;

type Row = readonly unknown[];

/** One batch's changes, merged per row: the last tier, the sum of stock and lot movements, the last status. */
class ReadModelChanges {
  private readonly tenants: Row[] = [];
  private readonly tenantKeyEvents: TenantEvent[] = [];
  private readonly rewards: Row[] = [];
  private readonly held = new Map<string, { tenantId: string; rewardId: string; delta: number }>();
  /** Per reward, the last of each kind of change in the batch: each event carries the whole new value. */
  private readonly rewardTerms = new Map<string, Row>();
  private readonly rewardStock = new Map<string, Row>();
  private readonly rewardActive = new Map<string, Row>();
  private readonly redemptions: Row[] = [];
  private readonly statuses = new Map<
    string,
    { tenantId: string; redemptionId: string; status: string; reason: string | null; at: string }
  >();
  private readonly lots: Row[] = [];
  /** Lots a reminder went out for: the expiry job does not look at them again. */
  private readonly reminded: Row[] = [];
  private readonly lotMoves = new Map<string, { tenantId: string; userId: string; lotId: string; delta: number }>();
  private readonly tiers = new Map<string, { tenantId: string; userId: string; tier: string | null; reviewAt: string }>();
  /** What refunds made members owe, summed per member over the batch. */
  private readonly owed = new Map<string, { tenantId: string; userId: string; delta: number }>();
  /** Members enrolled (explicitly or by earning): listed from then on, with or without points. */
  private readonly enrolled: Row[] = [];
  /** The batch's points movements, for the finance export. */
  private readonly transactions: { tenantId: string; at: string; row: TransactionRow }[] = [];

  record(tenantId: string, eventId: string, event: ReadModelEvent, at: string): void {
    const row = transactionOf(eventId, event as WalletEvent);
    if (row) this.transactions.push({ tenantId, at, row });
  }

  add(tenantId: string, event: ReadModelEvent, at: string): void {
    switch (event.type) {
      case 'TenantCreated':
        this.tenants.push([event.data.tenantId, event.data.slug, event.data.apiKeyHash]);
        this.tenantKeyEvents.push(event);
        return;
      case 'TenantKeyIssued':
      case 'TenantKeyRevoked':
        this.tenantKeyEvents.push(event);
        return;
      case 'RewardCreated': {
        const d = event.data;
        this.rewards.push([
          tenantId,
          d.rewardId,
          d.name,
          d.cost,
          d.stock,
          d.perMemberLimit,
          d.validFrom,
          d.validUntil,
          d.createdAt,
          d.category,
          tiersJson(d.tiers),
          d.voucher?.kind ?? null,
        ]);
        return;
      }
      case 'RewardUpdated': {
        const d = event.data;
        this.rewardTerms.set(`${tenantId}/${d.rewardId}`, [
          tenantId,
          d.rewardId,
          d.name,
          d.cost,
          d.perMemberLimit,
          d.validFrom,
          d.validUntil,
          d.category,
          tiersJson(d.tiers),
        ]);
        return;
      }
      case 'StockAdded':
        this.rewardStock.set(`${tenantId}/${event.data.rewardId}`, [tenantId, event.data.rewardId, event.data.stock]);
        return;
      case 'RewardDeactivated':
      case 'RewardReactivated':
        this.rewardActive.set(`${tenantId}/${event.data.rewardId}`, [tenantId, event.data.rewardId, event.type === 'RewardReactivated']);
        return;
      case 'StockReserved':
      case 'StockReleased': {
        const key = `${tenantId}/${event.data.rewardId}`;
        const entry = this.held.get(key) ?? { tenantId, rewardId: event.data.rewardId, delta: 0 };
        entry.delta += event.type === 'StockReserved' ? 1 : -1;
        this.held.set(key, entry);
        return;
      }
      case 'RedemptionRequested': {
        const d = event.data;
        this.redemptions.push([tenantId, d.redemptionId, d.userId, d.rewardId, d.cost, d.requestedAt, erasureDigest(tenantId, d.userId)]);
        return;
      }
      case 'RedemptionConfirmed':
      case 'RedemptionDeclineStarted':
      case 'RedemptionDeclined':
      case 'RedemptionFulfilled':
      case 'RedemptionCancellationRequested':
      case 'RedemptionCancellationCompleted': {
        const key = `${tenantId}/${event.data.redemptionId}`;
        const reason =
          event.type === 'RedemptionDeclined' || event.type === 'RedemptionDeclineStarted'
            ? event.data.reason
            : (this.statuses.get(key)?.reason ?? null);
        this.statuses.set(key, { tenantId, redemptionId: event.data.redemptionId, status: REDEMPTION_STATUS[event.type], reason, at });
        return;
      }
      case 'MemberEnrolled':
        this.enrolled.push([tenantId, event.data.userId]);
        return;
      case 'PointsEarned':
        this.lots.push([tenantId, event.data.userId, event.data.lotId, event.data.points, event.data.expiresAt]);
        return;
      case 'PointsAdjusted':
        if (event.data.points > 0)
          for (const lot of event.data.lots) this.lots.push([tenantId, event.data.userId, lot.lotId, lot.points, event.data.expiresAt]);
        else this.move(tenantId, event.data.userId, event.data.lots, -1);
        return;
      case 'PointsRedeemed':
        this.move(tenantId, event.data.userId, event.data.lots, -1);
        return;
      case 'RedemptionCancelled':
        this.move(tenantId, event.data.userId, event.data.lots, 1);
        return;
      case 'PointsClawedBack':
      case 'OwedPointsRepaid': {
        this.move(tenantId, event.data.userId, event.data.lots, -1);
        const delta = event.type === 'PointsClawedBack' ? event.data.owed : -event.data.points;
        if (delta === 0) return;
        const key = `${tenantId}/${event.data.userId}`;
        const entry = this.owed.get(key) ?? { tenantId, userId: event.data.userId, delta: 0 };
        entry.delta += delta;
        this.owed.set(key, entry);
        return;
      }
      case 'PointsExpired':
        this.move(tenantId, event.data.userId, [{ lotId: event.data.lotId, points: event.data.points }], -1);
        return;
      case 'PointsExpiringSoon':
        this.reminded.push([tenantId, event.data.userId, event.data.lotId]);
        return;
      case 'PointsTransferredOut':
        this.move(tenantId, event.data.userId, event.data.lots, -1);
        return;
      case 'PointsTransferredIn':
      case 'ReferralRewarded':
        this.lots.push([tenantId, event.data.userId, event.data.lotId, event.data.points, event.data.expiresAt]);
        return;
      case 'TierChanged':
      case 'TierRetained':
      case 'TierGraceStarted':
      case 'TierAssigned':
        this.tiers.set(`${tenantId}/${event.data.userId}`, {
          tenantId,
          userId: event.data.userId,
          tier: event.type === 'TierChanged' || event.type === 'TierAssigned' ? event.data.to : event.data.tier,
          reviewAt: event.data.reviewAt,
        });
        return;
      default:
        return;
    }
  }

  private move(tenantId: string, userId: string, lots: readonly { lotId: string; points: number }[], sign: 1 | -1): void {
    for (const { lotId, points } of lots) {
      const key = `${tenantId}/${userId}/${lotId}`;
      const entry = this.lotMoves.get(key) ?? { tenantId, userId, lotId, delta: 0 };
      entry.delta += sign * points;
      this.lotMoves.set(key, entry);
    }
  }

  /** Inserts before the updates that may touch the inserted rows. */
  async write(tx: EntityManager): Promise<void> {
    await insert(
      tx,
      'INSERT INTO rewards_tenants (tenant_id, slug, api_key_hash) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING',
      this.tenants,
      3,
    );
    await applyTenantKeyEvents(tx, TENANT_KEYS_TABLE, this.tenantKeyEvents);
    await insert(
      tx,
      `INSERT INTO rewards_catalog (tenant_id, reward_id, name, cost, stock, per_member_limit, valid_from, valid_until, created_at, category, tiers, voucher_kind)
       SELECT r.tenant_id, r.reward_id, r.name, r.cost, r.stock, r.per_member_limit, r.valid_from, r.valid_until, r.created_at, r.category,
              ${TIERS_FROM_JSON}, r.voucher_kind
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::int[], $6::int[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[],
                   $10::text[], $11::text[], $12::text[])
         AS r(tenant_id, reward_id, name, cost, stock, per_member_limit, valid_from, valid_until, created_at, category, tiers, voucher_kind)`,
      this.rewards,
      12,
    );
    await insert(
      tx,
      `UPDATE rewards_catalog c SET name = r.name, cost = r.cost, per_member_limit = r.per_member_limit, valid_from = r.valid_from,
              valid_until = r.valid_until, category = r.category, tiers = ${TIERS_FROM_JSON}
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::int[], $6::timestamptz[], $7::timestamptz[], $8::text[], $9::text[])
         AS r(tenant_id, reward_id, name, cost, per_member_limit, valid_from, valid_until, category, tiers)
       WHERE c.tenant_id = r.tenant_id AND c.reward_id = r.reward_id`,
      [...this.rewardTerms.values()],
      9,
    );
    await insert(
      tx,
      `UPDATE rewards_catalog c SET stock = r.stock FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS r(tenant_id, reward_id, stock)
       WHERE c.tenant_id = r.tenant_id AND c.reward_id = r.reward_id`,
      [...this.rewardStock.values()],
      3,
    );
    await insert(
      tx,
      `UPDATE rewards_catalog c SET active = r.active FROM unnest($1::uuid[], $2::uuid[], $3::boolean[]) AS r(tenant_id, reward_id, active)
       WHERE c.tenant_id = r.tenant_id AND c.reward_id = r.reward_id`,
      [...this.rewardActive.values()],
      3,
    );
    await insert(
      tx,
      `UPDATE rewards_catalog c SET held = c.held + m.delta FROM unnest($1::uuid[], $2::uuid[], $3::int[]) AS m(tenant_id, reward_id, delta)
       WHERE c.tenant_id = m.tenant_id AND c.reward_id = m.reward_id`,
      [...this.held.values()].map((m) => [m.tenantId, m.rewardId, m.delta]),
      3,
    );
    // A redemption requested just before its member's erasure can land in the log after it (the
    // redemption and wallet streams are ordered apart): it is stored without the user id then too.
    await insert(
      tx,
      `INSERT INTO rewards_redemptions (tenant_id, redemption_id, user_id, reward_id, cost, status, requested_at, updated_at)
       SELECT r.tenant_id, r.redemption_id,
              CASE WHEN EXISTS (SELECT 1 FROM rewards_erased_members e WHERE e.tenant_id = r.tenant_id AND e.member_digest = r.member_digest) THEN '' ELSE r.user_id END,
              r.reward_id, r.cost, 'requested', r.requested_at, r.requested_at
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::int[], $6::timestamptz[], $7::text[])
         AS r(tenant_id, redemption_id, user_id, reward_id, cost, requested_at, member_digest)`,
      this.redemptions,
      7,
    );
    await insert(
      tx,
      `UPDATE rewards_redemptions r SET status = s.status, reason = coalesce(s.reason, r.reason), updated_at = s.at
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[]) AS s(tenant_id, redemption_id, status, reason, at)
       WHERE r.tenant_id = s.tenant_id AND r.redemption_id = s.redemption_id`,
      [...this.statuses.values()].map((s) => [s.tenantId, s.redemptionId, s.status, s.reason, s.at]),
      5,
    );
    await insert(
      tx,
      `INSERT INTO rewards_lots (tenant_id, user_id, lot_id, remaining, expires_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[]) ON CONFLICT DO NOTHING`,
      this.lots,
      5,
    );
    await insert(
      tx,
      `UPDATE rewards_lots l SET remaining = l.remaining + m.delta FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[]) AS m(tenant_id, user_id, lot_id, delta)
       WHERE l.tenant_id = m.tenant_id AND l.user_id = m.user_id AND l.lot_id = m.lot_id`,
      [...this.lotMoves.values()].map((m) => [m.tenantId, m.userId, m.lotId, m.delta]),
      4,
    );
    await insert(
      tx,
      `UPDATE rewards_lots l SET reminded = true FROM unnest($1::uuid[], $2::text[], $3::text[]) AS m(tenant_id, user_id, lot_id)
       WHERE l.tenant_id = m.tenant_id AND l.user_id = m.user_id AND l.lot_id = m.lot_id`,
      this.reminded,
      3,
    );
    await insert(
      tx,
      `INSERT INTO rewards_members (tenant_id, user_id) SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING`,
      this.enrolled,
      2,
    );
    await insert(
      tx,
      `INSERT INTO rewards_members (tenant_id, user_id, tier, tier_review_at)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
       ON CONFLICT (tenant_id, user_id) DO UPDATE SET tier = excluded.tier, tier_review_at = excluded.tier_review_at`,
      [...this.tiers.values()].map((t) => [t.tenantId, t.userId, t.tier, t.reviewAt]),
      4,
    );
    // A member who owes has a row even without a tier: the members list subtracts what they owe.
    await insert(
      tx,
      `INSERT INTO rewards_members (tenant_id, user_id, owed)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[])
       ON CONFLICT (tenant_id, user_id) DO UPDATE SET owed = rewards_members.owed + excluded.owed`,
      [...this.owed.values()].map((o) => [o.tenantId, o.userId, o.delta]),
      3,
    );
    await writeTransactions(tx, this.transactions);
  }
}

/** A text[] column travels as JSON text: unnest would flatten an array of arrays into one. */
const tiersJson = (tiers: readonly string[] | null) => (tiers === null ? null : JSON.stringify(tiers));
const TIERS_FROM_JSON = `CASE WHEN r.tiers IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(r.tiers::jsonb)) END`;

/** Runs a statement over rows passed as one array per column (`unnest`), if there are any. */
async function insert(tx: EntityManager, sql: string, rows: readonly Row[], columns: number): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    sql,
    Array.from({ length: columns }, (_, column) => rows.map((row) => row[column] ?? null)),
  );
}

/**
 * Register erased the person: their lots and tier go, and their redemptions stay for the stock
 * and the admin views without saying whose they were. The erasure itself is remembered only as a
 * digest, so a redemption of theirs projected later is stored without the user id as well.
 */
async function forgetMember(tx: EntityManager, tenantId: string, userId: string): Promise<void> {
  await tx.query('INSERT INTO rewards_erased_members (tenant_id, member_digest) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    tenantId,
    erasureDigest(tenantId, userId),
  ]);
  await tx.query('DELETE FROM rewards_lots WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
  await tx.query('DELETE FROM rewards_members WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
  await forgetTransactions(tx, tenantId, userId);
  await tx.query(`UPDATE rewards_redemptions SET user_id = '' WHERE tenant_id = $1 AND user_id = $2`, [tenantId, userId]);
}

/**
 * How the read models recognise an erased member without keeping their user id: a one-way digest,
 * bound to the tenant. (The wallet stream, not a read model, keeps the pseudonymous id.)
 */
export function erasureDigest(tenantId: string, userId: string): string {
  return createHash('sha256').update(`rewards.erased-member\n${tenantId}\n${userId}`).digest('hex');
}
