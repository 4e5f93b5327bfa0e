import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../test/support/database';

describe('the embedded PostgreSQL', () => {
  // inet_server_addr() is NULL on a Unix-socket connection and the server's address over TCP.
  const serverAddress = 'SELECT inet_server_addr()::text AS address';
  const expected = process.platform === 'win32' ? '127.0.0.1/32' : null;

  it("is reached through its Unix socket by the services' pg pools and TypeORM data sources", async () => {
    const url = await createTestDatabase('socket');
    const pool = new Pool({ connectionString: url, max: 1 });
    const dataSource = new DataSource({ type: 'postgres', url });
    try {
      expect((await pool.query<{ address: string | null }>(serverAddress)).rows[0]!.address).toBe(expected);
      await dataSource.initialize();
      expect(((await dataSource.query(serverAddress)) as { address: string | null }[])[0]!.address).toBe(expected);
    } finally {
      await pool.end();
      if (dataSource.isInitialized) await dataSource.destroy();
    }
  });
});
