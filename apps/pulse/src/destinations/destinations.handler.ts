import type { Pool } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import type { CommandContext, CommandRunner } from '#cqrs';
import { generateSigningSecret, type SecretBox } from '#outbound';
import { destinationDecider, type DestinationState } from './destination.decider';
import { destinationStreamFor, type DestinationSettings } from './destination.events';

/** Destinations one tenant may have: each is consulted for every message the tenant tracks. */
export const MAX_DESTINATIONS_PER_TENANT = 50;

/**
 * Commands on a destination's stream through the shared CommandRunner (read, decide, append with
 * the expected revision). Secrets are generated here, outside the decider, and enter it sealed:
 * the plain secret is returned to the caller once and never stored or logged.
 */
export class DestinationsHandler {
  constructor(
    private readonly commands: CommandRunner,
    private readonly box: SecretBox,
    private readonly pool: Pool,
  ) {}

  async create(settings: DestinationSettings, context: CommandContext) {
    const destinationId = uuidv7();
    const secret = generateSigningSecret();
    const outcome = await this.commands.handle({
      streamName: destinationStreamFor(context.tenantId, destinationId),
      decider: destinationDecider,
      command: {
        type: 'CreateDestination',
        destinationId,
        settings,
        secret: { sealed: this.box.seal(secret, destinationId) },
        now: context.now,
      },
      context,
      expectNewStream: true,
    });
    return { destinationId, secret, outcome };
  }

  change(destinationId: string, changes: Partial<DestinationSettings>, context: CommandContext) {
    return this.commands.handle({
      streamName: destinationStreamFor(context.tenantId, destinationId),
      decider: destinationDecider,
      command: { type: 'ChangeDestination', changes, now: context.now },
      context,
    });
  }

  async rotateSecret(destinationId: string, graceMs: number, context: CommandContext) {
    const secret = generateSigningSecret();
    const outcome = await this.commands.handle({
      streamName: destinationStreamFor(context.tenantId, destinationId),
      decider: destinationDecider,
      command: { type: 'RotateSecret', secret: { sealed: this.box.seal(secret, destinationId) }, graceMs, now: context.now },
      context,
    });
    return { secret, outcome };
  }

  delete(destinationId: string, context: CommandContext) {
    return this.commands.handle({
      streamName: destinationStreamFor(context.tenantId, destinationId),
      decider: destinationDecider,
      command: { type: 'DeleteDestination', now: context.now },
      context,
    });
  }

  /** From the stream: exact right after a write, whatever the read model has caught up with. */
  async load(tenantId: string, destinationId: string): Promise<DestinationState> {
    return (await this.commands.load(destinationStreamFor(tenantId, destinationId), destinationDecider)).state;
  }

  /** The tenant's destinations from the read model, oldest first, paginated by id. */
  async list(tenantId: string, after: string | undefined, limit: number): Promise<{ id: string; state: DestinationState }[]> {
    const { rows } = await this.pool.query<{ destination_id: string; state: DestinationState }>(
      `SELECT destination_id, state FROM pulse_destinations WHERE tenant_id = $1 AND destination_id > $2 ORDER BY destination_id LIMIT $3`,
      [tenantId, after ?? '', limit],
    );
    return rows.map((row) => ({ id: row.destination_id, state: row.state }));
  }

  async count(tenantId: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM pulse_destinations WHERE tenant_id = $1', [
      tenantId,
    ]);
    return Number(rows[0]?.n ?? 0);
  }
}
