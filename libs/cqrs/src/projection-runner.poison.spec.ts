import { eventually } from '#platform/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { deriveKeys, PersonalDataCodec, PersonalKeyStore } from '#personal-data';
import type { EventToAppend } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { createTestDatabase } from '../../../test/support/database';
import { EventCodec, type PersonalDataSealer } from './event-codec';
import { defineEvent, EventRegistry, type AnyEventDefinition } from './event-types';
import { ProjectionMetrics } from './projection-metrics';
import type { Projection } from './projection';
import { ProjectionRunner } from './projection-runner';
import { migrateProjectionTables } from './projection-tables';

const Noted = defineEvent<{ note: string; email?: string }>()('Noted', {
  personalData: { subject: (data) => String(data.note), fields: ['email'] },
});
/** The same event type as a newer service writes it (v2), with the upcaster that reader has. */
const NotedV2 = defineEvent<{ note: string; email?: string }>()('Noted', {
  version: 2,
  personalData: Noted.personalData,
  upcasters: { 1: (data) => data },
});

const TENANT = randomUUID();
const PERSONAL = 'ada@example.com';

/**
 * Poison events: an event no reader can decode is parked (recorded once, counted, logged without
 * its content) and the projection carries on; anything that may pass on a retry is retried.
 */
describe('projection runner and events it cannot decode', () => {
  let store: PostgresEventStore;
  let dataSource: DataSource;
  let pool: Pool;
  let personalData: PersonalDataCodec;
  const started: ProjectionRunner[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((runner) => runner.stop()));
  });

  beforeAll(async () => {
    const url = await createTestDatabase('poison');
    store = await PostgresEventStore.connect(url);
    await store.migrate();
    dataSource = new DataSource({ type: 'postgres', url });
    await dataSource.initialize();
    await migrateProjectionTables(dataSource);
    await dataSource.query('CREATE TABLE noted (projection text NOT NULL, event_id text NOT NULL, email text)');
    pool = new Pool({ connectionString: url });
    const keyStore = new PersonalKeyStore(pool, deriveKeys(randomBytes(32)).keyWrappingKey);
    await keyStore.migrate();
    personalData = new PersonalDataCodec(keyStore);
  });
  afterAll(async () => {
    await dataSource.destroy();
    await pool.end();
    await store.close();
  });

  const codecOf = (definition: AnyEventDefinition = Noted, sealer: PersonalDataSealer = personalData) =>
    new EventCodec(new EventRegistry([definition]), sealer);

  /** Records every event it applies, with the opened personal field: a double application shows as two rows. */
  const notingProjection = (name: string, prefix: string): Projection => ({
    name,
    filter: { streamNamePrefixes: [prefix] },
    async apply(envelope, tx) {
      const { email } = envelope.event.data as { email?: string };
      await tx.query('INSERT INTO noted (projection, event_id, email) VALUES ($1, $2, $3)', [name, envelope.id, email ?? null]);
    },
  });

  function runner(
    projection: Projection,
    options: { codec?: EventCodec; registry?: Registry; warnings?: object[] } = {},
  ): ProjectionRunner {
    const warnings = options.warnings ?? [];
    const created = new ProjectionRunner(
      projection,
      store,
      options.codec ?? codecOf(),
      dataSource,
      new ProjectionMetrics(options.registry ?? new Registry()),
      {
        warn: (message, fields) => warnings.push({ message, ...fields }),
      },
    );
    started.push(created);
    created.start();
    return created;
  }

  /** A well-formed event as the service writes it: personal field sealed, full metadata. */
  const good = (codec = codecOf()) =>
    codec.encode(Noted({ note: 'n', email: PERSONAL }), { tenantId: TENANT, correlationId: randomUUID(), now: new Date() });

  const applied = async (projection: string) =>
    (await dataSource.query('SELECT event_id, email FROM noted WHERE projection = $1 ', [projection])) as {
      event_id: string;
      email: string | null;
    }[];
  const parkedRows = async (projection: string) =>
    (await dataSource.query(
      'SELECT event_id, tenant_id, stream_name, commit_position, error_kind, reason, attempts FROM projection_parked_events WHERE projection = $1',
      [projection],
    )) as {
      event_id: string;
      tenant_id: string | null;
      stream_name: string;
      commit_position: string;
      error_kind: string;
      reason: string;
      attempts: number;
    }[];

  const until = (condition: () => Promise<boolean> | boolean) => eventually(condition, { timeoutMs: 15_000, intervalMs: 50 });

  test('an event whose metadata lacks its tenant is parked once; the events around it apply, also after a restart', async () => {
    const stream = `poison-metadata-${randomUUID()}`;
    const malformed: EventToAppend = {
      id: randomUUID(),
      type: 'Noted',
      data: { note: 'n', email: PERSONAL },
      metadata: { schemaVersion: 1, correlationId: 'c' },
    };
    const before = await good();
    const after = await good();
    await store.appendToStream(stream, [before, malformed, after]);
    const registry = new Registry();
    const warnings: object[] = [];
    const first = runner(notingProjection('poison-metadata', stream), { registry, warnings });
    await first.waitFor((await store.headPosition())!);

    const byId = (a: { event_id: string }, b: { event_id: string }) => (a.event_id < b.event_id ? -1 : 1);
    expect((await applied('poison-metadata')).sort(byId)).toEqual(
      [before, after].map((e) => ({ event_id: e.id!, email: PERSONAL })).sort(byId),
    );
    const [recorded] = await store.readStream(stream, { fromRevision: 1n, maxCount: 1 });
    expect(await parkedRows('poison-metadata')).toEqual([
      {
        event_id: malformed.id,
        tenant_id: null,
        stream_name: stream,
        commit_position: recorded!.position.commit.toString(),
        error_kind: 'undecodable',
        reason: 'UndecodableEventError: event metadata lacks tenantId',
        attempts: 1,
      },
    ]);
    expect(await registry.metrics()).toMatch(
      /tessera_projection_events_parked_total\{projection="poison-metadata",reason="undecodable"\} 1/,
    );
    expect(warnings).toEqual([
      expect.objectContaining({
        message: 'projection parked an event',
        eventId: malformed.id,
        streamName: stream,
        errorKind: 'undecodable',
      }),
    ]);
    expect(JSON.stringify(warnings)).not.toContain(PERSONAL);
    await first.stop();

    // A restart resumes past the parked event: it is neither applied nor parked again.
    const later = await good();
    await store.appendToStream(stream, [later]);
    const restartedRegistry = new Registry();
    const restartedWarnings: object[] = [];
    const second = runner(notingProjection('poison-metadata', stream), { registry: restartedRegistry, warnings: restartedWarnings });
    await second.waitFor((await store.headPosition())!);
    expect((await applied('poison-metadata')).map((row) => row.event_id).sort()).toEqual([before.id, after.id, later.id].sort());
    expect(await parkedRows('poison-metadata')).toHaveLength(1);
    expect(restartedWarnings).toEqual([]);
    expect(await restartedRegistry.metrics()).not.toMatch(/tessera_projection_events_parked_total\{/);
  });

  test('sealed personal data that fails its integrity check is parked under the tenant its metadata names, and its content is not quoted', async () => {
    const stream = `poison-sealed-${randomUUID()}`;
    const sealed = await good();
    // The same sealed fields moved to another tenant: they no longer authenticate there.
    const moved: EventToAppend = { ...sealed, id: randomUUID(), metadata: { ...sealed.metadata, tenantId: randomUUID() } };
    const fine = await good();
    await store.appendToStream(stream, [moved, fine]);
    const warnings: object[] = [];
    const poisoned = runner(notingProjection('poison-sealed', stream), { warnings });
    await poisoned.waitFor((await store.headPosition())!);
    expect((await applied('poison-sealed')).map((row) => row.event_id)).toEqual([fine.id]);
    expect((await parkedRows('poison-sealed')).map(({ event_id, tenant_id, error_kind }) => ({ event_id, tenant_id, error_kind }))).toEqual(
      [{ event_id: moved.id, tenant_id: moved.metadata!.tenantId, error_kind: 'undecodable' }],
    );
    expect((await parkedRows('poison-sealed'))[0]!.reason).toMatch(/^PersonalDataIntegrityError: /);
    expect(JSON.stringify([warnings, await parkedRows('poison-sealed')])).not.toContain(PERSONAL);
  });

  test('an error that may pass (the key store unreachable) is retried, never parked', async () => {
    const stream = `poison-transient-${randomUUID()}`;
    const event = await good();
    await store.appendToStream(stream, [event]);
    let outages = 2;
    const flaky: PersonalDataSealer = {
      seal: (tenantId, spec, data) => personalData.seal(tenantId, spec, data),
      open: (tenantId, data) =>
        outages-- > 0 ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) : personalData.open(tenantId, data),
    };
    const warnings: object[] = [];
    const retrying = runner(notingProjection('poison-transient', stream), { codec: codecOf(Noted, flaky), warnings });
    await retrying.waitFor((await store.headPosition())!);
    expect((await applied('poison-transient')).map((row) => row.event_id)).toEqual([event.id]);
    expect(await parkedRows('poison-transient')).toEqual([]);
    expect(warnings.filter((w) => (w as { message: string }).message === 'projection failed; restarting from its checkpoint')).toHaveLength(
      2,
    );
  });

  test('an event of a newer schema version waits for the newer reader instead of being parked (rolling update)', async () => {
    const stream = `poison-newer-${randomUUID()}`;
    const newer = await good(codecOf(NotedV2));
    await store.appendToStream(stream, [await good(), newer, await good()]);
    const warnings: object[] = [];
    runner(notingProjection('poison-newer', stream), { warnings });
    await until(() => warnings.some((w) => (w as { message: string }).message === 'projection failed; restarting from its checkpoint'));
    await Promise.all(started.splice(0).map((old) => old.stop()));
    expect(await parkedRows('poison-newer')).toEqual([]);
    expect((await applied('poison-newer')).map((row) => row.event_id)).not.toContain(newer.id);

    const upgraded = runner(notingProjection('poison-newer', stream), { codec: codecOf(NotedV2) });
    await upgraded.waitFor((await store.headPosition())!);
    expect(await applied('poison-newer')).toHaveLength(3);
    expect(await parkedRows('poison-newer')).toEqual([]);
  });

  test('what an earlier release recorded in projection_skipped_events moves to the parked events once, also across restarts', async () => {
    const eventId = randomUUID();
    const skip = () =>
      dataSource.query(
        `INSERT INTO projection_skipped_events (projection, event_id, stream_name, commit_position, prepare_position, error, reason)
         VALUES ('old-release', $1, 'old-stream', 7, 3, 'UndecodableEventError', 'event metadata lacks tenantId')`,
        [eventId],
      );
    await skip();
    await migrateProjectionTables(dataSource);
    await migrateProjectionTables(dataSource);
    const moved = async () =>
      (await dataSource.query(
        "SELECT event_id, tenant_id, stream_name, commit_position, error_kind, reason, attempts FROM projection_parked_events WHERE projection = 'old-release'",
      )) as object[];
    expect(await moved()).toEqual([
      {
        event_id: eventId,
        tenant_id: null,
        stream_name: 'old-stream',
        commit_position: '7',
        error_kind: 'undecodable',
        reason: 'UndecodableEventError: event metadata lacks tenantId',
        attempts: 1,
      },
    ]);
    // Dismissed since: the next start does not bring it back.
    await dataSource.query("DELETE FROM projection_parked_events WHERE projection = 'old-release'");
    await migrateProjectionTables(dataSource);
    expect(await moved()).toEqual([]);
    // A replica of the earlier release still writes the old table during a rolling update: the next start moves that too.
    await skip();
    await migrateProjectionTables(dataSource);
    expect(await moved()).toHaveLength(1);
  });
});
