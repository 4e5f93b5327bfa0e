import type { EntityManager } from 'typeorm';
import type { EventEnvelope, Projection } from '#cqrs';
import { applyTenantKeyEvents } from '#tenant-keys';
import { ACCOUNT_STREAM_PREFIX, TENANT_STREAM_PREFIX, type AccountEvent, type TenantEvent } from '#contracts';
import { TENANT_KEYS_TABLE } from '../tenants/tenant-directory';
import { TenantRow } from '../tenants/tenant.entity';
import { ProfileRow } from './profile.entity';

type Registration = EventEnvelope & { event: Extract<AccountEvent, { type: 'UserRegistered' }> };

/**
 * Tenants, their keys and profiles, from register's own streams. Sign-ups dominate the log, so runs of
 * registrations in a batch go in as one multi-row INSERT; everything else applies in order. Its
 * every effect is in these tables, so its commits need not wait for the WAL flush: a crash loses
 * the last batches together with their checkpoint, and they are applied again.
 */
export const registerReadModelProjection: Projection = {
  name: 'register.read-models',
  filter: { streamNamePrefixes: [ACCOUNT_STREAM_PREFIX, TENANT_STREAM_PREFIX] },
  asynchronousCommit: true,
  async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager) {
    let registrations: Registration[] = [];
    for (const envelope of envelopes) {
      if (envelope.event.type === 'UserRegistered') {
        // During a rebuild an erased person's registration opens with null fields; UserErased follows.
        if (!envelope.erased && (envelope as Registration).event.data.email) registrations.push(envelope as Registration);
        continue;
      }
      if (registrations.length > 0) await insertProfiles(registrations, tx);
      registrations = [];
      await applyOne(envelope, tx);
    }
    if (registrations.length > 0) await insertProfiles(registrations, tx);
  },
};

async function insertProfiles(registrations: readonly Registration[], tx: EntityManager): Promise<void> {
  const column = <T>(pick: (registration: Registration) => T) => registrations.map(pick);
  await tx.query(
    `INSERT INTO register_profiles (tenant_id, user_id, email, email_verified, given_name, family_name, phone, locale, consents, registered_at, updated_at)
     SELECT tenant_id, user_id, email, false, given_name, family_name, phone, locale, '{}'::jsonb, at, at
     FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])
       AS r(tenant_id, user_id, email, given_name, family_name, phone, locale, at)`,
    [
      column((r) => r.metadata.tenantId),
      column((r) => r.event.data.userId),
      column((r) => r.event.data.email),
      column((r) => r.event.data.profile.givenName ?? null),
      column((r) => r.event.data.profile.familyName ?? null),
      column((r) => r.event.data.profile.phone ?? null),
      column((r) => r.event.data.profile.locale ?? null),
      column((r) => r.createdAt.toISOString()),
    ],
  );
}

async function applyOne(envelope: EventEnvelope, tx: EntityManager): Promise<void> {
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
      await applyTenantKeyEvents(tx, TENANT_KEYS_TABLE, [event]);
      return;
    case 'TenantKeyIssued':
    case 'TenantKeyRevoked':
      await applyTenantKeyEvents(tx, TENANT_KEYS_TABLE, [event]);
      return;
    case 'TenantBrandingChanged':
      await tx.getRepository(TenantRow).update({ tenantId: event.data.tenantId }, { branding: event.data.branding });
      return;
    case 'UserImported': {
      // As a registration, with the verified flag the import carried (rebuilt after an erasure: nothing to insert).
      if (envelope.erased || !event.data.email) return;
      const profile = event.data.profile;
      await tx.query(
        `INSERT INTO register_profiles (tenant_id, user_id, email, email_verified, given_name, family_name, phone, locale, consents, registered_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{}'::jsonb, $9, $9)`,
        [
          tenantId,
          event.data.userId,
          event.data.email,
          event.data.emailVerified,
          profile?.givenName ?? null,
          profile?.familyName ?? null,
          profile?.phone ?? null,
          profile?.locale ?? null,
          at,
        ],
      );
      return;
    }
    case 'EmailVerified':
      await profiles.update({ tenantId, userId: event.data.userId }, { emailVerified: true, updatedAt: at });
      return;
    case 'EmailChanged':
      // Rebuilt after an erasure, the address reads back null: the row is deleted by UserErased anyway.
      if (envelope.erased || !event.data.email) return;
      await profiles.update({ tenantId, userId: event.data.userId }, { email: event.data.email, emailVerified: true, updatedAt: at });
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
      await tx.query('UPDATE register_profiles SET consents = consents - $3::text, updated_at = $4 WHERE tenant_id = $1 AND user_id = $2', [
        tenantId,
        event.data.userId,
        event.data.purpose,
        at,
      ]);
      return;
    case 'UserErased':
      await profiles.delete({ tenantId, userId: event.data.userId });
      return;
    default:
      return;
  }
}
