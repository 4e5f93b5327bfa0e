import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { databaseUrl } from '#platform/embedded-postgres';

/** Creates an empty database on the test run's embedded PostgreSQL and returns its URL. */
export async function createTestDatabase(prefix = 't'): Promise<string> {
  const serverUrl = process.env.TESSERA_TEST_POSTGRES_URL;
  if (!serverUrl) throw new Error('TESSERA_TEST_POSTGRES_URL is not set: run the tests through jest (globalSetup starts PostgreSQL)');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return databaseUrl(serverUrl, name);
}
