import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { loadLoginConfig } from '../../apps/login/src/login.config';
import { loadPulseConfig } from '../../apps/pulse/src/pulse.config';
import { loadRegisterConfig } from '../../apps/register/src/register.config';
import { loadRewardsConfig } from '../../apps/rewards/src/rewards.config';
import { ConfigError, EXAMPLE_SECRETS } from '#platform';
import { parseYamlDocuments } from '../support/yaml';

const repoRoot = resolve(__dirname, '../..');
const servicePorts: Record<string, number> = { login: 3001, register: 3002, pulse: 3003, rewards: 3004 };
const infrastructure = ['eventstore', 'postgres', 'mailpit'];
/** The projector roles: the app whose image each runs, its role variable and the API role it runs beside. */
const projectors: Record<string, { app: string; roleVariable: string; apiRole: string }> = {
  'pulse-projector': { app: 'pulse', roleVariable: 'PULSE_ROLE', apiRole: 'ingest' },
  'rewards-projector': { app: 'rewards', roleVariable: 'REWARDS_ROLE', apiRole: 'api' },
};
const requiredVariables = ['DATABASE_URL', 'EVENTSTORE_URL', 'TESSERA_MASTER_KEY', 'ADMIN_TOKEN', 'PORT'];

/** The secrets an operator sets (compose has no default for them), fresh for this run. */
const operatorSecrets = { TESSERA_MASTER_KEY: randomBytes(32).toString('base64'), ADMIN_TOKEN: randomBytes(36).toString('base64') };

/** Compose's `${NAME:-default}` and `${NAME:?message}` as they resolve with `variables` set. */
function interpolate(value: string, variables: Record<string, string>): string {
  return value.replace(/\$\{([A-Z0-9_]+):([-?])([^}]*)\}/g, (_match, name: string, kind: string, rest: string) => {
    if (variables[name] !== undefined) return variables[name]!;
    if (kind === '-') return rest;
    throw new Error(`compose would refuse to start: ${rest}`);
  });
}

function findOnPath(binary: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, binary))
    .find((candidate) => existsSync(candidate));
}

