import type { Pool } from 'pg';

/**
 * Runs `work` only if no other replica holds the named advisory lock; answers `idle` when another
 * one does. Pulse's periodic clean-ups (dedupe window, retention) run on every replica and must not
 * work over each other.
 *
 * The lock is transaction-scoped, held by an otherwise idle transaction on a connection of its own:
 * behind a transaction-pooling PgBouncer a session lock and its unlock can land on different server
 * connections, while a transaction keeps its one. That transaction writes nothing, so it never gets
 * a transaction id and does not hold back the event log's horizon, and `work` deletes in short
 * transactions of its own on the pool, so a long clean-up holds no xid open either.
 */
export async function oneAtATime<T>(pool: Pool, lock: string, idle: T, work: () => Promise<T>): Promise<T> {
  const holder = await pool.connect();
  let broken: Error | undefined;
  try {
    await holder.query('BEGIN');
    const { rows } = await holder.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked', [lock]);
    if (!rows[0]?.locked) return idle;
    return await work();
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    // Ending the transaction releases the lock; a connection that failed to end it is not reused.
    const ended = await holder.query('ROLLBACK').then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    holder.release(ended ?? (broken && !isQueryError(broken) ? broken : undefined));
  }
}

/** An error PostgreSQL answered (it has a SQLSTATE): the connection itself is still sound. */
function isQueryError(error: Error): boolean {
  return typeof (error as { code?: unknown }).code === 'string';
}
