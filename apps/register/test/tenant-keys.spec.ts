import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { hashKey } from '#contracts';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';

type Tenant = { id: string; slug: string; apiKey: string; writeKey: string };

/** Issuing, listing, rotating and revoking a tenant's keys through register's admin API, and register honouring them. */
describe('tenant keys in register', () => {
  let register: RegisterHarness;
  beforeAll(async () => {
    register = await startRegister();
  });
  afterAll(() => register.close());

  const admin = () => ({ authorization: `Bearer ${register.adminToken}` });
  const keysOf = (slug: string) => `/admin/tenants/${slug}/keys`;
  const list = async (slug: string, query = '') =>
    (
      await register
        .http()
        .get(`${keysOf(slug)}${query}`)
        .set(admin())
        .expect(200)
    ).body;
  const issue = (slug: string, body: object) => register.http().post(keysOf(slug)).set(admin()).send(body);
  const rotate = (slug: string, keyId: string, body: object) =>
    register
      .http()
      .post(`${keysOf(slug)}/${keyId}/rotation`)
      .set(admin())
      .send(body);
  const revoke = (slug: string, keyId: string) =>
    register
      .http()
      .delete(`${keysOf(slug)}/${keyId}`)
      .set(admin());
  /** The tenant's API-key route: 404 for an unknown user means the key itself was accepted. */
  const erase = (slug: string, key: string) =>
    register.http().delete(`/t/${slug}/users/${randomUUID()}`).set('authorization', `Bearer ${key}`);
  const storedEvents = async () => (await register.runtime.infrastructure.pool.query('SELECT count(*)::int AS n FROM es_events')).rows[0].n;

  type Answer = { status: number; headers: Record<string, string>; body: Record<string, unknown> };
  /** A problem+json answer of this status (and problem type). */
  const expectProblem = (answer: Answer, status: number, type?: string) =>
    expect({ status: answer.status, contentType: answer.headers['content-type'], type: answer.body.type }).toEqual({
      status,
      contentType: expect.stringMatching(/^application\/problem\+json/),
      type: type ? `https://tessera.dev/problems/${type}` : expect.any(String),
    });
  const pointers = (body: { errors?: { pointer: string }[] }) => (body.errors ?? []).map((e) => e.pointer).sort();

  test('a new tenant lists its two first keys, and a key of each kind is issued once, in its own format, and then listed without secret', async () => {
    const tenant: Tenant = await register.createTenant();
    expect((await list(tenant.slug)).items).toEqual([
      expect.objectContaining({ id: 'initial-write', kind: 'write', status: 'active', validUntil: null }),
      expect.objectContaining({ id: 'initial-api', kind: 'api', status: 'active', validUntil: null }),
    ]);
    const formats = { write: /^twk_[A-Za-z0-9_-]{32}$/, server: /^tss_[A-Za-z0-9_-]{43}$/, api: /^tsk_[A-Za-z0-9_-]{43}$/ };
    const secrets: string[] = [];
    for (const kind of ['write', 'server', 'api'] as const) {
      const response = await issue(tenant.slug, { kind, label: `${kind} source` }).expect(201);
      expect(response.body).toMatchObject({ kind, label: `${kind} source`, status: 'active', validUntil: null, replaces: null });
      expect(response.body.key).toMatch(formats[kind]);
      secrets.push(response.body.key);
    }
    const listed = await list(tenant.slug);
    expect(listed.items.map((key: { kind: string }) => key.kind)).toEqual(['write', 'api', 'write', 'server', 'api']);
    const text = JSON.stringify(listed);
    for (const secret of secrets) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(hashKey(secret));
    }
    // Pages in issue order.
    const first = await list(tenant.slug, '?limit=2');
    expect(first.items.map((key: { id: string }) => key.id)).toEqual(['initial-write', 'initial-api']);
    const second = await list(tenant.slug, `?limit=2&cursor=${first.nextCursor}`);
    const third = await list(tenant.slug, `?limit=2&cursor=${second.nextCursor}`);
    expect([...second.items, ...third.items].map((key: { kind: string }) => key.kind)).toEqual(['write', 'server', 'api']);
    expect(third.nextCursor).toBeNull();
  });

  test('an API key issued or rotated in works at register at once; the rotated key keeps working for its overlap', async () => {
    const tenant: Tenant = await register.createTenant();
    const issued = (await issue(tenant.slug, { kind: 'api' }).expect(201)).body;
    expectProblem(await erase(tenant.slug, issued.key), 404, 'account-not-found');
    const rotation = await rotate(tenant.slug, 'initial-api', { overlapSeconds: 3600 }).expect(201);
    expect(rotation.body).toMatchObject({ kind: 'api', replaces: 'initial-api', replaced: { id: 'initial-api', status: 'expiring' } });
    expect(Date.parse(rotation.body.replaced.validUntil) - Date.parse(rotation.body.issuedAt)).toBe(3600_000);
    expectProblem(await erase(tenant.slug, rotation.body.key), 404, 'account-not-found');
    expectProblem(await erase(tenant.slug, tenant.apiKey), 404, 'account-not-found');
    // A key in its overlap is not rotated again, but can be ended now.
    expectProblem(await rotate(tenant.slug, 'initial-api', { overlapSeconds: 60 }), 409, 'tenant-key-ending');
    await revoke(tenant.slug, 'initial-api').expect(204);
    expectProblem(await erase(tenant.slug, tenant.apiKey), 401, 'unauthorized');
    expect((await list(tenant.slug)).items.find((key: { id: string }) => key.id === 'initial-api')).toMatchObject({ status: 'revoked' });
  });

  test('a revoked key is refused at once by the register that revoked it, and cannot be revoked or rotated again', async () => {
    const tenant: Tenant = await register.createTenant();
    const spare = (await issue(tenant.slug, { kind: 'api' }).expect(201)).body;
    expectProblem(await erase(tenant.slug, spare.key), 404); // the key is now in the lookup's cache
    await revoke(tenant.slug, spare.id).expect(204);
    expectProblem(await erase(tenant.slug, spare.key), 401, 'unauthorized');
    expectProblem(await revoke(tenant.slug, spare.id), 409, 'tenant-key-revoked');
    expectProblem(await rotate(tenant.slug, spare.id, { overlapSeconds: 0 }), 409, 'tenant-key-revoked');
    expectProblem(await erase(tenant.slug, tenant.apiKey), 404);
  });

  test('the last API key nothing ends cannot be revoked; unknown keys and tenants are 404', async () => {
    const tenant: Tenant = await register.createTenant();
    expectProblem(await revoke(tenant.slug, 'initial-api'), 409, 'last-api-key');
    expectProblem(await revoke(tenant.slug, 'no-such-key'), 404, 'tenant-key-not-found');
    expectProblem(await rotate(tenant.slug, randomUUID(), { overlapSeconds: 10 }), 404, 'tenant-key-not-found');
    expectProblem(await issue('no-such-tenant', { kind: 'api' }), 404, 'tenant-not-found');
    expectProblem(await register.http().get(keysOf('no-such-tenant')).set(admin()), 404, 'tenant-not-found');
    expectProblem(await erase(tenant.slug, tenant.apiKey), 404);
  });

  test("another tenant's valid API key is 403; an unknown key, a write key or none is 401", async () => {
    const tenant: Tenant = await register.createTenant();
    const other: Tenant = await register.createTenant();
    expectProblem(await erase(tenant.slug, other.apiKey), 403, 'forbidden');
    expectProblem(await erase(tenant.slug, `tsk_${'A'.repeat(43)}`), 401, 'unauthorized');
    expectProblem(await erase(tenant.slug, tenant.writeKey), 401, 'unauthorized');
    expectProblem(await register.http().delete(`/t/${tenant.slug}/users/${randomUUID()}`), 401, 'unauthorized');
  });

  test('key administration needs the admin token: none 401, wrong 403', async () => {
    const tenant: Tenant = await register.createTenant();
    expectProblem(await register.http().get(keysOf(tenant.slug)), 401, 'unauthorized');
    expectProblem(
      await register.http().post(keysOf(tenant.slug)).set('authorization', `Bearer ${tenant.apiKey}`).send({ kind: 'api' }),
      403,
    );
    expectProblem(
      await register
        .http()
        .delete(`${keysOf(tenant.slug)}/initial-write`)
        .set('authorization', 'Bearer nope'),
      403,
    );
  });

  test('bad input is a 400 naming the field, and stores nothing', async () => {
    const tenant: Tenant = await register.createTenant();
    const before = await storedEvents();
    const cases: [Promise<Answer>, string[]][] = [
      [issue(tenant.slug, { kind: 'admin' }), ['/kind']],
      [issue(tenant.slug, {}), ['/kind']],
      [issue(tenant.slug, { kind: 'api', label: 'line\u0000break' }), ['/label']],
      [issue(tenant.slug, { kind: 'api', label: 'x'.repeat(201) }), ['/label']],
      [issue(tenant.slug, { kind: 'api', label: '  ' }), ['/label']],
      [issue(tenant.slug, { kind: 'api', scope: 'all' }), ['/scope']],
      [rotate(tenant.slug, 'initial-api', { overlapSeconds: -1 }), ['/overlapSeconds']],
      [rotate(tenant.slug, 'initial-api', { overlapSeconds: 30 * 24 * 3600 + 1 }), ['/overlapSeconds']],
      [rotate(tenant.slug, 'initial-api', { overlapSeconds: 1.5 }), ['/overlapSeconds']],
      [rotate(tenant.slug, 'initial-api', { overlapSeconds: '60' }), ['/overlapSeconds']],
      [rotate(tenant.slug, 'initial-api', {}), ['/overlapSeconds']],
      [rotate(tenant.slug, `bad%00id`, { overlapSeconds: 60 }), ['/keyId']],
      [revoke(tenant.slug, 'x'.repeat(65)), ['/keyId']],
      [
        register
          .http()
          .get(`${keysOf(tenant.slug)}?cursor=abc`)
          .set(admin()),
        ['/cursor'],
      ],
      [
        register
          .http()
          .get(`${keysOf(tenant.slug)}?limit=0`)
          .set(admin()),
        ['/limit'],
      ],
      [
        register
          .http()
          .get(`${keysOf(tenant.slug)}?limit=many`)
          .set(admin()),
        ['/limit'],
      ],
    ];
    for (const [pending, expected] of cases) {
      const response = await pending;
      expectProblem(response, 400, 'validation-failed');
      expect(pointers(response.body)).toEqual(expected);
    }
    expect(await storedEvents()).toBe(before);
  });

  test('whatever else a body holds for kind, the issue is refused with /kind named and nothing stored', async () => {
    const tenant: Tenant = await register.createTenant();
    const before = await storedEvents();
    await fc.assert(
      fc.asyncProperty(
        fc.anything().filter((kind) => !['write', 'server', 'api'].includes(kind as string)),
        fc.option(fc.string({ unit: 'binary', maxLength: 300 })),
        async (kind, label) => {
          const response = await issue(tenant.slug, { kind, ...(label === null ? {} : { label }) });
          expect(response.status).toBe(400);
          // /kind itself, or (a "__proto__" key somewhere inside it) the object within kind that holds it.
          expect(pointers(response.body).filter((pointer) => pointer === '/kind' || pointer.startsWith('/kind/'))).not.toEqual([]);
        },
      ),
      // A kind holding a "__proto__" key (once refused as if the JSON were malformed) is always tried.
      {
        numRuns: 60,
        examples: [
          [JSON.parse('{"__proto__":[]}'), null],
          [JSON.parse('[{"__proto__":1}]'), null],
        ],
      },
    );
    expect(await storedEvents()).toBe(before);
  });
});
