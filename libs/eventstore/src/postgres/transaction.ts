import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

/**
 * The advisory-lock key of a name: the first 64 bits of its SHA-256, computed here rather than
 * with hashtext() so the lock can ride in the same round trip as BEGIN (a multi-statement query
 * takes no parameters, and this number is never text from a request).
 */
export function advisoryLockKey(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigInt64BE(0);
}

/**
 * Runs `work` in one transaction on one pooled connection, optionally holding a transaction-level
 * advisory lock first (taken with BEGIN in a single round trip, released by COMMIT or ROLLBACK).
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, options: { lock?: string } = {}): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(options.lock === undefined ? 'BEGIN' : `BEGIN; SELECT pg_advisory_xact_lock(${advisoryLockKey(options.lock)})`);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
