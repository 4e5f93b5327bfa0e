import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresEventStore } from '../../../../libs/eventstore/src/postgres/postgres-event-store';
import { createTestDatabase } from '../../../../test/support/database';
import { PulseDedupeRetention1764000000000, PulseReadModels1763900000000 } from '../pulse.schema';
import { claimKey, PostgresIngestLog, type ClaimedMessage } from './ingest-log';
import { trackingStreamFor } from './tracking.events';

describe('PostgreSQL ingest log (claims and events in one statement)', () => {
  let pool: Pool;
  let store: PostgresEventStore;
  let log: PostgresIngestLog;

  beforeAll(async () => {
    const url = await createTestDatabase('ingest');
    pool = new Pool({ connectionString: url, max: 4 });
    store = new PostgresEventStore(pool);
    await store.migrate();
    const readModels = new DataSource({ type: 'postgres', url, migrations: [PulseReadModels1763900000000, PulseDedupeRetention1764000000000] });
    await readModels.initialize();
    await readModels.runMigrations();
    await readModels.destroy();
    log = new PostgresIngestLog(store);
  });

  afterAll(async () => {
    await store.close();
    await pool.end();
  });

  const message = (tenantId: string, messageId: string): ClaimedMessage => ({
    tenantId,
    messageId,
    streamName: trackingStreamFor(tenantId, 0),
    event: { type: 'MessageReceived', data: { messageId }, metadata: { tenantId, schemaVersion: 2 } },
  });
  const storedIn = async (tenantId: string) =>
    (await store.readStream(trackingStreamFor(tenantId, 0))).map((event) => [event.revision, event.data.messageId]);

  test('a statement mixing new and stored messages of two tenants appends only the new ones, in order, each to its tenant stream', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    expect(await log.store(pool, [message(a, 'm1'), message(b, 'm2'), message(a, 'm3')])).toEqual(new Set([claimKey(a, 'm1'), claimKey(b, 'm2'), claimKey(a, 'm3')]));

    const mixed = [message(a, 'm1'), message(a, 'm4'), message(b, 'm5'), message(b, 'm2'), message(a, 'm6'), message(b, 'm7')];
    expect(await log.store(pool, mixed)).toEqual(new Set([claimKey(a, 'm4'), claimKey(b, 'm5'), claimKey(a, 'm6'), claimKey(b, 'm7')]));

    expect(await storedIn(a)).toEqual([[0n, 'm1'], [1n, 'm3'], [2n, 'm4'], [3n, 'm6']]);
    expect(await storedIn(b)).toEqual([[0n, 'm2'], [1n, 'm5'], [2n, 'm7']]);
  });

  test('a statement holding only stored messages appends nothing and claims nothing', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await log.store(pool, [message(a, 'm1'), message(b, 'm1')]);
    expect(await log.store(pool, [message(b, 'm1'), message(a, 'm1')])).toEqual(new Set());
    expect(await storedIn(a)).toEqual([[0n, 'm1']]);
    expect(await storedIn(b)).toEqual([[0n, 'm1']]);
  });

  test('one messageId sent to two tenants is two messages', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    expect(await log.store(pool, [message(a, 'same'), message(b, 'same')])).toEqual(new Set([claimKey(a, 'same'), claimKey(b, 'same')]));
    expect(await storedIn(a)).toEqual([[0n, 'same']]);
    expect(await storedIn(b)).toEqual([[0n, 'same']]);
  });
});
