import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { eventually } from '#platform/testing';
import { createTestDatabase } from './support/database';
import { startFourServices, type FourServices } from './support/four-services';
import { readableTraces, readModelTraces } from './support/privacy-traces';
import { drillTenant, recoverErasures } from './support/restore-drill';

/**
 * The restore drill on production's layout: the event log apart from the read models (EventStoreDB
 * in standard and enterprise; here a PostgreSQL database of the log's own, EVENTSTORE_URL), and only
 * the read-model database restored, the log intact. A backup of the read-model database is taken;
 * people sign up, are tracked and earn, one who was in the backup is erased; the read-model database
 * alone goes back to the backup. The log still holds the erasure, but the restored database lacks
 * the key that seals whom it names: no service could carry it out again on replay. The recovery step
 * asks for it again under a new id (`reissued`); then every service carries it out, the log's events
 * since the backup reach every read model, and a second recovery changes nothing.
 *
 * The backup and restore are whole-database copies inside PostgreSQL (CREATE DATABASE ... TEMPLATE,
 * with the services stopped): one database goes back, the log's database is left as it is, as a
 * pg_dump or CloudNativePG restore of the read-model database leaves EventStoreDB.
 */

jest.setTimeout(600_000);

const masterKey = randomBytes(32);

describe('restoring only the read-model database, the event log intact', () => {
  const ledgerDir = mkdtempSync(join(tmpdir(), 'tessera-restore-drill-ledger-'));
  const adminToken = randomBytes(32).toString('base64url');
  let readModels: string;
  let eventLog: string;
  let four: FourServices | undefined;
  let log: Pool;

  const env = () => ({ TESSERA_MASTER_KEY: masterKey.toString('base64'), EVENTSTORE_URL: eventLog });
  const perService = { register: { ERASURE_LEDGER_DIR: ledgerDir } };
  const startServices = async () => (four = await startFourServices(env(), perService, { databaseUrl: readModels, adminToken }));
  const stopServices = async () => {
    await four?.close();
    four = undefined;
  };
  const recover = () => recoverErasures({ DATABASE_URL: readModels, ADMIN_TOKEN: adminToken, ...env(), ...perService.register });
  /** As the cluster's superuser: copies of one whole database, made while nothing else is connected to it. */
  const onServer = async (...statements: string[]) => {
    const admin = new Client({ connectionString: process.env.TESSERA_TEST_POSTGRES_URL });
    await admin.connect();
    try {
      for (const statement of statements) await admin.query(statement);
    } finally {
      await admin.end();
    }
  };
  const nameOf = (url: string) => new URL(url).pathname.slice(1);

  beforeAll(async () => {
    [readModels, eventLog] = await Promise.all([createTestDatabase('readmodels'), createTestDatabase('eventlog')]);
    log = new Pool({ connectionString: eventLog, max: 2 });
  });
  afterAll(async () => {
    await stopServices();
    await log.end();
    rmSync(ledgerDir, { recursive: true, force: true });
  });

  test('the recovery step asks again for an erasure the log holds and the restored database never carried out', async () => {
    let services = await startServices();
    const { tenant, api, call, balanceOf, arrive } = await drillTenant(() => services, adminToken);
    const profileOf = (userId: string) => call('pulse', 'GET', `/t/${tenant.slug}/profiles/userId/${userId}`, api);
    const credentialsOf = async (userId: string) =>
      (await services.pool.query('SELECT 1 FROM login_credentials WHERE user_id = $1', [userId])).rowCount;
    // The layout under test: the events are in the log's database, none in the read models'.
    expect((await services.pool.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'es_events'")).rowCount).toBe(0);

    const ada = await arrive('ada', 120);
    const bob = await arrive('bob', 80);
    expect((await log.query('SELECT count(*)::int AS n FROM es_events')).rows[0].n).toBeGreaterThan(0);

    // The backup: the read-model database alone, copied whole while the services are stopped.
    await stopServices();
    const backup = `${nameOf(readModels)}_backup`;
    await onServer(`CREATE DATABASE ${backup} TEMPLATE ${nameOf(readModels)}`);
    services = await startServices();

    const cleo = await arrive('cleo', 50);
    const asked = await call('register', 'POST', `/t/${tenant.slug}/erasures`, api, { userId: ada.id });
    expect(asked.status).toBe(202);
    const erasure = String(asked.headers.get('location'));
    await eventually(async () => (await call('register', 'GET', erasure, api)).body.status === 'completed', 30_000);

    // The restore: the read-model database replaced by the backup; the log's database untouched.
    await stopServices();
    await onServer(`DROP DATABASE ${nameOf(readModels)} WITH (FORCE)`, `CREATE DATABASE ${nameOf(readModels)} TEMPLATE ${backup}`);
    const restored = new Pool({ connectionString: readModels, max: 1 });
    try {
      // What recovery is for: the log still holds the erasure, yet the restored keys read Ada back in full.
      const back = new Set((await readableTraces(restored, masterKey, ada.needles, log)).map((leak) => leak.needle));
      expect([...back].sort()).toEqual([...ada.needles].sort());
    } finally {
      await restored.end();
    }
    const erasureStreams = async () =>
      (
        await log.query<{ stream: string }>(
          "SELECT DISTINCT stream_name AS stream FROM es_events WHERE stream_name LIKE 'privacy.erasure-%'",
        )
      ).rows
        .map((row) => row.stream)
        .sort();
    const [original] = await erasureStreams();
    expect(original).toBe(`privacy.erasure-${tenant.id}.${erasure.split('/').at(-1)}`);

    // The recovery step, before the services start: the log holds the request, so it is asked again under a new id.
    expect(await recover()).toMatchObject({ inLedger: 1, alreadyApplied: 0, reappended: 0, reissued: 1 });
    const reissued = (await erasureStreams()).filter((stream) => stream !== original);
    expect(reissued).toHaveLength(1);

    services = await startServices();
    // Every service carries the new request out, and says so on its status URL.
    const reissuedStatus = `/t/${tenant.slug}/erasures/${reissued[0]!.split('.').at(-1)}`;
    await eventually(async () => (await call('register', 'GET', reissuedStatus, api)).body.status === 'completed', 60_000);
    expect((await call('rewards', 'GET', `/t/${tenant.slug}/members/${ada.id}`, api)).status).toBe(404);
    expect((await profileOf(ada.id)).status).toBe(404);
    expect(await credentialsOf(ada.id)).toBe(0);
    expect(await readableTraces(services.pool, masterKey, ada.needles, log)).toEqual([]);
    expect(await readModelTraces(services.pool, masterKey, [ada.id, ada.anonymousId, ada.orderId], log)).toEqual([]);

    // Bob, in the backup and never erased, is served as before.
    expect(await balanceOf(bob.id)).toBe(50 + 80);
    expect(JSON.stringify((await profileOf(bob.id)).body)).toContain(bob.email);
    expect(await credentialsOf(bob.id)).toBe(1);
    // Cleo came after the backup: the log kept her events, but her key was in no backup, so nothing sealed for her
    // can be opened (the codec refuses data whose key it never had). Each projection parks those events as
    // undecodable, where an operator sees them, and goes on past them: that is the price of a read-model database
    // older than the log, and why it must be backed up no less often than the log.
    expect(await readableTraces(services.pool, masterKey, cleo.needles, log)).toEqual([]);
    const parked = await services.pool.query<{ stream: string; kind: string; reason: string }>(
      'SELECT stream_name AS stream, error_kind AS kind, reason FROM projection_parked_events',
    );
    expect(parked.rowCount).toBeGreaterThan(0);
    for (const row of parked.rows) expect(row).toMatchObject({ kind: 'undecodable', reason: expect.stringMatching(/no data key/) });
    const parkedAccounts = new Set(parked.rows.filter((row) => row.stream.startsWith('register.account-')).map((row) => row.stream));
    expect([...parkedAccounts]).toEqual([`register.account-${tenant.id}.${cleo.id}`]);

    // Asked for again, the recovery finds the erasure carried out and changes nothing.
    await stopServices();
    const logBefore = (await log.query('SELECT count(*)::int AS n FROM es_events')).rows[0].n;
    expect(await recover()).toMatchObject({ inLedger: 1, alreadyApplied: 1, reappended: 0, reissued: 0 });
    expect((await log.query('SELECT count(*)::int AS n FROM es_events')).rows[0].n).toBe(logBefore);
  });
});
