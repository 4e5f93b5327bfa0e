import type { EntityManager } from 'typeorm';
import type { Projection } from '../../../../libs/cqrs/src/projection-runner';
import type { EventEnvelope } from '../../../../libs/cqrs/src/event-envelope';
import type { AccountEvent } from '../account/account.events';
import { ACCOUNT_STREAM_PREFIX, TENANT_STREAM_PREFIX } from '../account/account.streams';
import type { TenantEvent } from '../tenants/tenant.events';
import { TenantRow } from '../tenants/tenant.entity';
import { ProfileRow } from './profile.entity';

/** Tenants and profiles, from register's own streams. */
export const registerReadModelProjection: Projection = {
  name: 'register.read-models',
  filter: { streamNamePrefixes: [ACCOUNT_STREAM_PREFIX, TENANT_STREAM_PREFIX] },
  async apply(envelope: EventEnvelope, tx: EntityManager) {
    const event = envelope.event as AccountEvent | TenantEvent;
    const tenantId = envelope.metadata.tenantId;
    const at = envelope.createdAt;
    const profiles = tx.getRepository(ProfileRow);
    switch (event.type) {
      case 'TenantCreated':
        await tx.getRepository(TenantRow).insert({
          tenantId: event.data.tenantId,
          slug: event.data.slug,
          name: event.data.name,
          apiKeyHash: event.data.apiKeyHash,
          writeKeyHash: event.data.writeKeyHash,
          createdAt: new Date(event.data.createdAt),
        });
        return;
      case 'UserRegistered':
        // During a rebuild an erased person's registration opens with null fields; UserErased follows.
        if (envelope.erased || !event.data.email) return;
        await profiles.insert({
          tenantId,
          userId: event.data.userId,
          email: event.data.email,
          emailVerified: false,
          ...event.data.profile,
          consents: {},
          registeredAt: at,
          updatedAt: at,
        });
        return;
      case 'EmailVerified':
        await profiles.update({ tenantId, userId: event.data.userId }, { emailVerified: true, updatedAt: at });
        return;
      case 'ProfileUpdated':
        if (envelope.erased || !event.data.changes) return;
        await profiles.update({ tenantId, userId: event.data.userId }, { ...event.data.changes, updatedAt: at });
        return;
      case 'ConsentGranted':
        await tx.query(
          `UPDATE register_profiles SET consents = consents || jsonb_build_object($3::text, jsonb_build_object('policyVersion', $4::text, 'grantedAt', $5::text)), updated_at = $6
           WHERE tenant_id = $1 AND user_id = $2`,
          [tenantId, event.data.userId, event.data.purpose, event.data.policyVersion, event.data.at, at],
        );
        return;
      case 'ConsentWithdrawn':
        await tx.query(
          'UPDATE register_profiles SET consents = consents - $3::text, updated_at = $4 WHERE tenant_id = $1 AND user_id = $2',
          [tenantId, event.data.userId, event.data.purpose, at],
        );
        return;
      case 'UserErased':
        await profiles.delete({ tenantId, userId: event.data.userId });
        return;
      default:
        return;
    }
  },
};
