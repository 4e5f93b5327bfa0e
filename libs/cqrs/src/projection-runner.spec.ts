import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import type { ClientBase } from 'pg';
import type { RecordedEvent } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { createTestDatabase } from '../../../test/support/database';
import { EventCodec, type PersonalDataSealer } from './event-codec';
import { defineEvent, EventRegistry } from './event-types';
import { ProjectionMetrics } from './projection-metrics';
import type { Projection } from './projection';
import { ProjectionRunner } from './projection-runner';
import { CHECKPOINTS_DDL } from './projection-tables';

const Counted = defineEvent<{ counter: string }>()('Counted');
const noPersonalData: PersonalDataSealer = { seal: async (_t, _s, data) => data, open: async (_t, data) => ({ data, erased: false }) };

describe('projection runner', () => {
  let store: PostgresEventStore;
  let dataSource: DataSource;
  let codec: EventCodec;
  const started: ProjectionRunner[] = [];
  const run = (runner: ProjectionRunner) => {
    started.push(runner);
    runner.start();
    return runner;
  };
  afterEach(async () => {
    await Promise.all(started.splice(0).map((runner) => runner.stop()));
  });

  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase('projection');
    store = await PostgresEventStore.connect(url);
    await store.migrate();
    dataSource = new DataSource({ type: 'postgres', url });
    await dataSource.initialize();
    await dataSource.query(CHECKPOINTS_DDL);
    await dataSource.query('CREATE TABLE counters (name text PRIMARY KEY, value int NOT NULL)');
    codec = new EventCodec(new EventRegistry([Counted]), noPersonalData);
  });
  afterAll(async () => {
    await dataSource.destroy();
    await store.close();
  });

  /** A read model whose effect is not idempotent, so a double application shows up in the count. */
  function countingProjection(name: string, prefix: string, failOnce?: { after: number }): Projection {
    let applied = 0;
    return {
      name,
      filter: { streamNamePrefixes: [prefix] },
      async apply(envelope, tx) {
        const { counter } = envelope.event.data as { counter: string };
        await tx.query('INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1', [
          counter,
        ]);
        applied++;
        // Fails mid-batch once: the transaction's earlier effects must roll back with it.
        if (failOnce && applied === failOnce.after) throw new Error('crash in the middle of a batch');
      },
    };
  }

  async function appendCounted(prefix: string, streams: number, perStream: number, counter: string) {
    for (let s = 0; s < streams; s++) {
      const events = Array.from({ length: perStream }, () => ({
        type: 'Counted',
        data: { counter },
        metadata: { tenantId: 't1', schemaVersion: 1 },
      }));
      await store.appendToStream(`${prefix}${s}`, events);
    }
  }

  const counterValue = async (name: string) =>
    ((await dataSource.query('SELECT value FROM counters WHERE name = $1', [name])) as { value: number }[])[0]?.value ?? 0;

  test('a batch that appended events wakes the subscriptions that want them, and only those', async () => {
    // Subscriptions here never poll within the test: only an append this process is told of makes them read.
    const quiet = await PostgresEventStore.connect(url, { minPollMs: 600_000, maxPollMs: 600_000, lingerMs: 0 });
    try {
      // A log with something in it: a subscription reports how far it scanned only past the start.
      await quiet.appendToStream('relay-seed-1', [
        { type: 'Counted', data: { counter: 'seed' }, metadata: { tenantId: 't1', schemaVersion: 1 } },
      ]);
      const from = (await quiet.headPosition())!;
      const wanted = quiet.subscribeToAll({ from, filter: { streamNamePrefixes: ['relayed-'] } });
      let unrelatedReads = 0;
      let unrelatedAtHead!: () => void;
      const atHead = new Promise<void>((resolve) => (unrelatedAtHead = resolve));
      // It reports once before its first read and once after each read that found nothing.
      const unrelated = quiet.subscribeToAll({
        from,
        filter: { streamNamePrefixes: ['elsewhere-'] },
        onScannedTo: () => {
          if (++unrelatedReads === 2) unrelatedAtHead();
        },
      });
      const unrelatedNext = unrelated[Symbol.asyncIterator]().next();
      await atHead;
      const readsAtHead = unrelatedReads;
      const relaying: Projection = {
        name: 'relaying',
        filter: { streamNamePrefixes: ['relay-source-'] },
        async applyBatch(envelopes, tx) {
          const client = (tx.queryRunner as unknown as { databaseConnection: ClientBase }).databaseConnection;
          const relayed = envelopes.map(() => ({
            type: 'Counted',
            data: { counter: 'relayed' },
            metadata: { tenantId: 't1', schemaVersion: 1 },
          }));
          await quiet.appendWithin(client, 'relayed-1', relayed);
          return [{ streamName: 'relayed-1', types: relayed.map((event) => event.type) }];
        },
      };
      run(new ProjectionRunner(relaying, quiet, codec, dataSource));
      await quiet.appendToStream('relay-source-1', [
        { type: 'Counted', data: { counter: 'source' }, metadata: { tenantId: 't1', schemaVersion: 1 } },
      ]);
      let giveUp!: NodeJS.Timeout;
      const notWoken = new Promise<'not woken'>((resolve) => (giveUp = setTimeout(() => resolve('not woken'), 10_000)));
      const first = await Promise.race([wanted[Symbol.asyncIterator]().next(), notWoken]);
      clearTimeout(giveUp);
      expect(first).not.toBe('not woken');
      expect((first as IteratorResult<RecordedEvent>).value.streamName).toBe('relayed-1');
      await delay(300);
      expect(unrelatedReads).toBe(readsAtHead);
      await Promise.all([wanted.close(), unrelated.close()]);
      await unrelatedNext;
    } finally {
      await Promise.all(started.splice(0).map((runner) => runner.stop()));
      await quiet.close();
    }
  });

  test("'unless-appending': a batch that appends nothing commits without waiting for the WAL flush, one that appends waits", async () => {
    // A deferred trigger runs at commit, after every statement of the transaction: it sees the setting the commit uses.
    await dataSource.query(`CREATE TABLE durability_marks (batch text NOT NULL)`);
    await dataSource.query(`CREATE TABLE durability_seen (batch text NOT NULL, synchronous_commit text NOT NULL)`);
    await dataSource.query(`CREATE FUNCTION note_durability() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO durability_seen VALUES (NEW.batch, current_setting('synchronous_commit')); RETURN NULL; END $$`);
    await dataSource.query(`CREATE CONSTRAINT TRIGGER durability_at_commit AFTER INSERT ON durability_marks
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_durability()`);
    const projection: Projection = {
      name: 'unless-appending',
      filter: { streamNamePrefixes: ['durability-'] },
      asynchronousCommit: 'unless-appending',
      async applyBatch(envelopes, tx) {
        const counters = envelopes.map((envelope) => (envelope.event.data as { counter: string }).counter);
        for (const counter of counters) await tx.query('INSERT INTO durability_marks (batch) VALUES ($1)', [counter]);
        if (!counters.includes('appends')) return [];
        const client = (tx.queryRunner as unknown as { databaseConnection: ClientBase }).databaseConnection;
        const relayed = [{ type: 'Counted', data: { counter: 'relayed' }, metadata: { tenantId: 't1', schemaVersion: 1 } }];
        await store.appendWithin(client, 'durability-relayed-out', relayed);
        return [{ streamName: 'durability-relayed-out', types: ['Counted'] }];
      },
    };
    // The test server's default is off (see the test database): these sessions start from production's.
    const durableByDefault = new DataSource({ type: 'postgres', url, extra: { options: '-c synchronous_commit=on' } });
    await durableByDefault.initialize();
    const runner = run(new ProjectionRunner(projection, store, codec, durableByDefault));
    for (const counter of ['quiet', 'appends', 'quiet-again']) {
      await store.appendToStream(`durability-${counter}`, [
        { type: 'Counted', data: { counter }, metadata: { tenantId: 't1', schemaVersion: 1 } },
      ]);
      await runner.waitFor((await store.headPosition())!, 20_000);
    }
    const seen: { batch: string; synchronous_commit: string }[] = await dataSource.query(
      'SELECT batch, synchronous_commit FROM durability_seen ORDER BY batch',
    );
    // The relayed event is one the filter takes too: a batch of its own that appends nothing.
    expect(Object.fromEntries(seen.map((row) => [row.batch, row.synchronous_commit]))).toEqual({
      appends: 'on',
      quiet: 'off',
      'quiet-again': 'off',
      relayed: 'off',
    });
    await runner.stop();
    await durableByDefault.destroy();
  });

  test('a crash in the middle of a batch is replayed from the checkpoint: every event counts exactly once', async () => {
    await appendCounted('crash-', 10, 30, 'crash');
    const runner = new ProjectionRunner(countingProjection('crash', 'crash-', { after: 150 }), store, codec, dataSource);
    run(runner);
    const head = (await store.headPosition())!;
    await runner.waitFor(head, 20_000);
    await runner.stop();
    expect(await counterValue('crash')).toBe(300);
  });

  test('the projection hears of every batch that committed and of none that failed, which it hears of as a resume', async () => {
    await appendCounted('told-', 10, 30, 'told');
    const calls: string[] = [];
    const counting = countingProjection('told', 'told-', { after: 150 });
    const projection: Projection = {
      ...counting,
      async apply(envelope, tx) {
        calls.push('apply');
        await counting.apply!(envelope, tx);
      },
      committed: () => calls.push('committed'),
      resumed: () => calls.push('resumed'),
    };
    const runner = run(new ProjectionRunner(projection, store, codec, dataSource));
    await runner.waitFor((await store.headPosition())!, 20_000);
    await runner.stop();
    let pending = 0;
    let confirmed = 0;
    let failedBatches = 0;
    for (const call of calls) {
      if (call === 'apply') pending++;
      else if (call === 'committed') confirmed += pending;
      else if (pending > 0) failedBatches++;
      if (call !== 'apply') pending = 0;
    }
    expect(confirmed).toBe(300);
    expect(failedBatches).toBe(1);
    expect(await counterValue('told')).toBe(300);
  });

  test('a restarted runner resumes from its checkpoint without applying anything twice', async () => {
    await appendCounted('restart-', 5, 20, 'restart');
    const first = new ProjectionRunner(countingProjection('restart', 'restart-'), store, codec, dataSource);
    run(first);
    await first.waitFor((await store.headPosition())!);
    await first.stop();
    await appendCounted('restart-more-', 5, 20, 'restart');
    const second = new ProjectionRunner(countingProjection('restart', 'restart-'), store, codec, dataSource);
    run(second);
    await second.waitFor((await store.headPosition())!);
    await second.stop();
    expect(await counterValue('restart')).toBe(200);
  });

  test('two replicas running the same projection at once still apply each event once', async () => {
    const replicas = [1, 2].map(() => new ProjectionRunner(countingProjection('replicated', 'replicated-'), store, codec, dataSource));
    replicas.forEach(run);
    await Promise.all(Array.from({ length: 8 }, (_, writer) => appendCounted(`replicated-${writer}-`, 10, 10, 'replicated')));
    const head = (await store.headPosition())!;
    await Promise.all(replicas.map((replica) => replica.waitFor(head, 20_000)));
    await Promise.all(replicas.map((replica) => replica.stop()));
    expect(await counterValue('replicated')).toBe(800);
  });

  test('replicas racing for a batch whose rows may exist only once: the loser yields before applying, and nothing fails', async () => {
    // Like register's accounts: one row per event, inserted without ON CONFLICT. A replica that
    // applied a batch another replica had already committed would hit the unique key and back off.
    await dataSource.query('CREATE TABLE created_once (event_id text PRIMARY KEY)');
    const createdOnce: Projection = {
      name: 'created-once',
      filter: { streamNamePrefixes: ['once-'] },
      async apply(envelope, tx) {
        await tx.query('INSERT INTO created_once (event_id) VALUES ($1)', [envelope.id]);
      },
    };
    const warnings: string[] = [];
    const logger = { warn: (message: string, fields?: object) => warnings.push(`${message} ${JSON.stringify(fields)}`) };
    const replicas = [1, 2, 3].map(() => run(new ProjectionRunner(createdOnce, store, codec, dataSource, undefined, logger)));
    await Promise.all(Array.from({ length: 6 }, (_, writer) => appendCounted(`once-${writer}-`, 20, 2, 'once')));
    const head = (await store.headPosition())!;
    await Promise.all(replicas.map((replica) => replica.waitFor(head, 20_000)));
    expect(warnings).toEqual([]);
    expect((await dataSource.query('SELECT count(*)::int AS n FROM created_once'))[0].n).toBe(240);
  });

  test('waitFor a position its filter passes over resolves once the projection has read past it, with everything before applied', async () => {
    const runner = run(new ProjectionRunner(countingProjection('scanned', 'scanned-'), store, codec, dataSource));
    await appendCounted('scanned-', 2, 5, 'scanned');
    const elsewhere = await store.appendToStream('elsewhere-1', [
      { type: 'Counted', data: { counter: 'elsewhere' }, metadata: { tenantId: 't1', schemaVersion: 1 } },
    ]);
    await runner.waitFor(elsewhere.position, 10_000);
    expect(await counterValue('scanned')).toBe(10);
    expect(await counterValue('elsewhere')).toBe(0);
  });

  test('a batch that failed is not taken as read past: waitFor beyond it waits for the retry to apply it', async () => {
    await appendCounted('retried-', 1, 6, 'retried');
    const elsewhere = await store.appendToStream('elsewhere-2', [
      { type: 'Counted', data: { counter: 'elsewhere' }, metadata: { tenantId: 't1', schemaVersion: 1 } },
    ]);
    const runner = run(new ProjectionRunner(countingProjection('retried', 'retried-', { after: 3 }), store, codec, dataSource));
    await runner.waitFor(elsewhere.position, 10_000);
    expect(await counterValue('retried')).toBe(6);
  });

  test('lag is reported as a metric and is zero once caught up', async () => {
    const registry = new Registry();
    const runner = new ProjectionRunner(
      countingProjection('measured', 'measured-'),
      store,
      codec,
      dataSource,
      new ProjectionMetrics(registry),
    );
    run(runner);
    await appendCounted('measured-', 3, 10, 'measured');
    await runner.waitFor((await store.headPosition())!);
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/tessera_projection_lag_seconds_count\{projection="measured"\} 30/);
    expect(exposition).toMatch(/tessera_projection_behind_seconds\{projection="measured"\} 0/);
    // A counter, so rate() and increase() in the alert rules and dashboards read it correctly.
    expect(exposition).toContain('# TYPE tessera_projection_events_applied_total counter');
    expect(exposition).toMatch(/tessera_projection_events_applied_total\{projection="measured"\} 30\n/);
    await runner.stop();
  });
});
