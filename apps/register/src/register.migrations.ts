import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CHECKPOINTS_DDL } from '#cqrs';
import { exportPartsTableDdl, exportPendingMigration, INITIAL_API_KEY_ID, INITIAL_WRITE_KEY_ID } from '#contracts';
import { tenantKeysTableDdl } from '#tenant-keys';

/** Register's read models. Every row starts with its tenant; primary keys lead with it. */
export class RegisterReadModels1732350000000 implements MigrationInterface {
  name = 'RegisterReadModels1732350000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(CHECKPOINTS_DDL);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS register_tenants (
        tenant_id uuid PRIMARY KEY,
        slug text NOT NULL UNIQUE,
        name text NOT NULL,
        api_key_hash text NOT NULL,
        write_key_hash text NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS register_profiles (
        tenant_id uuid NOT NULL,
        user_id uuid NOT NULL,
        email text NOT NULL,
        email_verified boolean NOT NULL DEFAULT false,
        given_name text,
        family_name text,
        phone text,
        locale text,
        consents jsonb NOT NULL DEFAULT '{}'::jsonb,
        registered_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, user_id)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS register_profiles');
    await runner.query('DROP TABLE IF EXISTS register_tenants');
  }
}

/**
 * Tenant keys by hash (see #tenant-keys): rotation and revocation happen per key, so keys left the
 * tenants row. The keys of tenants created so far are copied from it, with the ids TenantCreated's
 * hashes go by; the projection adds later tenants and keys. (The row keeps its two hash columns,
 * still written, for a rollback to the release before this one.)
 */
export class RegisterTenantKeys1765200000000 implements MigrationInterface {
  name = 'RegisterTenantKeys1765200000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(tenantKeysTableDdl('register_tenant_keys'));
    await runner.query(
      `
      INSERT INTO register_tenant_keys (key_hash, tenant_id, key_id, kind, valid_from)
      SELECT write_key_hash, tenant_id, $1, 'write', created_at FROM register_tenants
      UNION ALL SELECT api_key_hash, tenant_id, $2, 'api', created_at FROM register_tenants
      ON CONFLICT DO NOTHING`,
      [INITIAL_WRITE_KEY_ID, INITIAL_API_KEY_ID],
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS register_tenant_keys');
  }
}

/** A tenant's branding and default language (TenantBrandingChanged), as its pages and mails read it: null until set. */
export class RegisterTenantBranding1765520000000 implements MigrationInterface {
  name = 'RegisterTenantBranding1765520000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE register_tenants ADD COLUMN IF NOT EXISTS branding jsonb');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE register_tenants DROP COLUMN IF EXISTS branding');
  }
}

/**
 * Exports (see exports/): register's own sections, sealed under each export's key, and whom each
 * export is about, by blind index only, so that erasing the person discards their exports.
 */
export class RegisterExports1765600000000 implements MigrationInterface {
  name = 'RegisterExports1765600000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(exportPartsTableDdl('register_export_parts'));
    await runner.query(`
      CREATE TABLE IF NOT EXISTS register_exports (
        tenant_id uuid NOT NULL,
        export_id uuid NOT NULL,
        identity_digests text[] NOT NULL,
        requested_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, export_id)
      )`);
    await runner.query('CREATE INDEX IF NOT EXISTS register_exports_identities ON register_exports USING gin (identity_digests)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS register_exports');
    await runner.query('DROP TABLE IF EXISTS register_export_parts');
  }
}

/** Register's export sections still to write, with the lease of the writer at work on each (see export-sections.ts). */
export const RegisterExportsPending1765680000000 = exportPendingMigration('register_export_parts', 'RegisterExportsPending1765680000000');
