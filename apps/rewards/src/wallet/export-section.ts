import type { EntityManager } from 'typeorm';
import type { EventCodec } from '#cqrs';
import type { EventStore, JsonObject, JsonValue } from '#eventstore';
import { jsonObjectFragments, SectionObject, type ExportIdentities } from '#contracts';
import { walletStreamFor } from '../rewards.streams';

/** Wallet events read from the log per query. */
const HISTORY_PAGE = 500;

/**
 * Rewards' section of an export: a wallet per member among the identities (tracked userIds and
 * register's account ids are members' ids; an e-mail finds the member it was notified at), with
 * its tier, balance and lots, its whole history (every transaction, oldest first, from the wallet's
 * stream) and its redemptions with the rewards' names.
 */
export function rewardsSection(deps: { readonly store: EventStore; readonly codec: EventCodec }) {
  return (tx: EntityManager, tenantId: string, identities: ExportIdentities): AsyncIterable<string> => {
    async function* wallets(): AsyncGenerator<SectionObject[]> {
      const byEmail: { user_id: string }[] = await tx.query(
        'SELECT user_id FROM rewards_member_emails WHERE tenant_id = $1 AND email_index = ANY($2)',
        [tenantId, identities.emailIndexes],
      );
      const userIds = [...new Set([...identities.userIds, ...byEmail.map((row) => row.user_id)])].sort();
      for (const userId of userIds) {
        const history = await deps.store.readStream(walletStreamFor(tenantId, userId), { maxCount: 1 });
        if (history.length === 0) continue;
        const member: { tier: string | null }[] = await tx.query('SELECT tier FROM rewards_members WHERE tenant_id = $1 AND user_id = $2', [
          tenantId,
          userId,
        ]);
        const lots: { lot_id: string; remaining: number; expires_at: Date | null }[] = await tx.query(
          'SELECT lot_id, remaining, expires_at FROM rewards_lots WHERE tenant_id = $1 AND user_id = $2 ORDER BY lot_id',
          [tenantId, userId],
        );
        const redemptions: {
          redemption_id: string;
          reward_id: string;
          name: string | null;
          cost: number;
          status: string;
          reason: string | null;
          requested_at: Date;
          updated_at: Date;
        }[] = await tx.query(
          `SELECT r.redemption_id::text, r.reward_id::text, c.name, r.cost, r.status, r.reason, r.requested_at, r.updated_at
             FROM rewards_redemptions r LEFT JOIN rewards_catalog c ON c.tenant_id = r.tenant_id AND c.reward_id = r.reward_id
            WHERE r.tenant_id = $1 AND r.user_id = $2 ORDER BY r.requested_at, r.redemption_id`,
          [tenantId, userId],
        );
        yield [
          new SectionObject({
            userId,
            tier: member[0]?.tier ?? null,
            // As the section was written: the points of the lots not yet expired.
            balance: lots
              .filter((lot) => !lot.expires_at || lot.expires_at.getTime() > Date.now())
              .reduce((sum, lot) => sum + lot.remaining, 0),
            lots: lots.map((lot) => ({ lotId: lot.lot_id, remaining: lot.remaining, expiresAt: lot.expires_at?.toISOString() ?? null })),
            transactions: transactions(deps, tenantId, userId),
            redemptions: redemptions.map((row) => ({
              redemptionId: row.redemption_id,
              reward: { id: row.reward_id, name: row.name },
              cost: row.cost,
              status: row.status,
              reason: row.reason,
              requestedAt: row.requested_at.toISOString(),
              updatedAt: row.updated_at.toISOString(),
            })),
          }),
        ];
      }
    }
    return jsonObjectFragments({ wallets: wallets() });
  };
}

/** The wallet's history as `GET /members/{id}/transactions` lists it, a page at a time. */
async function* transactions(
  deps: { readonly store: EventStore; readonly codec: EventCodec },
  tenantId: string,
  userId: string,
): AsyncGenerator<JsonValue[]> {
  for (let from = 0n; ;) {
    const recorded = await deps.store.readStream(walletStreamFor(tenantId, userId), { fromRevision: from, maxCount: HISTORY_PAGE });
    const page: JsonValue[] = [];
    for (const event of recorded) {
      if (!deps.codec.understands(event)) continue;
      const envelope = await deps.codec.decode(event);
      page.push({ type: envelope.event.type, at: envelope.metadata.occurredAt, ...(envelope.event.data as JsonObject) });
    }
    yield page;
    if (recorded.length < HISTORY_PAGE) return;
    from = recorded[recorded.length - 1]!.revision + 1n;
  }
}
