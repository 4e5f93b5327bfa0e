import { Client } from 'pg';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';

describe('register operations endpoints', () => {
  let register: RegisterHarness;
  beforeAll(async () => {
    register = await startRegister();
  });
  afterAll(() => register.close());

  test('ready means the event store and PostgreSQL answer and projections are within the lag threshold', async () => {
    const ready = await register.http().get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.details).toMatchObject({ eventstore: { status: 'up' }, postgres: { status: 'up' }, projections: { status: 'up' } });
    expect((await register.http().get('/health/live')).status).toBe(200);
  });

  test('metrics include the projection lag of every event register projected', async () => {
    const tenant = await register.createTenant();
    await register.signUp(tenant.slug, 'metrics@example.com');
    const metrics = await register.http().get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/tessera_projection_lag_seconds_count\{[^}]*projection="register.read-models"[^}]*\} [1-9]/);
    expect(metrics.text).toMatch(/tessera_projection_behind_seconds\{[^}]*projection="register.read-models"[^}]*\} 0\n/);
  });

  test('readiness fails while the database refuses connections, and recovers with it', async () => {
    const database = new URL(register.config.DATABASE_URL).pathname.slice(1);
    const admin = new Client({ connectionString: process.env.TESSERA_TEST_POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      expect((await register.http().get('/health/ready')).status).toBe(503);
      expect((await register.http().get('/health/live')).status).toBe(200);
    } finally {
      await admin.query(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS true`);
      await admin.end();
    }
    expect((await register.http().get('/health/ready')).status).toBe(200);
  });

  test('the OpenAPI document lists every public path, with the body schemas the controllers enforce', async () => {
    const doc = await register.http().get('/docs-json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths).sort()).toEqual([
      '/admin/tenants',
      '/admin/tenants/{tenant}/keys',
      '/admin/tenants/{tenant}/keys/{keyId}',
      '/admin/tenants/{tenant}/keys/{keyId}/rotation',
      '/t/{tenant}/email-verifications',
      '/t/{tenant}/me',
      '/t/{tenant}/me/consents/{purpose}',
      '/t/{tenant}/me/export',
      '/t/{tenant}/password-resets',
      '/t/{tenant}/password-resets/confirm',
      '/t/{tenant}/users',
      '/t/{tenant}/users/{id}',
    ]);
    const signUp = doc.body.paths['/t/{tenant}/users'].post.requestBody.content['application/json'].schema;
    expect(signUp.required).toEqual(['email', 'password']);
    const page = await register.http().get('/docs');
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('POST /t/{tenant}/users');
  });
});
