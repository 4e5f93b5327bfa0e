import { Pool } from 'pg';
import { createTestDatabase } from '../../../../test/support/database';
import { oneAtATime } from './one-at-a-time';

describe('oneAtATime', () => {
  let pool: Pool;

  beforeAll(async () => {
    pool = new Pool({ connectionString: await createTestDatabase('oneatatime'), max: 4 });
  });
  afterAll(() => pool.end());

  it('lets one replica work while the others answer idle, then lets the next one in', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const working = new Promise<void>((resolve) => (started = resolve));
    const first = oneAtATime(pool, 'test.lock', 'idle', async () => {
      started();
      await held;
      return 'worked';
    });
    await working;
    await expect(oneAtATime(pool, 'test.lock', 'idle', async () => 'worked')).resolves.toBe('idle');
    release();
    await expect(first).resolves.toBe('worked');
    await expect(oneAtATime(pool, 'test.lock', 'idle', async () => 'worked')).resolves.toBe('worked');
  });

  it('holds the lock in a transaction that has no transaction id, so the event log horizon does not wait for the work', async () => {
    const seen = await oneAtATime(pool, 'test.horizon', undefined, async () => {
      const { rows } = await pool.query<{ state: string; xid: string | null }>(
        `SELECT a.state, a.backend_xid::text AS xid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.objid = hashtext('test.horizon')::oid AND l.granted`,
      );
      return rows;
    });
    expect(seen).toEqual([{ state: 'idle in transaction', xid: null }]);
  });

  it('releases the lock when the work fails', async () => {
    await expect(oneAtATime(pool, 'test.failing', 'idle', () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    await expect(oneAtATime(pool, 'test.failing', 'idle', async () => 'worked')).resolves.toBe('worked');
  });
});
