import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { signTestToken } from '../../apps/register/src/access/access-token';
import { createTestDatabase } from '../support/database';
import { ReadinessLoadBalancer } from '../support/load-balancer';
import { compileServices, startReplica, type Replica } from '../support/replicas';

/**
 * The rolling-update drill: what `kubectl rollout restart` does to a Deployment with
 * maxUnavailable 0 and maxSurge 1, played with real processes. Two replicas serve a steady load
 * behind a balancer that follows readiness; each old replica is replaced by starting a new one,
 * waiting until it is ready, then sending SIGTERM to the old one. No request may fail, and every
 * acknowledged write must be stored exactly once.
 *
 * Each service that joins the drill adds a `DrillTarget` to `targets`.
 */
interface DrillRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** The status that means success for this request. */
  readonly expect: number;
  /** Records what the service acknowledged, for the exactly-once check. */
  acknowledged?(body: unknown): void;
}

interface Workload {
  /** The i-th request of the steady load. */
  request(i: number): DrillRequest;
  /** Checks in the database that every acknowledged write is stored exactly once. */
  verify(databaseUrl: string): Promise<void>;
}

interface DrillTarget {
  readonly service: string;
  readonly entry: string;
  env(databaseUrl: string): Record<string, string>;
  /** Sets up what the load needs (tenant, keys, a known user) through the balancer. */
  prepare(balancerUrl: string): Promise<Workload>;
}

const DRAIN_MS = 1500;
const PASSWORD = 'correct horse battery staple';

const registerTarget = (): DrillTarget => {
  const adminToken = randomBytes(24).toString('base64url');
  const testTokenSecret = randomBytes(32).toString('base64url');
  // Every replica must share the master key, as pods share one Secret.
  const masterKey = randomBytes(32).toString('base64');
  return {
    service: 'register',
    entry: 'apps/register/src/main.ts',
    env: (databaseUrl) => ({
      // "test" only so that /me accepts the drill's HS256 tokens; everything else runs as in production.
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      TESSERA_MASTER_KEY: masterKey,
      ADMIN_TOKEN: adminToken,
      REGISTER_TEST_TOKEN_SECRET: testTokenSecret,
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      LOG_LEVEL: 'info',
    }),
    async prepare(balancerUrl) {
      const tenant = await json<{ id: string; slug: string }>(
        await fetch(`${balancerUrl}/admin/tenants`, post({ slug: `drill-${randomBytes(3).toString('hex')}`, name: 'Drill' }, { authorization: `Bearer ${adminToken}` })),
        201,
      );
      const reader = await json<{ id: string }>(await fetch(`${balancerUrl}/t/${tenant.slug}/users`, post({ email: 'reader@example.com', password: PASSWORD })), 201);
      const token = await signTestToken(testTokenSecret, { tenantId: tenant.id, userId: reader.id });
      await eventually(async () => (await fetch(`${balancerUrl}/t/${tenant.slug}/me`, { headers: { authorization: `Bearer ${token}` } })).status === 200);
      const signedUp = new Set<string>([reader.id]);
      return {
        request: (i) =>
          // Mostly cheap reads, so requests arrive densely enough that routing to a replica that
          // stopped listening would be seen; every fourth one a sign-up (argon2id, a real write).
          i % 4 === 0
            ? {
                method: 'POST',
                path: `/t/${tenant.slug}/users`,
                body: { email: `drill-${i}@example.com`, password: PASSWORD },
                expect: 201,
                acknowledged: (body) => signedUp.add((body as { id: string }).id),
              }
            : { method: 'GET', path: `/t/${tenant.slug}/me`, headers: { authorization: `Bearer ${token}` }, expect: 200 },
        async verify(databaseUrl) {
          const db = new Client({ connectionString: databaseUrl });
          await db.connect();
          try {
            const events = await db.query<{ stream_name: string; n: string }>(
              `SELECT stream_name, count(*) AS n FROM es_events WHERE type = 'UserRegistered' AND stream_name LIKE $1 GROUP BY stream_name`,
              [`register.account-${tenant.id}.%`],
            );
            const stored = new Map(events.rows.map((row) => [row.stream_name.slice(`register.account-${tenant.id}.`.length), Number(row.n)]));
            expect([...stored.values()].filter((n) => n !== 1)).toEqual([]);
            expect([...stored.keys()].sort()).toEqual([...signedUp].sort());
            // The read model catches up asynchronously; it must end with each account once.
            const profiles = async () =>
              (await db.query<{ user_id: string }>('SELECT user_id FROM register_profiles WHERE tenant_id = $1', [tenant.id])).rows.map((row) => row.user_id);
            await eventually(async () => (await profiles()).length >= signedUp.size);
            expect((await profiles()).sort()).toEqual([...signedUp].sort());
          } finally {
            await db.end();
          }
        },
      };
    },
  };
};

const targets: DrillTarget[] = [registerTarget()];

