import { startRegister, STRONG_PASSWORD, type RegisterHarness } from '../../../test/support/register-harness';

describe('sign-up', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string };
  beforeAll(async () => {
    register = await startRegister();
    tenant = await register.createTenant();
  });
  afterAll(() => register.close());

  test('a person signs up, verifies the mailed token and sees their profile', async () => {
    const signUp = await register
      .http()
      .post(`/t/${tenant.slug}/users`)
      .send({
        email: ' Ada@Example.com ',
        password: STRONG_PASSWORD,
        profile: { givenName: 'Ada', locale: 'en-GB' },
        consents: [{ purpose: 'marketing', policyVersion: '2026-01' }],
      });
    expect(signUp.status).toBe(201);
    expect(signUp.body).toMatchObject({
      email: 'ada@example.com',
      emailVerified: false,
      profile: { givenName: 'Ada', familyName: null, locale: 'en-GB' },
    });
    const userId = signUp.body.id;
    const token = await register.tokenFor(tenant.id, userId);

    const before = await register.http().get(`/t/${tenant.slug}/me`).set('authorization', `Bearer ${token}`);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({
      id: userId,
      email: 'ada@example.com',
      emailVerified: false,
      consents: [{ purpose: 'marketing', policyVersion: '2026-01' }],
    });

    const verificationToken = await register.mailedToken('ada@example.com', /confirm your e-mail/);
    const verified = await register.http().post(`/t/${tenant.slug}/email-verifications`).send({ token: verificationToken });
    expect(verified.status).toBe(200);
    const again = await register.http().post(`/t/${tenant.slug}/email-verifications`).send({ token: verificationToken });
    expect(again.status).toBe(400);
    expect(again.headers['content-type']).toMatch(/application\/problem\+json/);

    const after = await register.http().get(`/t/${tenant.slug}/me`).set('authorization', `Bearer ${token}`);
    expect(after.body.emailVerified).toBe(true);
  });

  test('twenty simultaneous sign-ups with one e-mail make exactly one account', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 20 }, () =>
        register.http().post(`/t/${tenant.slug}/users`).send({ email: 'race@example.com', password: STRONG_PASSWORD }),
      ),
    );
    const statuses = attempts.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    const rows = await register.runtime.infrastructure.dataSource.query(
      'SELECT count(*)::int AS n FROM register_profiles WHERE tenant_id = $1 AND email = $2',
      [tenant.id, 'race@example.com'],
    );
    expect(rows[0].n).toBe(1);
  });
});

describe('sign-up while the mail server is down', () => {
  test('the account is created and the sign-up answers 201; the mail failure is only logged', async () => {
    const register = await startRegister({ SMTP_URL: 'smtp://127.0.0.1:1' });
    try {
      const tenant = await register.createTenant();
      const response = await register
        .http()
        .post(`/t/${tenant.slug}/users`)
        .send({ email: 'offline@example.com', password: STRONG_PASSWORD });
      expect(response.status).toBe(201);
      await register.settled();
      const rows = await register.runtime.infrastructure.dataSource.query(
        'SELECT count(*)::int AS n FROM register_profiles WHERE tenant_id = $1',
        [tenant.id],
      );
      expect(rows[0].n).toBe(1);
    } finally {
      await register.close();
    }
  });
});
