import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { TenantConcurrencyLimiter } from '#platform';
import { LIVE_VIEWS } from '../src/live/live.http';
import { PROFILE_READS } from '../src/profiles/profiles.http';
import { GroupCommit } from '../src/tracking/group-commit';
import { basic, eventually, postTracking, usePulse, type Tenant } from './pulse-harness';

type Answer = { status: number; headers: Record<string, string>; body: Record<string, unknown> };

const batchOf = (count: number) => ({
  batch: Array.from({ length: count }, () => ({ type: 'track', userId: 'fair', event: 'E', messageId: randomUUID() })),
});

/**
 * One tenant's flood must not starve the others: the noisy tenant gets 429 with Retry-After (the
 * SDKs retry) while the quiet tenant's calls are taken. The store is held still by a test trigger
 * rather than raced against, so that every step is a state, not a timing.
 */
describe('tenant fairness on pulse’s shared paths', () => {
  const h = usePulse({
    env: { INGEST_WRITERS: '1', INGEST_MAX_QUEUED_EVENTS: '600', PROFILES_TENANT_CONCURRENCY: '2', LIVE_TENANT_MAX_VIEWS: '1' },
  });
  let quiet: Tenant;
  let gate: Client;
  beforeAll(async () => {
    quiet = await h.pulse.createTenant();
    gate = new Client({ connectionString: h.pulse.databaseUrl });
    await gate.connect();
  });
  afterAll(() => gate?.end());

  const post = (tenant: Tenant, body: object): Promise<Answer> => postTracking(h.pulse, tenant, body);
  const readProfile = (tenant: Tenant, userId: string): Promise<Answer> =>
    h.pulse
      .http()
      .get(`/t/${tenant.slug}/profiles/userId/${userId}`)
      .set('authorization', `Bearer ${tenant.apiKey}`)
      .then((response) => response);

  test('a tenant holding its share of the ingest queue gets 429 with Retry-After, while another tenant’s calls are stored', async () => {
    const pool = h.pulse.runtime.infrastructure.pool;
    const commit = h.pulse.app.get(GroupCommit);
    // Both tenants' people have their data keys, so only the store's answer waits.
    expect((await post(h.tenant, batchOf(1))).status).toBe(200);
    expect((await post(quiet, batchOf(1))).status).toBe(200);
    await gate.query('SELECT pg_advisory_lock(4545)');
    await pool.query(
      `CREATE FUNCTION test_held_store() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4545); RETURN NULL; END $$`,
    );
    await pool.query(
      'CREATE TRIGGER test_held_store BEFORE INSERT ON pulse_message_ids FOR EACH STATEMENT EXECUTE FUNCTION test_held_store()',
    );
    const noisyAccepted: { body: ReturnType<typeof batchOf>; answer: Promise<Answer> }[] = [];
    const quietAccepted: typeof noisyAccepted = [];
    const refused: { body: ReturnType<typeof batchOf>; answer: Answer }[] = [];
    try {
      const flight = batchOf(100);
      noisyAccepted.push({ body: flight, answer: post(h.tenant, flight) });
      await eventually(async () => commit.commitsInFlight === 1 && commit.waitingEvents === 0);
      // The noisy tenant fills half the queue (600 / 2), one call at a time.
      for (let waiting = 100; waiting <= 300; waiting += 100) {
        const body = batchOf(100);
        noisyAccepted.push({ body, answer: post(h.tenant, body) });
        await eventually(async () => commit.waitingEvents === waiting);
      }
      const over = batchOf(100);
      const pushedBack = await post(h.tenant, over);
      refused.push({ body: over, answer: pushedBack });
      expect(pushedBack.status).toBe(429);
      expect(pushedBack.headers['retry-after']).toBe('1');
      expect(pushedBack.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(pushedBack.body.type).toMatch(/rate-limited/);
      // The quiet tenant still gets in, twice, while the noisy one stays refused.
      for (const waiting of [400, 500]) {
        const body = batchOf(100);
        quietAccepted.push({ body, answer: post(quiet, body) });
        await eventually(async () => commit.waitingEvents === waiting);
        const again = batchOf(50);
        const answer = await post(h.tenant, again);
        refused.push({ body: again, answer });
        expect(answer.status).toBe(429);
      }
    } finally {
      await gate.query('SELECT pg_advisory_unlock(4545)');
    }
    const answers = await Promise.all([...noisyAccepted, ...quietAccepted].map(({ answer }) => answer));
    await pool.query('DROP TRIGGER test_held_store ON pulse_message_ids; DROP FUNCTION test_held_store()');
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(200));
    const noisyStored = await h.pulse.storedMessageIds(h.tenant.id);
    const quietStored = await h.pulse.storedMessageIds(quiet.id);
    for (const { body } of noisyAccepted) for (const message of body.batch) expect(noisyStored.get(message.messageId)).toBe(1);
    for (const { body } of quietAccepted) for (const message of body.batch) expect(quietStored.get(message.messageId)).toBe(1);
    for (const { body } of refused) for (const message of body.batch) expect(noisyStored.has(message.messageId)).toBe(false);
  });

  test('a tenant with its profile reads in flight gets 429 for more, while another tenant’s read is answered', async () => {
    const reads = h.pulse.app.get<TenantConcurrencyLimiter>(PROFILE_READS);
    const userId = `reader-${randomUUID()}`;
    await post(quiet, { batch: [{ type: 'identify', userId, traits: { plan: 'pro' }, messageId: randomUUID() }] });
    await h.pulse.profilesCaughtUp();
    // Reads wait on the test's lock on the identities, as they would on a busy pool.
    await gate.query('BEGIN');
    await gate.query('LOCK TABLE pulse_identities IN ACCESS EXCLUSIVE MODE');
    let held: Promise<Answer>[];
    let quietRead: Promise<Answer>;
    try {
      held = [readProfile(h.tenant, 'a'), readProfile(h.tenant, 'b')];
      await eventually(async () => reads.inFlightFor(h.tenant.id) === 2);
      const refused = await readProfile(h.tenant, 'c');
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      quietRead = readProfile(quiet, userId);
      await eventually(async () => reads.inFlightFor(quiet.id) === 1);
    } finally {
      await gate.query('ROLLBACK');
    }
    expect((await Promise.all(held)).map((answer) => answer.status)).toEqual([404, 404]);
    const answered = await quietRead;
    expect(answered.status).toBe(200);
    expect(answered.body.traits).toEqual({ plan: 'pro' });
    expect(reads.inFlightFor(h.tenant.id)).toBe(0);
  });

  test('a tenant with its live views open gets 429 for another, while another tenant opens its own', async () => {
    const views = h.pulse.app.get<TenantConcurrencyLimiter>(LIVE_VIEWS);
    const open = (tenant: Tenant, signal?: AbortSignal) =>
      fetch(`${h.pulse.url}/t/${tenant.slug}/live`, { headers: { authorization: `Bearer ${tenant.apiKey}` }, signal });
    const first = new AbortController();
    expect((await open(h.tenant, first.signal)).status).toBe(200);
    const refused = await open(h.tenant);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    const theirs = new AbortController();
    expect((await open(quiet, theirs.signal)).status).toBe(200);
    theirs.abort();
    // Closing a view frees its slot.
    first.abort();
    await eventually(async () => views.inFlightFor(h.tenant.id) === 0);
    const again = new AbortController();
    expect((await open(h.tenant, again.signal)).status).toBe(200);
    again.abort();
  });
});

