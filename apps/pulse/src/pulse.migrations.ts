import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CHECKPOINTS_DDL } from '#cqrs';
import { exportPartsMigration, exportPendingMigration, INITIAL_API_KEY_ID, INITIAL_WRITE_KEY_ID } from '#contracts';
import { tenantKeysTableDdl } from '#tenant-keys';
import { PULSE_TENANTS_PROJECTION } from './tenants/tenants.projection';

/** Pulse's tables. Every row starts with its tenant; primary keys lead with it. */
export class PulseReadModels1763900000000 implements MigrationInterface {
  name = 'PulseReadModels1763900000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(CHECKPOINTS_DDL);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_tenants (
        tenant_id uuid PRIMARY KEY,
        slug text NOT NULL UNIQUE,
        write_key_hash text NOT NULL UNIQUE,
        api_key_hash text NOT NULL
      )`);
    // Written in the same transaction as the events it admits: the ingest's exactly-once record.
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_message_ids (
        tenant_id uuid NOT NULL,
        message_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, message_id)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_profiles (
        tenant_id uuid NOT NULL,
        profile_id uuid NOT NULL,
        user_id text,
        merged_into uuid,
        traits jsonb NOT NULL DEFAULT '{}'::jsonb,
        event_count bigint NOT NULL DEFAULT 0,
        first_seen timestamptz,
        last_seen timestamptz,
        PRIMARY KEY (tenant_id, profile_id)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_identities (
        tenant_id uuid NOT NULL,
        kind text NOT NULL,
        value text NOT NULL,
        profile_id uuid NOT NULL,
        sealed_value jsonb,
        merges integer NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, kind, value)
      )`);
    await runner.query('CREATE INDEX IF NOT EXISTS pulse_identities_profile ON pulse_identities (tenant_id, profile_id)');
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_profile_counters (
        tenant_id uuid NOT NULL,
        profile_id uuid NOT NULL,
        event_name text NOT NULL,
        count bigint NOT NULL,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, profile_id, event_name)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_profile_events (
        tenant_id uuid NOT NULL,
        profile_id uuid NOT NULL,
        seq bigserial NOT NULL,
        message_id text NOT NULL,
        kind text NOT NULL,
        name text,
        occurred_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        properties jsonb,
        PRIMARY KEY (tenant_id, profile_id, seq)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of [
      'pulse_profile_events',
      'pulse_profile_counters',
      'pulse_identities',
      'pulse_profiles',
      'pulse_message_ids',
      'pulse_tenants',
    ]) {
      await runner.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}

/**
 * The dedupe window's prune scans pulse_message_ids by age. Ids arrive in time order, so a BRIN
 * index finds the old ones for a few pages of index, and costs ingest next to nothing to keep.
 */
export class PulseDedupeRetention1764000000000 implements MigrationInterface {
  name = 'PulseDedupeRetention1764000000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE INDEX IF NOT EXISTS pulse_message_ids_received ON pulse_message_ids USING brin (received_at)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX IF EXISTS pulse_message_ids_received');
  }
}

/**
 * Tenant keys by hash (see #tenant-keys), which rotation and revocation change one by one. The keys
 * of tenants pulse knows so far are copied from pulse_tenants, under the ids TenantCreated's hashes
 * go by, and the projection that keeps the table takes over from the old one's checkpoint. The
 * checkpoint is copied first: whatever the old projection commits in between is then in the copied
 * rows or after the checkpoint (applied again, which changes nothing), never lost between the two.
 */
export class PulseTenantKeys1765200000000 implements MigrationInterface {
  name = 'PulseTenantKeys1765200000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(tenantKeysTableDdl('pulse_tenant_keys'));
    await runner.query(
      `INSERT INTO projection_checkpoints (projection, commit_position, prepare_position)
       SELECT $1, commit_position, prepare_position FROM projection_checkpoints WHERE projection = 'pulse.tenants'
       ON CONFLICT DO NOTHING`,
      [PULSE_TENANTS_PROJECTION],
    );
    await runner.query(
      `INSERT INTO pulse_tenant_keys (key_hash, tenant_id, key_id, kind, valid_from)
       SELECT write_key_hash, tenant_id, $1, 'write', '-infinity'::timestamptz FROM pulse_tenants
       UNION ALL SELECT api_key_hash, tenant_id, $2, 'api', '-infinity'::timestamptz FROM pulse_tenants
       ON CONFLICT DO NOTHING`,
      [INITIAL_WRITE_KEY_ID, INITIAL_API_KEY_ID],
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DELETE FROM projection_checkpoints WHERE projection = $1', [PULSE_TENANTS_PROJECTION]);
    await runner.query('DROP TABLE IF EXISTS pulse_tenant_keys');
  }
}

/**
 * Webhook destinations as the outbox projection keeps them (the decider's state, secrets sealed),
 * for listing and for routing each tracked message.
 */
