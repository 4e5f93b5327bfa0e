import { randomBytes } from 'node:crypto';
import { createTestDatabase } from '../../../test/support/database';
import { startRegister, STRONG_PASSWORD, type RegisterHarness } from '../../../test/support/register-harness';
import { RequestLimits } from '../src/request-limits/request-limits';

/**
 * Sign-ups, reset requests and mailed-token attempts are limited per client network and per
 * e-mail address or account, and the counts live in PostgreSQL: two replicas on one database
 * enforce one budget. Each test uses its own tenant, so its counts start at zero.
 */
describe('request limits shared by every replica', () => {
  const limits = {
    REGISTER_SIGNUPS_PER_ADDRESS: '3',
    REGISTER_SIGNUPS_PER_EMAIL: '2',
    REGISTER_RESETS_PER_ADDRESS: '4',
    REGISTER_RESETS_PER_EMAIL: '2',
    REGISTER_TOKEN_ATTEMPTS_PER_ADDRESS: '4',
    REGISTER_TOKEN_ATTEMPTS_PER_ACCOUNT: '3',
  };
  let first: RegisterHarness;
  let second: RegisterHarness;
  /** A third replica behind one trusted proxy hop: it counts the address X-Forwarded-For names. */
  let behindProxy: RegisterHarness;

  beforeAll(async () => {
    const shared = { DATABASE_URL: await createTestDatabase('limits'), TESSERA_MASTER_KEY: randomBytes(32).toString('base64'), ...limits };
    first = await startRegister(shared);
    second = await startRegister(shared);
    behindProxy = await startRegister({ ...shared, TRUST_PROXY: '1' });
  });
  afterAll(async () => {
    await Promise.all([first, second, behindProxy].map((replica) => replica?.close()));
  });

  const signUp = (replica: RegisterHarness, slug: string, email: string, forwardedFor?: string) => {
    const call = replica.http().post(`/t/${slug}/users`);
    if (forwardedFor) void call.set('x-forwarded-for', forwardedFor);
    return call.send({ email, password: STRONG_PASSWORD });
  };
  const storedEvents = async () =>
    (await first.runtime.infrastructure.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM es_events')).rows[0]!.n;

  function expectLimited(response: { status: number; headers: Record<string, string>; body: Record<string, unknown> }) {
    expect(response.status).toBe(429);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.type).toBe('https://tessera.dev/problems/rate-limited');
    expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  }

  test('sign-ups from one address: the limit holds across two replicas, and the refused one stores nothing', async () => {
    const { slug } = await first.createTenant();
    expect((await signUp(first, slug, 'one@example.com')).status).toBe(201);
    expect((await signUp(second, slug, 'two@example.com')).status).toBe(201);
    expect((await signUp(first, slug, 'three@example.com')).status).toBe(201);
    const before = await storedEvents();
    expectLimited(await signUp(second, slug, 'four@example.com'));
    expectLimited(await signUp(first, slug, 'five@example.com'));
    expect(await storedEvents()).toBe(before);
    // Another tenant's budget is its own.
    const other = await first.createTenant();
    expect((await signUp(second, other.slug, 'four@example.com')).status).toBe(201);
  });

  test('sign-ups for one e-mail address are limited whichever address they come from', async () => {
    const { slug } = await first.createTenant();
    expect((await signUp(behindProxy, slug, 'Taken@example.com', '198.51.100.1')).status).toBe(201);
    expect((await signUp(behindProxy, slug, 'taken@example.com', '198.51.100.2')).status).toBe(409);
    expectLimited(await signUp(behindProxy, slug, 'taken@example.com', '198.51.100.3'));
  });

  test('TRUST_PROXY decides the address: behind a trusted hop X-Forwarded-For counts, elsewhere it is ignored', async () => {
    const trusted = await first.createTenant();
    for (const email of ['a@example.com', 'b@example.com', 'c@example.com']) {
      expect((await signUp(behindProxy, trusted.slug, email, '203.0.113.9')).status).toBe(201);
    }
    expectLimited(await signUp(behindProxy, trusted.slug, 'd@example.com', '203.0.113.9'));
    // Every address of one IPv6 /64 is one network.
    expect((await signUp(behindProxy, trusted.slug, 'e@example.com', '2001:db8:5:6::1')).status).toBe(201);
    expect((await signUp(behindProxy, trusted.slug, 'f@example.com', '2001:db8:5:6::2')).status).toBe(201);
    expect((await signUp(behindProxy, trusted.slug, 'g@example.com', '2001:db8:5:6:ffff::3')).status).toBe(201);
    expectLimited(await signUp(behindProxy, trusted.slug, 'h@example.com', '2001:db8:5:6::4'));
    expect((await signUp(behindProxy, trusted.slug, 'd@example.com', '203.0.113.10')).status).toBe(201);

    // Without a trusted proxy, a caller cannot buy a fresh budget by writing the header itself.
    const untrusted = await first.createTenant();
    for (const [i, email] of ['a@example.com', 'b@example.com', 'c@example.com'].entries()) {
      expect((await signUp(first, untrusted.slug, email, `192.0.2.${i}`)).status).toBe(201);
    }
    expectLimited(await signUp(second, untrusted.slug, 'd@example.com', '192.0.2.99'));
  });

  test('reset requests for one address answer 202 as always, but stop mailing past the limit; known or not, the answers are alike', async () => {
    const { slug } = await first.createTenant();
    await first.signUp(slug, 'forgetful@example.com');
    const request = (replica: RegisterHarness, email: string, forwardedFor: string) =>
      replica.http().post(`/t/${slug}/password-resets`).set('x-forwarded-for', forwardedFor).send({ email });
    const answers = [
      await request(behindProxy, 'forgetful@example.com', '198.51.100.21'),
      await request(behindProxy, 'forgetful@example.com', '198.51.100.22'),
      await request(behindProxy, 'forgetful@example.com', '198.51.100.23'),
      await request(behindProxy, 'nobody@example.com', '198.51.100.24'),
      await request(behindProxy, 'nobody@example.com', '198.51.100.25'),
      await request(behindProxy, 'nobody@example.com', '198.51.100.26'),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(new Set(answers.map((answer) => JSON.stringify(answer.body))).size).toBe(1);
    await behindProxy.settled();
    const resetMails = behindProxy.mailbox.list('forgetful@example.com').filter((mail) => /reset your password/.test(mail.subject));
    expect(resetMails).toHaveLength(2);
  });

  test('reset requests from one address are refused with 429 past its limit, on any replica', async () => {
    const { slug } = await first.createTenant();
    const request = (replica: RegisterHarness, email: string) => replica.http().post(`/t/${slug}/password-resets`).send({ email });
    for (const [i, replica] of [first, second, first, second].entries()) {
      expect((await request(replica, `someone${i}@example.com`)).status).toBe(202);
    }
    expectLimited(await request(first, 'someone-else@example.com'));
  });

  test('attempts with mailed tokens are limited per account, from any address, for verification and reset alike', async () => {
    const { slug } = await first.createTenant();
    const { id } = await first.signUp(slug, 'verify-me@example.com');
    const token = await first.mailedToken('verify-me@example.com', /confirm your e-mail/);
    const verify = (candidate: string, forwardedFor: string) =>
      behindProxy.http().post(`/t/${slug}/email-verifications`).set('x-forwarded-for', forwardedFor).send({ token: candidate });
    for (const [i, forwardedFor] of ['198.51.100.31', '198.51.100.32', '198.51.100.33'].entries()) {
      expect((await verify(`${id}.${String(i).repeat(43)}`, forwardedFor)).status).toBe(400);
    }
    // Even the right token waits now: guessing must not stay open to a new address per guess.
    expectLimited(await verify(token, '198.51.100.34'));

    const reset = (candidate: string, forwardedFor: string) =>
      behindProxy
        .http()
        .post(`/t/${slug}/password-resets/confirm`)
        .set('x-forwarded-for', forwardedFor)
        .send({ token: candidate, password: 'a brand new passphrase' });
    for (const forwardedFor of ['198.51.100.41', '198.51.100.42', '198.51.100.43']) {
      expect((await reset(`${id}.${'C'.repeat(43)}`, forwardedFor)).status).toBe(400);
    }
    expectLimited(await reset(`${id}.${'D'.repeat(43)}`, '198.51.100.44'));
  });

  test('attempts with mailed tokens from one address are limited whichever accounts they name', async () => {
    const { slug } = await first.createTenant();
    const verify = (replica: RegisterHarness) =>
      replica
        .http()
        .post(`/t/${slug}/email-verifications`)
        .send({ token: `0190f1a2-0000-7000-8000-${randomBytes(6).toString('hex')}.${'E'.repeat(43)}` });
    for (const replica of [first, second, first, second]) expect((await verify(replica)).status).toBe(400);
    expectLimited(await verify(first));
  });

  test('windows no limit reads any more are deleted; current ones stay', async () => {
    const { id } = await first.createTenant();
    const pool = first.runtime.infrastructure.pool;
    await pool.query(
      `INSERT INTO register_request_limits (tenant_id, kind, key_hash, window_start, hits)
       VALUES ($1, 'sign-up/address', 'old', now() - interval '1 day', 7), ($1, 'sign-up/address', 'new', now(), 1)`,
      [id],
    );
    await first.app.get(RequestLimits).forgetExpired();
    const { rows } = await pool.query<{ key_hash: string }>('SELECT key_hash FROM register_request_limits WHERE tenant_id = $1', [id]);
    expect(rows.map((row) => row.key_hash)).toEqual(['new']);
  });
});
