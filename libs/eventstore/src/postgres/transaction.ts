import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';

/**
 * The advisory-lock key of a name: the first 64 bits of its SHA-256, computed here rather than
 * with hashtext() so the lock can ride in the same round trip as BEGIN (a multi-statement query
 * takes no parameters, and this number is never text from a request).
 */
export function advisoryLockKey(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigInt64BE(0);
}

/**
 * An expression that lets the statement's own transaction commit without waiting for its WAL to
 * reach the disk (synchronous_commit off until that transaction ends). For writes a crash of
 * PostgreSQL may lose without harm: the caller says why at each use. Evaluated per row when it
 * sits in a select list over a data-modifying WITH, so a statement that wrote no row (and has
 * nothing to commit) leaves the setting alone.
 */
export const RELAXED_COMMIT = "set_config('synchronous_commit', 'off', true)";

/** The last clause of a statement made of data-modifying WITH queries whose commit need not wait (see RELAXED_COMMIT). */
export const WITHOUT_SYNCHRONOUS_COMMIT = `SELECT ${RELAXED_COMMIT}`;

/**
 * Runs `work` in one transaction on one pooled connection, optionally holding a transaction-level
 * advisory lock first and reading something under it: BEGIN, the lock and the read go in a single
 * round trip (released by COMMIT or ROLLBACK), and the read's rows are handed to `work`. A
 * multi-statement query takes no parameters, so `read` must hold no text from a request. Each of
 * its statements takes its own snapshot, so the read sees what the lock's previous holder wrote.
 */
export async function inTransaction<T, R extends QueryResultRow = QueryResultRow>(
  pool: Pool,
  work: (client: PoolClient, read: R[]) => Promise<T>,
  options: { lock?: string; read?: string } = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    const opening = [
      'BEGIN',
      ...(options.lock === undefined ? [] : [`SELECT pg_advisory_xact_lock(${advisoryLockKey(options.lock)})`]),
      ...(options.read === undefined ? [] : [options.read]),
    ];
    const opened = (await client.query(opening.join('; '))) as unknown as QueryResult<R> | QueryResult<R>[];
    const results = Array.isArray(opened) ? opened : [opened];
    const result = await work(client, options.read === undefined ? [] : results[results.length - 1]!.rows);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
