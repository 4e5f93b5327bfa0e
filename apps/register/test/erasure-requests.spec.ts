import { randomUUID } from 'node:crypto';
import { ProjectionRunner } from '#cqrs';
import { eventually } from '#platform/testing';
import { accountStreamFor } from '#contracts';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { hostileIdentityRequests } from '../../../test/support/privacy-requests';

/**
 * Erasure requests as register serves them: the tenant asks by userId, e-mail or anonymousId, the
 * request is an event, register erases the accounts it names and says so, and the status lists
 * which services are done (here register alone runs: the others stay pending). The four services
 * together are test/privacy-end-to-end.spec.ts.
 */
describe('erasure requests', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string; apiKey: string };
  let other: { id: string; slug: string; apiKey: string };
  beforeAll(async () => {
    register = await startRegister();
    tenant = await register.createTenant();
    other = await register.createTenant();
  });
  afterAll(() => register.close());

  const api = (key = tenant.apiKey) => ({ authorization: `Bearer ${key}` });
  const ask = (body: unknown, slug = tenant.slug, key = tenant.apiKey) =>
    register.http().post(`/t/${slug}/erasures`).set(api(key)).set('content-type', 'application/json').send(JSON.stringify(body));
  const requestStreams = async () =>
    Number(
      (await register.runtime.infrastructure.pool.query("SELECT count(*) AS n FROM es_streams WHERE stream_name LIKE 'privacy.erasure-%'"))
        .rows[0].n,
    );

  test('by e-mail: register erases the account holding it and reports done; a new account with the address is a new request', async () => {
    const { id: userId } = await register.signUp(tenant.slug, 'Erase.By.Mail@example.com');
    const asked = await ask({ email: 'erase.by.mail@example.com' });
    expect(asked.status).toBe(202);
    const id = asked.body.id as string;
    expect(asked.headers.location).toBe(`/t/${tenant.slug}/erasures/${id}`);
    expect(asked.body).toMatchObject({ id, requestedBy: 'tenant', status: 'pending' });
    await eventually(async () => {
      const status = await register.http().get(`/t/${tenant.slug}/erasures/${id}`).set(api());
      expect(status.body.services).toEqual({
        register: { status: 'done', completedAt: expect.any(String) },
        login: { status: 'pending' },
        pulse: { status: 'pending' },
        rewards: { status: 'pending' },
      });
    });
    const { eventStore } = register.runtime.infrastructure;
    expect((await eventStore.readStream(accountStreamFor(tenant.id, userId))).at(-1)!.type).toBe('UserErased');
    // The address is free again: a new account with it is a new person, so a new request.
    const { id: newcomer } = await register.signUp(tenant.slug, 'erase.by.mail@example.com');
    const fresh = await ask({ email: 'erase.by.mail@example.com' });
    expect(fresh.status).toBe(202);
    expect(fresh.body.id).not.toBe(id);
    await eventually(async () =>
      expect((await eventStore.readStream(accountStreamFor(tenant.id, newcomer))).at(-1)!.type).toBe('UserErased'),
    );
  });

  test('someone register never knew (a tracked id) is a request register completes, with nothing to erase; asked again, the same one', async () => {
    const asked = await ask({ userId: 'user-42', anonymousId: 'a1b2c3' });
    expect(asked.status).toBe(202);
    await eventually(async () => {
      const status = await register.http().get(`/t/${tenant.slug}/erasures/${asked.body.id}`).set(api());
      expect(status.body.services.register.status).toBe('done');
    });
    const again = await ask({ anonymousId: 'a1b2c3', userId: 'user-42' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(asked.body.id);
  });

  test('DELETE /users/{id} creates a request too, and points to it', async () => {
    const { id: userId } = await register.signUp(tenant.slug, 'deleted.by.tenant@example.com');
    const erased = await register.http().delete(`/t/${tenant.slug}/users/${userId}`).set(api());
    expect(erased.status).toBe(204);
    expect(erased.headers.location).toMatch(new RegExp(`^/t/${tenant.slug}/erasures/[0-9a-f-]{36}$`));
    const status = await register.http().get(erased.headers.location!).set(api());
    expect(status.status).toBe(200);
    expect(status.body.requestedBy).toBe('tenant');
  });

  test('a tenant neither reads nor asks through another tenant; no key, no request', async () => {
    const asked = await ask({ userId: `someone-${randomUUID()}` });
    expect(asked.status).toBe(202);
    expect((await register.http().get(`/t/${other.slug}/erasures/${asked.body.id}`).set(api(other.apiKey))).status).toBe(404);
    expect((await register.http().get(`/t/${tenant.slug}/erasures/${asked.body.id}`).set(api(other.apiKey))).status).toBe(403);
    expect((await register.http().post(`/t/${tenant.slug}/erasures`).send({ userId: 'x' })).status).toBe(401);
    expect((await register.http().get(`/t/${tenant.slug}/erasures/not-an-id`).set(api())).status).toBe(400);
  });

  test('hostile bodies: 202 or 200, or 400 naming the field, never 5xx, and a refusal records nothing', async () => {
    const accepted = await hostileIdentityRequests({ ask, requests: requestStreams, acceptedStatuses: [200, 202], numRuns: 120 });
    expect(accepted).toBeGreaterThan(5);
  });

  test('register reports done only once the profile it kept in clear is gone, even while its read model lags behind', async () => {
    const { id: userId } = await register.signUp(tenant.slug, `lagging.${randomUUID()}@example.com`);
    const { pool } = register.runtime.infrastructure;
    const profileRows = async () =>
      (await pool.query('SELECT 1 FROM register_profiles WHERE tenant_id = $1 AND user_id = $2', [tenant.id, userId])).rowCount;
    await eventually(async () => expect(await profileRows()).toBe(1));
    // The profile read model's runner stopped: it would delete the row on UserErased, later.
    const readModel = register.app.get(ProjectionRunner);
    await readModel.stop();
    try {
      const asked = await ask({ userId });
      await eventually(async () => {
        const status = await register.http().get(`/t/${tenant.slug}/erasures/${asked.body.id}`).set(api());
        expect(status.body.services.register.status).toBe('done');
      });
      expect(await profileRows()).toBe(0);
    } finally {
      readModel.start();
    }
  });
});
