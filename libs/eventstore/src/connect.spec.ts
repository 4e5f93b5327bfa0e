import { Pool } from 'pg';
import { createTestDatabase } from '../../../test/support/database';
import { connectEventStore } from './connect';

/**
 * EVENTSTORE_URL naming PostgreSQL: the log in a database of its own, apart from the read models
 * (as EventStoreDB is in production), so that one can be restored without the other.
 */
describe('connectEventStore with the log in a PostgreSQL database of its own', () => {
  test('appends land in the log database only, and the store offers no append within a read-model transaction', async () => {
    const [readModels, eventLog] = await Promise.all([createTestDatabase('rm'), createTestDatabase('log')]);
    const pool = new Pool({ connectionString: readModels, max: 2 });
    const logPool = new Pool({ connectionString: eventLog, max: 2 });
    const store = await connectEventStore({ databaseUrl: readModels, pool, eventstoreUrl: eventLog });
    try {
      // A caller's transaction is on the read models' database: an append joining it would write there.
      expect(store.transactional).toBeUndefined();
      await store.appendToStream('apart-1', [{ type: 'Happened', data: { n: 1 } }]);
      expect((await logPool.query('SELECT stream_name FROM es_events')).rows).toEqual([{ stream_name: 'apart-1' }]);
      const tables = await pool.query("SELECT 1 FROM information_schema.tables WHERE table_name LIKE 'es\\_%'");
      expect(tables.rowCount).toBe(0);
      expect((await store.readStream('apart-1')).map((event) => event.data)).toEqual([{ n: 1 }]);
    } finally {
      await store.close();
      await Promise.all([pool.end(), logPool.end()]);
    }
  });

  test('without it, the store shares the service pool and joins its transactions', async () => {
    const readModels = await createTestDatabase('rm');
    const pool = new Pool({ connectionString: readModels, max: 2 });
    const store = await connectEventStore({ databaseUrl: readModels, pool });
    try {
      expect(store.transactional?.sharesDatabaseWith(pool)).toBe(true);
    } finally {
      await store.close();
      await pool.end();
    }
  });
});