describe.each(targets)('rolling update of $service', (target) => {
  const replicas = new Set<Replica>();
  let balancer: ReadinessLoadBalancer;
  let balancerUrl: string;
  let databaseUrl: string;
  let replicaCount = 0;

  const startOne = async (): Promise<Replica> => {
    replicaCount += 1;
    const replica = await startReplica(`${target.service}-${replicaCount}`, target.entry, target.env(databaseUrl));
    replicas.add(replica);
    balancer.add(replica.url);
    await eventually(async () => balancer.isReady(replica.url), 20_000);
    return replica;
  };

  beforeAll(async () => {
    compileServices([target.entry]);
    databaseUrl = await createTestDatabase('drill');
    balancer = new ReadinessLoadBalancer({ readinessPath: '/health/ready', probeIntervalMs: 100, failureThreshold: 3 });
    balancerUrl = await balancer.start();
  }, 60_000);

  afterAll(async () => {
    for (const replica of replicas) replica.process.kill('SIGKILL');
    await Promise.all([...replicas].map((replica) => replica.exited));
    await balancer?.stop();
  });

  test('replacing every replica under load fails no request and stores each acknowledged write once', async () => {
    const initial = [await startOne(), await startOne()];
    const workload = await target.prepare(balancerUrl);
    const load = startLoad(balancerUrl, workload, 6);
    await delay(1000);

    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${Math.round(performance.now())} ${what}`);
    const exitCodes: Array<number | string> = [];
    const added: Replica[] = [];
    for (const old of initial) {
      mark('starting a new replica');
      added.push(await startOne());
      mark('new replica ready; SIGTERM to an old one');
      balancer.signalled(old.url);
      old.process.kill('SIGTERM');
      exitCodes.push(await old.exited);
      mark('old replica exited');
      balancer.remove(old.url);
      replicas.delete(old);
    }
    await delay(1000);
    const outcome = await load.stop();

    process.stdout.write(
      `${target.service} drill: ${outcome.succeeded} requests, ${outcome.failures.length} failed, ` +
        `longest latency ${outcome.longestLatencyMs} ms, longest pause between answers ${outcome.longestPauseMs} ms ` +
        `(ended at ${Math.round(outcome.longestPauseEndedAt)})\n  ${timeline.join('\n  ')}\n`,
    );
    expect(outcome.failures).toEqual([]);
    expect(exitCodes).toEqual([0, 0]);
    expect(balancer.stats().proxyErrors).toBe(0);
    // The roll really happened under load: old and new replicas both answered requests.
    const servedBy = balancer.stats().servedBy;
    for (const replica of [...initial, ...added]) expect(servedBy.get(replica.url) ?? 0).toBeGreaterThan(0);
    expect(outcome.succeeded).toBeGreaterThan(20);
    // Requests kept arriving at the old replicas after SIGTERM, until the balancer saw them unready:
    // the drain delay is what made those succeed.
    expect(balancer.stats().servedAfterSignal).toBeGreaterThan(0);
    await workload.verify(databaseUrl);
  }, 90_000);
});

interface LoadOutcome {
  readonly succeeded: number;
  readonly failures: string[];
  readonly longestLatencyMs: number;
  readonly longestPauseMs: number;
  /** `performance.now()` when the longest pause ended, to place it on the roll's timeline. */
  readonly longestPauseEndedAt: number;
}

/** `workers` clients sending the workload's requests back to back until stopped. */
function startLoad(baseUrl: string, workload: Workload, workers: number): { stop(): Promise<LoadOutcome> } {
  let running = true;
  let sequence = 0;
  let succeeded = 0;
  let longestLatencyMs = 0;
  let longestPauseMs = 0;
  let lastAnswerAt = performance.now();
  let longestPauseEndedAt = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (running) {
      const spec = workload.request(sequence++);
      const started = performance.now();
      try {
        const response = await fetch(`${baseUrl}${spec.path}`, {
          method: spec.method,
          headers: { ...(spec.body === undefined ? {} : { 'content-type': 'application/json' }), ...spec.headers },
          body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        });
        const text = await response.text();
        if (response.status !== spec.expect) {
          failures.push(`${spec.method} ${spec.path}: ${response.status} ${text.slice(0, 200)}`);
        } else {
          spec.acknowledged?.(text ? JSON.parse(text) : undefined);
          succeeded += 1;
        }
      } catch (error) {
        failures.push(`${spec.method} ${spec.path}: ${(error as Error).message}`);
      }
      const now = performance.now();
      longestLatencyMs = Math.max(longestLatencyMs, Math.round(now - started));
      if (now - lastAnswerAt > longestPauseMs) {
        longestPauseMs = Math.round(now - lastAnswerAt);
        longestPauseEndedAt = now;
      }
      lastAnswerAt = now;
      await delay(10);
    }
  };
  const all = Array.from({ length: workers }, () => worker());
  return {
    async stop() {
      running = false;
      await Promise.all(all);
      return { succeeded, failures, longestLatencyMs, longestPauseMs, longestPauseEndedAt };
    },
  };
}

async function eventually(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await delay(100);
  }
}

function post(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

async function json<T>(response: Response, status: number): Promise<T> {
  const text = await response.text();
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}
