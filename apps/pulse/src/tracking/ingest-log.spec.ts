import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { connectEventStore, type EventStore } from '#eventstore';
import { createTestDatabase } from '../../../../test/support/database';
import { PulseDedupeRetention1764000000000, PulseReadModels1763900000000 } from '../pulse.migrations';
import { claimKey, EventStoreIngestLog, ingestLogFor, PostgresIngestLog, type ClaimedMessage } from './ingest-log';
import { trackingStreamFor } from '#contracts';

describe('PostgreSQL ingest log (claims and events in one statement)', () => {
  let pool: Pool;
  let store: EventStore;
  let log: PostgresIngestLog;

  beforeAll(async () => {
    const url = await createTestDatabase('ingest');
    pool = new Pool({ connectionString: url, max: 4 });
    // The store as services get it (migrated); its own pool, as it has in a service.
    store = await connectEventStore({ databaseUrl: url });
    const readModels = new DataSource({
      type: 'postgres',
      url,
      migrations: [PulseReadModels1763900000000, PulseDedupeRetention1764000000000],
    });
    await readModels.initialize();
    await readModels.runMigrations();
    await readModels.destroy();
    expect(store.transactional?.sharesDatabaseWith(pool)).toBe(true);
    log = new PostgresIngestLog(store, store.transactional!);
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
    expect(await log.store(pool, [message(a, 'm1'), message(b, 'm2'), message(a, 'm3')])).toEqual(
      new Set([claimKey(a, 'm1'), claimKey(b, 'm2'), claimKey(a, 'm3')]),
    );

    const mixed = [message(a, 'm1'), message(a, 'm4'), message(b, 'm5'), message(b, 'm2'), message(a, 'm6'), message(b, 'm7')];
    expect(await log.store(pool, mixed)).toEqual(new Set([claimKey(a, 'm4'), claimKey(b, 'm5'), claimKey(a, 'm6'), claimKey(b, 'm7')]));

    expect(await storedIn(a)).toEqual([
      [0n, 'm1'],
      [1n, 'm3'],
      [2n, 'm4'],
      [3n, 'm6'],
    ]);
    expect(await storedIn(b)).toEqual([
      [0n, 'm2'],
      [1n, 'm5'],
      [2n, 'm7'],
    ]);
  });

  test('a statement holding only stored messages appends nothing and claims nothing', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await log.store(pool, [message(a, 'm1'), message(b, 'm1')]);
    expect(await log.store(pool, [message(b, 'm1'), message(a, 'm1')])).toEqual(new Set());
    expect(await storedIn(a)).toEqual([[0n, 'm1']]);
    expect(await storedIn(b)).toEqual([[0n, 'm1']]);
  });

  test('a retried statement is refused at its claims, before it appends anything', async () => {
    const tenant = randomUUID();
    const seqOf = async (messageId: string) =>
      BigInt(
        (
          await pool.query<{ seq: string }>(`SELECT seq::text FROM es_events WHERE stream_name = $1 AND data->>'messageId' = $2`, [
            trackingStreamFor(tenant, 0),
            messageId,
          ])
        ).rows[0]!.seq,
      );
    const batch = ['m1', 'm2', 'm3', 'm4', 'm5'].map((id) => message(tenant, id));
    await log.store(pool, batch);
    expect(await log.store(pool, batch)).toEqual(new Set());
    await log.store(pool, [message(tenant, 'm6')]);
    // Sequence numbers are drawn even by appends that roll back: a retry that appended first would leave a gap of five.
    expect((await seqOf('m6')) - (await seqOf('m5'))).toBe(1n);
  });

  test('concurrent statements sharing messages store each message once, and say which of them claimed it', async () => {
    const tenant = randomUUID();
    for (let round = 0; round < 10; round++) {
      const ids = Array.from({ length: 30 }, (_, i) => `r${round}-m${i}`);
      // Three overlapping batches: 0-19, 10-29 and 5-24, sent at once in different orders.
      const batches = [ids.slice(0, 20), ids.slice(10).reverse(), ids.slice(5, 25)];
      const claimedBy = await Promise.all(
        batches.map((batch) =>
          log.store(
            pool,
            batch.map((id) => message(tenant, id)),
          ),
        ),
      );
      const claims = claimedBy.flatMap((claimed) => [...claimed]);
      expect(claims.sort()).toEqual(ids.map((id) => claimKey(tenant, id)).sort());
    }
    const stored = (await storedIn(tenant)).map(([, messageId]) => messageId as string);
    expect(stored).toHaveLength(300);
    expect(new Set(stored).size).toBe(300);
  });

  test('a statement refused for anything but a stored message fails whole: nothing of it is claimed or appended', async () => {
    const tenant = randomUUID();
    const eventId = randomUUID();
    const withEventId = (messageId: string): ClaimedMessage => {
      const base = message(tenant, messageId);
      return { ...base, event: { ...base.event, id: eventId } };
    };
    await log.store(pool, [withEventId('first')]);
    // Another message carrying an event id already in the log: a unique violation, but not of a claim.
    await expect(log.store(pool, [message(tenant, 'second'), withEventId('third')])).rejects.toMatchObject({
      code: '23505',
      constraint: 'es_events_event_id_key',
    });
    expect(await log.store(pool, [message(tenant, 'second'), message(tenant, 'third')])).toEqual(
      new Set([claimKey(tenant, 'second'), claimKey(tenant, 'third')]),
    );
    expect(await storedIn(tenant)).toEqual([
      [0n, 'first'],
      [1n, 'second'],
      [2n, 'third'],
    ]);
  });

  test('one messageId sent to two tenants is two messages', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    expect(await log.store(pool, [message(a, 'same'), message(b, 'same')])).toEqual(new Set([claimKey(a, 'same'), claimKey(b, 'same')]));
    expect(await storedIn(a)).toEqual([[0n, 'same']]);
    expect(await storedIn(b)).toEqual([[0n, 'same']]);
  });

  test('the store decides by its capability which log pulse uses: one statement on a transactional store, append-then-commit elsewhere', () => {
    expect(ingestLogFor(store)).toBeInstanceOf(PostgresIngestLog);
    const withoutTransactions = Object.assign(Object.create(store) as EventStore, { transactional: undefined });
    expect(ingestLogFor(withoutTransactions)).toBeInstanceOf(EventStoreIngestLog);
  });
});
