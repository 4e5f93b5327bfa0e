import type { Pool } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import type { CommandContext, CommandRunner } from '#cqrs';
import { generateSigningSecret, type SecretBox } from '#outbound';
import { webhookStreamFor } from '../rewards.streams';
import { webhookDecider, type WebhookState } from './webhook.decider';
import type { WebhookSettings } from './webhook.events';

/** Endpoints one tenant may have: each is consulted for every event of every member. */
export const MAX_WEBHOOKS_PER_TENANT = 20;

/**
 * Commands on a webhook endpoint's stream. Secrets are generated here, outside the decider, and
 * enter it sealed: the plain secret is returned to the caller once and never stored or logged.
 */
export class WebhooksHandler {
  constructor(
    private readonly commands: CommandRunner,
    private readonly box: SecretBox,
    private readonly pool: Pool,
  ) {}

  async create(settings: WebhookSettings, context: CommandContext) {
    const endpointId = uuidv7();
    const secret = generateSigningSecret();
    const outcome = await this.commands.handle({
      streamName: webhookStreamFor(context.tenantId, endpointId),
      decider: webhookDecider,
      command: { type: 'Create', endpointId, settings, secret: { sealed: this.box.seal(secret, endpointId) }, now: context.now },
      context,
      expectNewStream: true,
    });
    return { endpointId, secret, outcome };
  }

  change(endpointId: string, changes: Partial<WebhookSettings>, context: CommandContext) {
    return this.commands.handle({
      streamName: webhookStreamFor(context.tenantId, endpointId),
      decider: webhookDecider,
      command: { type: 'Change', changes, now: context.now },
      context,
    });
  }

  async rotateSecret(endpointId: string, graceMs: number, context: CommandContext) {
    const secret = generateSigningSecret();
    const outcome = await this.commands.handle({
      streamName: webhookStreamFor(context.tenantId, endpointId),
      decider: webhookDecider,
      command: { type: 'RotateSecret', secret: { sealed: this.box.seal(secret, endpointId) }, graceMs, now: context.now },
      context,
    });
    return { secret, outcome };
  }

  delete(endpointId: string, context: CommandContext) {
    return this.commands.handle({
      streamName: webhookStreamFor(context.tenantId, endpointId),
      decider: webhookDecider,
      command: { type: 'Delete', now: context.now },
      context,
    });
  }

  /** From the stream: exact right after a write, whatever the read model has caught up with. */
  async load(tenantId: string, endpointId: string): Promise<WebhookState> {
    return (await this.commands.load(webhookStreamFor(tenantId, endpointId), webhookDecider)).state;
  }

  /** The tenant's endpoints from the read model, oldest first, paginated by id. */
  async list(tenantId: string, after: string | undefined, limit: number): Promise<{ id: string; state: WebhookState }[]> {
    const { rows } = await this.pool.query<{ endpoint_id: string; state: WebhookState }>(
      `SELECT endpoint_id::text, state FROM rewards_webhooks WHERE tenant_id = $1 AND endpoint_id::text > $2 ORDER BY endpoint_id LIMIT $3`,
      [tenantId, after ?? '', limit],
    );
    return rows.map((row) => ({ id: row.endpoint_id, state: row.state }));
  }

  async count(tenantId: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rewards_webhooks WHERE tenant_id = $1', [
      tenantId,
    ]);
    return rows[0]?.n ?? 0;
  }
}
