import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { eventually } from '#platform/testing';
import { databaseUrl, freePort, startEmbeddedPostgres, type RunningPostgres } from '#platform/embedded-postgres';
import { startFourServices, type FourServices } from './support/four-services';
import { readableTraces, readModelTraces } from './support/privacy-traces';
import { drillTenant, recoverErasures } from './support/restore-drill';

/**
 * The restore drill on the default tier's layout: one PostgreSQL holds the event log, the read
 * models and the per-person keys, so a restore takes all three back to the backup. A backup is
 * taken; then people sign up, are tracked and earn, and one who was already there before the
 * backup is erased; the older backup is restored. Restored, the erased person is readable again
 * (the danger this guards against); the recovery step (register with RECOVER=only, as the recovery
 * Job runs it) re-applies the erasure ledger, kept outside the backup; the services started on the
 * restored database then agree with the log (what it holds is served, what it lost is gone, nothing
 * parked) and the erased person is unreadable everywhere.
 *
 * The backup is a cold copy of the data directory (clean shutdown, copy, start): the cluster
 * shipped with embedded-postgres has no pg_dump or pg_basebackup, and a copy of a cleanly stopped
 * cluster is consistent by construction, with no WAL to carry alongside. Production tiers take
 * theirs online (CloudNativePG's base backups and WAL archive, or pg_dump: see k8s/components/backup).
 */

jest.setTimeout(600_000);

const masterKey = randomBytes(32);

describe('restoring an older backup', () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-restore-drill-'));
  // initdb runs as an unprivileged user when the tests run as root: it must reach the cluster's directory.
  chmodSync(root, 0o755);
  const dataDir = join(root, 'pgdata');
  const backupDir = join(root, 'backup');
  // The ledger lives on its own volume: restoring the database's backup leaves it as it is.
  const ledgerDir = join(root, 'erasure-ledger');
  const adminToken = randomBytes(32).toString('base64url');
  const env = { TESSERA_MASTER_KEY: masterKey.toString('base64') };
  const perService = { register: { ERASURE_LEDGER_DIR: ledgerDir } };
  let port: number;
  let postgres: RunningPostgres | undefined;
  let four: FourServices | undefined;
  let url: string;

  // fsync off: every copy is taken after a clean shutdown, which writes everything out first.
  const startPostgres = async () => {
    postgres = await startEmbeddedPostgres({ dataDir, port, settings: { fsync: 'off', synchronous_commit: 'off' } });
  };
  const startServices = async () => {
    four = await startFourServices(env, perService, { databaseUrl: url, adminToken });
    return four;
  };
  /** Register with RECOVER=only, as the recovery Job runs it. */
  const recover = () => recoverErasures({ DATABASE_URL: url, ADMIN_TOKEN: adminToken, ...env, ...perService.register });
  const stopEverything = async () => {
    await four?.close();
    four = undefined;
    await postgres?.stop();
    postgres = undefined;
  };

  beforeAll(async () => {
    port = await freePort();
    await startPostgres();
    const admin = new Client({ connectionString: postgres!.url });
    await admin.connect();
    await admin.query('CREATE DATABASE tessera');
    await admin.end();
    url = databaseUrl(postgres!.url, 'tessera');
  });
  afterAll(async () => {
    await stopEverything();
    rmSync(root, { recursive: true, force: true });
  });

  test('brings no erased person back once the recovery step re-applied the ledger; the read models agree with the log', async () => {
    let services = await startServices();
    const { tenant, api, call, balanceOf, arrive } = await drillTenant(() => services, adminToken);

    const ada = await arrive('ada', 120);
    const bob = await arrive('bob', 80);

    // The backup: a clean stop, a copy of the data directory, and everything started again on it.
    await stopEverything();
    execFileSync('cp', ['-a', dataDir, backupDir]);
    await startPostgres();
    services = await startServices();

    const cleo = await arrive('cleo', 50);
    const asked = await call('register', 'POST', `/t/${tenant.slug}/erasures`, api, { userId: ada.id });
    expect(asked.status).toBe(202);
    const erasure = asked.headers.get('location')!;
    const completed = async () => (await call('register', 'GET', erasure, api)).body.status === 'completed';
    await eventually(completed, 30_000);
    expect(await readableTraces(services.pool, masterKey, ada.needles)).toEqual([]);
    expect(readdirSync(ledgerDir)).toEqual([encodeURIComponent(tenant.id)]);

    // The restore: the older copy put back in place of the data directory.
    await stopEverything();
    rmSync(dataDir, { recursive: true, force: true });
    execFileSync('cp', ['-a', backupDir, dataDir]);
    await startPostgres();
    const restored = new Pool({ connectionString: url, max: 1 });
    restored.on('error', () => undefined); // its idle connection may close only as PostgreSQL stops (see four-services)
    try {
      // What recovery is for: restored alone, the backup reads Ada back in full.
      const back = new Set((await readableTraces(restored, masterKey, ada.needles)).map((leak) => leak.needle));
      expect([...back].sort()).toEqual([...ada.needles].sort());
    } finally {
      await restored.end();
    }

    // The recovery step, as the recovery Job runs it: before the services start.
    expect(await recover()).toMatchObject({ inLedger: 1, alreadyApplied: 0, reappended: 1 });

    services = await startServices();
    // The request is back in the log under its own id; every service carries it out again and says so.
    await eventually(completed, 60_000);
    expect(await readableTraces(services.pool, masterKey, ada.needles)).toEqual([]);
    expect(await readModelTraces(services.pool, masterKey, [ada.id, ada.anonymousId, ada.orderId])).toEqual([]);
    expect((await call('rewards', 'GET', `/t/${tenant.slug}/members/${ada.id}`, api)).status).toBe(404);
    expect((await call('pulse', 'GET', `/t/${tenant.slug}/profiles/userId/${ada.id}`, api)).status).toBe(404);
    expect((await services.pool.query('SELECT 1 FROM login_credentials WHERE user_id = $1', [ada.id])).rowCount).toBe(0);

    // Bob, in the backup and never erased, is served as before, from what the log holds.
    expect(await balanceOf(bob.id)).toBe(50 + 80);
    const bobsProfile = await call('pulse', 'GET', `/t/${tenant.slug}/profiles/userId/${bob.id}`, api);
    expect(bobsProfile.status).toBe(200);
    expect(JSON.stringify(bobsProfile.body)).toContain(bob.email);
    expect((await services.pool.query('SELECT 1 FROM login_credentials WHERE user_id = $1', [bob.id])).rowCount).toBe(1);
    // Cleo came after the backup: the log lost her, and so did every read model.
    expect((await services.pool.query("SELECT 1 FROM es_events WHERE stream_name LIKE '%' || $1 || '%'", [cleo.id])).rowCount).toBe(0);
    expect(await readModelTraces(services.pool, masterKey, [cleo.id, cleo.anonymousId])).toEqual([]);
    // Nothing was set aside on the way: every event the projections met was applied.
    expect((await services.pool.query('SELECT projection, event_type, reason FROM projection_parked_events')).rows).toEqual([]);
    // Asked for again, the recovery finds the erasure carried out and changes nothing.
    await four!.close();
    four = undefined;
    expect(await recover()).toMatchObject({ inLedger: 1, alreadyApplied: 1, reappended: 0, reissued: 0 });
  });
});
