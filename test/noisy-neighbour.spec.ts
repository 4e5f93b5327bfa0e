import { randomUUID } from 'node:crypto';
import { Analytics } from '@segment/analytics-node';
import fc from 'fast-check';
import * as oidc from 'openid-client';
import { trackingStreamFor } from '#contracts';
import { SERVICES, startFourServices, type FourServices, type ProcessName, type ServiceName } from './support/four-services';
import { hostileCall, hostileRequestId, type HostileTenant } from './support/hostile-calls';
import { HOSTILE_PEOPLE } from './support/hostile-tracking';
import { prepareHonestTenant, prepareHostileTenant, signIn, type HonestTenant } from './support/noisy-tenants';
import { report, startCpuShares, type HostileOutcome, type Outcome } from './support/noisy-report';
import { RawHttp } from './support/raw-http';
import { STRONG_PASSWORD } from './support/register-harness';

/**
 * No tenant can hurt another. The four services run as their own processes on one database, as a
 * deployment runs them (pulse's ingest and profiles projector apart, as Kubernetes deploys them).
 * Tenant B, honest, keeps up steady traffic for the whole window (orders tracked with the Segment
 * SDK and its server key, sign-ups, client-credentials tokens through openid-client, redemptions)
 * and records every outcome; meanwhile tenant A, holding only its write key, its api key and what
 * any tenant holds, sends generated hostile calls (fast-check, fixed seed) to every public endpoint
 * of the four services, as fast as they are answered. Then: every B call succeeded, B's read
 * models followed each acknowledgement within 1 s (measured by polling), nothing answered 5xx, no
 * readiness probe failed, what A was acknowledged is stored and readable, and nothing of what A
 * was refused is stored.
 */

const SEED = Number(process.env.NOISY_SEED ?? 18);
const WINDOW_MS = Number(process.env.NOISY_WINDOW_MS ?? 30_000);
/** Generated once; A sends them in turn, each time with fresh ids, until the window closes. */
const HOSTILE_CALLS = 3_000;
/**
 * A's calls in flight. A sends each as soon as the last is answered, so its rate is what the
 * machine can answer (its CPU, which A's calls saturate), not this number: past the point of
 * saturation more loops only make every queue longer.
 */
const HOSTILE_LOOPS = 8;
/** What the issue allows between an acknowledgement and the read model showing it. */
const LAG_BOUND_MS = 1_000;
/** How often B looks whether its read models show what it was acknowledged. */
const POLL_MS = 25;
/** B's pace: a pause after each step of each of its loops. */
const PAUSE_MS = { tracking: 100, signUp: 250, token: 100, redemption: 150 };

type LagKind = 'tracked order on the profile' | 'its points on the member' | 'sign-up in login';

