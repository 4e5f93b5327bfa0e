import { startRegister, STRONG_PASSWORD, type RegisterHarness } from '../../../test/support/register-harness';

/** Every refusal is a 4xx problem+json that names the problem, and stores nothing. */
describe('bad input', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string; apiKey: string };
  let other: { id: string; slug: string; apiKey: string };

  beforeAll(async () => {
    register = await startRegister();
    tenant = await register.createTenant();
    other = await register.createTenant();
  });
  afterAll(() => register.close());

  async function storedEvents(): Promise<number> {
    const rows = await register.runtime.infrastructure.pool.query('SELECT count(*)::int AS n FROM es_events');
    return rows.rows[0].n;
  }

  function expectProblem(
    response: { status: number; headers: Record<string, string>; body: Record<string, unknown> },
    status: number,
    type?: string,
  ) {
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.status).toBe(status);
    expect(typeof response.body.title).toBe('string');
    if (type) expect(response.body.type).toBe(`https://tessera.dev/problems/${type}`);
  }

  const pointers = (body: { errors?: { pointer: string }[] }) => (body.errors ?? []).map((e) => e.pointer).sort();

  test.each([
    ['malformed JSON', '{"email": "a@b.c", ', 400],
    ['a JSON array', '[1,2,3]', 400],
  ])('%s is refused', async (_name, raw, status) => {
    const before = await storedEvents();
    const response = await register.http().post(`/t/${tenant.slug}/users`).set('content-type', 'application/json').send(raw);
    expectProblem(response, status);
    expect(await storedEvents()).toBe(before);
  });

  test('missing and wrong-typed fields are each named by JSON pointer', async () => {
    const before = await storedEvents();
    const response = await register
      .http()
      .post(`/t/${tenant.slug}/users`)
      .send({ password: 42, profile: { givenName: 7 }, consents: 'all' });
    expectProblem(response, 400, 'validation-failed');
    expect(pointers(response.body)).toEqual(['/consents', '/email', '/password', '/profile/givenName']);
    expect(await storedEvents()).toBe(before);
  });

  test('an invalid e-mail address is named', async () => {
    const response = await register.http().post(`/t/${tenant.slug}/users`).send({ email: 'not-an-address', password: STRONG_PASSWORD });
    expectProblem(response, 400, 'validation-failed');
    expect(pointers(response.body)).toEqual(['/email']);
  });

  test.each([['short'], ['password1234'], ['aaaaaaaaaaaaaaaa']])('the weak password %p is refused with the reason', async (password) => {
    const before = await storedEvents();
    const response = await register.http().post(`/t/${tenant.slug}/users`).send({ email: 'weak@example.com', password });
    expectProblem(response, 400, 'validation-failed');
    expect(pointers(response.body)[0]).toBe('/password');
    expect(JSON.stringify(response.body)).not.toContain(password);
    expect(await storedEvents()).toBe(before);
  });

  test('unknown fields are refused rather than ignored', async () => {
    const response = await register
      .http()
      .post(`/t/${tenant.slug}/users`)
      .send({ email: 'x@example.com', password: STRONG_PASSWORD, isAdmin: true });
    expectProblem(response, 400, 'validation-failed');
    expect(pointers(response.body)).toEqual(['/isAdmin']);
  });

  test('an oversized body gets 413', async () => {
    const before = await storedEvents();
    const response = await register
      .http()
      .post(`/t/${tenant.slug}/users`)
      .send({ email: 'big@example.com', password: STRONG_PASSWORD, padding: 'x'.repeat(200_000) });
    expectProblem(response, 413);
    expect(await storedEvents()).toBe(before);
  });

  test('an unknown tenant gets 404', async () => {
    const response = await register.http().post('/t/no-such-tenant/users').send({ email: 'a@example.com', password: STRONG_PASSWORD });
    expectProblem(response, 404, 'tenant-not-found');
  });

  test('tenant creation needs the admin token: missing 401, wrong 403', async () => {
    const before = await storedEvents();
    expectProblem(await register.http().post('/admin/tenants').send({ slug: 'nope', name: 'Nope' }), 401, 'unauthorized');
    expectProblem(
      await register.http().post('/admin/tenants').set('authorization', 'Bearer wrong-token').send({ slug: 'nope', name: 'Nope' }),
      403,
      'forbidden',
    );
    expect(await storedEvents()).toBe(before);
  });

  test('a tenant slug is taken once', async () => {
    const response = await register
      .http()
      .post('/admin/tenants')
      .set('authorization', `Bearer ${register.adminToken}`)
      .send({ slug: tenant.slug, name: 'Again' });
    expectProblem(response, 409, 'tenant-slug-taken');
  });

  test('a bad slug is named', async () => {
    const response = await register
      .http()
      .post('/admin/tenants')
      .set('authorization', `Bearer ${register.adminToken}`)
      .send({ slug: '-Bad Slug-', name: '' });
    expectProblem(response, 400, 'validation-failed');
    expect(pointers(response.body)).toEqual(['/name', '/slug']);
  });

  test("an API key works only for its own tenant: none 401, unknown 401, another tenant's 403", async () => {
    const { id } = await register.signUp(tenant.slug, 'keyed@example.com');
    const path = `/t/${tenant.slug}/users/${id}`;
    expectProblem(await register.http().delete(path), 401);
    expectProblem(await register.http().delete(path).set('authorization', 'Bearer tsk_unknown'), 401);
    expectProblem(await register.http().delete(path).set('authorization', `Bearer ${other.apiKey}`), 403, 'forbidden');
  });

  test("a person's token works only at their own tenant", async () => {
    const { id } = await register.signUp(tenant.slug, 'crossing@example.com');
    const token = await register.tokenFor(tenant.id, id);
    expectProblem(await register.http().get(`/t/${other.slug}/me`).set('authorization', `Bearer ${token}`), 403, 'forbidden');
    expectProblem(await register.http().get(`/t/${tenant.slug}/me`).set('authorization', 'Bearer garbage'), 401);
    expectProblem(await register.http().get(`/t/${tenant.slug}/me`), 401);
  });

  test('profile changes are validated', async () => {
    const { id } = await register.signUp(tenant.slug, 'patchy@example.com');
    const token = await register.tokenFor(tenant.id, id);
    const response = await register
      .http()
      .patch(`/t/${tenant.slug}/me`)
      .set('authorization', `Bearer ${token}`)
      .send({ phone: '12345', locale: 'not a locale!' });
    expectProblem(response, 400, 'validation-failed');
    expect(pointers(response.body)).toEqual(['/locale', '/phone']);
    expectProblem(await register.http().patch(`/t/${tenant.slug}/me`).set('authorization', `Bearer ${token}`).send({}), 400);
  });

  describe('values storage cannot hold are refused at the edge, the field named, nothing stored', () => {
    const NUL = '\u0000';
    const LONE_SURROGATE = '\ud800';
    const signUpWith = (extra: object) => ({ email: 'bounded@example.com', password: STRONG_PASSWORD, ...extra });

    test.each([
      ['a NUL in the e-mail', { email: `bounded${NUL}@example.com` }, '/email'],
      ['a control character in the e-mail', { email: 'bounded\u0007@example.com' }, '/email'],
      ['a NUL in the password', { password: `correct horse${NUL}battery` }, '/password'],
      ['an unpaired surrogate in the password', { password: `correct horse ${LONE_SURROGATE} staple` }, '/password'],
      ['a NUL in a name', { profile: { givenName: `Ada${NUL}` } }, '/profile/givenName'],
      ['an unpaired surrogate in a name', { profile: { familyName: `Love${LONE_SURROGATE}lace` } }, '/profile/familyName'],
      ['a line break in a name', { profile: { givenName: 'Ada\nLovelace' } }, '/profile/givenName'],
      ['a name past its length', { profile: { givenName: 'A'.repeat(201) } }, '/profile/givenName'],
      ['a control character in a phone number', { profile: { phone: `+4416329609${NUL}` } }, '/profile/phone'],
      ['a locale past its length', { profile: { locale: `en-${'abcdefgh-'.repeat(10)}x` } }, '/profile/locale'],
      ['a NUL in a policy version', { consents: [{ purpose: 'marketing', policyVersion: `v1${NUL}` }] }, '/consents/0/policyVersion'],
      [
        'a policy version past its length',
        { consents: [{ purpose: 'marketing', policyVersion: 'v'.repeat(65) }] },
        '/consents/0/policyVersion',
      ],
      ['a control character in a purpose', { consents: [{ purpose: `market\u001bing`, policyVersion: 'v1' }] }, '/consents/0/purpose'],
    ])('sign-up: %s', async (_name, extra, pointer) => {
      const before = await storedEvents();
      const response = await register.http().post(`/t/${tenant.slug}/users`).send(signUpWith(extra));
      expectProblem(response, 400, 'validation-failed');
      expect(pointers(response.body)).toContain(pointer);
      expect(await storedEvents()).toBe(before);
    });

    test('profile changes and consents hold to the same bounds', async () => {
      const { id } = await register.signUp(tenant.slug, 'bounded-person@example.com');
      const token = await register.tokenFor(tenant.id, id);
      const before = await storedEvents();
      const patched = await register
        .http()
        .patch(`/t/${tenant.slug}/me`)
        .set('authorization', `Bearer ${token}`)
        .send({ givenName: `Ada${NUL}`, familyName: LONE_SURROGATE });
      expectProblem(patched, 400, 'validation-failed');
      expect(pointers(patched.body)).toEqual(['/familyName', '/givenName']);
      const granted = await register
        .http()
        .put(`/t/${tenant.slug}/me/consents/marketing`)
        .set('authorization', `Bearer ${token}`)
        .send({ policyVersion: `2026${NUL}` });
      expectProblem(granted, 400, 'validation-failed');
      expect(pointers(granted.body)).toEqual(['/policyVersion']);
      const badPurpose = await register
        .http()
        .put(`/t/${tenant.slug}/me/consents/market%00ing`)
        .set('authorization', `Bearer ${token}`)
        .send({ policyVersion: '2026-01' });
      expectProblem(badPurpose, 400, 'validation-failed');
      expect(new Set(pointers(badPurpose.body))).toEqual(new Set(['/purpose']));
      expect(await storedEvents()).toBe(before);
    });

    test.each([
      ['a NUL', `0190f1a2-0000-7000-8000-000000000000.${NUL}`],
      ['a control character', 'token\u0085\u0001'],
      ['a token far longer than any mailed one', 'x'.repeat(5000)],
      ['an empty token', ''],
    ])('mailed tokens: %s is refused as a field, for verification and reset alike', async (_name, token) => {
      const before = await storedEvents();
      const verified = await register.http().post(`/t/${tenant.slug}/email-verifications`).send({ token });
      expectProblem(verified, 400, 'validation-failed');
      expect(pointers(verified.body)).toEqual(['/token']);
      const reset = await register.http().post(`/t/${tenant.slug}/password-resets/confirm`).send({ token, password: STRONG_PASSWORD });
      expectProblem(reset, 400, 'validation-failed');
      expect(pointers(reset.body)).toEqual(['/token']);
      expect(await storedEvents()).toBe(before);
    });

    test.each([
      ['a NUL', `Acme${NUL}`],
      ['an unpaired surrogate', `Acme ${LONE_SURROGATE}`],
      ['a line break', 'Acme\r\nX-Injected: 1'],
      ['a name past its length', 'A'.repeat(201)],
    ])('tenant creation: %s in the name', async (_name, name) => {
      const before = await storedEvents();
      const response = await register
        .http()
        .post('/admin/tenants')
        .set('authorization', `Bearer ${register.adminToken}`)
        .send({ slug: 'bounded-tenant', name });
      expectProblem(response, 400, 'validation-failed');
      expect(pointers(response.body)).toEqual(['/name']);
      expect(await storedEvents()).toBe(before);
    });
  });
});
