import type { EntityManager } from 'typeorm';
import type { EventEnvelope, Projection } from '#cqrs';
import { TENANT_STREAM_PREFIX, type TenantEvent } from '#contracts';
import { applyTenantKeyEvents } from '#tenant-keys';
import { TENANT_KEYS_TABLE } from './tenant-keys';

/**
 * Named apart from the `pulse.tenants` projection it replaces (tenants without their key ring),
 * whose checkpoint the migration hands on: during a rolling update the old replicas keep applying
 * tenants their way, and this projection still applies every tenant event after the hand-over.
 */
export const PULSE_TENANTS_PROJECTION = 'pulse.tenant-keys';

/** Pulse's copy of the tenants register creates: slugs, and every key of each tenant's ring. */
export const pulseTenantsProjection: Projection = {
  name: PULSE_TENANTS_PROJECTION,
  filter: { streamNamePrefixes: [TENANT_STREAM_PREFIX] },
  async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
    const events = envelopes.map((envelope) => envelope.event as TenantEvent);
    for (const event of events) {
      if (event.type !== 'TenantCreated') continue;
      await tx.query(
        `INSERT INTO pulse_tenants (tenant_id, slug, write_key_hash, api_key_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING`,
        [event.data.tenantId, event.data.slug, event.data.writeKeyHash, event.data.apiKeyHash],
      );
    }
    await applyTenantKeyEvents(tx, TENANT_KEYS_TABLE, events);
  },
};
