import { startEsdbEmulator } from '#eventstore/testing';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';

/**
 * Register unchanged on EventStoreDB (EVENTSTORE_URL): the real @eventstore/db-client against the
 * protocol emulator, read models still in PostgreSQL.
 */
describe('register on EventStoreDB', () => {
  let emulator: { url: string; stop(): Promise<void> };
  let register: RegisterHarness;

  beforeAll(async () => {
    emulator = await startEsdbEmulator();
    register = await startRegister({ EVENTSTORE_URL: emulator.url });
  });
  afterAll(async () => {
    await register?.close();
    await emulator?.stop();
  });

  test('sign-up, one account per e-mail under a race, verification and erasure work through the EventStoreDB adapter', async () => {
    const tenant = await register.createTenant();
    const attempts = await Promise.all(
      Array.from({ length: 10 }, () =>
        register.http().post(`/t/${tenant.slug}/users`).send({ email: 'esdb@example.com', password: 'correct horse battery staple' }),
      ),
    );
    expect(attempts.filter((r) => r.status === 201)).toHaveLength(1);
    expect(attempts.filter((r) => r.status === 409)).toHaveLength(9);
    const userId = attempts.find((r) => r.status === 201)!.body.id;

    const token = await register.mailedToken('esdb@example.com', /confirm your e-mail/);
    expect((await register.http().post(`/t/${tenant.slug}/email-verifications`).send({ token })).status).toBe(200);
    const auth = `Bearer ${await register.tokenFor(tenant.id, userId)}`;
    const me = await register.http().get(`/t/${tenant.slug}/me`).set('authorization', auth);
    expect(me.body).toMatchObject({ email: 'esdb@example.com', emailVerified: true });

    expect((await register.http().delete(`/t/${tenant.slug}/me`).set('authorization', auth)).status).toBe(204);
    expect((await register.http().get(`/t/${tenant.slug}/me`).set('authorization', auth)).status).toBe(404);
    // Nothing of the event store lives in PostgreSQL in this mode.
    const tables = await register.runtime.infrastructure.pool.query(
      "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'es_events'",
    );
    expect(tables.rows[0].n).toBe(0);
  });

  test('an import claims each address and writes the account one stream at a time, and a race for one address leaves one account', async () => {
    const tenant = await register.createTenant();
    const importAs = (lines: object[]) =>
      register
        .http()
        .post(`/t/${tenant.slug}/users/import`)
        .set('authorization', `Bearer ${tenant.apiKey}`)
        .set('content-type', 'application/x-ndjson')
        .send(lines.map((line) => JSON.stringify(line)).join('\n'));
    const answers = await Promise.all(
      ['a', 'b', 'c'].map((suffix) => importAs([{ externalId: `race-${suffix}`, email: 'import-race@example.com', password: null }])),
    );
    expect(answers.map((answer) => answer.body.imported).sort()).toEqual([0, 0, 1]);
    const winner: string = answers.find((answer) => answer.body.imported === 1)!.body.accounts[0].externalId;
    const again = await importAs([
      { externalId: winner, email: 'import-race@example.com', password: null },
      { externalId: 'fresh', email: 'fresh@example.com', password: null },
    ]);
    expect(again.body).toMatchObject({ imported: 1, unchanged: 1, failed: [] });
  });
});
