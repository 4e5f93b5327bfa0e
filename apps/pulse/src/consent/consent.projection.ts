import type { EntityManager } from 'typeorm';
import type { EventEnvelope, Projection } from '#cqrs';
import { ACCOUNT_STREAM_PREFIX, type AccountEvent } from '#contracts';

export const CONSENTS_PROJECTION = 'pulse.consents';

/**
 * The purposes each person has withdrawn and granted, from register's consent events: what ingest
 * checks a message's purpose against (a withdrawal for every purpose, a grant for those that
 * require one). Each replaces the other; an erasure removes them all (the person's messages are
 * dropped at ingest by erasure anyway).
 */
export const consentsProjection: Projection = {
  name: CONSENTS_PROJECTION,
  filter: { streamNamePrefixes: [ACCOUNT_STREAM_PREFIX], eventTypePrefixes: ['ConsentGranted', 'ConsentWithdrawn', 'UserErased'] },
  async apply(envelope: EventEnvelope, tx: EntityManager) {
    const event = envelope.event as AccountEvent;
    const tenantId = envelope.metadata.tenantId;
    switch (event.type) {
      case 'ConsentWithdrawn':
        await tx.query(
          `INSERT INTO pulse_consent_withdrawals (tenant_id, user_id, purpose, withdrawn_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id, user_id, purpose) DO UPDATE SET withdrawn_at = EXCLUDED.withdrawn_at`,
          [tenantId, event.data.userId, event.data.purpose, event.data.at],
        );
        await tx.query('DELETE FROM pulse_consent_grants WHERE tenant_id = $1 AND user_id = $2 AND purpose = $3', [
          tenantId,
          event.data.userId,
          event.data.purpose,
        ]);
        return;
      case 'ConsentGranted':
        await tx.query('DELETE FROM pulse_consent_withdrawals WHERE tenant_id = $1 AND user_id = $2 AND purpose = $3', [
          tenantId,
          event.data.userId,
          event.data.purpose,
        ]);
        await tx.query(
          `INSERT INTO pulse_consent_grants (tenant_id, user_id, purpose, granted_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id, user_id, purpose) DO UPDATE SET granted_at = EXCLUDED.granted_at`,
          [tenantId, event.data.userId, event.data.purpose, event.data.at],
        );
        return;
      case 'UserErased':
        await tx.query('DELETE FROM pulse_consent_withdrawals WHERE tenant_id = $1 AND user_id = $2', [tenantId, event.data.userId]);
        await tx.query('DELETE FROM pulse_consent_grants WHERE tenant_id = $1 AND user_id = $2', [tenantId, event.data.userId]);
        return;
      default:
        return;
    }
  },
};
