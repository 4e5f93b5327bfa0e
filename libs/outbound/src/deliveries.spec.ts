import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../test/support/database';
import { claimDeliveries, endpointStats, settleDelivery, type ClaimLimits } from './deliveries';
import { enqueue } from './enqueue';
import { saveEndpoint, type RoutedItem } from './outbox';
import { OUTBOUND_DDL } from './outbound-tables';
import { DEFAULT_RETRY } from './retry-policy';

/** Claiming against a real PostgreSQL: what replicas take, in which order, and what they skip. */
describe('claiming deliveries', () => {
  let dataSource: DataSource;
  let pool: Pool;
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase('outbound');
    dataSource = new DataSource({ type: 'postgres', url });
    await dataSource.initialize();
    for (const statement of OUTBOUND_DDL) await dataSource.query(statement);
    pool = new Pool({ connectionString: url, max: 4 });
  });
  afterAll(async () => {
    await pool.end();
    await dataSource.destroy();
  });
  beforeEach(async () => {
    await dataSource.query('TRUNCATE outbound_deliveries, outbound_endpoints, outbound_replays');
  });

  let serial = 0;
  const items = (tenantId: string, endpointId: string, count: number): RoutedItem[] =>
    Array.from({ length: count }, () => {
      serial++;
      return {
        tenantId,
        endpointId,
        eventId: `event-${serial}`,
        position: { commit: BigInt(serial), prepare: 0n },
        createdAt: new Date(),
        item: { n: serial },
      };
    });
  const endpoint = (tenantId: string, endpointId: string, settings: { ordered?: boolean; batchMax?: number; batchWaitMs?: number } = {}) =>
    dataSource.transaction((tx) =>
      saveEndpoint(tx, {
        tenantId,
        endpointId,
        url: 'https://hooks.example.com/',
        secrets: [],
        enabled: true,
        ordered: settings.ordered ?? false,
        batchMax: settings.batchMax ?? 1,
        batchWaitMs: settings.batchWaitMs ?? 0,
      }),
    );
  const queue = (routed: RoutedItem[]) => dataSource.transaction((tx) => enqueue(tx, routed, 'live'));
  const limits = (overrides: Partial<ClaimLimits> = {}): ClaimLimits => ({
    lane: 'live',
    limit: 10,
    perTenant: 10,
    perEndpoint: 10,
    busy: [],
    leaseMs: 60_000,
    breakerThreshold: 5,
    ...overrides,
  });

  test('replicas claiming at once take different deliveries, and together all of them', async () => {
    await endpoint('t1', 'e1');
    await queue(items('t1', 'e1', 40));
    const ids: string[] = [];
    for (let round = 0; round < 10; round++) {
      const claims = await Promise.all([1, 2, 3, 4].map(() => claimDeliveries(pool, limits())));
      ids.push(...claims.flat().map((delivery) => delivery.id));
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(40);
    expect(await claimDeliveries(pool, limits())).toEqual([]);
  });

  test('an enqueue that runs again adds nothing: the webhook-id is derived from the events', async () => {
    await endpoint('t1', 'e1');
    const routed = items('t1', 'e1', 3);
    expect(await queue(routed)).toBe(3);
    await queue(routed);
    expect(await claimDeliveries(pool, limits())).toHaveLength(3);
  });

  test('a batch waits for more messages until it is full or its wait is over, under the webhook-id it was created with', async () => {
    await endpoint('t1', 'e1', { batchMax: 3, batchWaitMs: 60_000 });
    await queue(items('t1', 'e1', 1));
    expect(await claimDeliveries(pool, limits())).toEqual([]);
    const { rows } = await pool.query<{ webhook_id: string }>('SELECT webhook_id FROM outbound_deliveries');
    await queue(items('t1', 'e1', 4));
    const claimed = await claimDeliveries(pool, limits());
    expect(claimed.map((delivery) => [delivery.webhookId, delivery.items.length])).toEqual([[rows[0]!.webhook_id, 3]]);
    // The rest (2 of 3) waits; once the first is claimed it takes no more, a new one starts.
    await queue(items('t1', 'e1', 1));
    await dataSource.query(`UPDATE outbound_deliveries SET next_attempt_at = now() WHERE leased_until IS NULL`);
    expect((await claimDeliveries(pool, limits())).map((delivery) => delivery.items.length)).toEqual([3]);
  });

  test('an ordered endpoint offers its oldest delivery only, and the next once that one is settled', async () => {
    await endpoint('t1', 'e1', { ordered: true });
    await queue(items('t1', 'e1', 3));
    const [first, ...others] = await claimDeliveries(pool, limits());
    expect(others).toEqual([]);
    expect(await claimDeliveries(pool, limits())).toEqual([]);
    await settleDelivery(pool, first!, { kind: 'retry', delayMs: 0, reason: 'the receiver answered 500' }, 500, DEFAULT_RETRY);
    const again = await claimDeliveries(pool, limits());
    expect(again.map((delivery) => delivery.webhookId)).toEqual([first!.webhookId]);
    expect(again[0]!.attempts).toBe(2);
    await settleDelivery(pool, again[0]!, { kind: 'delivered' }, 200, DEFAULT_RETRY);
    const next = await claimDeliveries(pool, limits());
    expect(next).toHaveLength(1);
    expect(next[0]!.items).toEqual([{ n: Number(first!.items[0]!.n) + 1 }]);
  });

  test('a tenant with a backlog gets its turn, not every slot: others are served in the same claim', async () => {
    await endpoint('busy', 'e1');
    await endpoint('busy', 'e2');
    await endpoint('quiet', 'e1');
    await queue(items('busy', 'e1', 50));
    await queue(items('busy', 'e2', 50));
    await queue(items('quiet', 'e1', 2));
    const claimed = await claimDeliveries(pool, limits({ limit: 6, perTenant: 4, perEndpoint: 4 }));
    expect(claimed.filter((delivery) => delivery.tenantId === 'quiet')).toHaveLength(2);
    expect(claimed.filter((delivery) => delivery.tenantId === 'busy')).toHaveLength(4);
  });

  test("an endpoint's open circuit, or its being busy in this process, keeps its deliveries back; others go on", async () => {
    await endpoint('t1', 'dead');
    await endpoint('t1', 'fine');
    await queue(items('t1', 'dead', 10));
    const failing = await claimDeliveries(pool, limits({ limit: 5 }));
    for (const delivery of failing) {
      await settleDelivery(pool, delivery, { kind: 'retry', delayMs: 0, reason: 'ECONNREFUSED' }, undefined, {
        ...DEFAULT_RETRY,
        breakerCooldownMs: 60_000,
      });
    }
    await queue(items('t1', 'fine', 2));
    const next = await claimDeliveries(pool, limits());
    expect(next.map((delivery) => delivery.endpointId)).toEqual(['fine', 'fine']);
    await dataSource.query(`UPDATE outbound_endpoints SET open_until = NULL WHERE endpoint_id = 'dead'`);
    // Half-open: one probe at a time while the endpoint has failures on record.
    expect(await claimDeliveries(pool, limits())).toHaveLength(1);
    expect(await claimDeliveries(pool, limits({ busy: ['t1/dead'] }))).toEqual([]);
  });

  test('a lease that ran out (its holder crashed) is claimed again; the late holder can no longer settle it', async () => {
    await endpoint('t1', 'e1');
    await queue(items('t1', 'e1', 1));
    const [crashed] = await claimDeliveries(pool, limits({ leaseMs: 1 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [taken] = await claimDeliveries(pool, limits());
    expect(taken!.webhookId).toBe(crashed!.webhookId);
    await settleDelivery(pool, crashed!, { kind: 'dead', reason: 'late' }, undefined, DEFAULT_RETRY);
    const { rows } = await pool.query(`SELECT state FROM outbound_deliveries`);
    expect(rows).toEqual([{ state: 'pending' }]);
  });

  test('a delivered delivery goes and counts once, only under its lease; neither the lease nor the settling waits for the WAL flush', async () => {
    // Deferred triggers run at commit, after every statement: they see the setting the commit uses.
    await dataSource.query(`CREATE TABLE IF NOT EXISTS commits_seen (what text NOT NULL, synchronous_commit text NOT NULL)`);
    await dataSource.query('TRUNCATE commits_seen');
    await dataSource.query(`CREATE OR REPLACE FUNCTION note_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO commits_seen VALUES (TG_TABLE_NAME || ' ' || TG_OP, current_setting('synchronous_commit')); RETURN NULL; END $$`);
    for (const table of ['outbound_deliveries', 'outbound_endpoints'])
      await dataSource.query(`CREATE CONSTRAINT TRIGGER ${table}_commit AFTER UPDATE OR DELETE ON ${table}
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION note_commit()`);
    // The test server's default is off (see the test database): these sessions start from production's.
    const durableByDefault = new Pool({ connectionString: url, max: 2, options: '-c synchronous_commit=on' });
    try {
      await endpoint('t1', 'e1');
      await queue(items('t1', 'e1', 2));
      const [ours, lost] = await claimDeliveries(durableByDefault, limits());
      // Another replica took the second one after its lease ran out: its settling is that replica's.
      await dataSource.query('UPDATE outbound_deliveries SET lease_token = gen_random_uuid() WHERE id = $1', [lost!.id]);
      await dataSource.query('TRUNCATE commits_seen');
      await settleDelivery(durableByDefault, ours!, { kind: 'delivered' }, 200, DEFAULT_RETRY);
      await settleDelivery(durableByDefault, lost!, { kind: 'delivered' }, 200, DEFAULT_RETRY);
      expect(await endpointStats(durableByDefault, 't1', 'e1')).toMatchObject({ delivered: 1, pending: 1 });
      const { rows } = await pool.query<{ id: string }>('SELECT id::text FROM outbound_deliveries');
      expect(rows).toEqual([{ id: lost!.id }]);
      const seen = await dataSource.query<{ what: string; synchronous_commit: string }[]>(
        'SELECT what, synchronous_commit FROM commits_seen',
      );
      expect(seen).toEqual(
        expect.arrayContaining([
          { what: 'outbound_deliveries DELETE', synchronous_commit: 'off' },
          { what: 'outbound_endpoints UPDATE', synchronous_commit: 'off' },
        ]),
      );
      expect(seen).toHaveLength(2);
      // A claim: its lease is as restartable as one that ran out.
      await dataSource.query(`UPDATE outbound_deliveries SET leased_until = NULL`);
      await dataSource.query('TRUNCATE commits_seen');
      const [again, ...none] = await claimDeliveries(durableByDefault, limits());
      expect(none).toEqual([]);
      expect(await dataSource.query('SELECT what, synchronous_commit FROM commits_seen')).toEqual([
        { what: 'outbound_deliveries UPDATE', synchronous_commit: 'off' },
      ]);
      // Anything else keeps production's default: a retry waits for the flush.
      await dataSource.query('TRUNCATE commits_seen');
      await settleDelivery(
        durableByDefault,
        again!,
        { kind: 'retry', delayMs: 60_000, reason: 'the receiver answered 500' },
        500,
        DEFAULT_RETRY,
      );
      const retried = await dataSource.query<{ synchronous_commit: string }[]>('SELECT DISTINCT synchronous_commit FROM commits_seen');
      expect(retried).toEqual([{ synchronous_commit: 'on' }]);
    } finally {
      await durableByDefault.end();
      for (const table of ['outbound_deliveries', 'outbound_endpoints']) await dataSource.query(`DROP TRIGGER ${table}_commit ON ${table}`);
    }
  });
});
