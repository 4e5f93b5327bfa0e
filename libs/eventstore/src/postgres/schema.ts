import type { Pool } from 'pg';

/**
 * Every migrating process takes this transaction-scoped advisory lock first: two processes running
 * `CREATE TABLE IF NOT EXISTS` at the same moment can otherwise both pass the existence check and
 * one fails on the catalog's unique index.
 */
const MIGRATION_LOCK_KEY = 7_215_400_113_301n;

const DDL = [
  `CREATE TABLE IF NOT EXISTS es_streams (
     stream_name text PRIMARY KEY,
     revision bigint NOT NULL
   )`,
  // Global order is (transaction_id, seq), never seq alone: see subscription.ts.
  `CREATE TABLE IF NOT EXISTS es_events (
     seq bigserial PRIMARY KEY,
     transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
     stream_name text NOT NULL,
     stream_revision bigint NOT NULL,
     event_id uuid NOT NULL UNIQUE,
     type text NOT NULL,
     data jsonb NOT NULL,
     metadata jsonb NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now(),
     UNIQUE (stream_name, stream_revision)
   )`,
  'CREATE INDEX IF NOT EXISTS es_events_global_order ON es_events (transaction_id, seq)',
];

export async function migrateSchema(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    for (const statement of DDL) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
