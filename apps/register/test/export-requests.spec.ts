import { randomUUID } from 'node:crypto';
import { eventually } from '#platform/testing';
import { ExportSectionReady, exportStreamFor, type ExportService } from '#contracts';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { hostileIdentityRequests } from '../../../test/support/privacy-requests';

/**
 * Export requests as register serves them: the tenant (or the person) asks, the request is an
 * event, register writes its own section and says so, and the job lists which sections are ready
 * (here register alone runs: the others stay pending unless a test says their part as they would).
 * The four services together, and the document itself, are test/privacy-end-to-end.spec.ts.
 */
describe('export requests', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string; apiKey: string };
  let other: { id: string; slug: string; apiKey: string };
  beforeAll(async () => {
    register = await startRegister({ EXPORT_LINK_TTL_MS: '1000', EXPORT_SWEEP_INTERVAL_MS: '200' });
    tenant = await register.createTenant();
    other = await register.createTenant();
  });
  afterAll(() => register.close());

  const api = (key = tenant.apiKey) => ({ authorization: `Bearer ${key}` });
  const ask = (body: unknown, slug = tenant.slug, key = tenant.apiKey) =>
    register.http().post(`/t/${slug}/exports`).set(api(key)).set('content-type', 'application/json').send(JSON.stringify(body));
  const pool = () => register.runtime.infrastructure.pool;
  const requestStreams = async () =>
    Number((await pool().query("SELECT count(*) AS n FROM es_streams WHERE stream_name LIKE 'privacy.export-%'")).rows[0].n);
  /** What login, pulse and rewards append once their section is written (they do not run here). */
  const othersReady = async (id: string, services: ExportService[] = ['login', 'pulse', 'rewards']) => {
    const { codec, eventStore } = register.runtime.infrastructure;
    const now = new Date();
    const events = await codec.encodeAll(
      services.map((service) => ExportSectionReady({ exportId: id, service, readyAt: now.toISOString() })),
      { tenantId: tenant.id, correlationId: id, now },
    );
    await eventStore.appendToStream(exportStreamFor(tenant.id, id), events);
  };

  test('by e-mail: the job is pending until every section is ready; register writes its own, sealed, as soon as asked', async () => {
    const email = `export.me.${randomUUID()}@example.com`;
    await register.signUp(tenant.slug, email);
    const asked = await ask({ email });
    expect(asked.status).toBe(202);
    const id = asked.body.id as string;
    expect(asked.headers.location).toBe(`/t/${tenant.slug}/exports/${id}`);
    expect(asked.body).toMatchObject({
      id,
      requestedBy: 'tenant',
      status: 'pending',
      expiresAt: null,
      links: { self: asked.headers.location },
    });
    await eventually(async () => {
      const status = await register.http().get(`/t/${tenant.slug}/exports/${id}`).set(api());
      expect(status.body.services).toEqual({
        register: { status: 'ready', readyAt: expect.any(String) },
        login: { status: 'pending' },
        pulse: { status: 'pending' },
        rewards: { status: 'pending' },
      });
      expect(status.body.links.download).toBeUndefined();
    });
    const download = await register.http().get(`/t/${tenant.slug}/exports/${id}/download`).set(api());
    expect(download.status).toBe(409);
    // Register's part is there, and nothing of it is in clear: sealed under the export's own key.
    const { rows } = await pool().query('SELECT chunk::text AS chunk FROM register_export_parts WHERE export_id = $1', [id]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((row) => row.chunk).join('')).not.toContain(email);
  });

  test('the link lives EXPORT_LINK_TTL_MS once the last section is ready; then 410, the key destroyed and the parts deleted', async () => {
    const asked = await ask({ userId: `tracked-${randomUUID()}` });
    const id = asked.body.id as string;
    await eventually(async () =>
      expect((await register.http().get(`/t/${tenant.slug}/exports/${id}`).set(api())).body.services.register.status).toBe('ready'),
    );
    await othersReady(id);
    const ready = await register.http().get(`/t/${tenant.slug}/exports/${id}`).set(api());
    // Ready (the link fits in the second the test gives it) or already past it on a slow machine.
    if (ready.status === 200) {
      expect(ready.body).toMatchObject({ status: 'ready', links: { download: { href: `/t/${tenant.slug}/exports/${id}/download` } } });
      expect(Date.parse(ready.body.expiresAt) - Date.parse(ready.body.services.rewards.readyAt)).toBe(1000);
    }
    await eventually(async () => expect((await register.http().get(`/t/${tenant.slug}/exports/${id}`).set(api())).status).toBe(410));
    const gone = await register.http().get(`/t/${tenant.slug}/exports/${id}/download`).set(api());
    expect(gone.status).toBe(410);
    expect(gone.body.type).toMatch(/export-gone/);
    const key = await pool().query('SELECT wrapped_key FROM personal_data_keys WHERE subject_id = $1', [`export:${id}`]);
    expect(key.rows).toEqual([{ wrapped_key: null }]);
    await eventually(async () =>
      expect((await pool().query('SELECT 1 FROM register_export_parts WHERE export_id = $1', [id])).rowCount).toBe(0),
    );
  });

  test('an export nobody comes back for is destroyed by the sweep once its link expired: key, parts and note gone', async () => {
    const asked = await ask({ userId: `tracked-${randomUUID()}` });
    const id = asked.body.id as string;
    await eventually(async () =>
      expect((await pool().query('SELECT 1 FROM register_export_parts WHERE export_id = $1', [id])).rowCount).toBeGreaterThan(0),
    );
    await othersReady(id);
    // Nothing reads the export from here on: only the sweep can end it.
    await eventually(async () => {
      const key = await pool().query('SELECT wrapped_key FROM personal_data_keys WHERE subject_id = $1', [`export:${id}`]);
      expect(key.rows).toEqual([{ wrapped_key: null }]);
    });
    await eventually(async () => {
      expect((await pool().query('SELECT 1 FROM register_export_parts WHERE export_id = $1', [id])).rowCount).toBe(0);
      expect((await pool().query('SELECT 1 FROM register_exports WHERE export_id = $1', [id])).rowCount).toBe(0);
    });
  });

  test('the person asks for their own and polls it; they see only their own, the tenant sees theirs', async () => {
    const { id: userId } = await register.signUp(tenant.slug, `self.${randomUUID()}@example.com`);
    const { id: someoneElse } = await register.signUp(tenant.slug, `else.${randomUUID()}@example.com`);
    const mine = { authorization: `Bearer ${await register.tokenFor(tenant.id, userId)}` };
    const theirs = { authorization: `Bearer ${await register.tokenFor(tenant.id, someoneElse)}` };
    const asked = await register.http().post(`/t/${tenant.slug}/me/exports`).set(mine);
    expect(asked.status).toBe(202);
    expect(asked.headers.location).toBe(`/t/${tenant.slug}/me/exports/${asked.body.id}`);
    expect(asked.body).toMatchObject({ requestedBy: 'user', status: 'pending' });
    expect((await register.http().get(`/t/${tenant.slug}/me/exports/${asked.body.id}`).set(mine)).status).toBe(200);
    expect((await register.http().get(`/t/${tenant.slug}/me/exports/${asked.body.id}`).set(theirs)).status).toBe(404);
    expect((await register.http().get(`/t/${tenant.slug}/exports/${asked.body.id}`).set(api())).status).toBe(200);
    // An export the tenant asked for is not the person's to fetch, even about them.
    const byTenant = await ask({ userId });
    expect((await register.http().get(`/t/${tenant.slug}/me/exports/${byTenant.body.id}`).set(mine)).status).toBe(404);
    // The register-only export answers at once, as before.
    const now = await register.http().get(`/t/${tenant.slug}/me/export`).set(mine);
    expect(now.status).toBe(200);
    expect(now.body.account.id).toBe(userId);
  });

  test('a tenant neither reads nor asks through another tenant; no key, no request; a malformed id is 400', async () => {
    const asked = await ask({ anonymousId: `anon-${randomUUID()}` });
    expect(asked.status).toBe(202);
    expect((await register.http().get(`/t/${other.slug}/exports/${asked.body.id}`).set(api(other.apiKey))).status).toBe(404);
    expect((await register.http().get(`/t/${other.slug}/exports/${asked.body.id}/download`).set(api(other.apiKey))).status).toBe(404);
    expect((await register.http().get(`/t/${tenant.slug}/exports/${asked.body.id}`).set(api(other.apiKey))).status).toBe(403);
    expect((await register.http().post(`/t/${tenant.slug}/exports`).send({ userId: 'x' })).status).toBe(401);
    expect((await register.http().post(`/t/${tenant.slug}/me/exports`)).status).toBe(401);
    expect((await register.http().get(`/t/${tenant.slug}/exports/not-an-id`).set(api())).status).toBe(400);
  });

  test('hostile bodies: 202, or 400 naming the field, never 5xx, and a refusal records nothing', async () => {
    const accepted = await hostileIdentityRequests({
      ask,
      requests: requestStreams,
      acceptedStatuses: [202],
      recordsOnAcceptance: true,
      numRuns: 100,
    });
    expect(accepted).toBeGreaterThan(5);
  });
});

