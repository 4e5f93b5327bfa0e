import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { createTestDatabase } from '../support/database';
import { allRenders, matches, named, ofKind, renderedOf, type K8sObject } from '../support/kustomize';
import { freePort } from '../../apps/login/test/login-harness';
import { compiledEntry, compileServices } from '../support/replicas';

/**
 * Migrations run once per release, before the rollout, by a Job (an Argo CD PreSync hook) that
 * runs each service's build with MIGRATE=only; the services then start with MIGRATE=off. Here the
 * Job's command runs for real, as `node` processes on the embedded PostgreSQL, twice at once per
 * service (a retried Job beside a slow first attempt, or two services' Jobs on one database).
 */

const repoRoot = resolve(__dirname, '../..');
const buildDir = join(repoRoot, 'node_modules/.cache/tessera-migrations-job');
const SERVICES = ['register', 'login', 'pulse', 'rewards'] as const;
const entryOf = (service: string) => `apps/${service}/src/main.ts`;

/** Runs a service's build to its end; resolves with its exit code and what it wrote. */
function run(service: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [compiledEntry(entryOf(service), buildDir)], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // A Job whose command never exits would hold the rollout: it must end by itself.
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', fail);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

describe('the migrations Job command (MIGRATE=only) on a real PostgreSQL', () => {
  let databaseUrl: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    compileServices(SERVICES.map(entryOf), buildDir);
    databaseUrl = await createTestDatabase('migrate');
    env = {
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      ADMIN_TOKEN: randomBytes(32).toString('base64url'),
      LOG_LEVEL: 'warn',
    };
  }, 180_000);

  const tables = async (sql: string) => {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  test('MIGRATE=off on an empty database refuses to start, names what is pending, and creates nothing', async () => {
    const refused = await run('rewards', { ...env, MIGRATE: 'off' });
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/rewards migration\(s\) pending \(.*RewardsReadModels1732360000000.*\): run the migrations Job/);
    expect(await tables(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).toEqual([]);
  }, 180_000);

  test('two runs at once per service both exit 0, and every migration is applied exactly once', async () => {
    for (const service of SERVICES) {
      // Two at once per service; the services one after the other, so a shared 2-core machine keeps up.
      const runs = await Promise.all([run(service, { ...env, MIGRATE: 'only' }), run(service, { ...env, MIGRATE: 'only' })]);
      expect(runs.map(({ code, output }) => ({ service, code, output: code === 0 ? '' : output }))).toEqual([
        { service, code: 0, output: '' },
        { service, code: 0, output: '' },
      ]);
      const applied = await tables(`SELECT name, count(*)::int AS times FROM ${service}_migrations GROUP BY name`);
      expect(applied.length).toBeGreaterThan(0);
      expect({ service, twice: applied.filter((row) => row.times !== 1) }).toEqual({ service, twice: [] });
    }
    // What the store, the keys and the projections need besides each service's own tables.
    const shared = (await tables(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)).map((row) => row.tablename);
    expect(shared).toEqual(expect.arrayContaining(['es_events', 'personal_data_keys', 'projection_checkpoints']));
    // Nothing left holding a lock: a session-level advisory lock would outlive the Job's statements.
    const advisory = `SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
    expect(await tables(advisory)).toEqual([]);
  }, 600_000);

  test('afterwards each service starts with MIGRATE=off and serves', async () => {
    // The previous test ran the Job; when this one runs alone, run rewards' here.
    if ((await tables(`SELECT 1 FROM pg_tables WHERE tablename = 'rewards_migrations'`)).length === 0)
      expect((await run('rewards', { ...env, MIGRATE: 'only' })).code).toBe(0);
    const port = await freePort();
    const child = spawn(process.execPath, [compiledEntry(entryOf('rewards'), buildDir)], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', ...env, MIGRATE: 'off', PORT: String(port), HOST: '127.0.0.1' },
      stdio: 'ignore',
    });
    const url = `http://127.0.0.1:${port}`;
    try {
      const deadline = Date.now() + 30_000;
      let status = 0;
      while (Date.now() < deadline && status !== 200) {
        status = await fetch(`${url}/health/ready`).then(
          (response) => response.status,
          () => 0,
        );
        if (status !== 200) await new Promise((wait) => setTimeout(wait, 100));
      }
      expect(status).toBe(200);
    } finally {
      const exited = new Promise((gone) => child.once('exit', gone));
      child.kill('SIGTERM');
      await exited;
    }
  }, 300_000);
});

/** A container's MIGRATE as it starts: its own env wins over the ConfigMap it reads (unset: on-start). */
function migrateOf(objects: K8sObject[], container: any): string {
  const own = container.env?.find((variable: { name: string }) => variable.name === 'MIGRATE')?.value;
  const config = container.envFrom.find((source: { configMapRef?: unknown }) => source.configMapRef).configMapRef.name;
  return own ?? named(objects, 'ConfigMap', config)!.data.MIGRATE ?? 'on-start';
}

describe.each(allRenders)('migrations in k8s/%s', (directory) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderedOf(directory);
  });

  test('either every service migrates at start and there is no Job, or one PreSync Job per service migrates and the services do not', () => {
    const jobs = ofKind(objects, 'Job');
    const deployments = ofKind(objects, 'Deployment');
    if (jobs.length === 0) {
      for (const deployment of deployments) expect(migrateOf(objects, deployment.spec.template.spec.containers[0])).toBe('on-start');
      return;
    }
    expect(jobs.map((job) => job.metadata.name).sort()).toEqual(SERVICES.map((service) => `${service}-migrations`).sort());
    for (const deployment of deployments)
      expect({ name: deployment.metadata.name, migrate: migrateOf(objects, deployment.spec.template.spec.containers[0]) }).toEqual({
        name: deployment.metadata.name,
        migrate: 'off',
      });
    for (const service of SERVICES) {
      const job = named(objects, 'Job', `${service}-migrations`)!;
      const pod = job.spec.template.spec;
      const [container] = pod.containers;
      const served = named(objects, 'Deployment', service)!.spec.template.spec;
      expect(job.metadata.annotations).toMatchObject({ 'argocd.argoproj.io/hook': 'PreSync' });
      expect(pod.restartPolicy).toBe('Never');
      expect(migrateOf(objects, container)).toBe('only');
      // The release's build, with the service's configuration, Secret, database URL and CA.
      expect({ image: container.image, command: container.command }).toEqual({
        image: served.containers[0].image,
        command: served.containers[0].command,
      });
      expect(container.envFrom).toEqual(served.containers[0].envFrom);
      const byName = (entries: { name: string }[], name: string) => entries.find((entry) => entry.name === name);
      expect(byName(container.env, 'DATABASE_URL')).toEqual(byName(served.containers[0].env, 'DATABASE_URL'));
      expect(pod.volumes.filter((volume: any) => volume.secret)).toEqual(served.volumes.filter((volume: any) => volume.secret));
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      // No Service, budget or Ingress reaches a migrations pod.
      const labels = pod.metadata?.labels ?? job.spec.template.metadata.labels;
      for (const selecting of ofKind(objects, 'Service')) expect(matches(selecting.spec.selector, labels)).toBe(false);
    }
  });
});
