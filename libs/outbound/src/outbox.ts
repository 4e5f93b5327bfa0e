import type { EntityManager } from 'typeorm';
import type { EventEnvelope, Projection } from '#cqrs';
import type { EventFilter, JsonObject, Position } from '#eventstore';
import { enqueue } from './enqueue';

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
  /** How long a batch that is not full waits for more messages before it is sent. */
  readonly batchWaitMs: number;
}

/** Creates or changes an endpoint, in the caller's transaction (the app's projection of its settings). */
export async function saveEndpoint(tx: EntityManager, endpoint: EndpointSettings): Promise<void> {
  await tx.query(
    `INSERT INTO outbound_endpoints (tenant_id, endpoint_id, url, secrets, enabled, ordered, batch_max, batch_wait_ms)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)
     ON CONFLICT (tenant_id, endpoint_id) DO UPDATE SET url = EXCLUDED.url, secrets = EXCLUDED.secrets,
       enabled = EXCLUDED.enabled, ordered = EXCLUDED.ordered, batch_max = EXCLUDED.batch_max, batch_wait_ms = EXCLUDED.batch_wait_ms,
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
      endpoint.batchWaitMs,
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