/** Each export costs every service work and storage: a tenant may keep only so many open, whatever it sends at once. */
describe('open exports per tenant', () => {
  let register: RegisterHarness;
  beforeAll(async () => {
    register = await startRegister({ EXPORT_MAX_OPEN_PER_TENANT: '3' });
  });
  afterAll(() => register.close());

  test('twelve requests at once against a limit of three: three accepted, the rest 429 with nothing recorded; other tenants unaffected', async () => {
    const noisy = await register.createTenant();
    const quiet = await register.createTenant();
    const ask = (tenant: { slug: string; apiKey: string }) =>
      register
        .http()
        .post(`/t/${tenant.slug}/exports`)
        .set({ authorization: `Bearer ${tenant.apiKey}` })
        .send({ userId: `tracked-${randomUUID()}` });
    const answers = await Promise.all(Array.from({ length: 12 }, () => ask(noisy)));
    expect(answers.map((answer) => answer.status).sort()).toEqual([202, 202, 202, ...Array(9).fill(429)]);
    const refused = answers.find((answer) => answer.status === 429)!;
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.body).toMatchObject({ status: 429, type: expect.stringContaining('too-many-open-exports') });
    const { pool } = register.runtime.infrastructure;
    const streams = await pool.query('SELECT count(*)::int AS n FROM es_streams WHERE stream_name LIKE $1', [
      `privacy.export-${noisy.id}%`,
    ]);
    expect(streams.rows[0].n).toBe(3);
    expect((await ask(quiet)).status).toBe(202);
  });
});
