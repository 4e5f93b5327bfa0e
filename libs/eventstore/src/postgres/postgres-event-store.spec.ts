import { randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';
import { createTestDatabase } from '../../../../test/support/database';
import { anEvent, EventReader, eventually, events, ids, uniquePrefix } from '../../testing/contract-support';
import { describeEventStoreContract } from '../../testing/event-store-contract';
import { WrongExpectedRevisionError, type EventToAppend } from '../event-store';
import { PostgresEventStore } from './postgres-event-store';

let contractUrl: string | undefined;

describeEventStoreContract<PostgresEventStore>('PostgreSQL', {
  appendsToStreamsAtomically: true,
  async create() {
    contractUrl = await createTestDatabase('es');
    const store = await PostgresEventStore.connect(contractUrl);
    await store.migrate();
    return store;
  },
  async holdOpenTransaction(store, streamName, toAppend) {
    const client = new Client({ connectionString: contractUrl });
    await client.connect();
    await client.query('BEGIN');
    await store.appendWithin(client, streamName, toAppend);
    return {
      async commit() {
        await client.query('COMMIT');
        await client.end();
      },
    };
  },
});

describe('PostgresEventStore', () => {
  let url: string;
  let store: PostgresEventStore;
  const opened: PostgresEventStore[] = [];

  async function open(options?: Parameters<typeof PostgresEventStore.connect>[1]): Promise<PostgresEventStore> {
    const opening = await PostgresEventStore.connect(url, options);
    opened.push(opening);
    return opening;
  }

  beforeAll(async () => {
    url = await createTestDatabase('es');
    store = await open();
  });
  afterAll(async () => {
    await Promise.all(opened.map((each) => each.close()));
  });

  it('migrates idempotently, also from several processes at once', async () => {
    const others = await Promise.all([open(), open(), open()]);
    await Promise.all([store.migrate(), ...others.map((other) => other.migrate())]);
    await store.migrate();
    const stream = uniquePrefix('migrated');
    await others[0]!.appendToStream(stream, events(1));
    expect((await store.readStream(stream)).length).toBe(1);
  });

  it('reports as head the last committed event once older transactions have ended, so waiting for the head waits for that event', async () => {
    // A transaction that began before the append and is still open when the head is asked for
    // (another projection's batch, say) would otherwise hide the append behind the horizon.
    const older = new Client({ connectionString: url });
    await older.connect();
    await older.query('BEGIN');
    await older.query('SELECT pg_current_xact_id()');
    const appended = await store.appendToStream(uniquePrefix('head'), events(1));
    const head = store.headPosition();
    // Long enough for the question to have been asked, well inside the second the head waits at most.
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Appends after the question are not waited for (on a busy log there is always a newer one).
    await store.appendToStream(uniquePrefix('head-later'), events(1));
    await older.query('COMMIT');
    await older.end();
    expect(await head).toEqual(appended.position);
  });

  it('leaves a pool it was given open when it closes', async () => {
    const pool = new Pool({ connectionString: url });
    try {
      const onPool = new PostgresEventStore(pool);
      await onPool.ping();
      await onPool.close();
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('reports the position of the last appended event and the actual revision on conflict', async () => {
    const stream = uniquePrefix('positions');
    const result = await store.appendToStream(stream, events(3));
    const read = await store.readStream(stream);
    expect(result.position).toEqual(read[2]!.position);
    expect(read.map((event) => event.position.commit)).toEqual(Array(3).fill(result.position.commit));

    const stale = await store.appendToStream(stream, events(1), { expectedRevision: 0n }).catch((error: unknown) => error);
    expect(stale).toBeInstanceOf(WrongExpectedRevisionError);
    expect((stale as WrongExpectedRevisionError).actual).toBe(2n);
    const missing = await store
      .appendToStream(uniquePrefix('missing'), events(1), { expectedRevision: 'stream_exists' })
      .catch((error: unknown) => error);
    expect((missing as WrongExpectedRevisionError).actual).toBe(-1n);
  });

  it('refuses an event id that another append already stored elsewhere', async () => {
    const event = anEvent('Once');
    await store.appendToStream(uniquePrefix('first'), [event]);
    const second = uniquePrefix('second');
    await expect(store.appendToStream(second, [event])).rejects.toThrow(/already stored/);
    expect(await store.readStream(second)).toEqual([]);
  });

  it('declares its capabilities on the port: it reads several streams at once, and is transactional in its own database', async () => {
    const [two, one, none] = [uniquePrefix('read-two'), uniquePrefix('read-one'), uniquePrefix('read-none')];
    await store.appendToStream(two, events(2));
    await store.appendToStream(one, events(1));
    const read = await store.readStreams([one, none, two]);
    expect(read).toEqual(
      new Map([
        [one, await store.readStream(one)],
        [none, []],
        [two, await store.readStream(two)],
      ]),
    );
    expect(read.get(two)!.map((event) => event.revision)).toEqual([0n, 1n]);
    expect(store.transactional).toBe(store);
    const [same, other] = [new Pool({ connectionString: url }), new Pool({ connectionString: await createTestDatabase('other') })];
    try {
      expect([store.transactional!.sharesDatabaseWith(same), store.transactional!.sharesDatabaseWith(other)]).toEqual([true, false]);
    } finally {
      await Promise.all([same.end(), other.end()]);
    }
  });

  it('appendWithin commits or rolls back with the caller transaction', async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const stream = uniquePrefix('within');
      await client.query('BEGIN');
      await store.appendWithin(client, stream, events(2), { expectedRevision: 'no_stream' });
      await client.query('ROLLBACK');
      expect(await store.readStream(stream)).toEqual([]);

      await client.query('BEGIN');
      const result = await store.appendWithin(client, stream, events(2), { expectedRevision: 'no_stream' });
      await client.query('COMMIT');
      expect(result.nextExpectedRevision).toBe(1n);
      expect((await store.readStream(stream)).length).toBe(2);
    } finally {
      await client.end();
    }
  });

  it('appendManyWithin appends to several streams at once, or to none when one expectation fails', async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const [existing, fresh] = [uniquePrefix('many-existing'), uniquePrefix('many-fresh')];
      await store.appendToStream(existing, events(1));
      await client.query('BEGIN');
      await expect(
        store.appendManyWithin(client, [
          { streamName: fresh, events: events(2), expectedRevision: -1n },
          { streamName: existing, events: events(1), expectedRevision: 5n },
        ]),
      ).rejects.toMatchObject({ name: 'WrongExpectedRevisionError', streamName: existing, streamNames: [existing] });
      // The caller's transaction is still usable, and holds nothing of the refused append.
      const results = await store.appendManyWithin(client, [
        { streamName: fresh, events: events(2), expectedRevision: -1n },
        { streamName: existing, events: events(1), expectedRevision: 0n },
      ]);
      await client.query('COMMIT');
      expect(results.map((result) => result.nextExpectedRevision)).toEqual([1n, 1n]);
      const [freshEvents, existingEvents] = [await store.readStream(fresh), await store.readStream(existing)];
      expect(freshEvents.map((event) => event.revision)).toEqual([0n, 1n]);
      expect(existingEvents.map((event) => event.revision)).toEqual([0n, 1n]);
      expect(results[0]!.position).toEqual(freshEvents[1]!.position);
      expect(results[1]!.position).toEqual(existingEvents[1]!.position);
    } finally {
      await client.end();
    }
  });

  it('startStreams creates several new streams at once, or none when one of them exists', async () => {
    const [claim, account, taken] = [uniquePrefix('start-claim'), uniquePrefix('start-account'), uniquePrefix('start-taken')];
    const results = await store.startStreams([
      { streamName: claim, events: events(1) },
      { streamName: account, events: events(2) },
    ]);
    expect(results.map((result) => result.nextExpectedRevision)).toEqual([0n, 1n]);
    const [claimEvents, accountEvents] = [await store.readStream(claim), await store.readStream(account)];
    expect(accountEvents.map((event) => event.revision)).toEqual([0n, 1n]);
    expect(results[0]!.position).toEqual(claimEvents[0]!.position);
    expect(results[1]!.position).toEqual(accountEvents[1]!.position);

    await store.appendToStream(taken, events(1));
    const fresh = uniquePrefix('start-fresh');
    await expect(
      store.startStreams([
        { streamName: fresh, events: events(1) },
        { streamName: taken, events: events(1) },
      ]),
    ).rejects.toMatchObject({ name: 'WrongExpectedRevisionError', streamNames: [taken] });
    expect(await store.readStream(fresh)).toEqual([]);
    expect(await store.readStream(taken)).toHaveLength(1);
    // The failed attempt left no stream row behind: the fresh stream can still be started.
    await expect(store.startStreams([{ streamName: fresh, events: events(1) }])).resolves.toHaveLength(1);
  });

  it('startStreams racing for one stream: exactly one wins, the others store nothing', async () => {
    const contested = uniquePrefix('start-race');
    const racers = Array.from({ length: 12 }, (_, i) => ({ own: `${uniquePrefix('start-own')}-${i}`, ids: events(1) }));
    const outcomes = await Promise.allSettled(
      racers.map((racer) =>
        store.startStreams([
          { streamName: contested, events: racer.ids },
          { streamName: racer.own, events: events(1) },
        ]),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(WrongExpectedRevisionError);
    const winner = outcomes.findIndex((outcome) => outcome.status === 'fulfilled');
    expect(ids(await store.readStream(contested))).toEqual(ids(racers[winner]!.ids));
    for (const [index, racer] of racers.entries()) expect(await store.readStream(racer.own)).toHaveLength(index === winner ? 1 : 0);
  });

  it('appendToStreams appends to new and existing streams at once, and concurrent ones sharing streams keep every revision', async () => {
    const [existing, fresh] = [uniquePrefix('many-existing'), uniquePrefix('many-fresh')];
    await store.appendToStream(existing, events(2));
    const subscription = store.subscribeToAll({
      from: (await store.headPosition()) ?? 'start',
      filter: { streamNamePrefixes: [existing, fresh] },
    });
    const [toExisting, toFresh] = [events(1), events(2)];
    const results = await store.appendToStreams([
      { streamName: existing, events: toExisting },
      { streamName: fresh, events: toFresh },
    ]);
    expect(results.map((result) => result.nextExpectedRevision)).toEqual([2n, 1n]);
    expect((await store.readStream(existing)).map((event) => event.revision)).toEqual([0n, 1n, 2n]);
    expect(results[1]!.position).toEqual((await store.readStream(fresh))[1]!.position);
    // Subscriptions in this process are told at once, as for any append.
    const received = await EventReader.of(subscription).until(toFresh[1]!.id!);
    expect(ids(received)).toEqual(ids([...toExisting, ...toFresh]));

    // Twenty writers over the same two streams, in either order: no deadlock, no lost or doubled revision.
    const [a, b] = [uniquePrefix('many-a'), uniquePrefix('many-b')];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.appendToStreams(
          i % 2
            ? [
                { streamName: a, events: events(1) },
                { streamName: b, events: events(2) },
              ]
            : [
                { streamName: b, events: events(1) },
                { streamName: a, events: events(1) },
              ],
        ),
      ),
    );
    expect((await store.readStream(a)).map((event) => event.revision)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i)));
    expect((await store.readStream(b)).map((event) => event.revision)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i)));
  });

  it('appendToStreamsBeside guards a stream by the revision decided on: all stored when it holds, nothing when it does not', async () => {
    const pool = new Pool({ connectionString: url, max: 2 });
    try {
      await pool.query('CREATE TABLE IF NOT EXISTS beside_marks (id text PRIMARY KEY)');
      const beside = (id: string) => ({
        withQueries: 'marked AS (INSERT INTO beside_marks (id) VALUES ($1))',
        values: [id],
        shape: 'test_mark',
      });
      const marked = async (id: string) => (await pool.query('SELECT 1 FROM beside_marks WHERE id = $1', [id])).rowCount;
      const [guarded, open, fresh] = [uniquePrefix('beside-guarded'), uniquePrefix('beside-open'), uniquePrefix('beside-fresh')];
      await store.appendToStream(guarded, events(2));

      const stored = await store.appendToStreamsBeside(
        [
          { streamName: guarded, events: events(1), expectedRevision: 1n },
          { streamName: open, events: events(2) },
          { streamName: fresh, events: events(1), expectedRevision: -1n },
        ],
        beside('held'),
      );
      expect(stored.map((result) => result.nextExpectedRevision)).toEqual([2n, 1n, 0n]);
      expect(await marked('held')).toBe(1);

      // The guarded stream moved on (revision 2): its decision is refused, and nothing else of the statement stays.
      const refused = store.appendToStreamsBeside(
        [
          { streamName: guarded, events: events(1), expectedRevision: 1n },
          { streamName: open, events: events(1) },
        ],
        beside('stale'),
      );
      await expect(refused).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      await expect(refused).rejects.toMatchObject({ streamNames: [guarded] });
      await expect(
        store.appendToStreamsBeside([{ streamName: fresh, events: events(1), expectedRevision: -1n }], beside('exists')),
      ).rejects.toMatchObject({ streamNames: [fresh] });
      expect(await marked('stale')).toBe(0);
      expect(await marked('exists')).toBe(0);
      expect((await store.readStream(guarded)).length).toBe(3);
      expect((await store.readStream(open)).length).toBe(2);
      expect((await store.readStream(fresh)).length).toBe(1);

      // Ten decisions on one revision at once: exactly one is stored.
      const raced = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          store.appendToStreamsBeside([{ streamName: guarded, events: events(1), expectedRevision: 2n }], beside(`race-${i}`)),
        ),
      );
      expect(raced.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
      expect((await pool.query("SELECT 1 FROM beside_marks WHERE id LIKE 'race-%'")).rowCount).toBe(1);
      expect((await store.readStream(guarded)).map((event) => event.revision)).toEqual([0n, 1n, 2n, 3n]);
    } finally {
      await pool.end();
    }
  });

  it('reports how long an open transaction holds stored events back from subscriptions (head age), and 0 once it ends', async () => {
    await store.migrate();
    const holder = new Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      // A transaction id, as any write takes: subscriptions now read only below it.
      await holder.query('SELECT pg_current_xact_id()');
      await store.appendToStream(uniquePrefix('held'), events(1));
      await eventually(async () => (await store.headAgeSeconds()) >= 0.5, 'the held-back event to age');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    // Other tests' transactions on this server hold the log back too, briefly: wait for them to end.
    await eventually(async () => (await store.headAgeSeconds()) === 0, 'nothing to be held back');
  });

  it('never delivers $-prefixed streams or event types', async () => {
    const prefix = uniquePrefix('system');
    const subscription = store.subscribeToAll({ from: (await store.headPosition()) ?? 'start' });
    await store.appendToStream(`$${prefix}`, events(1));
    await store.appendToStream(`${prefix}-a`, [anEvent('$metadata')]);
    const visible = anEvent('Visible');
    await store.appendToStream(`${prefix}-a`, [visible]);
    const received = await EventReader.of(subscription).until(visible.id!);
    await subscription.close();
    expect(ids(received)).toEqual([visible.id]);
  });

  it('pages through long runs of events a filter rejects', async () => {
    const small = await open({ pageSize: 4 });
    const prefix = uniquePrefix('paging');
    const head = await small.headPosition();
    const wanted: EventToAppend[] = [];
    for (let round = 0; round < 3; round++) {
      await small.appendToStream(`${prefix}-noise`, events(9));
      const batch = events(3);
      await small.appendToStream(`${prefix}-wanted`, batch);
      wanted.push(...batch);
    }
    const subscription = small.subscribeToAll({ from: head ?? 'start', filter: { streamNamePrefixes: [`${prefix}-wanted`] } });
    const received = await EventReader.of(subscription).take(wanted.length);
    await subscription.close();
    expect(ids(received)).toEqual(ids(wanted));
  });

  it('sees appends made through another pool (another process) by polling', async () => {
    const writer = await open();
    const prefix = uniquePrefix('elsewhere');
    const subscription = store.subscribeToAll({ from: (await store.headPosition()) ?? 'start', filter: { streamNamePrefixes: [prefix] } });
    const reader = EventReader.of(subscription);
    const appended = events(3);
    for (const event of appended) await writer.appendToStream(`${prefix}-a`, [event]);
    expect(ids(await reader.take(3))).toEqual(ids(appended));
    await subscription.close();
  });

  it('polls a quiet log at most every idlePollMs when the subscriber asks, and still sees appends from this process at once and from others', async () => {
    const pool = new Pool({ connectionString: url });
    const query = jest.spyOn(pool, 'query');
    const prefix = uniquePrefix('idle-poll');
    /** Page reads of the subscription following `streams`, told apart by the filter they send. */
    const pageReads = (streams: string) =>
      query.mock.calls.filter(([config]) => {
        const { name, values } = config as unknown as { name?: string; values?: unknown[] };
        return name === 'tessera_es_read_all_page' && JSON.stringify(values).includes(`"${streams}"`);
      }).length;
    const onPool = new PostgresEventStore(pool, { minPollMs: 5, maxPollMs: 50, lingerMs: 0 });
    const elsewhere = await open();
    try {
      const from = (await onPool.headPosition()) ?? 'start';
      const quiet = onPool.subscribeToAll({ from, filter: { streamNamePrefixes: [`${prefix}-quiet`] }, idlePollMs: 2_000 });
      const eager = onPool.subscribeToAll({ from, filter: { streamNamePrefixes: [`${prefix}-eager`] } });
      const quietReader = EventReader.of(quiet);
      // A subscription reads once it is asked for an event: nothing comes, and the ask stays pending.
      expect(await quietReader.next(1)).toBeUndefined();
      expect(await EventReader.of(eager).next(1)).toBeUndefined();
      // Both back off from 5 ms, doubling while nothing comes: the quiet one up to 2 s, the other up to 50 ms.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const [quietBefore, eagerBefore] = [pageReads(`${prefix}-quiet`), pageReads(`${prefix}-eager`)];
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(pageReads(`${prefix}-quiet`) - quietBefore).toBeLessThanOrEqual(2);
      expect(pageReads(`${prefix}-eager`) - eagerBefore).toBeGreaterThanOrEqual(20);
      const own = events(1);
      await onPool.appendToStream(`${prefix}-quiet-a`, own);
      expect(ids(await quietReader.take(1))).toEqual(ids(own));
      const other = events(1);
      await elsewhere.appendToStream(`${prefix}-quiet-b`, other);
      expect(ids(await quietReader.take(1))).toEqual(ids(other));
      await Promise.all([quiet.close(), eager.close()]);
    } finally {
      await onPool.close();
      query.mockRestore();
      await pool.end();
    }
  });

  it('ends its subscriptions when the store closes', async () => {
    const closing = await PostgresEventStore.connect(url);
    const subscription = closing.subscribeToAll({ from: (await closing.headPosition()) ?? 'start' });
    const reader = EventReader.of(subscription);
    expect(await reader.next(50)).toBeUndefined();
    await closing.close();
    expect(await reader.next()).toEqual({ done: true, value: undefined });
    expect(await EventReader.of(closing.subscribeToAll()).next()).toEqual({ done: true, value: undefined });
  });

  it('accepts caller-chosen ids in any letter case as a retry', async () => {
    const stream = uniquePrefix('case');
    const id = randomUUID();
    await store.appendToStream(stream, [{ id, type: 'A', data: {} }], { expectedRevision: 'no_stream' });
    const again = await store.appendToStream(stream, [{ id: id.toUpperCase(), type: 'A', data: {} }], {
      expectedRevision: 'no_stream',
    });
    expect(again.nextExpectedRevision).toBe(0n);
    expect((await store.readStream(stream)).length).toBe(1);
  });
});
