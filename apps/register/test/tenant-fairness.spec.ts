import { startRegister, STRONG_PASSWORD, type RegisterHarness } from '../../../test/support/register-harness';

/**
 * argon2id is register's dearest work and libuv has few threads for it: one tenant flooding
 * sign-ups may hold only so many hashes in flight, and the flood's excess gets 429 with
 * Retry-After while another tenant's sign-up goes through.
 */
describe("one tenant's sign-up flood and another tenant", () => {
  let register: RegisterHarness;
  beforeAll(async () => {
    register = await startRegister({ REGISTER_HASHES_PER_TENANT: '2' });
  });
  afterAll(() => register.close());

  const signUp = (slug: string, email: string) => register.http().post(`/t/${slug}/users`).send({ email, password: STRONG_PASSWORD });
  const signUpHashes = async () => {
    const metrics = (await register.http().get('/metrics')).text;
    return Number(/^tessera_register_password_hashes_total\{[^}]*purpose="sign-up"[^}]*\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
  };

  test('the noisy tenant gets 429 with Retry-After for what exceeds its hashes in flight; the other tenant is served', async () => {
    const noisy = await register.createTenant();
    const quiet = await register.createTenant();
    const hashesBefore = await signUpHashes();
    // Thirty-two clients of the noisy tenant sign up back to back until the quiet tenant has its answers.
    let flooding = true;
    const floodAnswers: Awaited<ReturnType<typeof signUp>>[] = [];
    const flood = Array.from({ length: 32 }, async (_, client) => {
      for (let i = 0; flooding; i++) floodAnswers.push(await signUp(noisy.slug, `flood-${client}-${i}@example.com`));
    });
    try {
      // The flood holds hashes before the quiet tenant asks.
      const deadline = Date.now() + 10_000;
      while ((await signUpHashes()) < hashesBefore + 4) {
        if (Date.now() > deadline) throw new Error('the flood never got its hashes going');
      }
      // One after the other, each while the flood goes on: every one of them is served.
      for (let i = 0; i < 8; i++) expect((await signUp(quiet.slug, `patient-${i}@example.com`)).status).toBe(201);
    } finally {
      flooding = false;
      await Promise.all(flood);
    }

    const refused = floodAnswers.filter((answer) => answer.status === 429);
    const accepted = floodAnswers.filter((answer) => answer.status === 201);
    expect(refused.length + accepted.length).toBe(floodAnswers.length);
    expect(refused.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(answer.body.type).toBe('https://tessera.dev/problems/rate-limited');
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // A refused sign-up stored nothing: the noisy tenant has exactly the accounts it was told it has.
    const { rows } = await register.runtime.infrastructure.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM register_profiles WHERE tenant_id = $1',
      [noisy.id],
    );
    expect(rows[0]!.n).toBe(accepted.length);
  });
});
