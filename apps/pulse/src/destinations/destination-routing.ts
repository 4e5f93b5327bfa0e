import type { Pool } from 'pg';
import type { EntityManager } from 'typeorm';
import { fold, type EventEnvelope } from '#cqrs';
import { TRACKING_STREAM_PREFIX, trackingSubject } from '#contracts';
import type { JsonObject } from '#eventstore';
import { removeEndpoint, saveEndpoint, type OutboundRenderer, type OutboundRouter, type RoutedItem, type RouteScope } from '#outbound';
import { SEALED_FIELD, type PersonalDataCodec } from '#personal-data';
import { ExpiringLruCache } from '#platform';
import { destinationDecider, type DestinationState } from './destination.decider';
import { DESTINATION_STREAM_PREFIX, type DestinationEvent, type DestinationSettings } from './destination.events';
import { mapped, passesFilters, segmentMessage, webhookBody } from './webhook-format';

/** The outbox projection's name: its checkpoint and parked events. */
export const OUTBOX_PROJECTION = 'pulse.outbox';

interface DestinationRow {
  tenant_id: string;
  destination_id: string;
  state: DestinationState;
}

/**
 * Routes tracked messages to the tenant's webhook destinations. Destination changes come through
 * the same projection, in log order, so a message is routed by the destinations as they were when
 * it was stored: one created just before a message gets it, one deleted just before does not. The
 * read model (pulse_destinations, for listing) and the outbox's endpoints move in that same
 * transaction. Messages stay sealed; an already erased person is never routed.
 */
export function destinationRouter(): OutboundRouter {
  return {
    filter: {
      streamNamePrefixes: [TRACKING_STREAM_PREFIX, DESTINATION_STREAM_PREFIX],
      eventTypePrefixes: ['MessageReceived', 'Destination'],
    },
    async route(envelopes, tx, scope) {
      const destinations = await loadDestinations(tx, envelopes, scope);
      const items: RoutedItem[] = [];
      for (const envelope of envelopes) {
        const tenantId = envelope.metadata.tenantId;
        if (envelope.event.type === 'MessageReceived') {
          if (envelope.erased) continue;
          const data = envelope.event.data as JsonObject;
          for (const [destinationId, state] of destinations.get(tenantId) ?? []) {
            const settings = state.settings;
            if (state.status !== 'active' || !settings?.enabled) continue;
            // History moved in through /v1/import goes only where it is asked for.
            if (data.historical === true && settings.historical !== true) continue;
            if (!passesFilters(settings, String(data.kind), typeof data.event === 'string' ? data.event : undefined)) continue;
            items.push({
              tenantId,
              endpointId: destinationId,
              eventId: envelope.id,
              position: envelope.position,
              createdAt: envelope.createdAt,
              item: data,
            });
          }
        } else if (scope.kind === 'live') {
          await applyDestinationEvent(tx, destinations, tenantId, envelope as EventEnvelope<DestinationEvent>);
        }
      }
      return items;
    },
  };
}

async function loadDestinations(
  tx: EntityManager,
  envelopes: readonly EventEnvelope[],
  scope: RouteScope,
): Promise<Map<string, Map<string, DestinationState>>> {
  const tenants = scope.kind === 'replay' ? [scope.tenantId] : [...new Set(envelopes.map((envelope) => envelope.metadata.tenantId))];
  const rows: DestinationRow[] = await tx.query(
    `SELECT tenant_id, destination_id, state FROM pulse_destinations WHERE tenant_id = ANY($1::text[]) AND ($2::text IS NULL OR destination_id = $2)`,
    [tenants, scope.kind === 'replay' ? scope.endpointId : null],
  );
  const byTenant = new Map<string, Map<string, DestinationState>>();
  for (const row of rows) {
    const list = byTenant.get(row.tenant_id) ?? new Map<string, DestinationState>();
    list.set(row.destination_id, row.state);
    byTenant.set(row.tenant_id, list);
  }
  return byTenant;
}

/** The decider's own evolve keeps the read model, so it cannot disagree with what commands see. */
async function applyDestinationEvent(
  tx: EntityManager,
  destinations: Map<string, Map<string, DestinationState>>,
  tenantId: string,
  envelope: EventEnvelope<DestinationEvent>,
): Promise<void> {
  const { destinationId } = envelope.event.data;
  const list = destinations.get(tenantId) ?? new Map<string, DestinationState>();
  destinations.set(tenantId, list);
  const state = fold(destinationDecider, [envelope.event], list.get(destinationId) ?? destinationDecider.initialState());
  list.set(destinationId, state);
  if (state.status !== 'active' || !state.settings) {
    await tx.query('DELETE FROM pulse_destinations WHERE tenant_id = $1 AND destination_id = $2', [tenantId, destinationId]);
    await removeEndpoint(tx, tenantId, destinationId);
    return;
  }
  await tx.query(
    `INSERT INTO pulse_destinations (tenant_id, destination_id, state, created_at) VALUES ($1, $2, $3::jsonb, $4)
     ON CONFLICT (tenant_id, destination_id) DO UPDATE SET state = EXCLUDED.state`,
    [tenantId, destinationId, JSON.stringify(state), state.createdAt ?? envelope.createdAt.toISOString()],
  );
  await saveEndpoint(tx, {
    tenantId,
    endpointId: destinationId,
    url: state.settings.url,
    secrets: state.secrets,
    enabled: state.settings.enabled,
    ordered: state.settings.ordered,
    batchMax: state.settings.batching.maxMessages,
    batchWaitMs: state.settings.batching.maxWaitMs,
  });
}

/**
 * Opens each stored message as it goes out, so the mappings and the erasure are those of the
 * moment of sending: a person erased after the message was queued is dropped from it (their key
 * is gone), and a request left with no message is not sent at all.
 */
export class DestinationRenderer implements OutboundRenderer {
  private readonly settings = new ExpiringLruCache<DestinationSettings>(10_000, 2000);

  constructor(
    private readonly pool: Pool,
    private readonly personalData: PersonalDataCodec,
  ) {}

  async render(tenantId: string, endpointId: string, items: readonly JsonObject[]): Promise<string | undefined> {
    const settings = await this.settingsOf(tenantId, endpointId);
    if (!settings) return undefined;
    // Opened side by side: each may wait on its person's key, and a batch holds up to 500 people.
    const opened = await Promise.all(items.map((item) => this.open(tenantId, item)));
    const messages = opened.flatMap((message) => (message ? [mapped(segmentMessage(message), settings.mappings)] : []));
    return messages.length > 0 ? webhookBody(messages, settings) : undefined;
  }

  private async open(tenantId: string, stored: JsonObject): Promise<JsonObject | undefined> {
    if (!Object.hasOwn(stored, SEALED_FIELD)) {
      // Nothing sealed to find erased: ask whether the person was forgotten all the same.
      return (await this.personalData.isForgotten(tenantId, trackingSubject(stored))) ? undefined : stored;
    }
    const opened = await this.personalData.open(tenantId, stored);
    return opened.erased ? undefined : opened.data;
  }

  private async settingsOf(tenantId: string, destinationId: string): Promise<DestinationSettings | undefined> {
    const key = `${tenantId}/${destinationId}`;
    const hit = this.settings.get(key);
    if (hit) return hit;
    const { rows } = await this.pool.query<{ state: DestinationState }>(
      'SELECT state FROM pulse_destinations WHERE tenant_id = $1 AND destination_id = $2',
      [tenantId, destinationId],
    );
    const settings = rows[0]?.state.settings;
    if (settings) this.settings.set(key, settings);
    return settings;
  }
}