describe('docker-compose.yml', () => {
  const compose = parseYamlDocuments(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8'))[0] as { services: Record<string, any> };
  const services = compose.services;
  const env = (name: string, variables: Record<string, string> = operatorSecrets): Record<string, string> =>
    Object.fromEntries(
      Object.entries(services[name].environment as Record<string, string>).map(([key, value]) => [
        key,
        interpolate(String(value), variables),
      ]),
    );
  /** `docker-compose config` with only `variables` set (a .env file beside the compose file is ignored). */
  const composeConfig = (variables: Record<string, string>) => {
    const binary = findOnPath('docker-compose');
    if (!binary) {
      throw new Error('docker-compose is not installed, so the file was NOT validated by Compose: apt-get install -y docker-compose');
    }
    const noEnvFile = join(mkdtempSync(join(tmpdir(), 'tessera-compose-')), 'empty.env');
    writeFileSync(noEnvFile, '');
    return spawnSync(binary, ['--env-file', noEnvFile, '-f', 'docker-compose.yml', 'config', '--quiet'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...variables },
    });
  };

  test('docker-compose accepts the file (`docker-compose config`) once the operator has set the secrets', () => {
    const result = composeConfig(operatorSecrets);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  });

  test('docker-compose refuses to start without the master key and the admin token: the file holds no default for them', () => {
    for (const missing of ['TESSERA_MASTER_KEY', 'ADMIN_TOKEN'] as const) {
      const { [missing]: _unset, ...others } = operatorSecrets;
      const result = composeConfig(others);
      expect({ missing, status: result.status }).toEqual({ missing, status: 1 });
      expect(result.stderr).toContain(`set ${missing}`);
    }
    for (const name of Object.keys(servicePorts)) {
      const written = services[name].environment as Record<string, string>;
      expect(written.TESSERA_MASTER_KEY).toMatch(/^\$\{TESSERA_MASTER_KEY:\?/);
      expect(written.ADMIN_TOKEN).toMatch(/^\$\{ADMIN_TOKEN:\?/);
    }
  });

  test("every service refuses to start on the compose file's environment with the example secrets it used to default to", () => {
    const examples = { TESSERA_MASTER_KEY: EXAMPLE_SECRETS.TESSERA_MASTER_KEY[0], ADMIN_TOKEN: EXAMPLE_SECRETS.ADMIN_TOKEN[0] };
    const loaders = { login: loadLoginConfig, register: loadRegisterConfig, pulse: loadPulseConfig, rewards: loadRewardsConfig };
    for (const [name, load] of Object.entries(loaders)) {
      const environment = env(name, examples);
      expect(environment.NODE_ENV).toBe('production');
      let refused: unknown;
      try {
        load(environment);
      } catch (error) {
        refused = error;
      }
      expect({ name, refused: refused instanceof ConfigError }).toEqual({ name, refused: true });
      const variables = (refused as ConfigError).problems.map((problem) => problem.variable).sort();
      // Every service reads both: pulse and rewards take the admin token for their parked-events administration.
      expect({ name, variables }).toEqual({ name, variables: ['ADMIN_TOKEN', 'TESSERA_MASTER_KEY'] });
      expect((refused as Error).message).not.toContain(examples.ADMIN_TOKEN);
      expect((refused as Error).message).not.toContain(examples.TESSERA_MASTER_KEY);
    }
  });

  test('runs a real EventStoreDB, PostgreSQL, Mailpit, the four services and the projectors of pulse and rewards', () => {
    expect(Object.keys(services).sort()).toEqual([...infrastructure, ...Object.keys(servicePorts), ...Object.keys(projectors)].sort());
    expect(services.eventstore.image).toMatch(/^eventstore\/eventstore:/);
    expect(env('eventstore')).toMatchObject({ EVENTSTORE_INSECURE: 'true', EVENTSTORE_CLUSTER_SIZE: '1' });
  });

  test('every container has a healthcheck, and each service starts only once its dependencies are healthy', () => {
    for (const [name, service] of Object.entries(services)) {
      expect({ name, test: Array.isArray(service.healthcheck?.test) }).toEqual({ name, test: true });
    }
    const processes = {
      ...servicePorts,
      ...Object.fromEntries(Object.entries(projectors).map(([name, { app }]) => [name, servicePorts[app]!])),
    };
    for (const [name, port] of Object.entries(processes)) {
      expect(services[name].depends_on).toEqual(
        Object.fromEntries(infrastructure.map((dependency) => [dependency, { condition: 'service_healthy' }])),
      );
      const probe = services[name].healthcheck.test.join(' ');
      expect(probe).toContain(`http://127.0.0.1:${port}/health/ready`);
    }
  });

  test("each projector runs its app's image in the projector role, beside the API role, publishes no port, and its app accepts both roles", () => {
    const loaders = { pulse: loadPulseConfig, rewards: loadRewardsConfig } as Record<string, (env: Record<string, string>) => object>;
    for (const [name, { app, roleVariable, apiRole }] of Object.entries(projectors)) {
      expect({ name, image: services[name].image, args: services[name].build.args }).toEqual({
        name,
        image: services[app].image,
        args: { SERVICE: app },
      });
      expect(services[name].ports).toBeUndefined();
      const own = env(name);
      const api = env(app);
      expect({ name, role: own[roleVariable], apiRole: api[roleVariable] }).toEqual({ name, role: 'projector', apiRole });
      expect({ ...own, [roleVariable]: undefined }).toEqual({
        ...api,
        [roleVariable]: undefined,
        ...(app === 'pulse' ? { PULSE_PUBLIC_URL: undefined } : {}),
      });
      for (const environment of [own, api]) expect(loaders[app]!(environment)).toMatchObject({ [roleVariable]: environment[roleVariable] });
    }
  });

  test('each service gets the variables it needs, pointing at the containers of this file', () => {
    const postgres = env('postgres');
    for (const name of Object.keys(servicePorts)) {
      const variables = env(name);
      for (const variable of requiredVariables)
        expect({ name, variable, set: (variables[variable] ?? '') !== '' }).toEqual({ name, variable, set: true });
      expect(variables.PORT).toBe(String(servicePorts[name]));
      expect(services[name].ports).toEqual([`${servicePorts[name]}:${servicePorts[name]}`]);
      expect(services[name].build.args).toEqual({ SERVICE: name });

      const database = new URL(variables.DATABASE_URL!);
      expect([database.hostname, database.username, database.password, database.pathname]).toEqual([
        'postgres',
        postgres.POSTGRES_USER,
        postgres.POSTGRES_PASSWORD,
        `/${postgres.POSTGRES_DB}`,
      ]);
      expect(new URL(variables.EVENTSTORE_URL!).host).toBe(`eventstore:2113`); // EventStoreDB's default node port
    }
  });

  test("register's configuration loader accepts register's environment as written", () => {
    const config = loadRegisterConfig(env('register'));
    expect(config.PORT).toBe(servicePorts.register);
    expect(config.EVENTSTORE_URL).toMatch(/^esdb:\/\/eventstore:2113/);
    expect(config.SMTP_URL).toBe('smtp://mailpit:1025');
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stages = dockerfile
    .split(/^FROM /m)
    .slice(1)
    .map((stage) => `FROM ${stage}`);
  const runtime = stages.at(-1)!;
  const instructions = (stage: string, keyword: string) => stage.split('\n').filter((line) => line.startsWith(`${keyword} `));

  test('is multi-stage, and the runtime stage is Node 24 slim without build tools or sources', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime).toMatch(/^FROM node:24[-.\w]*-slim\b/);
    for (const copy of instructions(runtime, 'COPY')) expect(copy).toMatch(/--from=/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(runtime).not.toMatch(/npm (ci|install)/);
  });

  test('the runtime runs as a non-root user, checks its health and starts the service named by SERVICE', () => {
    const [user] = instructions(runtime, 'USER').map((line) => line.slice('USER '.length).trim());
    expect(user).toEqual(expect.any(String));
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(instructions(runtime, 'ARG')).toContain('ARG SERVICE=register');
    expect(runtime).toMatch(/^HEALTHCHECK .*\/health\/ready/m);
    expect(runtime).toMatch(/^CMD .*exec node dist\/apps\/\$\{SERVICE\}\/src\/main\.js/m);
  });

  test('ships no source maps and keeps secrets and local data out of the build context', () => {
    const build = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { sourceMap?: boolean } };
    expect(build.compilerOptions.sourceMap).toBe(false);
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim());
    expect(ignored).toEqual(expect.arrayContaining(['.git', '.data', '.env', 'node_modules', 'dist']));
  });
});
