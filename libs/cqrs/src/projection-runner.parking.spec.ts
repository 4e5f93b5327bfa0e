import { eventually } from '#platform/testing';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import type { EventToAppend } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { createTestDatabase } from '../../../test/support/database';
import { EventCodec, type PersonalDataSealer } from './event-codec';
import type { EventEnvelope } from './event-envelope';
import { defineEvent, EventRegistry } from './event-types';
import { ParkedEvents } from './parked-events';
import type { IsolationOptions } from './poison-isolation';
import type { Projection } from './projection';
import { ProjectionMetrics } from './projection-metrics';
import { ProjectionRunner } from './projection-runner';
import { migrateProjectionTables } from './projection-tables';

const Noted = defineEvent<{ note: string; amount: number; at: string }>()('Noted');
const noPersonalData: PersonalDataSealer = { seal: async (_t, _s, data) => data, open: async (_t, data) => ({ data, erased: false }) };
const codec = new EventCodec(new EventRegistry([Noted]), noPersonalData);

/** In every event's note: a log line, a metric or a parked row that quotes an event would show it. */
const CONTENT = `content-${randomUUID()}`;
/** What `new Date('9999-12-31T23:00:00-05:00').toISOString()` gives: a year PostgreSQL's timestamptz refuses. */
const YEAR_10000 = new Date('9999-12-31T23:00:00-05:00').toISOString();
const FINE_AT = '2026-01-01T00:00:00.000Z';

/**
 * A poison event never blocks a projection: the one event whose application fails for a reason of
 * its own (a real constraint, a real cast) is parked, and everything around it is applied; what
 * may pass, or is not the event's fault, is retried and parks nothing.
 */
