import type { EntityManager } from 'typeorm';
import type { WalletEvent } from '../wallet/wallet.events';

/**
 * The tenant's points movements across members, in time order, for finance's export: one row per
 * wallet event that changes a balance, written by the read-model projection in the batch that
 * moves the lots (so the export and the liability report agree), and deleted with the member's
 * other rows when register erases them.
 *
 * `points` is the change to the member's balance (spendable lots less what they owe): a refund
 * takes its lots and what it leaves owed; `OwedPointsRepaid` (points received paying a debt)
 * changes no balance and has no row.
 */
export type TransactionKind =
  | 'earned'
  | 'redeemed'
  | 'redemption_cancelled'
  | 'expired'
  | 'adjusted'
  | 'clawed_back'
  | 'transferred_out'
  | 'transferred_in'
  | 'referral';

export interface TransactionRow {
  readonly eventId: string;
  readonly userId: string;
  readonly kind: TransactionKind;
  readonly points: number;
  /** Why, in a word or the operator's words: the rule, the reward, the operator's reason, refund/return, the referral role. */
  readonly reason: string | null;
  readonly orderId: string | null;
  readonly campaigns: readonly { campaignId: string; points: number }[] | null;
  /** What the movement belongs to: the lot, redemption, adjustment, refund, transfer or referral. */
  readonly reference: string | null;
  /** The other member of a transfer, or the operator of an adjustment. */
  readonly counterparty: string | null;
}

const movement = (
  eventId: string,
  userId: string,
  kind: TransactionKind,
  points: number,
  more: Partial<Omit<TransactionRow, 'eventId' | 'userId' | 'kind' | 'points'>>,
): TransactionRow => ({
  eventId,
  userId,
  kind,
  points,
  reason: null,
  orderId: null,
  campaigns: null,
  reference: null,
  counterparty: null,
  ...more,
});

const sum = (lots: readonly { points: number }[]) => lots.reduce((total, lot) => total + lot.points, 0);

/** The export's row for a wallet event, or null for the events that move no points. */
export function transactionOf(eventId: string, event: WalletEvent): TransactionRow | null {
  switch (event.type) {
    case 'PointsEarned': {
      const d = event.data;
      return movement(eventId, d.userId, 'earned', d.points, {
        reason: d.ruleId,
        orderId: d.orderId,
        campaigns: d.campaigns?.length ? d.campaigns : null,
        reference: d.lotId,
      });
    }
    case 'PointsRedeemed':
      return movement(eventId, event.data.userId, 'redeemed', -event.data.points, {
        reason: event.data.rewardId,
        reference: event.data.redemptionId,
      });
    case 'RedemptionCancelled':
      return movement(eventId, event.data.userId, 'redemption_cancelled', event.data.points, { reference: event.data.redemptionId });
    case 'PointsExpired':
      return movement(eventId, event.data.userId, 'expired', -event.data.points, { reference: event.data.lotId });
    case 'PointsAdjusted':
      return movement(eventId, event.data.userId, 'adjusted', event.data.points, {
        reason: event.data.reason,
        reference: event.data.adjustmentId,
        counterparty: event.data.actor,
      });
    case 'PointsClawedBack':
      return movement(eventId, event.data.userId, 'clawed_back', -(sum(event.data.lots) + event.data.owed), {
        reason: event.data.cause,
        orderId: event.data.orderId,
        reference: event.data.refundId,
      });
    case 'PointsTransferredOut':
      return movement(eventId, event.data.userId, 'transferred_out', -event.data.points, {
        reference: event.data.transferId,
        counterparty: event.data.to,
      });
    case 'PointsTransferredIn':
      return movement(eventId, event.data.userId, 'transferred_in', event.data.points, {
        reason: event.data.returned ? 'returned' : null,
        reference: event.data.transferId,
        counterparty: event.data.from,
      });
    case 'ReferralRewarded':
      return movement(eventId, event.data.userId, 'referral', event.data.points, {
        reason: event.data.role,
        reference: event.data.referralId,
      });
    default:
      return null;
  }
}

/**
 * Stores a batch's movements in one statement. A replayed batch finds its rows and adds nothing
 * (the event id is the key). Times are kept to the millisecond, as the export's keyset pages
 * compare them in JavaScript dates.
 */
export async function writeTransactions(
  tx: EntityManager,
  rows: readonly { tenantId: string; at: string; row: TransactionRow }[],
): Promise<void> {
  if (rows.length === 0) return;
  const column = <T>(pick: (entry: { tenantId: string; at: string; row: TransactionRow }) => T) => rows.map(pick);
  await tx.query(
    `INSERT INTO rewards_transactions (tenant_id, event_id, user_id, at, kind, points, reason, order_id, campaigns, reference, counterparty)
     SELECT t.tenant_id, t.event_id, t.user_id, date_trunc('milliseconds', t.at), t.kind, t.points, t.reason, t.order_id, t.campaigns::jsonb,
            t.reference, t.counterparty
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[],
                 $10::text[], $11::text[])
       AS t(tenant_id, event_id, user_id, at, kind, points, reason, order_id, campaigns, reference, counterparty)
     ON CONFLICT DO NOTHING`,
    [
      column((e) => e.tenantId),
      column((e) => e.row.eventId),
      column((e) => e.row.userId),
      column((e) => e.at),
      column((e) => e.row.kind),
      column((e) => e.row.points),
      column((e) => e.row.reason),
      column((e) => e.row.orderId),
      column((e) => (e.row.campaigns ? JSON.stringify(e.row.campaigns) : null)),
      column((e) => e.row.reference),
      column((e) => e.row.counterparty),
    ],
  );
}

/** Erasure: the person's movements go with their lots (the adjustment reasons were their personal data). */
export async function forgetTransactions(tx: EntityManager, tenantId: string, userId: string): Promise<void> {
  await tx.query('DELETE FROM rewards_transactions WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
}
