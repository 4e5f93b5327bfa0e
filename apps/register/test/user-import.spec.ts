import bcryptjs from 'bcryptjs';
import { accountStreamFor, emailReservationStreamFor } from '#contracts';
import { blindIndex } from '#personal-data';
import { startRegister, STRONG_PASSWORD, type RegisterHarness } from '../../../test/support/register-harness';
import { importedUserId } from '../src/user-import/import-lines';

const bcryptHash = bcryptjs.hashSync('an old password', 4);
const person = (externalId: string, email: string, extra: object = {}) => ({
  externalId,
  email,
  emailVerified: true,
  password: { format: 'bcrypt', hash: bcryptHash },
  profile: { givenName: 'Imported', locale: 'fr-FR' },
  consents: [{ purpose: 'newsletter', policyVersion: 'v1' }],
  ...extra,
});
const ndjson = (...lines: unknown[]) => lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') + '\n';

describe('importing users', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string; apiKey: string };
  beforeAll(async () => {
    register = await startRegister();
    tenant = await register.createTenant();
  });
  afterAll(() => register.close());

  const importAs = (body: string, key = tenant.apiKey, contentType = 'application/x-ndjson', slug = tenant.slug) =>
    register.http().post(`/t/${slug}/users/import`).set('authorization', `Bearer ${key}`).set('content-type', contentType).send(body);

  const streamOf = (externalId: string) =>
    register.runtime.infrastructure.eventStore.readStream(accountStreamFor(tenant.id, importedUserId(tenant.id, externalId)));
  const claimOf = (email: string) =>
    register.runtime.infrastructure.eventStore.readStream(
      emailReservationStreamFor(tenant.id, blindIndex(register.runtime.infrastructure.blindIndexKey, tenant.id, 'email', email)),
    );
  const profileOf = (externalId: string) =>
    register.runtime.infrastructure.dataSource.query(
      'SELECT email, email_verified, given_name, consents FROM register_profiles WHERE tenant_id = $1 AND user_id = $2',
      [tenant.id, importedUserId(tenant.id, externalId)],
    );

  test('NDJSON with good and bad lines: the good are imported, each bad one is reported by its line and stores nothing', async () => {
    await register.signUp(tenant.slug, 'signed-up@example.com');
    const response = await importAs(
      ndjson(
        person('good-1', 'good1@example.com'),
        '{"externalId": "broken", "email": ',
        person('bad-hash', 'bad-hash@example.com', { password: { format: 'bcrypt', hash: '$2b$20$' + 'a'.repeat(53) } }),
        person('taken', 'signed-up@example.com'),
        person('good-2', 'Good2@Example.com', { emailVerified: false, password: null, consents: [] }),
        person('bad-field', 'bad-field@example.com', { profile: { phone: 'call me' } }),
      ),
    );
    expect(response.status).toBe(207);
    expect(response.body).toMatchObject({ imported: 2, unchanged: 0 });
    expect(response.body.failed).toEqual([
      { line: 2, problem: expect.objectContaining({ type: expect.stringMatching(/malformed-json$/) }) },
      {
        line: 3,
        externalId: 'bad-hash',
        problem: expect.objectContaining({ errors: [{ pointer: '/password/hash', message: 'must have a cost from 04 to 14' }] }),
      },
      { line: 4, externalId: 'taken', problem: expect.objectContaining({ type: expect.stringMatching(/email-taken$/) }) },
      {
        line: 6,
        externalId: 'bad-field',
        problem: expect.objectContaining({ errors: [expect.objectContaining({ pointer: '/profile/phone' })] }),
      },
    ]);
    for (const externalId of ['bad-hash', 'taken', 'bad-field']) expect(await streamOf(externalId)).toEqual([]);
    for (const email of ['bad-hash@example.com', 'bad-field@example.com']) expect(await claimOf(email)).toEqual([]);
    expect((await claimOf('signed-up@example.com')).map((e) => e.type)).toEqual(['EmailReserved']);

    expect((await streamOf('good-1')).map((e) => e.type)).toEqual(['UserImported', 'ConsentGranted']);
    expect(await profileOf('good-1')).toEqual([
      {
        email: 'good1@example.com',
        email_verified: true,
        given_name: 'Imported',
        consents: { newsletter: expect.objectContaining({ policyVersion: 'v1' }) },
      },
    ]);
    expect(await profileOf('good-2')).toEqual([
      { email: 'good2@example.com', email_verified: false, given_name: 'Imported', consents: {} },
    ]);
    const ids = Object.fromEntries(response.body.accounts.map((a: { externalId: string; id: string }) => [a.externalId, a.id]));
    expect(ids).toEqual({ 'good-1': importedUserId(tenant.id, 'good-1'), 'good-2': importedUserId(tenant.id, 'good-2') });
    // The person's export holds what they are (the external id, the profile), never the old hash.
    const token = await register.tokenFor(tenant.id, importedUserId(tenant.id, 'good-1'));
    const exported = await register.http().get(`/t/${tenant.slug}/me/export`).set('authorization', `Bearer ${token}`);
    expect(exported.status).toBe(200);
    expect(exported.body.history[0]).toMatchObject({ type: 'UserImported', data: { externalId: 'good-1', emailVerified: true } });
    expect(JSON.stringify(exported.body)).not.toContain('bcrypt');
    // The old hash is sealed with the person's data: nothing of it reads in clear in the store.
    const [raw] = await register.runtime.infrastructure.dataSource.query(
      "SELECT data::text AS data FROM es_events WHERE stream_name = $1 AND type = 'UserImported'",
      [accountStreamFor(tenant.id, importedUserId(tenant.id, 'good-1'))],
    );
    expect(raw.data).not.toContain(bcryptHash.slice(7));
    expect(raw.data).not.toContain('good1@example.com');
  });

  test('the same lines again are unchanged; an external id with other content is a per-line failure, stored nowhere', async () => {
    const lines = [person('again-1', 'again1@example.com'), person('again-2', 'again2@example.com')];
    expect((await importAs(ndjson(...lines))).body).toMatchObject({ imported: 2, unchanged: 0, failed: [] });
    const again = await importAs(ndjson(...lines));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ imported: 0, unchanged: 2, failed: [] });

    const changed = await importAs(
      ndjson(person('again-1', 'again1@example.com', { emailVerified: false }), person('again-3', 'again3@example.com')),
    );
    expect(changed.status).toBe(207);
    expect(changed.body).toMatchObject({
      imported: 1,
      failed: [{ line: 1, externalId: 'again-1', problem: { type: expect.stringMatching(/import-conflict$/) } }],
    });
    expect((await streamOf('again-1')).map((e) => e.type)).toEqual(['UserImported', 'ConsentGranted']);
    // Moving a known person to another address is a conflict too, and claims nothing.
    const moved = await importAs(ndjson(person('again-2', 'elsewhere@example.com')));
    expect(moved.body.failed).toHaveLength(1);
    expect(await claimOf('elsewhere@example.com')).toEqual([]);
  });

  test('two imports racing for one e-mail make exactly one account', async () => {
    const [a, b] = await Promise.all([
      importAs(ndjson(person('race-a', 'race@example.com'))),
      importAs(ndjson(person('race-b', 'race@example.com'))),
    ]);
    expect([a.body.imported, b.body.imported].sort()).toEqual([0, 1]);
    const loser = a.body.imported === 0 ? a : b;
    expect(loser.body.failed).toEqual([
      expect.objectContaining({ problem: expect.objectContaining({ type: expect.stringMatching(/email-taken$/) }) }),
    ]);
    const streams = [await streamOf('race-a'), await streamOf('race-b')];
    expect(streams.filter((events) => events.length > 0)).toHaveLength(1);
    expect((await claimOf('race@example.com')).map((e) => e.type)).toEqual(['EmailReserved']);
  });

  test('an import and a sign-up racing for one e-mail make exactly one account', async () => {
    const [imported, signedUp] = await Promise.all([
      importAs(ndjson(person('versus-sign-up', 'contested@example.com'))),
      register.http().post(`/t/${tenant.slug}/users`).send({ email: 'contested@example.com', password: STRONG_PASSWORD }),
    ]);
    expect([imported.body.imported, signedUp.status === 201 ? 1 : 0].sort()).toEqual([0, 1]);
    expect([201, 409]).toContain(signedUp.status);
    const claims = await claimOf('contested@example.com');
    expect(claims.map((e) => e.type)).toEqual(['EmailReserved']);
    const holder = claims[0]!.data.userId;
    expect(holder).toBe(imported.body.imported === 1 ? importedUserId(tenant.id, 'versus-sign-up') : signedUp.body.id);
  });

  test('one person sent by two imports at once is imported once, and unchanged for the other', async () => {
    const line = ndjson(person('twice', 'twice@example.com'));
    const answers = await Promise.all([importAs(line), importAs(line), importAs(line)]);
    expect(answers.map((answer) => [answer.body.imported, answer.body.unchanged]).sort()).toEqual([
      [0, 1],
      [0, 1],
      [1, 0],
    ]);
    expect((await streamOf('twice')).map((e) => e.type)).toEqual(['UserImported', 'ConsentGranted']);
  });

  test('JSON {users: [...]} works like NDJSON, and the admin token may import too', async () => {
    const response = await importAs(
      JSON.stringify({ users: [person('json-1', 'json1@example.com'), { externalId: 'json-2' }] }),
      register.adminToken,
      'application/json',
    );
    expect(response.status).toBe(207);
    expect(response.body).toMatchObject({ imported: 1, failed: [{ line: 2, externalId: 'json-2' }] });
  });

  test("another tenant's API key gets 403, no key 401, and neither imports anything", async () => {
    const other = await register.createTenant();
    const forbidden = await importAs(ndjson(person('intruder', 'intruder@example.com')), other.apiKey);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers['content-type']).toMatch(/application\/problem\+json/);
    const anonymous = await register.http().post(`/t/${tenant.slug}/users/import`).set('content-type', 'application/x-ndjson').send('{}');
    expect(anonymous.status).toBe(401);
    expect(await streamOf('intruder')).toEqual([]);
  });

  test('a request unreadable as a whole is a 4xx problem and imports nothing', async () => {
    const notJson = await importAs('{"users": [', tenant.apiKey, 'application/json');
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ type: expect.stringMatching(/malformed-import$/) });
    const text = await importAs(ndjson(person('as-text', 'as-text@example.com')), tenant.apiKey, 'text/plain');
    expect(text.status).toBe(415);
    const huge = await importAs('x'.repeat(4 * 1024 * 1024 + 1));
    expect(huge.status).toBe(413);
    expect(await streamOf('as-text')).toEqual([]);
  });

  test('an import mails nothing; a person imported unverified asks for a verification link like anyone', async () => {
    await importAs(ndjson(person('unverified', 'unverified@example.com', { emailVerified: false })));
    await register.settled();
    expect(register.mailbox.list('unverified@example.com')).toEqual([]);
    const asked = await register.http().post(`/t/${tenant.slug}/email-verifications/requests`).send({ email: 'unverified@example.com' });
    expect(asked.status).toBe(202);
    // In French: the imported profile's locale (fr-FR) says which language the person reads.
    const token = await register.mailedToken('unverified@example.com', /confirmez votre adresse e-mail/);
    expect((await register.http().post(`/t/${tenant.slug}/email-verifications`).send({ token })).status).toBe(200);
    expect(await profileOf('unverified')).toEqual([expect.objectContaining({ email_verified: true })]);
  });

  test('an imported person without a hash sets a password by reset, as anyone would', async () => {
    await importAs(ndjson(person('no-hash', 'no-hash@example.com', { password: null })));
    const reset = await register.http().post(`/t/${tenant.slug}/password-resets`).send({ email: 'no-hash@example.com' });
    expect(reset.status).toBe(202);
    const token = await register.mailedToken('no-hash@example.com', /réinitialisez votre mot de passe/);
    const confirmed = await register.http().post(`/t/${tenant.slug}/password-resets/confirm`).send({ token, password: STRONG_PASSWORD });
    expect(confirmed.status).toBe(200);
    expect((await streamOf('no-hash')).map((e) => e.type)).toContain('PasswordChanged');
  });
});