describe('projection runner and events it cannot apply', () => {
  let store: PostgresEventStore;
  let dataSource: DataSource;
  let url: string;
  const started: ProjectionRunner[] = [];
  const tenantA = randomUUID();
  const tenantB = randomUUID();

  beforeAll(async () => {
    url = await createTestDatabase('parking');
    store = await PostgresEventStore.connect(url);
    await store.migrate();
    dataSource = new DataSource({ type: 'postgres', url });
    await dataSource.initialize();
    await migrateProjectionTables(dataSource);
    await dataSource.query(`CREATE TABLE notes (
      projection text NOT NULL, tenant_id text NOT NULL, event_id text NOT NULL, note text NOT NULL,
      amount int NOT NULL CONSTRAINT notes_amount_check CHECK (amount < 1000), at timestamptz NOT NULL)`);
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((runner) => runner.stop()));
  });
  afterAll(async () => {
    await dataSource.destroy();
    await store.close();
  });

  interface Note {
    readonly tenantId: string;
    readonly amount?: number;
    readonly at?: string;
  }

  /** Appends each note in a transaction of its own, in order; answers the events as stored. */
  async function append(stream: string, notes: readonly Note[]): Promise<(EventToAppend & { id: string })[]> {
    const events: (EventToAppend & { id: string })[] = [];
    for (const { tenantId, amount = 1, at = FINE_AT } of notes) {
      const event = await codec.encode(Noted({ note: CONTENT, amount, at }), { tenantId, correlationId: randomUUID(), now: new Date() });
      await store.appendToStream(`${stream}-${tenantId}`, [event]);
      events.push(event as EventToAppend & { id: string });
    }
    return events;
  }

  const row = (name: string, envelope: EventEnvelope) => {
    const data = envelope.event.data as { note: string; amount: number; at: string };
    return [name, envelope.metadata.tenantId, envelope.id, data.note, data.amount, data.at];
  };

  /** One INSERT per event; every call and whether its transaction committed or rolled back, in `calls`. */
  function perEvent(name: string, calls: string[] = []): Projection {
    return {
      name,
      filter: { streamNamePrefixes: [`${name}-`] },
      async apply(envelope, tx) {
        calls.push(`apply ${envelope.id}`);
        await tx.query('INSERT INTO notes (projection, tenant_id, event_id, note, amount, at) VALUES ($1, $2, $3, $4, $5, $6)', [
          ...row(name, envelope),
        ]);
      },
      committed: () => calls.push('committed'),
      resumed: () => calls.push('resumed'),
    };
  }

  /** One set-based INSERT per batch, as pulse's and rewards' projections write: one bad row fails the statement. */
  function setBased(name: string, calls: string[] = []): Projection {
    return {
      name,
      filter: { streamNamePrefixes: [`${name}-`] },
      async applyBatch(envelopes, tx) {
        calls.push(`batch ${envelopes.map((envelope) => envelope.id).join(' ')}`);
        const rows = envelopes.map((envelope) => row(name, envelope));
        await tx.query(
          `INSERT INTO notes (projection, tenant_id, event_id, note, amount, at)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::timestamptz[])`,
          [name, ...[1, 2, 3, 4, 5].map((column) => rows.map((r) => r[column]))],
        );
      },
      committed: () => calls.push('committed'),
      resumed: () => calls.push('resumed'),
    };
  }

  function runner(
    projection: Projection,
    options: { registry?: Registry; warnings?: object[]; isolation?: Partial<IsolationOptions> } = {},
  ): ProjectionRunner {
    const warnings = options.warnings ?? [];
    const created = new ProjectionRunner(
      projection,
      store,
      codec,
      dataSource,
      new ProjectionMetrics(options.registry ?? new Registry()),
      { warn: (message, fields) => warnings.push({ message, ...fields }) },
      options.isolation,
    );
    started.push(created);
    created.start();
    return created;
  }

  const appliedIds = async (projection: string) =>
    ((await dataSource.query('SELECT event_id FROM notes WHERE projection = $1', [projection])) as { event_id: string }[])
      .map((r) => r.event_id)
      .sort();
  const parkedRows = async (projection: string) =>
    (await dataSource.query(
      `SELECT event_id, tenant_id, stream_name, error_kind, reason, attempts FROM projection_parked_events
       WHERE projection = $1 ORDER BY commit_position`,
      [projection],
    )) as { event_id: string; tenant_id: string | null; stream_name: string; error_kind: string; reason: string; attempts: number }[];
  const caughtUp = async (each: ProjectionRunner) => each.waitFor((await store.headPosition())!, 20_000);
  const ids = (events: readonly { id: string }[]) => events.map((event) => event.id).sort();
  const messages = (warnings: object[]) => warnings.map((warning) => (warning as { message: string }).message);

  const until = (condition: () => Promise<boolean> | boolean) => eventually(condition, { timeoutMs: 20_000, intervalMs: 50 });

  /** Every transaction the projection applied in ends in exactly one committed() or resumed(); answers the committed applies. */
  function committedApplies(calls: readonly string[]): string[] {
    const committed: string[] = [];
    let open: string[] = [];
    for (const call of calls) {
      if (call.startsWith('apply ') || call.startsWith('batch ')) open.push(call);
      else {
        if (call === 'committed') committed.push(...open);
        open = [];
      }
    }
    expect(open).toEqual([]);
    return committed;
  }

  test('a CHECK constraint fails one event: exactly that event is parked, the events before and after it and the other tenant’s apply', async () => {
    const registry = new Registry();
    const warnings: object[] = [];
    const calls: string[] = [];
    const [a1, b1, bad, b2, a2] = await append('check', [
      { tenantId: tenantA },
      { tenantId: tenantB },
      { tenantId: tenantA, amount: 5000 },
      { tenantId: tenantB },
      { tenantId: tenantA },
    ]);
    const checked = runner(perEvent('check', calls), { registry, warnings });
    await caughtUp(checked);
    expect(calls.shift()).toBe('resumed'); // the start

    expect(await appliedIds('check')).toEqual(ids([a1!, b1!, b2!, a2!]));
    // One batch: its first transaction got as far as the bad event; bisecting it applied each good one once.
    expect(calls.slice(0, 4)).toEqual([...[a1, b1, bad].map((e) => `apply ${e!.id}`), 'resumed']);
    expect(committedApplies(calls).sort()).toEqual(ids([a1!, b1!, b2!, a2!]).map((id) => `apply ${id}`));
    expect(messages(warnings)).not.toContain('projection failed; restarting from its checkpoint');
    const [parked] = await parkedRows('check');
    expect(await parkedRows('check')).toEqual([
      {
        event_id: bad!.id,
        tenant_id: tenantA,
        stream_name: `check-${tenantA}`,
        error_kind: '23514',
        reason: 'SQLSTATE 23514 check_violation; constraint notes_amount_check; table notes; in ExecConstraints',
        attempts: parked!.attempts,
      },
    ]);
    expect(parked!.attempts).toBeGreaterThanOrEqual(4);
    expect(await registry.metrics()).toMatch(/tessera_projection_events_parked_total\{projection="check",reason="23514"\} 1\n/);
    expect(warnings).toEqual([
      expect.objectContaining({ message: 'projection parked an event', eventId: bad!.id, tenantId: tenantA, errorKind: '23514' }),
    ]);
    // PostgreSQL's own message would quote the row ("Failing row contains (…)"), the note with it.
    expect(JSON.stringify([warnings, await parkedRows('check'), await registry.metrics()])).not.toContain(CONTENT);
  });

  test('a set-based batch whose timestamptz cast fails on one event parks that event and applies the rest of the batch', async () => {
    const calls: string[] = [];
    const warnings: object[] = [];
    const [a1, b1, bad, b2, a2] = await append('cast', [
      { tenantId: tenantA },
      { tenantId: tenantB },
      { tenantId: tenantA, at: YEAR_10000 },
      { tenantId: tenantB },
      { tenantId: tenantA },
    ]);
    const cast = runner(setBased('cast', calls), { warnings });
    await caughtUp(cast);
    expect(calls.shift()).toBe('resumed'); // the start

    expect(await appliedIds('cast')).toEqual(ids([a1!, b1!, b2!, a2!]));
    expect(calls[0]).toBe(`batch ${[a1, b1, bad, b2, a2].map((e) => e!.id).join(' ')}`);
    // Bisected: every part that committed holds only good events, each of them once.
    const committedIds = committedApplies(calls).flatMap((call) => call.split(' ').slice(1));
    expect(committedIds.sort()).toEqual(ids([a1!, b1!, b2!, a2!]));
    expect((await parkedRows('cast')).map(({ event_id, error_kind }) => ({ event_id, error_kind }))).toEqual([
      { event_id: bad!.id, error_kind: '22009' },
    ]);
    expect(JSON.stringify([warnings, await parkedRows('cast')])).not.toMatch(new RegExp(`${CONTENT}|\\+010000`));
  });

  test('after a restart the parked event is neither applied nor parked again', async () => {
    const [before, bad] = await append('restart', [{ tenantId: tenantA }, { tenantId: tenantA, amount: 5000 }]);
    await caughtUp(runner(perEvent('restart')));
    await Promise.all(started.splice(0).map((each) => each.stop()));

    const [later] = await append('restart', [{ tenantId: tenantB }]);
    const registry = new Registry();
    const warnings: object[] = [];
    await caughtUp(runner(perEvent('restart'), { registry, warnings }));
    expect(await appliedIds('restart')).toEqual(ids([before!, later!]));
    expect((await parkedRows('restart')).map((r) => r.event_id)).toEqual([bad!.id]);
    expect(warnings).toEqual([]);
    expect(await registry.metrics()).not.toMatch(/tessera_projection_events_parked_total\{/);
  });

  describe('failures that may pass are retried and park nothing', () => {
    /** Applies normally once `failures` is used up; before, each apply fails the way `fail` makes it. */
    function failingFirst(
      name: string,
      failures: number,
      fail: (tx: { query(sql: string): Promise<unknown> }) => Promise<unknown>,
    ): Projection {
      const inner = perEvent(name);
      let left = failures;
      return {
        ...inner,
        async apply(envelope, tx) {
          if (left-- > 0) await fail(tx);
          await inner.apply!(envelope, tx);
        },
      };
    }

    async function expectRetried(name: string, projection: Projection, errorKind: string) {
      const events = await append(name, [{ tenantId: tenantA }, { tenantId: tenantB }]);
      const warnings: object[] = [];
      await caughtUp(runner(projection, { warnings }));
      expect(await appliedIds(name)).toEqual(ids(events));
      expect(await parkedRows(name)).toEqual([]);
      expect(warnings).toContainEqual(
        expect.objectContaining({ message: 'projection failed; restarting from its checkpoint', failure: 'transient', errorKind }),
      );
      expect(messages(warnings)).not.toContain('projection parked an event');
    }

    test('a statement cancelled by its timeout (57014)', async () => {
      const cancelled = failingFirst('cancelled', 4, async (tx) => {
        await tx.query("SET LOCAL statement_timeout = '10ms'");
        await tx.query('SELECT pg_sleep(1)');
      });
      await expectRetried('cancelled', cancelled, '57014');
    });

    test('a serialization failure (40001)', async () => {
      const serialization = failingFirst('serialization', 4, (tx) =>
        tx.query(`DO $$ BEGIN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure'; END $$`),
      );
      await expectRetried('serialization', serialization, '40001');
    });

    test('the connection killed by pg_terminate_backend', async () => {
      const admin = new Client({ connectionString: url });
      await admin.connect();
      try {
        // The first apply waits until the test terminates its backend from another connection.
        const killed = failingFirst('killed', 1, (tx) => tx.query('SELECT pg_sleep(30) AS killed_by_the_test'));
        const events = await append('killed', [{ tenantId: tenantA }, { tenantId: tenantB }]);
        const warnings: object[] = [];
        const running = runner(killed, { warnings });
        let terminated = 0;
        await until(async () => {
          const { rows } = await admin.query(
            "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE query LIKE '%killed_by_the_test%' AND pid <> pg_backend_pid()",
          );
          terminated += rows.length;
          return terminated > 0;
        });
        await caughtUp(running);
        expect(await appliedIds('killed')).toEqual(ids(events));
        expect(await parkedRows('killed')).toEqual([]);
        expect(warnings).toContainEqual(
          expect.objectContaining({ message: 'projection failed; restarting from its checkpoint', failure: 'transient' }),
        );
      } finally {
        await admin.end();
      }
    });
  });

  test('a read-model table dropped (a systemic failure) parks nothing; once it is back, everything applies', async () => {
    await dataSource.query('CREATE TABLE dropped_notes (event_id text PRIMARY KEY)');
    const dropped: Projection = {
      name: 'dropped',
      filter: { streamNamePrefixes: ['dropped-'] },
      apply: async (envelope, tx) => void (await tx.query('INSERT INTO dropped_notes (event_id) VALUES ($1)', [envelope.id])),
    };
    await dataSource.query('DROP TABLE dropped_notes');
    const events = await append('dropped', [{ tenantId: tenantA }, { tenantId: tenantB }, { tenantId: tenantA }]);
    const warnings: object[] = [];
    const running = runner(dropped, { warnings });
    await until(() => warnings.filter((w) => (w as { errorKind?: string }).errorKind === '42P01').length >= 3);
    expect(await parkedRows('dropped')).toEqual([]);
    expect(warnings).toContainEqual(expect.objectContaining({ failure: 'systemic', errorKind: '42P01' }));

    await dataSource.query('CREATE TABLE dropped_notes (event_id text PRIMARY KEY)');
    await caughtUp(running);
    const applied = (await dataSource.query('SELECT event_id FROM dropped_notes')) as { event_id: string }[];
    expect(applied.map((r) => r.event_id).sort()).toEqual(ids(events));
    expect(await parkedRows('dropped')).toEqual([]);
  });

  test('event after event failing alone with the same error stops parking, until the cause is fixed', async () => {
    // A constraint every note of this projection breaks: as if a migration had got it wrong.
    await dataSource.query("ALTER TABLE notes ADD CONSTRAINT mass_check CHECK (projection <> 'mass' OR amount < 0)");
    const events = await append(
      'mass',
      Array.from({ length: 8 }, (_, i) => ({ tenantId: i % 2 ? tenantA : tenantB })),
    );
    const warnings: object[] = [];
    const running = runner(perEvent('mass'), { warnings, isolation: { massParkingThreshold: 3 } });
    await until(() => messages(warnings).filter((m) => m.startsWith('projection stopped parking')).length >= 2);
    expect((await parkedRows('mass')).map((r) => r.event_id)).toEqual(events.slice(0, 3).map((e) => e.id));
    expect(warnings).toContainEqual(
      expect.objectContaining({ message: expect.stringMatching(/^projection stopped parking/), errorKind: '23514', parkedInARow: 3 }),
    );
    expect(warnings).toContainEqual(
      expect.objectContaining({ message: 'projection failed; restarting from its checkpoint', failure: 'systemic', errorKind: '23514' }),
    );

    await dataSource.query('ALTER TABLE notes DROP CONSTRAINT mass_check');
    await caughtUp(running);
    expect(await appliedIds('mass')).toEqual(ids(events.slice(3)));
    expect(await parkedRows('mass')).toHaveLength(3);
  });

  test('a retry fails while the cause is there and applies once it is fixed; the replicas of the projection start again', async () => {
    await dataSource.query("ALTER TABLE notes ADD CONSTRAINT retry_check CHECK (projection <> 'retry' OR amount < 100)");
    const [bad] = await append('retry', [{ tenantId: tenantA, amount: 500 }]);
    const calls: string[] = [];
    const replica = runner(perEvent('retry', calls));
    await caughtUp(replica);
    const parkedEvents = new ParkedEvents(dataSource, ['retry']);
    const parked = (await parkedEvents.list({ tenantId: tenantA }, { limit: 10 })).items[0]!;
    expect(parked.eventId).toBe(bad!.id);
    // Another process's runner of the same projection, as the admin API finds it.
    const elsewhere = new ProjectionRunner(perEvent('retry', calls), store, codec, dataSource);

    const failed = await elsewhere.retryParked(parked);
    expect(failed).toEqual({ outcome: 'failed', failure: expect.objectContaining({ class: 'permanent', kind: '23514' }) });
    expect((await parkedEvents.find({ tenantId: tenantA }, parked.id))?.view.attempts).toBe(parked.view.attempts + 1);
    expect(await appliedIds('retry')).toEqual([]);
    expect(calls.slice(-2)).toEqual([`apply ${bad!.id}`, 'resumed']);

    // A retry that fails for a reason not the event's (here a serialization failure) counts, but keeps the recorded cause.
    const serialization: Projection = {
      ...perEvent('retry'),
      apply: (_envelope, tx) => tx.query(`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$`),
    };
    const unlucky = await new ProjectionRunner(serialization, store, codec, dataSource).retryParked(parked);
    expect(unlucky).toEqual({ outcome: 'failed', failure: expect.objectContaining({ class: 'transient', kind: '40001' }) });
    expect((await parkedEvents.find({ tenantId: tenantA }, parked.id))?.view).toMatchObject({
      errorKind: '23514',
      attempts: parked.view.attempts + 2,
    });

    await dataSource.query('ALTER TABLE notes DROP CONSTRAINT retry_check');
    expect(await elsewhere.retryParked(parked)).toEqual({ outcome: 'applied' });
    expect(calls.slice(-2)).toEqual([`apply ${bad!.id}`, 'committed']);
    expect(await appliedIds('retry')).toEqual([bad!.id]);
    expect(await parkedEvents.find('installation', parked.id)).toBeUndefined();
    expect(await elsewhere.retryParked(parked)).toEqual({ outcome: 'gone' });

    // The replica's state predates that write: its next batch finds the checkpoint moved, and it starts again.
    const resumedBefore = calls.filter((call) => call === 'resumed').length;
    const [next] = await append('retry', [{ tenantId: tenantB }]);
    await caughtUp(replica);
    expect(calls.filter((call) => call === 'resumed').length).toBeGreaterThan(resumedBefore);
    expect(await appliedIds('retry')).toEqual(ids([bad!, next!]));
  });
});
