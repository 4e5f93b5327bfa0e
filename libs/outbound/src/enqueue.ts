import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { positionToString } from '#eventstore';
import type { RoutedItem } from './outbox';

interface EndpointBatching {
  readonly batchMax: number;
  readonly batchWaitMs: number;
}

/**
 * Turns routed items into deliveries: each endpoint's items in log order, cut into requests of its
 * batch size. For an endpoint that batches, items first fill its newest delivery while that one
 * has never been sent (it waits up to the endpoint's batch wait for more, or goes as soon as it is
 * full), so a trickle of events still makes full batches. The webhook-id is fixed when a delivery
 * is created, from the endpoint, the lane and its first events: every attempt carries the same
 * one, and an enqueue that runs again (a batch replayed after a crash) adds nothing.
 */
export async function enqueue(tx: EntityManager, items: readonly RoutedItem[], lane: string, laneKey = lane): Promise<number> {
  if (items.length === 0) return 0;
  const byEndpoint = new Map<string, RoutedItem[]>();
  for (const item of items) {
    const key = endpointKey(item.tenantId, item.endpointId);
    const list = byEndpoint.get(key) ?? [];
    list.push(item);
    byEndpoint.set(key, list);
  }
  const batching = await batchingOf(
    tx,
    [...byEndpoint.values()].map((list) => list[0]!),
  );
  const rows: object[] = [];
  for (const [key, all] of byEndpoint) {
    const endpoint = batching.get(key);
    if (!endpoint) continue;
    const list = endpoint.batchMax > 1 ? all.slice(await topUp(tx, all, lane, endpoint)) : all;
    for (let start = 0; start < list.length; start += endpoint.batchMax) {
      const chunk = list.slice(start, start + endpoint.batchMax);
      const first = chunk[0]!;
      const full = chunk.length >= endpoint.batchMax;
      rows.push({
        tenant_id: first.tenantId,
        endpoint_id: first.endpointId,
        webhook_id: webhookIdOf(first.endpointId, laneKey, chunk),
        lane,
        items: chunk.map((each) => each.item),
        item_count: chunk.length,
        first_position: positionToString(first.position),
        last_position: positionToString(chunk[chunk.length - 1]!.position),
        event_at: first.createdAt.toISOString(),
        wait_ms: full ? 0 : endpoint.batchWaitMs,
      });
    }
  }
  if (rows.length === 0) return 0;
  await tx.query(
    // In the order given (WITH ORDINALITY): ids follow log order, which ordered endpoints rely on.
    `INSERT INTO outbound_deliveries (tenant_id, endpoint_id, webhook_id, lane, items, item_count, first_position, last_position, event_at, next_attempt_at)
     SELECT r->>'tenant_id', r->>'endpoint_id', r->>'webhook_id', r->>'lane', r->'items', (r->>'item_count')::integer,
       r->>'first_position', r->>'last_position', (r->>'event_at')::timestamptz, now() + (r->>'wait_ms')::integer * interval '1 millisecond'
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(r, n)
     ORDER BY n
     ON CONFLICT (tenant_id, endpoint_id, webhook_id) DO NOTHING`,
    [JSON.stringify(rows)],
  );
  return rows.length;
}

function endpointKey(tenantId: string, endpointId: string): string {
  return `${tenantId}\u0000${endpointId}`;
}

async function batchingOf(tx: EntityManager, endpoints: readonly RoutedItem[]): Promise<Map<string, EndpointBatching>> {
  const rows: { tenant_id: string; endpoint_id: string; batch_max: number; batch_wait_ms: number }[] = await tx.query(
    `SELECT tenant_id, endpoint_id, batch_max, batch_wait_ms FROM outbound_endpoints
     WHERE (tenant_id, endpoint_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [endpoints.map((each) => each.tenantId), endpoints.map((each) => each.endpointId)],
  );
  return new Map(
    rows.map((row) => [endpointKey(row.tenant_id, row.endpoint_id), { batchMax: row.batch_max, batchWaitMs: row.batch_wait_ms }]),
  );
}

/**
 * Adds the first items to the endpoint's newest delivery of the lane if it was never sent and has
 * room; answers how many it took. Only the newest one: an earlier one would put items out of log
 * order. The row lock waits for a claim in progress, after which the delivery counts as sent.
 */
async function topUp(tx: EntityManager, items: readonly RoutedItem[], lane: string, endpoint: EndpointBatching): Promise<number> {
  const { tenantId, endpointId } = items[0]!;
  const open: { id: string; item_count: number }[] = await tx.query(
    `WITH newest AS (
       SELECT id, item_count, attempts, leased_until FROM outbound_deliveries
       WHERE tenant_id = $1 AND endpoint_id = $2 AND lane = $3 AND state = 'pending' ORDER BY id DESC LIMIT 1 FOR UPDATE
     )
     SELECT id::text, item_count FROM newest WHERE attempts = 0 AND leased_until IS NULL AND item_count < $4`,
    [tenantId, endpointId, lane, endpoint.batchMax],
  );
  const target = open[0];
  if (!target) return 0;
  const taken = items.slice(0, endpoint.batchMax - target.item_count);
  const full = target.item_count + taken.length >= endpoint.batchMax;
  await tx.query(
    `UPDATE outbound_deliveries SET items = items || $2::jsonb, item_count = item_count + $3, last_position = $4,
       next_attempt_at = CASE WHEN $5 THEN now() ELSE next_attempt_at END
     WHERE id = $1`,
    [target.id, JSON.stringify(taken.map((each) => each.item)), taken.length, positionToString(taken[taken.length - 1]!.position), full],
  );
  return taken.length;
}

function webhookIdOf(endpointId: string, laneKey: string, chunk: readonly RoutedItem[]): string {
  const hash = createHash('sha256').update(endpointId).update('\u0000').update(laneKey);
  for (const item of chunk) hash.update('\u0000').update(item.eventId);
  return `msg_${hash.digest('base64url').slice(0, 32)}`;
}
