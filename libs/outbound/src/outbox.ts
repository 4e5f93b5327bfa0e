import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { EventEnvelope, Projection } from '#cqrs';
import { positionToString, type EventFilter, type JsonObject, type Position } from '#eventstore';

/** One event bound for one endpoint, with what the endpoint's renderer will need of it. */
export interface RoutedItem {
  readonly tenantId: string;
  readonly endpointId: string;
  readonly eventId: string;
  readonly position: Position;
  readonly createdAt: Date;
  /** Stored in the outbox until delivered: keep personal fields sealed (the renderer opens them). */
  readonly item: JsonObject;
}

/** Live routing may also keep the app's own tables; a replay routes to one endpoint and changes nothing else. */
export type RouteScope = { readonly kind: 'live' } | { readonly kind: 'replay'; readonly tenantId: string; readonly endpointId: string };

/** What an app tells the outbox: which events may leave, and to which of its endpoints each goes. */
export interface OutboundRouter {
  readonly filter: EventFilter;
  /** Runs in the projection's transaction, in log order; envelopes come with personal fields sealed. */
  route(envelopes: readonly EventEnvelope[], tx: EntityManager, scope: RouteScope): Promise<readonly RoutedItem[]>;
}

/** A signing secret as it is kept: sealed, and until when it still signs (null: the current one). */
export interface StoredSecret {
  readonly sealed: string;
  readonly validUntil: string | null;
}

export interface EndpointSettings {
  readonly tenantId: string;
  readonly endpointId: string;
  readonly url: string;
  readonly secrets: readonly StoredSecret[];
  readonly enabled: boolean;
  readonly ordered: boolean;
  /** Messages per request at most; 1 sends each on its own. */
  readonly batchMax: number;
}

/** Creates or changes an endpoint, in the caller's transaction (the app's projection of its settings). */
export async function saveEndpoint(tx: EntityManager, endpoint: EndpointSettings): Promise<void> {
  await tx.query(
    `INSERT INTO outbound_endpoints (tenant_id, endpoint_id, url, secrets, enabled, ordered, batch_max)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
     ON CONFLICT (tenant_id, endpoint_id) DO UPDATE SET url = EXCLUDED.url, secrets = EXCLUDED.secrets,
       enabled = EXCLUDED.enabled, ordered = EXCLUDED.ordered, batch_max = EXCLUDED.batch_max,
       -- A new URL is a new receiver: its circuit starts closed.
       failures = CASE WHEN outbound_endpoints.url = EXCLUDED.url THEN outbound_endpoints.failures ELSE 0 END,
       open_until = CASE WHEN outbound_endpoints.url = EXCLUDED.url THEN outbound_endpoints.open_until END`,
    [
      endpoint.tenantId,
      endpoint.endpointId,
      endpoint.url,
      JSON.stringify(endpoint.secrets),
      endpoint.enabled,
      endpoint.ordered,
      endpoint.batchMax,
    ],
  );
}

/** Removes an endpoint and everything still to be sent to it. */
export async function removeEndpoint(tx: EntityManager, tenantId: string, endpointId: string): Promise<void> {
  await tx.query('DELETE FROM outbound_deliveries WHERE tenant_id = $1 AND endpoint_id = $2', [tenantId, endpointId]);
  await tx.query('DELETE FROM outbound_replays WHERE tenant_id = $1 AND endpoint_id = $2', [tenantId, endpointId]);
  await tx.query('DELETE FROM outbound_endpoints WHERE tenant_id = $1 AND endpoint_id = $2', [tenantId, endpointId]);
}

/**
 * Turns routed items into deliveries: each endpoint's items in log order, cut into requests of its
 * batch size. The webhook-id is derived from the endpoint, the lane and the events, so an enqueue
 * that runs twice (a batch replayed after a crash before its commit) adds nothing.
 */
export async function enqueue(tx: EntityManager, items: readonly RoutedItem[], lane: string, laneKey = lane): Promise<number> {
  if (items.length === 0) return 0;
  const byEndpoint = new Map<string, RoutedItem[]>();
  for (const item of items) {
    const key = `${item.tenantId}\u0000${item.endpointId}`;
    const list = byEndpoint.get(key) ?? [];
    list.push(item);
    byEndpoint.set(key, list);
  }
  const tenants = [...byEndpoint.values()].map((list) => list[0]!.tenantId);
  const endpoints = [...byEndpoint.values()].map((list) => list[0]!.endpointId);
  const sizes: { tenant_id: string; endpoint_id: string; batch_max: number }[] = await tx.query(
    `SELECT tenant_id, endpoint_id, batch_max FROM outbound_endpoints
     WHERE (tenant_id, endpoint_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [tenants, endpoints],
  );
  const batchMax = new Map(sizes.map((row) => [`${row.tenant_id}\u0000${row.endpoint_id}`, row.batch_max]));
  const rows: object[] = [];
  for (const [key, list] of byEndpoint) {
    const size = batchMax.get(key);
    if (size === undefined) continue;
    for (let start = 0; start < list.length; start += size) {
      const chunk = list.slice(start, start + size);
      const first = chunk[0]!;
      const last = chunk[chunk.length - 1]!;
      rows.push({
        tenant_id: first.tenantId,
        endpoint_id: first.endpointId,
        webhook_id: webhookIdOf(first.endpointId, laneKey, chunk),
        lane,
        items: chunk.map((each) => each.item),
        item_count: chunk.length,
        first_position: positionToString(first.position),
        last_position: positionToString(last.position),
        event_at: first.createdAt.toISOString(),
      });
    }
  }
  if (rows.length === 0) return 0;
  await tx.query(
    // In the order given (WITH ORDINALITY): ids follow log order, which ordered endpoints rely on.
    `INSERT INTO outbound_deliveries (tenant_id, endpoint_id, webhook_id, lane, items, item_count, first_position, last_position, event_at)
     SELECT r->>'tenant_id', r->>'endpoint_id', r->>'webhook_id', r->>'lane', r->'items', (r->>'item_count')::integer,
       r->>'first_position', r->>'last_position', (r->>'event_at')::timestamptz
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(r, n)
     ORDER BY n
     ON CONFLICT (tenant_id, endpoint_id, webhook_id) DO NOTHING`,
    [JSON.stringify(rows)],
  );
  return rows.length;
}

function webhookIdOf(endpointId: string, laneKey: string, chunk: readonly RoutedItem[]): string {
  const hash = createHash('sha256').update(endpointId).update('\u0000').update(laneKey);
  for (const item of chunk) hash.update('\u0000').update(item.eventId);
  return `msg_${hash.digest('base64url').slice(0, 32)}`;
}

/**
 * The outbox's feed: a projection (checkpointed by the ProjectionRunner like any other) whose read
 * model is the deliveries table. Enqueued in the same transaction as the checkpoint, an event is
 * neither lost nor enqueued twice across a crash. Personal fields stay sealed: the outbox holds no
 * readable copy of anyone's data, and a person erased before delivery is not delivered.
 */
export function outboxProjection(name: string, router: OutboundRouter, onCommitted?: () => void): Projection {
  return {
    name,
    filter: router.filter,
    openPersonalData: false,
    maxBatch: 1000,
    async applyBatch(envelopes, tx) {
      await enqueue(tx, await router.route(envelopes, tx, { kind: 'live' }), 'live');
    },
    committed: onCommitted,
  };
}
