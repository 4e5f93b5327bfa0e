import { accountStreamFor } from '#contracts';
import { startRegister, STRONG_PASSWORD, type RegisterHarness } from '../../../test/support/register-harness';

describe('password reset, consent and profile', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string };
  beforeAll(async () => {
    register = await startRegister();
    tenant = await register.createTenant();
  });
  afterAll(() => register.close());

  const eventTypes = async (userId: string) =>
    (await register.runtime.infrastructure.eventStore.readStream(accountStreamFor(tenant.id, userId))).map((e) => e.type);

  test('a reset request answers 202 whether or not the account exists, and mails only a real account', async () => {
    await register.signUp(tenant.slug, 'resetme@example.com');
    const known = await register.http().post(`/t/${tenant.slug}/password-resets`).send({ email: 'ResetMe@example.com' });
    const unknown = await register.http().post(`/t/${tenant.slug}/password-resets`).send({ email: 'nobody@example.com' });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(unknown.body).toEqual(known.body);
    await register.settled();
    expect(register.mailbox.list('resetme@example.com').some((m) => /reset your password/.test(m.subject))).toBe(true);
    expect(register.mailbox.list('nobody@example.com')).toHaveLength(0);
  });

  test('the mailed reset token sets a new password once and tells old sessions to end', async () => {
    const { id } = await register.signUp(tenant.slug, 'forgetful@example.com');
    await register.http().post(`/t/${tenant.slug}/password-resets`).send({ email: 'forgetful@example.com' });
    const token = await register.mailedToken('forgetful@example.com', /reset your password/);

    const weak = await register.http().post(`/t/${tenant.slug}/password-resets/confirm`).send({ token, password: 'short' });
    expect(weak.status).toBe(400);
    const confirmed = await register
      .http()
      .post(`/t/${tenant.slug}/password-resets/confirm`)
      .send({ token, password: 'a brand new passphrase' });
    expect(confirmed.status).toBe(200);
    const replay = await register
      .http()
      .post(`/t/${tenant.slug}/password-resets/confirm`)
      .send({ token, password: 'yet another passphrase' });
    expect(replay.status).toBe(400);
    expect(replay.body.type).toBe('https://tessera.dev/problems/invalid-token');

    const types = await eventTypes(id);
    expect(types.filter((t) => t === 'PasswordChanged')).toHaveLength(1);
    expect(types).toContain('UserSessionsRevoked');
    // Reading the mailed token proved the mailbox: the e-mail counts as verified.
    const me = await register
      .http()
      .get(`/t/${tenant.slug}/me`)
      .set('authorization', `Bearer ${await register.tokenFor(tenant.id, id)}`);
    expect(me.body.emailVerified).toBe(true);
  });

  test('a forged or malformed reset token is refused', async () => {
    const { id } = await register.signUp(tenant.slug, 'target@example.com');
    const forged = `${id}.${'A'.repeat(43)}`;
    for (const token of [forged, 'garbage', `${id}.short`]) {
      const response = await register.http().post(`/t/${tenant.slug}/password-resets/confirm`).send({ token, password: STRONG_PASSWORD });
      expect(response.status).toBe(400);
    }
    expect(await eventTypes(id)).not.toContain('PasswordChanged');
  });

  test('a reset confirmation is refused on its token before any argon2id hash is worked out', async () => {
    const { id } = await register.signUp(tenant.slug, 'costly@example.com');
    await register.http().post(`/t/${tenant.slug}/password-resets`).send({ email: 'costly@example.com' });
    const token = await register.mailedToken('costly@example.com', /reset your password/);
    // Hashes register has worked out for resets, as /metrics reports them (a structural count, not a time).
    const resetHashes = async () => {
      const metrics = (await register.http().get('/metrics')).text;
      return Number(/^tessera_register_password_hashes_total\{[^}]*purpose="reset"[^}]*\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    };
    const confirm = (candidate: string) =>
      register.http().post(`/t/${tenant.slug}/password-resets/confirm`).send({ token: candidate, password: 'a brand new passphrase' });

    const before = await resetHashes();
    for (const wrong of [`${id}.${'A'.repeat(43)}`, `0190f1a2-0000-7000-8000-${'0'.repeat(12)}.${'B'.repeat(43)}`, 'garbage']) {
      const refused = await confirm(wrong);
      expect(refused.status).toBe(400);
      expect(refused.body.type).toBe('https://tessera.dev/problems/invalid-token');
    }
    expect(await resetHashes()).toBe(before);

    expect((await confirm(token)).status).toBe(200);
    expect(await resetHashes()).toBe(before + 1);
    // A used token is as wrong as a forged one: refused, and no hash for it either.
    expect((await confirm(token)).status).toBe(400);
    expect(await resetHashes()).toBe(before + 1);
  });

  test('consents are granted and withdrawn as events, with the current ones on the profile', async () => {
    const { id } = await register.signUp(tenant.slug, 'consenting@example.com');
    const auth = `Bearer ${await register.tokenFor(tenant.id, id)}`;
    expect(
      (await register.http().put(`/t/${tenant.slug}/me/consents/newsletter`).set('authorization', auth).send({ policyVersion: 'v1' }))
        .status,
    ).toBe(200);
    expect(
      (await register.http().put(`/t/${tenant.slug}/me/consents/analytics`).set('authorization', auth).send({ policyVersion: 'v3' }))
        .status,
    ).toBe(200);
    expect((await register.http().delete(`/t/${tenant.slug}/me/consents/newsletter`).set('authorization', auth)).status).toBe(204);
    const bad = await register
      .http()
      .put(`/t/${tenant.slug}/me/consents/Bad%20Purpose`)
      .set('authorization', auth)
      .send({ policyVersion: 'v1' });
    expect(bad.status).toBe(400);

    const me = await register.http().get(`/t/${tenant.slug}/me`).set('authorization', auth);
    expect(me.body.consents).toEqual([{ purpose: 'analytics', policyVersion: 'v3', grantedAt: expect.any(String) }]);
    const exported = await register.http().get(`/t/${tenant.slug}/me/export`).set('authorization', auth);
    const history = exported.body.history.map((h: { type: string; data: { purpose?: string } }) => `${h.type}:${h.data.purpose ?? ''}`);
    expect(history).toEqual(
      expect.arrayContaining(['ConsentGranted:newsletter', 'ConsentGranted:analytics', 'ConsentWithdrawn:newsletter']),
    );
  });

  test('a profile update is visible at once and only changes what was sent', async () => {
    const { id } = await register.signUp(tenant.slug, 'patch@example.com', { profile: { givenName: 'Grace', familyName: 'Hopper' } });
    const auth = `Bearer ${await register.tokenFor(tenant.id, id)}`;
    const patched = await register
      .http()
      .patch(`/t/${tenant.slug}/me`)
      .set('authorization', auth)
      .send({ familyName: 'Brewster Hopper', phone: '+441632960961' });
    expect(patched.status).toBe(200);
    expect(patched.body.profile).toEqual({ givenName: 'Grace', familyName: 'Brewster Hopper', phone: '+441632960961', locale: null });
    const me = await register.http().get(`/t/${tenant.slug}/me`).set('authorization', auth);
    expect(me.body.profile).toEqual(patched.body.profile);
  });
});
