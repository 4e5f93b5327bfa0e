import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { hashKey, TenantCreated, TenantKeyIssued, TenantKeyRevoked } from '#contracts';
import { createTestDatabase } from '../../../test/support/database';
import { applyTenantKeyEvents, TENANT_KEY_CACHE_TTL_MS, TenantKeyLookup, tenantKeysTableDdl } from './index';

const TABLE = 'spec_tenant_keys';
const start = Date.parse('2026-12-06T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** A service's key table on real PostgreSQL, fed by the shared rows and read through the shared lookup on a clock the test moves. */
describe('tenant keys as a service holds them', () => {
  let pool: Pool;
  let queries = 0;
  let clock = start;
  const lookup = () => new TenantKeyLookup(counted, TABLE, { now: () => clock });
  const counted = {
    query: ((...args: Parameters<Pool['query']>) => {
      queries++;
      return (pool.query as (...a: unknown[]) => unknown)(...args);
    }) as Pool['query'],
  };

  beforeAll(async () => {
    pool = new Pool({ connectionString: await createTestDatabase('keys') });
    await pool.query(tenantKeysTableDdl(TABLE));
  });
  afterAll(() => pool.end());
  beforeEach(() => {
    clock = start;
    queries = 0;
  });

  const tenant = async () => {
    const tenantId = randomUUID();
    const write = `twk_${randomUUID()}`;
    const api = `tsk_${randomUUID()}`;
    await applyTenantKeyEvents(pool, TABLE, [
      TenantCreated({
        tenantId,
        slug: 's',
        name: 'S',
        writeKeyHash: hashKey(write),
        apiKeyHash: hashKey(api),
        createdAt: iso(start - 1000),
      }),
    ]);
    return { tenantId, write, api };
  };
  const revoke = (tenantId: string, keyId: string, effectiveAt: number) =>
    TenantKeyRevoked({ tenantId, keyId, revokedAt: iso(clock), effectiveAt: iso(effectiveAt), reason: 'revoked' });

  test("TenantCreated's two hashes are the keys initial-write and initial-api", async () => {
    const { tenantId, write, api } = await tenant();
    const keys = lookup();
    expect(await keys.find(write)).toEqual({ tenantId, keyId: 'initial-write', kind: 'write', validUntil: null });
    expect(await keys.find(api)).toEqual({ tenantId, keyId: 'initial-api', kind: 'api', validUntil: null });
    expect(await keys.find('tsk_unknown')).toBeUndefined();
  });

  test(`a revocation is honoured at the latest ${TENANT_KEY_CACHE_TTL_MS} ms after the table has it, however hot the key`, async () => {
    const { tenantId, api } = await tenant();
    const keys = lookup();
    const entry = await keys.find(api);
    await applyTenantKeyEvents(pool, TABLE, [revoke(tenantId, 'initial-api', clock)]);
    clock += TENANT_KEY_CACHE_TTL_MS - 1;
    expect(keys.isValid((await keys.find(api))!)).toBe(true); // still the entry read before the revocation
    expect(await keys.find(api)).toBe(entry);
    clock += 1;
    const reread = await keys.find(api);
    expect(reread?.validUntil).toBe(start);
    expect(keys.isValid(reread!)).toBe(false);
  });

  test("a cached key is refused from its valid-until on, before the cache entry expires (a rotation's overlap ends on time)", async () => {
    const { tenantId, write } = await tenant();
    await applyTenantKeyEvents(pool, TABLE, [revoke(tenantId, 'initial-write', start + 2000)]);
    const keys = lookup();
    expect(keys.isValid((await keys.find(write))!)).toBe(true);
    const reads = queries;
    clock = start + 1999;
    expect(keys.isValid((await keys.find(write))!)).toBe(true);
    clock = start + 2000;
    expect(keys.isValid((await keys.find(write))!)).toBe(false);
    expect(queries).toBe(reads); // from the cache both times: the entry carries its end
  });

  test('a key given two ends ends at the earlier, in one batch or across batches', async () => {
    const { tenantId, write, api } = await tenant();
    await applyTenantKeyEvents(pool, TABLE, [revoke(tenantId, 'initial-write', start + 600_000), revoke(tenantId, 'initial-write', start)]);
    await applyTenantKeyEvents(pool, TABLE, [revoke(tenantId, 'initial-write', start + 900_000)]);
    await applyTenantKeyEvents(pool, TABLE, [revoke(tenantId, 'initial-api', start + 600_000)]);
    await applyTenantKeyEvents(pool, TABLE, [revoke(tenantId, 'initial-api', start + 60_000)]);
    expect((await lookup().find(write))?.validUntil).toBe(start);
    expect((await lookup().find(api))?.validUntil).toBe(start + 60_000);
  });

  test('a key issued and revoked in one batch is stored ended; a hash another key holds is not taken over', async () => {
    const { tenantId, api } = await tenant();
    const server = `tss_${randomUUID()}`;
    await applyTenantKeyEvents(pool, TABLE, [
      TenantKeyIssued({
        tenantId,
        keyId: 'k1',
        kind: 'server',
        keyHash: hashKey(server),
        label: null,
        issuedAt: iso(start),
        replaces: null,
      }),
      revoke(tenantId, 'k1', start + 1),
      TenantKeyIssued({
        tenantId: randomUUID(),
        keyId: 'k9',
        kind: 'api',
        keyHash: hashKey(api),
        label: null,
        issuedAt: iso(start),
        replaces: null,
      }),
    ]);
    expect(await lookup().find(server)).toEqual({ tenantId, keyId: 'k1', kind: 'server', validUntil: start + 1 });
    expect((await lookup().find(api))?.tenantId).toBe(tenantId);
  });

  test('concurrent first uses of a key share one query; unknown keys are asked again', async () => {
    const { write } = await tenant();
    const keys = lookup();
    await Promise.all(Array.from({ length: 20 }, () => keys.find(write)));
    expect(queries).toBe(1);
    await keys.find('twk_unknown');
    await keys.find('twk_unknown');
    expect(queries).toBe(3);
    await keys.find('x'.repeat(257));
    expect(queries).toBe(3);
  });
});
