import { randomUUID } from 'node:crypto';
import { trackingStreamFor } from '#contracts';
import { TENANT_KEY_CACHE_TTL_MS } from '#tenant-keys';
import { basic, eventually, startPulse, type PulseHarness, type Tenant } from '../apps/pulse/test/pulse-harness';
import { startRewardsApp, type RewardsApp } from '../apps/rewards/test/rewards-harness';

/**
 * How soon every service refuses a revoked key: its projection applies the revocation (well under
 * a second here), then a replica may serve a key it had already looked up for TENANT_KEY_CACHE_TTL_MS.
 * The polls below give that plus a few seconds of slack for a loaded machine, no more.
 */
const REVOCATION_BOUND_MS = TENANT_KEY_CACHE_TTL_MS + 5_000;

type Verdict = 'accepted' | 401 | 403;

/**
 * A tenant's keys as register issues, rotates and revokes them, honoured by register, pulse and
 * rewards, which each learn them from register's events into their own tables.
 */
describe('tenant keys across the services', () => {
  let pulse: PulseHarness;
  let rewards: RewardsApp;

  beforeAll(async () => {
    pulse = await startPulse();
    rewards = await startRewardsApp(pulse.databaseUrl, pulse.masterKey);
  });
  afterAll(async () => {
    await rewards?.close();
    await pulse?.close();
  });

  const admin = () => ({ authorization: `Bearer ${pulse.register.adminToken}` });
  const keys = (tenant: Tenant) => `/admin/tenants/${tenant.slug}/keys`;
  const issue = async (tenant: Tenant, kind: string) =>
    (await pulse.register.http().post(keys(tenant)).set(admin()).send({ kind }).expect(201)).body as { id: string; key: string };
  const rotate = async (tenant: Tenant, keyId: string, overlapSeconds: number) =>
    (
      await pulse.register
        .http()
        .post(`${keys(tenant)}/${keyId}/rotation`)
        .set(admin())
        .send({ overlapSeconds })
        .expect(201)
    ).body as {
      id: string;
      key: string;
      replaced: { validUntil: string };
    };
  const revoke = (tenant: Tenant, keyId: string) =>
    pulse.register
      .http()
      .delete(`${keys(tenant)}/${keyId}`)
      .set(admin())
      .expect(204);

  /** What each service says to `key` on one of `tenant`'s API-key routes; a 404 for an unknown person means the key was taken. */
  async function verdicts(tenant: Tenant, key: string): Promise<Record<'register' | 'pulse' | 'rewards', Verdict>> {
    const bearer = { authorization: `Bearer ${key}` };
    const [register, pulseRead, rewardsRead] = await Promise.all([
      pulse.register.http().delete(`/t/${tenant.slug}/users/${randomUUID()}`).set(bearer),
      pulse.http().get(`/t/${tenant.slug}/profiles/userId/nobody`).set(bearer),
      rewards.http().get(`/t/${tenant.slug}/members/nobody`).set(bearer),
    ]);
    const verdict = (response: { status: number; body: { type?: string } }, accepted: string): Verdict => {
      if (response.status === 401 || response.status === 403) return response.status;
      expect(response.body.type).toBe(`https://tessera.dev/problems/${accepted}`);
      return 'accepted';
    };
    return {
      register: verdict(register, 'account-not-found'),
      pulse: verdict(pulseRead, 'profile-not-found'),
      rewards: verdict(rewardsRead, 'member-not-found'),
    };
  }
  const everywhere = (verdict: Verdict) => ({ register: verdict, pulse: verdict, rewards: verdict });
  /** Polls until every service gives `verdict`, for at most `withinMs`; resolves with when they all did. */
  async function until(tenant: Tenant, key: string, verdict: Verdict, withinMs: number): Promise<number> {
    await eventually(async () => JSON.stringify(await verdicts(tenant, key)) === JSON.stringify(everywhere(verdict)), withinMs);
    return Date.now();
  }

  const track = (key: string, body: object = {}) =>
    pulse
      .http()
      .post('/v1/track')
      .set('authorization', basic(key))
      .send({ userId: 'u-1', event: 'Order Completed', messageId: randomUUID(), ...body });
  const storedSources = async (tenant: Tenant) => {
    const sources = new Map<string, unknown>();
    for (let partition = 0; partition < pulse.runtime.ingest.writers; partition++) {
      for (const event of await pulse.runtime.store.readStream(trackingStreamFor(tenant.id, partition))) {
        sources.set(String(event.data.messageId), event.data.source);
      }
    }
    return sources;
  };

  test("another tenant's valid API key is 403 in every service; an unknown key, a write key or none is 401", async () => {
    const tenant = await pulse.createTenant();
    const other = await pulse.createTenant();
    // Each service learns the other tenant's key from its own projection.
    await until(tenant, other.apiKey, 403, 10_000);
    expect(await verdicts(tenant, `tsk_${'A'.repeat(43)}`)).toEqual(everywhere(401));
    expect(await verdicts(tenant, tenant.writeKey)).toEqual(everywhere(401));
    expect(await verdicts(tenant, tenant.apiKey)).toEqual(everywhere('accepted'));
  });

  test("a server key's calls are stored as from a server source, a write key's as from a client source, each with its key id", async () => {
    const tenant = await pulse.createTenant();
    const server = await issue(tenant, 'server');
    await eventually(async () => (await track(server.key)).status === 200);
    const [byServer, byServerInBody, byWriteKey] = [randomUUID(), randomUUID(), randomUUID()];
    await track(server.key, { messageId: byServer }).expect(200);
    await pulse
      .http()
      .post('/v1/track')
      .send({ writeKey: server.key, userId: 'u-1', event: 'Signed Up', messageId: byServerInBody })
      .expect(200);
    await track(tenant.writeKey, { messageId: byWriteKey }).expect(200);
    const sources = await storedSources(tenant);
    expect(sources.get(byServer)).toEqual({ kind: 'server', keyId: server.id });
    expect(sources.get(byServerInBody)).toEqual({ kind: 'server', keyId: server.id });
    expect(sources.get(byWriteKey)).toEqual({ kind: 'client', keyId: 'initial-write' });
    // API keys read; they do not track. Nor do server keys stand in for a write key's browser settings.
    expect((await track(tenant.apiKey)).status).toBe(401);
    expect((await pulse.http().get(`/v1/projects/${server.key}/settings`)).status).toBe(404);
  });

  test('a rotated API key works in every service for its overlap; revoked, it is refused everywhere within the bound', async () => {
    const tenant = await pulse.createTenant();
    const successor = await rotate(tenant, 'initial-api', 3600);
    await until(tenant, successor.key, 'accepted', 10_000);
    expect(await verdicts(tenant, tenant.apiKey)).toEqual(everywhere('accepted'));

    const revokedAt = Date.now();
    await revoke(tenant, 'initial-api');
    const refusedAt = await until(tenant, tenant.apiKey, 401, REVOCATION_BOUND_MS);
    expect(refusedAt - revokedAt).toBeLessThanOrEqual(REVOCATION_BOUND_MS);
    expect(await verdicts(tenant, successor.key)).toEqual(everywhere('accepted'));
  });

  test('when a rotation overlap ends, the old API key is refused everywhere, and not before', async () => {
    const tenant = await pulse.createTenant();
    const first = await rotate(tenant, 'initial-api', 3600);
    await until(tenant, first.key, 'accepted', 10_000); // every service holds the key, cached
    const second = await rotate(tenant, first.id, 2);
    const end = Date.parse(second.replaced.validUntil);
    const refusedAt = await until(tenant, first.key, 401, end - Date.now() + REVOCATION_BOUND_MS);
    expect(refusedAt).toBeGreaterThanOrEqual(end);
    await until(tenant, second.key, 'accepted', 10_000);
  });

  test('a write key rotated with no overlap and a revoked server key stop tracking; the new write key tracks', async () => {
    const tenant = await pulse.createTenant();
    const server = await issue(tenant, 'server');
    await eventually(async () => (await track(server.key)).status === 200);
    const writeKey = await rotate(tenant, 'initial-write', 0);
    await revoke(tenant, server.id);
    await eventually(async () => (await track(writeKey.key)).status === 200);
    await eventually(async () => (await track(tenant.writeKey)).status === 401, REVOCATION_BOUND_MS);
    await eventually(async () => (await track(server.key)).status === 401, REVOCATION_BOUND_MS);
    expect((await pulse.http().get(`/v1/projects/${tenant.writeKey}/settings`)).status).toBe(404);
    expect((await pulse.http().get(`/v1/projects/${writeKey.key}/settings`)).status).toBe(200);
  });
});