export class PulseDestinations1765300000001 implements MigrationInterface {
  name = 'PulseDestinations1765300000001';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`CREATE TABLE IF NOT EXISTS pulse_destinations (
      tenant_id text NOT NULL,
      destination_id text NOT NULL,
      state jsonb NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (tenant_id, destination_id)
    )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS pulse_destinations');
  }
}

/** The purposes people withdrew, as the consents projection keeps them for ingest. */
export class PulseConsentWithdrawals1765400000000 implements MigrationInterface {
  name = 'PulseConsentWithdrawals1765400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_consent_withdrawals (
        tenant_id uuid NOT NULL,
        user_id text NOT NULL,
        purpose text NOT NULL,
        withdrawn_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, user_id, purpose)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS pulse_consent_withdrawals');
  }
}

/**
 * Account profiles from `group` calls: the group's traits (sealed under the group's own key) and its
 * members as profiles, so that merges move and erasures remove memberships with the profile.
 */
export class PulseGroups1765500000000 implements MigrationInterface {
  name = 'PulseGroups1765500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_groups (
        tenant_id uuid NOT NULL,
        group_id text NOT NULL,
        traits jsonb NOT NULL DEFAULT '{}'::jsonb,
        first_seen timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, group_id)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_group_members (
        tenant_id uuid NOT NULL,
        group_id text NOT NULL,
        profile_id uuid NOT NULL,
        joined_at timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, group_id, profile_id)
      )`);
    await runner.query('CREATE INDEX IF NOT EXISTS pulse_group_members_by_profile ON pulse_group_members (tenant_id, profile_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS pulse_group_members');
    await runner.query('DROP TABLE IF EXISTS pulse_groups');
  }
}

/**
 * Retention removes a tenant's profile events by age. Rows arrive in time order, so a BRIN index
 * finds the old ones in a few pages of index, and costs the profiles projection next to nothing.
 */
export class PulseRetention1765500000001 implements MigrationInterface {
  name = 'PulseRetention1765500000001';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE INDEX IF NOT EXISTS pulse_profile_events_received ON pulse_profile_events USING brin (received_at)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX IF EXISTS pulse_profile_events_received');
  }
}

/**
 * The purposes people granted, beside those they withdrew: a purpose the tenant marks as needing
 * consent given (opt-in) is tracked only for people who granted it.
 */
export class PulseConsentGrants1765500000002 implements MigrationInterface {
  name = 'PulseConsentGrants1765500000002';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_consent_grants (
        tenant_id uuid NOT NULL,
        user_id text NOT NULL,
        purpose text NOT NULL,
        granted_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, user_id, purpose)
      )`);
    // Grants already followed were not kept: the consents projection reads register's consents again
    // (its writes are upserts and deletes, so replaying them leaves withdrawals as they were).
    await runner.query("DELETE FROM projection_checkpoints WHERE projection = 'pulse.consents'");
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS pulse_consent_grants');
  }
}

/**
 * Computed traits and audiences as the profiles projection keeps them: the tenant's definitions (in
 * log order with its messages), the events each windowed trait counts (pruned as the window moves),
 * the last values (sealed, as traits are), and who is in which audience, with the number of times
 * that changed, which makes each Audience Entered/Exited message's id.
 */
export class PulseAudiences1765510000000 implements MigrationInterface {
  name = 'PulseAudiences1765510000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_audience_definitions (
        tenant_id uuid NOT NULL,
        kind text NOT NULL,
        key text NOT NULL,
        definition jsonb NOT NULL,
        PRIMARY KEY (tenant_id, kind, key)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_trait_points (
        tenant_id uuid NOT NULL,
        profile_id uuid NOT NULL,
        trait_key text NOT NULL,
        occurred_at timestamptz NOT NULL,
        value double precision
      )`);
    await runner.query('CREATE INDEX IF NOT EXISTS pulse_trait_points_profile ON pulse_trait_points (tenant_id, profile_id, trait_key)');
    await runner.query('CREATE INDEX IF NOT EXISTS pulse_trait_points_age ON pulse_trait_points (tenant_id, trait_key, occurred_at)');
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_trait_values (
        tenant_id uuid NOT NULL,
        profile_id uuid NOT NULL,
        trait_key text NOT NULL,
        value jsonb NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, profile_id, trait_key)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_audience_members (
        tenant_id uuid NOT NULL,
        audience_key text NOT NULL,
        profile_id uuid NOT NULL,
        member boolean NOT NULL,
        transitions integer NOT NULL,
        changed_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, audience_key, profile_id)
      )`);
    await runner.query('CREATE INDEX IF NOT EXISTS pulse_audience_members_profile ON pulse_audience_members (tenant_id, profile_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['pulse_audience_members', 'pulse_trait_values', 'pulse_trait_points', 'pulse_audience_definitions']) {
      await runner.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}

/** Audiences defined after profiles exist: where the sweep is in evaluating the tenant's existing profiles. */
export class PulseAudienceBackfills1765510000001 implements MigrationInterface {
  name = 'PulseAudienceBackfills1765510000001';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS pulse_audience_backfills (
        tenant_id uuid NOT NULL,
        audience_key text NOT NULL,
        after_profile uuid,
        PRIMARY KEY (tenant_id, audience_key)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS pulse_audience_backfills');
  }
}

/** Pulse's sections of exports (profiles, identities, traits, tracked events), sealed under each export's key. */
export const PulseExportParts1765600000002 = exportPartsMigration('pulse_export_parts', 'PulseExportParts1765600000002');

/** Pulse's export sections still to write, with the lease of the writer at work on each (see export-sections.ts). */
export const PulseExportsPending1765680000002 = exportPendingMigration('pulse_export_parts', 'PulseExportsPending1765680000002');
