import type { Pool } from 'pg';
import { EVENT_COLUMNS } from './rows';
import { inTransaction } from './transaction';

/**
 * Every migrating process takes this transaction-scoped advisory lock first: two processes running
 * `CREATE TABLE IF NOT EXISTS` at the same moment can otherwise both pass the existence check and
 * one fails on the catalog's unique index.
 */
const MIGRATION_LOCK = 'tessera.eventstore.migrate';

/**
 * The event log's table, its keys and indexes. The store's es_events is one; the bench builds its
 * ceiling tables from the same definition, so a ratio compares like with like. `logKeys: false`
 * leaves out the per-stream revision key and the global-order index (a plain table of the same rows).
 */
export function eventLogTableDdl(table: string, { logKeys = true }: { logKeys?: boolean } = {}): string[] {
  return [
    // Global order is (transaction_id, seq), never seq alone: see subscription.ts.
    `CREATE TABLE IF NOT EXISTS ${table} (
       seq bigserial PRIMARY KEY,
       transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
       stream_name text NOT NULL,
       stream_revision bigint NOT NULL,
       event_id uuid NOT NULL UNIQUE,
       type text NOT NULL,
       data jsonb NOT NULL,
       metadata jsonb NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now()${logKeys ? ',\n       UNIQUE (stream_name, stream_revision)' : ''}
     )`,
    ...(logKeys ? [`CREATE INDEX IF NOT EXISTS ${table}_global_order ON ${table} (transaction_id, seq)`] : []),
  ];
}

/** The store's append at any revision as a SQL function (see TransactionalEventStore.appendAnyFunction). */
export const APPEND_ANY_FUNCTION = 'es_append_any';
/** es_append_any guarded by the revision the caller decided on: see appendToStreamsBeside. */
export const APPEND_EXPECTING_FUNCTION = 'es_append_expecting';
/** One page of the global order for a subscription (see readPage in subscription.ts). */
export const READ_ALL_PAGE_FUNCTION = 'es_read_all_page';
/** The SQLSTATE es_append_expecting raises when the stream is not at the revision expected (its DETAIL names the stream). */
export const REVISION_REFUSED_SQLSTATE = 'TS409';

const DDL = [
  `CREATE TABLE IF NOT EXISTS es_streams (
     stream_name text PRIMARY KEY,
     revision bigint NOT NULL
   )`,
  ...eventLogTableDdl('es_events'),
  // The store's append (any revision) as a SQL function, for writers that must append in the same
  // statement as their own writes (one round trip, one atomic statement without a transaction
  // block). `events` is a JSON array of {id, type, data, metadata}.
  `CREATE OR REPLACE FUNCTION ${APPEND_ANY_FUNCTION}(stream text, events jsonb)
     RETURNS TABLE (new_revision bigint, last_seq bigint)
     LANGUAGE sql AS $$
       WITH claimed AS (
         INSERT INTO es_streams AS s (stream_name, revision) VALUES (stream, jsonb_array_length(events) - 1)
         ON CONFLICT (stream_name) DO UPDATE SET revision = s.revision + jsonb_array_length(events)
         RETURNING s.revision),
       appended AS (
         INSERT INTO es_events (stream_name, stream_revision, event_id, type, data, metadata)
         SELECT stream, claimed.revision - jsonb_array_length(events) + e.ord, e.id, e.type, e.data, coalesce(e.metadata, '{}'::jsonb)
         FROM claimed, ROWS FROM (jsonb_to_recordset(events) AS (id uuid, type text, data jsonb, metadata jsonb))
                WITH ORDINALITY AS e(id, type, data, metadata, ord)
         ORDER BY e.ord
         RETURNING seq)
       SELECT claimed.revision, (SELECT max(seq) FROM appended) FROM claimed
     $$`,
  // es_append_any behind a guard that raises rather than appending nothing: the statement around
  // it, with the caller's own writes, then fails as a whole. The guard holds the stream's row until
  // commit (a concurrent guard on the same revision waits, then finds it moved). -1 expects no
  // stream: its row is claimed at -1, which es_append_any then moves on; NULL, any revision.
  `CREATE OR REPLACE FUNCTION ${APPEND_EXPECTING_FUNCTION}(stream text, expected bigint, events jsonb)
     RETURNS TABLE (new_revision bigint, last_seq bigint)
     LANGUAGE plpgsql AS $$
       BEGIN
         IF expected = -1 THEN
           INSERT INTO es_streams (stream_name, revision) VALUES (stream, -1) ON CONFLICT (stream_name) DO NOTHING;
         ELSIF expected IS NOT NULL THEN
           PERFORM 1 FROM es_streams WHERE stream_name = stream AND revision = expected FOR UPDATE;
         END IF;
         IF expected IS NOT NULL AND NOT FOUND THEN
           RAISE EXCEPTION 'stream % is not at revision %', stream, expected
             USING ERRCODE = '${REVISION_REFUSED_SQLSTATE}', DETAIL = stream;
         END IF;
         RETURN QUERY SELECT * FROM ${APPEND_ANY_FUNCTION}(stream, events);
       END
     $$`,
  // A subscription's page: after position ($1, $2), $3 rows of the global order, those the
  // prefixes $4 (streams) and $5 (types) do not take keeping only their keys (a subscription that
  // wants little of the log does not copy every event's data just to skip it). In a function whose
  // plan is generic and kept for the session (PL/pgSQL's): PostgreSQL judged each call's own plan
  // cheaper and so planned every poll again, which cost more than running it; the generic plan is
  // the same ordered index scan. STABLE, so it reads with its caller's snapshot, as the statement
  // it replaces did.
  `CREATE OR REPLACE FUNCTION ${READ_ALL_PAGE_FUNCTION}(xid8, bigint, int, text[], text[])
     RETURNS TABLE (seq text, transaction_id text, stream_name text, stream_revision text, event_id text, type text,
       data jsonb, metadata jsonb, created_at timestamptz, matched boolean, scanned int)
     LANGUAGE plpgsql STABLE
     SET plan_cache_mode = force_generic_plan
     AS $$
       #variable_conflict use_column
       BEGIN RETURN QUERY
       WITH scan AS (
        SELECT e.*,
          NOT starts_with(e.stream_name, '$') AND NOT starts_with(e.type, '$')
            AND ($4::text[] IS NULL OR e.stream_name ^@ ANY($4::text[]))
            AND ($5::text[] IS NULL OR e.type ^@ ANY($5::text[])) AS matched
        FROM es_events e
        WHERE (e.transaction_id, e.seq) > ($1::xid8, $2::bigint)
          AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY e.transaction_id, e.seq
        LIMIT $3),
      page AS MATERIALIZED (
        SELECT transaction_id, seq, matched, stream_name, type, created_at,
          CASE WHEN matched THEN stream_revision END AS stream_revision,
          CASE WHEN matched THEN event_id END AS event_id,
          CASE WHEN matched THEN data END AS data,
          CASE WHEN matched THEN metadata END AS metadata
        FROM scan)
      SELECT ${EVENT_COLUMNS}, matched, (SELECT count(*) FROM page)::int AS scanned
      FROM page
      WHERE matched OR (page.transaction_id, page.seq) =
        (SELECT last.transaction_id, last.seq FROM page last ORDER BY last.transaction_id DESC, last.seq DESC LIMIT 1)
      ORDER BY page.transaction_id, page.seq;
       END
     $$`,
];

export async function migrateSchema(pool: Pool): Promise<void> {
  await inTransaction(
    pool,
    async (client) => {
      for (const statement of DDL) await client.query(statement);
    },
    { lock: MIGRATION_LOCK },
  );
}
