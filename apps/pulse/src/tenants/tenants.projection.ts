import type { EntityManager } from 'typeorm';
import type { EventEnvelope, Projection } from '#cqrs';
import { TENANT_STREAM_PREFIX, type TenantEvent } from '#contracts';

/** Pulse's copy of the tenants register creates: slugs and the hashes of their keys. */
export const pulseTenantsProjection: Projection = {
  name: 'pulse.tenants',
  filter: { streamNamePrefixes: [TENANT_STREAM_PREFIX] },
  async apply(envelope: EventEnvelope, tx: EntityManager) {
    const event = envelope.event as TenantEvent;
    if (event.type !== 'TenantCreated') return;
    await tx.query(
      `INSERT INTO pulse_tenants (tenant_id, slug, write_key_hash, api_key_hash) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id) DO NOTHING`,
      [event.data.tenantId, event.data.slug, event.data.writeKeyHash, event.data.apiKeyHash],
    );
  },
};