describe('a per-tenant event rate, when one is configured', () => {
  // One event a second after a burst of 100: a second batch of 100 would have to wait 100 s.
  const h = usePulse({ env: { INGEST_TENANT_EVENTS_PER_SECOND: '1', INGEST_TENANT_EVENTS_BURST: '100' } });

  test('a tenant past its rate gets 429 with Retry-After and nothing stored, while another tenant’s events are stored', async () => {
    const quiet = await h.pulse.createTenant();
    const send = (tenant: Tenant, body: object) => h.pulse.http().post('/v1/batch').set('authorization', basic(tenant.writeKey)).send(body);
    const first = batchOf(100);
    expect((await send(h.tenant, first)).status).toBe(200);
    const over = batchOf(100);
    const refused = await send(h.tenant, over);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(90);
    // Twenty events more need twenty seconds of refill: refused however slowly this machine runs the test.
    const twenty = await send(h.tenant, batchOf(20));
    expect(twenty.status).toBe(429);
    const theirs = batchOf(100);
    expect((await send(quiet, theirs)).status).toBe(200);
    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    for (const message of over.batch) expect(stored.has(message.messageId)).toBe(false);
    expect((await h.pulse.storedMessageIds(quiet.id)).size).toBe(100);
  });
});

describe('a tenant’s budget of refused calls', () => {
  // Three refusals at once, then one a second.
  const h = usePulse({
    env: { INGEST_TENANT_REFUSALS_PER_SECOND: '1', INGEST_TENANT_REFUSALS_BURST: '3', INGEST_TENANT_REFUSALS_HOLD_MS: '100' },
  });
  const post = (tenant: Tenant, body: object): Promise<Answer> => postTracking(h.pulse, tenant, body);
  const poison = { batch: [{ type: 'track', userId: 'u', event: 'E', messageId: 'bad\u0000id' }] };

  test('past its refusals a tenant gets 429 for every call, before the body is read when the key is in the header, while another tenant is served', async () => {
    const quiet = await h.pulse.createTenant();
    // Accepted calls spend nothing.
    for (let i = 0; i < 5; i++) expect((await post(h.tenant, batchOf(1))).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await post(h.tenant, poison)).status).toBe(400);

    const valid = batchOf(1);
    const asked = Date.now();
    const refused = await post(h.tenant, valid);
    expect(refused.status).toBe(429);
    // Held back, so a client waiting for its answers cannot keep the 429s coming at full rate.
    expect(Date.now() - asked).toBeGreaterThanOrEqual(95);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Past the body limit, yet 429 rather than 413: the tenant was refused before its body was read.
    const oversized = { batch: [{ type: 'track', userId: 'u', event: 'E', properties: { blob: 'x'.repeat(600_000) } }] };
    expect((await post(h.tenant, oversized)).status).toBe(429);
    // analytics.js sends the key in the body: refused once the body names the tenant.
    const short = await h.pulse
      .http()
      .post('/v1/t')
      .set('content-type', 'text/plain')
      .send(JSON.stringify({ writeKey: h.tenant.writeKey, userId: 'u', event: 'E' }));
    expect(short.status).toBe(429);

    // Another tenant has its own budget.
    expect((await post(quiet, poison)).status).toBe(400);
    expect((await post(quiet, batchOf(1))).status).toBe(200);
    expect((await h.pulse.storedMessageIds(h.tenant.id)).has(valid.batch[0]!.messageId)).toBe(false);
    // The budget refills: a valid call is taken again.
    await eventually(async () => (await post(h.tenant, batchOf(1))).status === 200, 5_000);
  });
});
