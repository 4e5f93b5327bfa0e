import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hits per (tenant, kind, key) and fixed window, shared by every replica. Keys are blind indexes
 * (HMACs) of client addresses, e-mail addresses and account ids: nothing here is readable.
 */
export class RegisterRequestLimits1765000000000 implements MigrationInterface {
  name = 'RegisterRequestLimits1765000000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE IF NOT EXISTS register_request_limits (
        tenant_id uuid NOT NULL,
        kind text NOT NULL,
        key_hash text NOT NULL,
        window_start timestamptz NOT NULL,
        hits integer NOT NULL,
        PRIMARY KEY (tenant_id, kind, key_hash, window_start)
      )`);
    // The clean-up deletes by age across tenants.
    await runner.query('CREATE INDEX IF NOT EXISTS register_request_limits_by_window ON register_request_limits (window_start)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE IF EXISTS register_request_limits');
  }
}
