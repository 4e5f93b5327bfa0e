import type { Pool } from 'pg';
import { inTransaction } from './transaction';

/**
 * Every migrating process takes this transaction-scoped advisory lock first: two processes running
 * `CREATE TABLE IF NOT EXISTS` at the same moment can otherwise both pass the existence check and
 * one fails on the catalog's unique index.
 */
const MIGRATION_LOCK = 'tessera.eventstore.migrate';

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
  await inTransaction(pool, async (client) => {
    for (const statement of DDL) await client.query(statement);
  }, { lock: MIGRATION_LOCK });
}
