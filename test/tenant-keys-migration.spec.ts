import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import request from 'supertest';
import { basic, eventually, startPulse, startPulseApp } from '../apps/pulse/test/pulse-harness';
import { startRewardsApp, type RewardsApp } from '../apps/rewards/test/rewards-harness';
import { startRegister, type RegisterHarness } from './support/register-harness';

/**
 * An installation upgraded to key rings: its tenants were created with TenantCreated alone and each
 * service holds their two keys in its tenants table. The services come back on the new release
 * and take the keys as before, from the first request: the migrations copy the keys, and pulse's
 * tenant projection carries on from the checkpoint of the projection it replaces.
 */
describe('tenants created before key rings', () => {
  const apps: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
  });

  test('keep their keys in pulse, rewards and register from the first request after the upgrade', async () => {
    const before = await startPulse();
    const { databaseUrl, masterKey } = before;
    const tenant = await before.createTenant();
    const rewardsBefore = await startRewardsApp(databaseUrl, masterKey);
    // The services' pools close with them; this one outlives the upgrade.
    const pool = new Pool({ connectionString: databaseUrl, max: 2 });
    apps.push({ close: () => pool.end() });
    const rowsIn = async (table: string, tenantId: string) =>
      (await pool.query(`SELECT key_id, valid_from = '-infinity' AS copied FROM ${table} WHERE tenant_id = $1 ORDER BY key_id`, [tenantId]))
        .rows;
    await eventually(async () => (await rowsIn('rewards_tenant_keys', tenant.id)).length > 0);
    await rewardsBefore.close();
    await before.app.close();
    await before.register.close();

    // The database as the release before this one left it.
    await pool.query('DROP TABLE pulse_tenant_keys, rewards_tenant_keys, register_tenant_keys');
    for (const service of ['pulse', 'rewards', 'register'])
      await pool.query(`DELETE FROM ${service}_migrations WHERE name LIKE '%TenantKeys%'`);
    await pool.query(`UPDATE projection_checkpoints SET projection = 'pulse.tenants' WHERE projection = 'pulse.tenant-keys'`);
    const oldCheckpoint = (
      await pool.query(`SELECT commit_position, prepare_position FROM projection_checkpoints WHERE projection = 'pulse.tenants'`)
    ).rows[0];
    // A tenant created while pulse is down for the upgrade: after the old projection's checkpoint.
    const register: RegisterHarness = await startRegister({ DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey });
    apps.push(register);
    const later = await register.createTenant();

    const { app: pulse }: { app: NestFastifyApplication } = await startPulseApp({
      DATABASE_URL: databaseUrl,
      TESSERA_MASTER_KEY: masterKey,
    });
    apps.push(pulse);
    const rewards: RewardsApp = await startRewardsApp(databaseUrl, masterKey);
    apps.push(rewards);

    const bearer = { authorization: `Bearer ${tenant.apiKey}` };
    const tracked = await request(pulse.getHttpServer())
      .post('/v1/track')
      .set('authorization', basic(tenant.writeKey))
      .send({ userId: 'u-1', event: 'Upgraded', messageId: randomUUID() });
    expect(tracked.status).toBe(200);
    expect((await request(pulse.getHttpServer()).get(`/t/${tenant.slug}/profiles/userId/nobody`).set(bearer)).status).toBe(404);
    expect((await rewards.http().get(`/t/${tenant.slug}/members/nobody`).set(bearer)).status).toBe(404);
    expect((await register.http().delete(`/t/${tenant.slug}/users/${randomUUID()}`).set(bearer)).status).toBe(404);

    // Copied by the migrations (pulse and rewards never kept an issue time), not replayed.
    expect(await rowsIn('pulse_tenant_keys', tenant.id)).toEqual([
      { key_id: 'initial-api', copied: true },
      { key_id: 'initial-write', copied: true },
    ]);
    expect(await rowsIn('rewards_tenant_keys', tenant.id)).toEqual([{ key_id: 'initial-api', copied: true }]);
    expect((await rowsIn('register_tenant_keys', tenant.id)).map((row: { key_id: string }) => row.key_id)).toEqual([
      'initial-api',
      'initial-write',
    ]);
    const handedOver = (await pool.query(`SELECT commit_position FROM projection_checkpoints WHERE projection = 'pulse.tenant-keys'`))
      .rows[0];
    expect(BigInt(handedOver.commit_position)).toBeGreaterThanOrEqual(BigInt(oldCheckpoint.commit_position));

    // What the old projection had yet to apply, the new one applies.
    await eventually(async () => {
      const response = await request(pulse.getHttpServer())
        .post('/v1/track')
        .set('authorization', basic(later.writeKey))
        .send({ userId: 'u-2', event: 'Signed Up', messageId: randomUUID() });
      return response.status === 200;
    });
  });
});
