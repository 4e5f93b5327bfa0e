import type { Pool } from 'pg';
import type { EntityManager } from 'typeorm';
import { fold, type CommandRunner, type EventEnvelope } from '#cqrs';
import type { JsonObject } from '#eventstore';
import { removeEndpoint, saveEndpoint, type OutboundRenderer, type OutboundRouter, type RoutedItem, type RouteScope } from '#outbound';
import { redemptionDecider } from '../redemption/redemption.decider';
import { erasureDigest } from '../rewards.projection';
import { REDEMPTION_STREAM_PREFIX, redemptionStreamFor, WALLET_STREAM_PREFIX, WEBHOOK_STREAM_PREFIX } from '../rewards.streams';
import { webhookDecider, type WebhookState } from './webhook.decider';
import type { WebhookEndpointEvent } from './webhook.events';
import { takes, webhookMessage, webhookTypeOf, type RedemptionFacts } from './webhook-messages';

/** The outbox projection's name: its checkpoint and parked events. */
export const REWARDS_OUTBOX_PROJECTION = 'rewards.outbox';

type Endpoints = Map<string, Map<string, WebhookState>>;

/**
 * Routes the wallets' and redemptions' events to the tenant's webhook endpoints. Endpoint changes
 * come through the same projection, in log order, so an event goes to the endpoints as they were
 * when it was stored. The read model (rewards_webhooks) and the outbox's endpoints move in that
 * same transaction. A redemption's later events name only the redemption: its member, reward and
 * cost are read from its stream (written before them) when some endpoint takes the message.
 */
export function webhookRouter(commands: CommandRunner): OutboundRouter {
  const redemptionFacts = async (tenantId: string, redemptionId: string): Promise<RedemptionFacts | undefined> =>
    (await commands.load(redemptionStreamFor(tenantId, redemptionId), redemptionDecider)).state.request;
  return {
    filter: {
      streamNamePrefixes: [WALLET_STREAM_PREFIX, REDEMPTION_STREAM_PREFIX, WEBHOOK_STREAM_PREFIX],
      eventTypePrefixes: [
        'Points',
        'ReferralRewarded',
        'TierChanged',
        'RedemptionConfirmed',
        'RedemptionFulfilled',
        'RedemptionCancellationCompleted',
        'WebhookEndpoint',
      ],
    },
    async route(envelopes, tx, scope) {
      const endpoints = await loadEndpoints(tx, envelopes, scope);
      const items: RoutedItem[] = [];
      for (const envelope of envelopes) {
        const tenantId = envelope.metadata.tenantId;
        if (envelope.streamName.startsWith(WEBHOOK_STREAM_PREFIX)) {
          if (scope.kind === 'live') await applyEndpointEvent(tx, endpoints, tenantId, envelope as EventEnvelope<WebhookEndpointEvent>);
          continue;
        }
        const type = webhookTypeOf(envelope.event.type);
        if (!type) continue;
        const targets = [...(endpoints.get(tenantId) ?? [])].filter(
          ([, state]) => state.status === 'active' && takes(state.settings!, type),
        );
        if (targets.length === 0) continue;
        const data = envelope.event.data as JsonObject;
        const facts = type.startsWith('redemption.') ? await redemptionFacts(tenantId, String(data.redemptionId)) : undefined;
        const message = webhookMessage({ id: envelope.id, type: envelope.event.type, data, createdAt: envelope.createdAt }, facts);
        if (!message) continue;
        for (const [endpointId] of targets) {
          items.push({
            tenantId,
            endpointId,
            eventId: envelope.id,
            position: envelope.position,
            createdAt: envelope.createdAt,
            item: message,
          });
        }
      }
      return items;
    },
  };
}

async function loadEndpoints(tx: EntityManager, envelopes: readonly EventEnvelope[], scope: RouteScope): Promise<Endpoints> {
  const tenants = scope.kind === 'replay' ? [scope.tenantId] : [...new Set(envelopes.map((envelope) => envelope.metadata.tenantId))];
  const rows: { tenant_id: string; endpoint_id: string; state: WebhookState }[] = await tx.query(
    `SELECT tenant_id::text, endpoint_id::text, state FROM rewards_webhooks
     WHERE tenant_id::text = ANY($1::text[]) AND ($2::text IS NULL OR endpoint_id::text = $2)`,
    [tenants, scope.kind === 'replay' ? scope.endpointId : null],
  );
  const byTenant: Endpoints = new Map();
  for (const row of rows) {
    const list = byTenant.get(row.tenant_id) ?? new Map<string, WebhookState>();
    list.set(row.endpoint_id, row.state);
    byTenant.set(row.tenant_id, list);
  }
  return byTenant;
}

/** The decider's own evolve keeps the read model, so it cannot disagree with what commands see. */
async function applyEndpointEvent(
  tx: EntityManager,
  endpoints: Endpoints,
  tenantId: string,
  envelope: EventEnvelope<WebhookEndpointEvent>,
): Promise<void> {
  const { endpointId } = envelope.event.data;
  const list = endpoints.get(tenantId) ?? new Map<string, WebhookState>();
  endpoints.set(tenantId, list);
  const state = fold(webhookDecider, [envelope.event], list.get(endpointId) ?? webhookDecider.initialState());
  list.set(endpointId, state);
  if (state.status !== 'active' || !state.settings) {
    await tx.query('DELETE FROM rewards_webhooks WHERE tenant_id = $1 AND endpoint_id = $2', [tenantId, endpointId]);
    await removeEndpoint(tx, tenantId, endpointId);
    return;
  }
  await tx.query(
    `INSERT INTO rewards_webhooks (tenant_id, endpoint_id, state, created_at) VALUES ($1, $2, $3::jsonb, $4)
     ON CONFLICT (tenant_id, endpoint_id) DO UPDATE SET state = EXCLUDED.state`,
    [tenantId, endpointId, JSON.stringify(state), state.createdAt ?? envelope.createdAt.toISOString()],
  );
  await saveEndpoint(tx, {
    tenantId,
    endpointId,
    url: state.settings.url,
    secrets: state.secrets,
    enabled: state.settings.enabled,
    ordered: false,
    batchMax: 1,
    batchWaitMs: 0,
  });
}

/**
 * The body of one request: the message as it was routed, unless its member was erased since (the
 * read model keeps erasures as digests): then nothing is sent.
 */
export class WebhookRenderer implements OutboundRenderer {
  constructor(private readonly pool: Pool) {}

  async render(tenantId: string, _endpointId: string, items: readonly JsonObject[]): Promise<string | undefined> {
    const message = items[0];
    if (!message) return undefined;
    const userId = (message.data as JsonObject | undefined)?.userId;
    if (typeof userId === 'string') {
      const { rowCount } = await this.pool.query('SELECT 1 FROM rewards_erased_members WHERE tenant_id = $1 AND member_digest = $2', [
        tenantId,
        erasureDigest(tenantId, userId),
      ]);
      if (rowCount) return undefined;
    }
    return JSON.stringify(message);
  }
}
