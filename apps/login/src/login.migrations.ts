import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CHECKPOINTS_DDL } from '#cqrs';
import { exportPartsMigration, exportPendingMigration } from '#contracts';

/** Login's tables. Every row starts with its tenant; primary keys lead with it. */
export class LoginTables1732400000000 implements MigrationInterface {
  name = 'LoginTables1732400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(CHECKPOINTS_DDL);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS login_tenants (
        tenant_id uuid PRIMARY KEY,
        slug text NOT NULL UNIQUE,
        name text NOT NULL
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS login_credentials (
        tenant_id uuid NOT NULL,
        user_id uuid NOT NULL,
        email_index text NOT NULL,
        email text NOT NULL,
        email_verified boolean NOT NULL DEFAULT false,
        password_hash text NOT NULL,
        given_name text,
        family_name text,
        locale text,
        password_changed_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, user_id),
        UNIQUE (tenant_id, email_index)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS login_clients (
        tenant_id uuid NOT NULL,
        client_id text NOT NULL,
        metadata jsonb NOT NULL,
        secret_hash text,
        disabled boolean NOT NULL DEFAULT false,
        PRIMARY KEY (tenant_id, client_id)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS login_signing_keys (
        tenant_id uuid NOT NULL,
        kid text NOT NULL,
        sealed_jwk jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        retired_at timestamptz,
        PRIMARY KEY (tenant_id, kid)
      )`);
    await runner.query(`
      CREATE TABLE IF NOT EXISTS login_oidc_models (
        tenant_id uuid NOT NULL,
        model text NOT NULL,
        id text NOT NULL,
        payload jsonb NOT NULL,
        grant_id text,
        user_code text,
        uid text,
        expires_at timestamptz,
        consumed_at timestamptz,
        PRIMARY KEY (tenant_id, model, id)
      )`);
    await runner.query(
      'CREATE INDEX IF NOT EXISTS login_oidc_models_grant ON login_oidc_models (tenant_id, grant_id) WHERE grant_id IS NOT NULL',
    );
    await runner.query(
      'CREATE INDEX IF NOT EXISTS login_oidc_models_uid ON login_oidc_models (tenant_id, model, uid) WHERE uid IS NOT NULL',
    );
    await runner.query(
      'CREATE INDEX IF NOT EXISTS login_oidc_models_user_code ON login_oidc_models (tenant_id, model, user_code) WHERE user_code IS NOT NULL',
    );
    await runner.query(
      "CREATE INDEX IF NOT EXISTS login_oidc_models_grant_of ON login_oidc_models (tenant_id, (payload->>'accountId'), (payload->>'clientId')) WHERE model = 'Grant'",
    );
    await runner.query('CREATE INDEX IF NOT EXISTS login_oidc_models_expiry ON login_oidc_models (expires_at)');
    await runner.query(`
      CREATE TABLE IF NOT EXISTS login_throttle (
        tenant_id uuid NOT NULL,
        account_key text NOT NULL,
        failures timestamptz[] NOT NULL DEFAULT '{}',
        locked_until timestamptz,
        PRIMARY KEY (tenant_id, account_key)
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of [
      'login_throttle',
      'login_oidc_models',
      'login_signing_keys',
      'login_clients',
      'login_credentials',
      'login_tenants',
    ]) {
      await runner.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}

/**
 * Imported people (register's UserImported) arrive with another system's hash, or none: a
 * credential then holds `legacy_password` (the hash as #password-hashes reads it) and no argon2id
 * hash until the first sign-in replaces it (PasswordRehashed) or a reset sets one.
 */
export class LoginLegacyPasswords1765900000000 implements MigrationInterface {
  name = 'LoginLegacyPasswords1765900000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE login_credentials ALTER COLUMN password_hash DROP NOT NULL');
    await runner.query('ALTER TABLE login_credentials ADD COLUMN IF NOT EXISTS legacy_password jsonb');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE login_credentials DROP COLUMN IF EXISTS legacy_password');
  }
}

/** A tenant's branding and default language (register's TenantBrandingChanged) for login's pages: null until set. */
export class LoginTenantBranding1765520000001 implements MigrationInterface {
  name = 'LoginTenantBranding1765520000001';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE login_tenants ADD COLUMN IF NOT EXISTS branding jsonb');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE login_tenants DROP COLUMN IF EXISTS branding');
  }
}

/**
 * The sessions page lists a person's sessions (and ending them deletes them) by the account in
 * oidc-provider's payload: an index for that lookup, sessions only.
 */
export class LoginSessionsByAccount1765530000000 implements MigrationInterface {
  name = 'LoginSessionsByAccount1765530000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(
      "CREATE INDEX IF NOT EXISTS login_oidc_models_session_of ON login_oidc_models (tenant_id, (payload->>'accountId')) WHERE model = 'Session'",
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX IF EXISTS login_oidc_models_session_of');
  }
}

/** Login's sections of exports (sessions, grants, sign-in history), sealed under each export's key. */
export const LoginExportParts1765600000001 = exportPartsMigration('login_export_parts', 'LoginExportParts1765600000001');

/** Login's export sections still to write, with the lease of the writer at work on each (see export-sections.ts). */
export const LoginExportsPending1765680000001 = exportPendingMigration('login_export_parts', 'LoginExportsPending1765680000001');

/**
 * A sign-in attempt's opening read as a function: the account's lock, then (with a snapshot taken
 * after it, so it sees what the lock's previous holder wrote) its throttle state and credential.
 * Its plans are kept for the session, where the same read sent as SQL text was planned on every
 * attempt (that cost more than running it).
 */
export class LoginAccountStateLocked1766100000000 implements MigrationInterface {
  name = 'LoginAccountStateLocked1766100000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE OR REPLACE FUNCTION login_account_state_locked(p_lock bigint, p_tenant uuid, p_account_key text)
        RETURNS TABLE (failures timestamptz[], locked_until timestamptz, user_id uuid, email text, email_verified boolean,
          password_hash text, legacy_password jsonb, given_name text, family_name text, locale text)
        LANGUAGE plpgsql VOLATILE AS $$
        #variable_conflict use_column
        BEGIN
          PERFORM pg_advisory_xact_lock(p_lock);
          RETURN QUERY SELECT t.failures, t.locked_until, c.user_id, c.email, c.email_verified, c.password_hash, c.legacy_password,
              c.given_name, c.family_name, c.locale
            FROM (VALUES (1)) AS one (present)
            LEFT JOIN login_throttle t ON t.tenant_id = p_tenant AND t.account_key = p_account_key
            LEFT JOIN login_credentials c ON c.tenant_id = p_tenant AND c.email_index = p_account_key;
        END
      $$`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP FUNCTION IF EXISTS login_account_state_locked(bigint, uuid, text)');
  }
}
