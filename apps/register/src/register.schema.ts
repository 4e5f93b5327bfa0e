import type { MigrationInterface, QueryRunner } from 'typeorm';
import { CHECKPOINTS_DDL } from '#cqrs';

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
