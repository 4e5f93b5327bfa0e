import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { CHECKPOINTS_DDL, EventCodec, EventRegistry, ProjectionRunner, defineEvent, type Projection } from '#cqrs';
import type { JsonValue } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { deriveKeys, PersonalDataCodec, PersonalKeyStore } from '#personal-data';
import { eventually } from '#platform/testing';
import { createTestDatabase } from '../../../../test/support/database';
import { ExportParts, exportPartsTableDdl, jsonObjectFragments, type SectionGatherer } from './export-parts';
import { exportPendingTableDdl, exportSections, type ExportSectionWriter } from './export-sections';
import { ExportDiscarded, ExportRequested, exportEvents, exportStreamFor, exportSubject } from './export.events';

const Counted = defineEvent<{ n: number }>()('Counted');

/** A latch a gatherer waits on: the test decides when a section may go on being gathered. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/**
 * Sections are written outside every projection's transaction, one tenant at a time each: here
 * a section is held half-written (its gatherer waits on a latch after its first 64 KB chunk) while
 * the rest of the system is watched. The projections run on the real PostgreSQL event log, whose
 * readers see only below the oldest running transaction that has written.
 */
describe('export sections', () => {
  let url: string;
  let store: PostgresEventStore;
  let dataSource: DataSource;
  let pool: Pool;
  let keys: PersonalKeyStore;
  let personalData: PersonalDataCodec;
  let codec: EventCodec;
  let parts: ExportParts;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    url = await createTestDatabase('sections');
    store = await PostgresEventStore.connect(url);
    await store.migrate();
    dataSource = new DataSource({ type: 'postgres', url, extra: { max: 6 } });
    await dataSource.initialize();
    pool = new Pool({ connectionString: url, max: 3 });
    await dataSource.query(CHECKPOINTS_DDL);
    await dataSource.query(exportPartsTableDdl('test_export_parts'));
    await dataSource.query(exportPendingTableDdl('test_export_parts'));
    await dataSource.query('CREATE TABLE counted (tenant_id text NOT NULL, n int NOT NULL)');
    keys = new PersonalKeyStore(pool, deriveKeys(randomBytes(32)).keyWrappingKey);
    await keys.migrate();
    personalData = new PersonalDataCodec(keys);
    codec = new EventCodec(new EventRegistry([...exportEvents, Counted]), personalData);
    parts = new ExportParts('test_export_parts', personalData);
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });
  afterAll(async () => {
    await pool.end();
    await dataSource.destroy();
    await store.close();
  });

  const run = (runner: ProjectionRunner) => {
    runner.start();
    stops.push(() => runner.stop());
    return runner;
  };
  const started = (writer: ExportSectionWriter) => {
    writer.start();
    stops.push(() => writer.stop());
    return writer;
  };

  /** Gathers a section of `items` items of ~250 characters; for the exports named in `held`, waits on the latch after the first 300. */
  function gatherer(held: Map<string, { open: () => void; opened: Promise<void> }>, items = 600) {
    const calls: string[] = [];
    const gather: SectionGatherer = (_tx, _tenantId, identities) => {
      const exportKey = identities.userIds[0]!;
      calls.push(exportKey);
      async function* pages(): AsyncGenerator<JsonValue[]> {
        for (let from = 0; from < items; from += 300) {
          if (from > 0) await held.get(exportKey)?.opened;
          yield Array.from({ length: Math.min(300, items - from) }, (_, i) => ({ n: from + i, pad: 'x'.repeat(240) }));
        }
      }
      return jsonObjectFragments({ about: exportKey, items: pages() });
    };
    return { gather, calls };
  }

  function sectionsOf(gather: SectionGatherer, leaseSeconds = 60) {
    return exportSections({
      service: 'pulse',
      parts,
      store,
      codec,
      personalData,
      dataSource,
      gather,
      writing: { atOnce: 2, pollMs: 100, leaseSeconds },
    });
  }

  /** An export of one person, as register asks it (the person named by the userId the gatherer keys on). */
  async function requestExport(tenantId: string, about: string): Promise<string> {
    const exportId = randomUUID();
    const now = new Date();
    const event = await codec.encode(
      ExportRequested({
        exportId,
        requestedBy: 'tenant',
        requestedAt: now.toISOString(),
        userIds: [about],
        anonymousIds: [],
        emailIndexes: [],
        emails: [],
      }),
      { tenantId, correlationId: exportId, now },
    );
    await store.appendToStream(exportStreamFor(tenantId, exportId), [event]);
    return exportId;
  }

  const readiness = async (tenantId: string, exportId: string) =>
    (await store.readStream(exportStreamFor(tenantId, exportId))).filter((event) => event.type === 'ExportSectionReady').length;
  const chunksOf = async (exportId: string) =>
    Number((await dataSource.query('SELECT count(*) AS n FROM test_export_parts WHERE export_id = $1', [exportId]))[0].n);
  const documentOf = async (tenantId: string, exportId: string) => {
    let text = '';
    for await (const chunk of parts.read(pool, tenantId, exportId)) text += chunk;
    return JSON.parse(text) as { about: string; items: { n: number }[] };
  };

  /** Another read model of every tenant's events, as each service has (profiles, wallets, sessions). */
  const countingProjection = (prefix: string): Projection => ({
    name: `counting-${prefix}`,
    filter: { streamNamePrefixes: [prefix] },
    async apply(envelope, tx) {
      await tx.query('INSERT INTO counted (tenant_id, n) VALUES ($1, $2)', [
        envelope.metadata.tenantId,
        (envelope.event.data as { n: number }).n,
      ]);
    },
  });

  test("a section held half-written holds up no other tenant's events, and is not served until whole", async () => {
    const held = new Map([['ada', latch()]]);
    const { gather } = gatherer(held);
    const sections = sectionsOf(gather);
    const exportsRunner = run(new ProjectionRunner(sections.projection, store, codec, dataSource));
    started(sections.writer);
    const others = run(new ProjectionRunner(countingProjection('tracked-'), store, codec, dataSource));
    const acme = randomUUID();
    const exportId = await requestExport(acme, 'ada');
    await eventually(async () => expect(await chunksOf(exportId)).toBeGreaterThan(0));

    const globex = randomUUID();
    await store.appendToStream(
      'tracked-1',
      await codec.encodeAll([Counted({ n: 1 }), Counted({ n: 2 })], { tenantId: globex, correlationId: 'c', now: new Date() }),
    );
    // Had the section been written inside a transaction, this tenant's events would stay invisible to every reader until it ended.
    await others.waitFor((await store.headPosition())!, 5_000);
    expect(Number((await dataSource.query('SELECT count(*) AS n FROM counted WHERE tenant_id = $1', [globex]))[0].n)).toBe(2);
    await exportsRunner.waitFor((await store.headPosition())!, 5_000);

    expect(await parts.has(pool, acme, exportId)).toBe(false);
    expect(await readiness(acme, exportId)).toBe(0);
    held.get('ada')!.open();
    await eventually(async () => expect(await readiness(acme, exportId)).toBe(1));
    expect(await parts.has(pool, acme, exportId)).toBe(true);
    const document = await documentOf(acme, exportId);
    expect(document.about).toBe('ada');
    expect(document.items.map((item) => item.n)).toEqual(Array.from({ length: 600 }, (_, i) => i));
  });

  test("one section per tenant at a time: a tenant's queue waits on its own, another tenant's export goes past", async () => {
    const held = new Map([['first', latch()]]);
    const { gather, calls } = gatherer(held);
    const sections = sectionsOf(gather);
    run(new ProjectionRunner(sections.projection, store, codec, dataSource));
    started(sections.writer);
    const noisy = randomUUID();
    const quiet = randomUUID();
    const first = await requestExport(noisy, 'first');
    await eventually(async () => expect(await chunksOf(first)).toBeGreaterThan(0));
    const second = await requestExport(noisy, 'second');
    const theirs = await requestExport(quiet, 'theirs');

    await eventually(async () => expect(await readiness(quiet, theirs)).toBe(1));
    expect(calls.filter((about) => about === 'second')).toEqual([]);
    expect(await readiness(noisy, second)).toBe(0);

    held.get('first')!.open();
    await eventually(async () => {
      expect(await readiness(noisy, first)).toBe(1);
      expect(await readiness(noisy, second)).toBe(1);
    });
    expect((await documentOf(noisy, second)).about).toBe('second');
  });

  test('discarded while being written: the writer stops, nothing is left and nothing says ready', async () => {
    const held = new Map([['bob', latch()]]);
    const { gather } = gatherer(held, 1200);
    const sections = sectionsOf(gather);
    const exportsRunner = run(new ProjectionRunner(sections.projection, store, codec, dataSource));
    started(sections.writer);
    const tenantId = randomUUID();
    const exportId = await requestExport(tenantId, 'bob');
    await eventually(async () => expect(await chunksOf(exportId)).toBeGreaterThan(0));

    // As register discards an export: the key destroyed first, then the event every service follows.
    await keys.destroy(tenantId, exportSubject(exportId));
    const now = new Date();
    await store.appendToStream(exportStreamFor(tenantId, exportId), [
      await codec.encode(ExportDiscarded({ exportId, reason: 'expired', at: now.toISOString() }), { tenantId, correlationId: 'c', now }),
    ]);
    await exportsRunner.waitFor((await store.headPosition())!, 5_000);
    held.get('bob')!.open();

    await eventually(async () =>
      expect(
        Number((await dataSource.query('SELECT count(*) AS n FROM test_export_parts_pending WHERE export_id = $1', [exportId]))[0].n),
      ).toBe(0),
    );
    await sections.writer.stop();
    expect(await chunksOf(exportId)).toBe(0);
    expect(await readiness(tenantId, exportId)).toBe(0);
  });

  test('a writer that stalls past its lease loses the section to another, which writes it whole, once', async () => {
    const held = new Map([['cleo', latch()]]);
    const stalling = gatherer(held);
    // Two replicas: the first stalls on the latch; the second gathers without waiting.
    const replicaA = sectionsOf(stalling.gather, 1);
    const replicaB = sectionsOf(gatherer(new Map()).gather, 1);
    run(new ProjectionRunner(replicaA.projection, store, codec, dataSource));
    started(replicaA.writer);
    const tenantId = randomUUID();
    const exportId = await requestExport(tenantId, 'cleo');
    await eventually(async () => expect(await chunksOf(exportId)).toBeGreaterThan(0));
    started(replicaB.writer);

    await eventually(async () => expect(await readiness(tenantId, exportId)).toBe(1), 10_000);
    held.get('cleo')!.open();
    await replicaA.writer.stop();
    expect(await readiness(tenantId, exportId)).toBe(1);
    expect((await documentOf(tenantId, exportId)).items.map((item) => item.n)).toEqual(Array.from({ length: 600 }, (_, i) => i));
  });
});
