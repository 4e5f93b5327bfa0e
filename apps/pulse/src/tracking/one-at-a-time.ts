import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` only if no other replica holds the named advisory lock, on the connection that holds
 * it; answers `idle` when another one does. Pulse's periodic clean-ups (dedupe window, retention)
 * run on every replica and must not work over each other.
 */
export async function oneAtATime<T>(pool: Pool, lock: string, idle: T, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [lock]);
    if (!rows[0]?.locked) return idle;
    try {
      return await work(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]);
    }
  } finally {
    client.release();
  }
}
