import { accountStreamFor } from '#contracts';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';

describe('GDPR export and erasure (crypto-shredding)', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string; apiKey: string };
  beforeAll(async () => {
    register = await startRegister();
    tenant = await register.createTenant();
  });
  afterAll(() => register.close());

  const rawEventStoreText = async () =>
    (
      await register.runtime.infrastructure.pool.query(
        `SELECT string_agg(stream_name || ' ' || data::text || ' ' || metadata::text, E'\\n') AS text FROM es_events`,
      )
    ).rows[0].text as string;

  const decoded = async (userId: string) => {
    const { eventStore, codec } = register.runtime.infrastructure;
    const recorded = await eventStore.readStream(accountStreamFor(tenant.id, userId));
    return Promise.all(recorded.map((event) => codec.decode(event)));
  };

  test('no e-mail, name or phone is stored in clear in the event store, stream names included', async () => {
    await register.signUp(tenant.slug, 'Plaintext.Check@example.com', {
      profile: { givenName: 'Zebediah', familyName: 'Quistgaard', phone: '+441632960999' },
    });
    const text = (await rawEventStoreText()).toLowerCase();
    for (const secret of ['plaintext.check@example.com', 'plaintext.check', 'zebediah', 'quistgaard', '441632960999', 'correct horse']) {
      expect(text).not.toContain(secret);
    }
  });

  test('the export holds what register knows of the person, without internal hashes', async () => {
    const { id } = await register.signUp(tenant.slug, 'exporter@example.com', {
      profile: { givenName: 'Ex' },
      consents: [{ purpose: 'terms', policyVersion: '1' }],
    });
    const response = await register
      .http()
      .get(`/t/${tenant.slug}/me/export`)
      .set('authorization', `Bearer ${await register.tokenFor(tenant.id, id)}`);
    expect(response.status).toBe(200);
    expect(response.body.account).toMatchObject({ id, email: 'exporter@example.com', profile: { givenName: 'Ex' } });
    expect(response.body.history.map((h: { type: string }) => h.type)).toEqual([
      'UserRegistered',
      'ConsentGranted',
      'EmailVerificationRequested',
    ]);
    const text = JSON.stringify(response.body);
    expect(text).not.toContain('passwordHash');
    expect(text).not.toContain('argon2');
  });

  test("erasing one person makes their events unreadable while everyone else's still decrypt", async () => {
    const erased = await register.signUp(tenant.slug, 'forget.me@example.com', { profile: { givenName: 'Forgotten' } });
    const kept = await register.signUp(tenant.slug, 'keep.me@example.com', { profile: { givenName: 'Kept' } });
    const auth = `Bearer ${await register.tokenFor(tenant.id, erased.id)}`;

    expect((await register.http().delete(`/t/${tenant.slug}/me`).set('authorization', auth)).status).toBe(204);

    const erasedEvents = await decoded(erased.id);
    const registered = erasedEvents.find((e) => e.event.type === 'UserRegistered')!;
    expect(registered.erased).toBe(true);
    expect(registered.event.data).toMatchObject({ email: null, profile: null, passwordHash: null, userId: erased.id });
    expect(erasedEvents.at(-1)!.event.type).toBe('UserErased');

    const keptRegistered = (await decoded(kept.id)).find((e) => e.event.type === 'UserRegistered')!;
    expect(keptRegistered.erased).toBe(false);
    expect(keptRegistered.event.data).toMatchObject({ email: 'keep.me@example.com', profile: { givenName: 'Kept' } });

    // The read model forgot them, their token finds nothing, and their address is free again.
    const me = await register.http().get(`/t/${tenant.slug}/me`).set('authorization', auth);
    expect(me.status).toBe(404);
    const rows = await register.runtime.infrastructure.dataSource.query(
      'SELECT count(*)::int AS n FROM register_profiles WHERE tenant_id = $1 AND user_id = $2',
      [tenant.id, erased.id],
    );
    expect(rows[0].n).toBe(0);
    const again = await register
      .http()
      .post(`/t/${tenant.slug}/users`)
      .send({ email: 'forget.me@example.com', password: 'a whole new passphrase' });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(erased.id);
  });

  test('a tenant erases a user with its API key; erasing twice is the same as once', async () => {
    const { id } = await register.signUp(tenant.slug, 'tenant-erased@example.com');
    const erase = () => register.http().delete(`/t/${tenant.slug}/users/${id}`).set('authorization', `Bearer ${tenant.apiKey}`);
    expect((await erase()).status).toBe(204);
    expect((await erase()).status).toBe(204);
    const events = await decoded(id);
    expect(events.filter((e) => e.event.type === 'UserErased')).toHaveLength(1);
    expect(events.every((e) => e.event.type === 'UserErased' || e.event.type !== 'UserRegistered' || e.erased)).toBe(true);
    const unknown = await register
      .http()
      .delete(`/t/${tenant.slug}/users/0193c2a0-0000-7000-8000-00000000dead`)
      .set('authorization', `Bearer ${tenant.apiKey}`);
    expect(unknown.status).toBe(404);
  });
});