const summary = ({ route, status }: HostileOutcome) => `${route} ${status}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ok = (status: number) => status >= 200 && status < 300;

jest.setTimeout(300_000);

describe('a hostile tenant at full rate, next to an honest one', () => {
  let four: FourServices;
  let honest: HonestTenant;
  let hostile: HostileTenant;

  beforeAll(async () => {
    four = await startFourServices(
      // The test stands in for the ingress: X-Forwarded-For carries each caller's address.
      { TRUST_PROXY: '1' },
      {
        // register's request limits, as shipped (set here so a change of default does not change the test).
        register: {
          REGISTER_SIGNUPS_PER_ADDRESS: '50',
          REGISTER_SIGNUPS_PER_EMAIL: '5',
          REGISTER_RESETS_PER_ADDRESS: '20',
          REGISTER_RESETS_PER_EMAIL: '3',
          REGISTER_TOKEN_ATTEMPTS_PER_ADDRESS: '30',
          REGISTER_TOKEN_ATTEMPTS_PER_ACCOUNT: '10',
          REGISTER_HASHES_PER_TENANT: '8',
        },
      },
    );
    honest = await prepareHonestTenant(four);
    hostile = await prepareHostileTenant(four);
  });
  afterAll(() => four?.close());

  test('every B call succeeds and its read models keep up; A gets 2xx or 4xx, keeps what was acknowledged, and nothing it was refused', async () => {
    const url = (service: ProcessName) => four.services[service].url;
    process.stdout.write(`noisy neighbour: seed ${SEED} (NOISY_SEED), window ${WINDOW_MS} ms\n`);
    const calls = fc.sample(hostileCall, { seed: SEED, numRuns: HOSTILE_CALLS });
    const honestHttp = new RawHttp(16);
    const hostileHttp = new RawHttp(HOSTILE_LOOPS);
    const outcomes: Outcome[] = [];
    const lags: Record<LagKind, number[]> = { 'tracked order on the profile': [], 'its points on the member': [], 'sign-up in login': [] };
    const record = (kind: string, status: number, detail?: string) => outcomes.push({ kind, status, detail });
    const bearer = { authorization: `Bearer ${honest.apiKey}` };
    const get = (service: ServiceName, path: string) => honestHttp.send({ method: 'GET', url: `${url(service)}${path}`, headers: bearer });

    /** Polls until `visible`, then records how long after `ackedAt` that was (Infinity past 10 s). */
    async function lag(kind: LagKind, ackedAt: number, visible: () => Promise<boolean>): Promise<void> {
      while (!(await visible())) {
        if (performance.now() - ackedAt > 10_000) return void lags[kind].push(Infinity);
        await sleep(POLL_MS);
      }
      lags[kind].push(performance.now() - ackedAt);
    }
    /** Runs `step` until the window closes; a step that throws is a failed B call. */
    async function loop(kind: string, until: number, pauseMs: number, step: (n: number) => Promise<void>): Promise<void> {
      for (let n = 0; Date.now() < until; n++) {
        await step(n).catch((error: unknown) => record(kind, (error as { status?: number }).status ?? 0, String(error)));
        await sleep(pauseMs);
      }
    }

    const trackOrders = async (until: number) => {
      const analytics = new Analytics({
        writeKey: honest.serverKey,
        host: url('pulse'),
        flushAt: 1,
        maxRetries: 0,
        httpClient: async (target, init) => {
          const response = await fetch(target, init);
          record('tracking', response.status);
          return response;
        },
      });
      await loop('tracking', until, PAUSE_MS.tracking, async (n) => {
        const userId = `b-shopper-${n}`;
        await new Promise<void>((resolve, reject) =>
          analytics.track({ userId, event: 'Order Completed', properties: { total: 10, currency: 'EUR' } }, (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        const ackedAt = performance.now();
        await Promise.all([
          lag(
            'tracked order on the profile',
            ackedAt,
            async () => (await get('pulse', `/t/${honest.slug}/profiles/userId/${userId}`)).status === 200,
          ),
          lag('its points on the member', ackedAt, async () => {
            const member = await get('rewards', `/t/${honest.slug}/members/${userId}`);
            return member.status === 200 && JSON.parse(member.body).balance === 10;
          }),
        ]);
      });
      await analytics.closeAndFlush();
    };
    const signUps = (until: number) =>
      loop('sign-up', until, PAUSE_MS.signUp, async (n) => {
        const email = `b-person-${n}@example.com`;
        const answer = await honestHttp.send({
          method: 'POST',
          url: `${url('register')}/t/${honest.slug}/users`,
          headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${(n % 250) + 1}` },
          body: JSON.stringify({ email, password: STRONG_PASSWORD }),
        });
        record('sign-up', answer.status, ok(answer.status) ? undefined : answer.body);
        if (answer.status !== 201) return;
        const ackedAt = performance.now();
        const { id } = JSON.parse(answer.body) as { id: string };
        const credentials = 'SELECT 1 FROM login_credentials WHERE tenant_id = $1 AND user_id = $2';
        await lag('sign-up in login', ackedAt, async () => (await four.pool.query(credentials, [honest.id, id])).rowCount === 1);
        // Every fourth person also signs in through login's pages, and gets tokens for the code.
        if (n % 4 === 0) record('sign-in', (await signIn(honest.app, honest.slug, email)) ? 200 : 0);
      });
    const tokens = (until: number) =>
      loop('token', until, PAUSE_MS.token, async () => {
        record('token', (await oidc.clientCredentialsGrant(honest.service)).access_token ? 200 : 0);
      });
    const redemptions = (until: number) =>
      loop('redemption', until, PAUSE_MS.redemption, async (n) => {
        const answer = await honestHttp.send({
          method: 'POST',
          url: `${url('rewards')}/t/${honest.slug}/members/${honest.members[n % honest.members.length]}/redemptions`,
          headers: { ...bearer, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify({ rewardId: honest.rewardId }),
        });
        const confirmed = answer.status === 201 && JSON.parse(answer.body).status === 'confirmed';
        record('redemption', answer.status, confirmed ? undefined : answer.body);
      });

    const hostileOutcomes: HostileOutcome[] = [];
    let nextSerial = 0;
    const hostileLoop = async (until: number) => {
      while (Date.now() < until) {
        const serial = nextSerial++;
        const made = calls[serial % calls.length]!(hostile, serial);
        const call = { ...made, headers: { ...made.headers, 'x-forwarded-for': `203.0.113.${(serial % 64) + 1}` } };
        const { service, route, messages, storesOnSuccess } = call;
        try {
          const answer = await hostileHttp.send(call);
          const problemJson = String(answer.headers['content-type']).startsWith('application/problem+json');
          hostileOutcomes.push({ serial, service, route, status: answer.status, problemJson, messages, storesOnSuccess });
        } catch (error) {
          hostileOutcomes.push({ serial, service, route, status: 0, problemJson: false, messages, storesOnSuccess, error: String(error) });
        }
      }
    };

    const notReady: string[] = [];
    const probeReadiness = async (until: number) => {
      while (Date.now() < until) {
        const probes = (Object.keys(four.services) as ProcessName[]).map(async (service) => {
          const answer = await honestHttp.send({ method: 'GET', url: `${url(service)}/health/ready` }).catch((error: unknown) => ({
            status: 0,
            body: String(error),
          }));
          if (answer.status !== 200) notReady.push(`${service} ${answer.status} ${answer.body.slice(0, 300)}`);
        });
        await Promise.all([...probes, sleep(250)]);
      }
    };

    // Where the machine's CPU went during the window: each process, and the rest (PostgreSQL, neighbours).
    const cpu = startCpuShares({
      ...Object.fromEntries(Object.entries(four.services).map(([name, { process: child }]) => [name, child.pid!])),
      clients: process.pid,
    });
    const began = Date.now();
    const until = began + WINDOW_MS;
    try {
      await Promise.all([
        probeReadiness(until),
        trackOrders(until),
        signUps(until),
        tokens(until),
        redemptions(until),
        ...Array.from({ length: HOSTILE_LOOPS }, () => hostileLoop(until)),
      ]);
    } finally {
      hostileHttp.close();
    }
    report({ seconds: (Date.now() - began) / 1000, honest: outcomes, lags, hostile: hostileOutcomes, cores: cpu() });
    for (const [name, service] of Object.entries(four.services)) {
      if (service.errors.length > 0) process.stdout.write(`${name} logged errors:\n${service.errors.slice(0, 20).join('\n')}\n`);
    }

    // Every finding at once, so that one run tells the whole story.
    const kinds = ['tracking', 'sign-up', 'sign-in', 'token', 'redemption'];
    const findings = {
      crashes: four.crashes(),
      notReady,
      // B: every call succeeded, each kind several times, and its read models followed within the bound.
      failedB: outcomes.filter((outcome) => !ok(outcome.status)),
      idleB: kinds.filter((kind) => outcomes.filter((outcome) => outcome.kind === kind).length < 3),
      unmeasuredLags: Object.keys(lags).filter((kind) => lags[kind as LagKind].length === 0),
      lagsOverBound: Object.entries(lags).flatMap(([kind, measured]) =>
        measured.filter((ms) => ms > LAG_BOUND_MS).map((ms) => `${kind} ${ms.toFixed(0)} ms`),
      ),
      // A: a success or a refusal, never a failure; refusals of the APIs that speak problem+json in it.
      failedA: hostileOutcomes
        .filter((outcome) => outcome.status >= 500 || outcome.status === 0)
        .map((o) => `${summary(o)} ${o.error ?? ''}`),
      notProblemJson: hostileOutcomes.filter((o) => o.status >= 400 && o.service !== 'login' && !o.problemJson).map(summary),
      // The generator reaches both paths of every service.
      untried: SERVICES.filter((service) => {
        const answered = hostileOutcomes.filter((outcome) => outcome.service === service);
        return !answered.some((o) => ok(o.status)) || !answered.some((o) => o.status >= 400);
      }),
      ...(await acknowledgedKeptAndRefusedDropped(hostileOutcomes)),
      parked: await parkedEvents(),
    };
    honestHttp.close();
    expect(findings).toEqual(Object.fromEntries(Object.keys(findings).map((name) => [name, []])));
  });

  /**
   * What A was acknowledged is stored, once, and readable; nothing of a request it was refused is
   * stored. Every call carried its own request id, which the services record as the correlation id
   * of the events the call stores.
   */
  async function acknowledgedKeptAndRefusedDropped(outcomes: readonly HostileOutcome[]) {
    const stored = new Map<string, number>();
    const { rows } = await four.pool.query<{ message_id: string; n: number }>(
      `SELECT data->>'messageId' AS message_id, count(*)::int AS n FROM es_events
       WHERE stream_name LIKE $1 AND type = 'MessageReceived' GROUP BY 1`,
      [`${trackingStreamFor(hostile.id, 0).replace(/\.0$/, '')}.%`],
    );
    for (const row of rows) stored.set(row.message_id, row.n);
    const messages = (accepted: boolean) =>
      outcomes.filter((o) => o.messages && (accepted ? o.status === 200 : o.status >= 400)).flatMap((o) => o.messages!);
    const acknowledged = messages(true).filter((message) => message.messageId !== undefined);

    const byRequest = new Map<string, number>();
    const events = await four.pool.query<{ request: string; n: number }>(
      `SELECT metadata->>'correlationId' AS request, count(*)::int AS n FROM es_events WHERE metadata->>'correlationId' LIKE 'noisy-a-%' GROUP BY 1`,
    );
    for (const row of events.rows) byRequest.set(row.request, row.n);
    // A redemption refused for want of points or stock (409) records the request it declined, by design.
    const refused = outcomes.filter((o) => o.status >= 400 && !(o.status === 409 && o.route.endsWith('/redemptions')));
    const writes = outcomes.filter((o) => o.storesOnSuccess && ok(o.status));

    // Readable: each of A's known people shows every message of theirs that was acknowledged.
    const unreadable: string[] = [];
    for (const person of HOSTILE_PEOPLE) {
      const expected = new Set(acknowledged.filter((m) => m.fresh && m.userId === person).map((m) => m.messageId!));
      const shown = new Set<string>();
      const missing = () => [...expected].filter((id) => !shown.has(id));
      for (const deadline = Date.now() + 30_000; missing().length > 0 && Date.now() < deadline; await sleep(200)) {
        for (const id of await profileMessageIds(person)) shown.add(id);
      }
      unreadable.push(...missing());
    }
    return {
      acknowledgedNotStoredOnce: acknowledged.filter((message) => stored.get(message.messageId!) !== 1),
      refusedButStored: messages(false).filter((message) => message.fresh && stored.has(message.messageId!)),
      refusedRequestsThatStored: refused.filter((o) => byRequest.has(hostileRequestId(o.serial))).map(summary),
      acknowledgedWritesNotStored: writes.filter((o) => !byRequest.has(hostileRequestId(o.serial))).map(summary),
      unreadable,
    };
  }

  async function profileMessageIds(person: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await fetch(
        `${four.services.pulse.url}/t/${hostile.slug}/profiles/userId/${person}/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`,
        { headers: { authorization: `Bearer ${hostile.apiKey}` } },
      );
      if (page.status === 404) return ids;
      const body = (await page.json()) as { events: { messageId: string }[]; nextCursor: string | null };
      ids.push(...body.events.map((event) => event.messageId));
      cursor = body.nextCursor;
    } while (cursor);
    return ids;
  }

  /** No projection of any service set an event aside: everything A was acknowledged, the read models took. */
  async function parkedEvents(): Promise<unknown[]> {
    const parked: unknown[] = [];
    for (const [name, service] of Object.entries(four.services)) {
      const answer = await fetch(`${service.url}/admin/parked-events`, { headers: { authorization: `Bearer ${four.adminToken}` } });
      const body = (await answer.json()) as { items?: unknown[] };
      if (answer.status !== 200) parked.push({ name, status: answer.status, body });
      else parked.push(...(body.items ?? []).map((item) => ({ name, item })));
    }
    return parked;
  }
});
