import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { eventually, json, post, replicaEnv, withRegister, type DrillTarget } from './drill';

/** What each member earns by signing up: enough that no redemption of the drill is refused. */
const SIGN_UP_POINTS = 1_000_000;
const MEMBERS = 6;
const STOCK = 100_000;
const COSTS = [3, 5, 7];

/**
 * Redemptions (three streams each: the redemption's process, the reward's stock, the wallet),
 * operator adjustments and balance reads while the replicas roll. Every acknowledged redemption
 * and adjustment is in its wallet exactly once, each balance adds up to what was acknowledged,
 * each reward's stock is down by exactly its redemptions, and the admin read model ends with each
 * redemption once, confirmed.
 */
export const rewardsTarget = (): DrillTarget => {
  const masterKey = randomBytes(32).toString('base64');
  return {
    service: 'rewards',
    entry: 'apps/rewards/src/main.ts',
    env: (databaseUrl) => replicaEnv(databaseUrl, masterKey),
    async prepare(balancerUrl, databaseUrl) {
      // The program comes before the sign-ups in the log, so that they earn under it.
      const { tenant, members } = await withRegister(databaseUrl, masterKey, async (register) => {
        const created = await register.createTenant();
        const program = {
          rules: [{ id: 'signup', event: 'UserRegistered', conditions: [], award: { kind: 'fixed', points: SIGN_UP_POINTS } }],
          tiers: null,
          expiry: null,
        };
        await eventually(async () => {
          const response = await fetch(`${balancerUrl}/t/${created.slug}/program`, {
            ...post(program, { authorization: `Bearer ${created.apiKey}` }),
            method: 'PUT',
          });
          if (response.status === 404) return false; // rewards has yet to learn the tenant from register's events
          await json(response, 200);
          return true;
        });
        const ids: string[] = [];
        for (let n = 0; n < MEMBERS; n++) ids.push((await register.signUp(created.slug, `member-${n}@example.com`)).id);
        return { tenant: created, members: ids };
      });
      const auth = { authorization: `Bearer ${tenant.apiKey}` };
      const balanceOf = async (userId: string) => {
        const response = await fetch(`${balancerUrl}/t/${tenant.slug}/members/${userId}`, { headers: auth });
        return response.status === 200 ? ((await response.json()) as { balance: number }).balance : undefined;
      };
      for (const userId of members) await eventually(async () => (await balanceOf(userId)) === SIGN_UP_POINTS);
      const rewards: { id: string; cost: number }[] = [];
      for (const cost of COSTS) {
        const created = await json<{ id: string }>(
          await fetch(`${balancerUrl}/t/${tenant.slug}/rewards`, post({ name: `Drill reward ${cost}`, cost, stock: STOCK }, auth)),
          201,
        );
        rewards.push({ id: created.id, cost });
      }

      const redeemed = new Map<string, { userId: string; rewardId: string; cost: number }>();
      const adjusted = new Map<string, { userId: string; points: number }>();
      return {
        request: (i) => {
          const userId = members[i % MEMBERS]!;
          const idempotencyKey = `drill-${i}`;
          if (i % 4 === 0) {
            const reward = rewards[(i >> 2) % rewards.length]!;
            return {
              method: 'POST',
              path: `/t/${tenant.slug}/members/${userId}/redemptions`,
              headers: { ...auth, 'idempotency-key': idempotencyKey },
              body: { rewardId: reward.id },
              expect: 201,
              acknowledged: (body) => redeemed.set((body as { id: string }).id, { userId, rewardId: reward.id, cost: reward.cost }),
            };
          }
          if (i % 4 === 1) {
            const points = 1 + (i % 9);
            return {
              method: 'POST',
              path: `/t/${tenant.slug}/members/${userId}/adjustments`,
              headers: { ...auth, 'idempotency-key': idempotencyKey },
              body: { points, reason: 'rolling-update drill', actor: 'drill' },
              expect: 201,
              acknowledged: (body) => adjusted.set((body as { adjustmentId: string }).adjustmentId, { userId, points }),
            };
          }
          return { method: 'GET', path: `/t/${tenant.slug}/members/${userId}`, headers: auth, expect: 200 };
        },
        async verify(databaseUrl) {
          expect(redeemed.size).toBeGreaterThan(10);
          expect(adjusted.size).toBeGreaterThan(10);
          // Balances add up: sign-up points, plus each acknowledged adjustment once, minus each redemption once.
          for (const userId of members) {
            const expected =
              SIGN_UP_POINTS +
              [...adjusted.values()].filter((a) => a.userId === userId).reduce((sum, a) => sum + a.points, 0) -
              [...redeemed.values()].filter((r) => r.userId === userId).reduce((sum, r) => sum + r.cost, 0);
            expect({ userId, balance: await balanceOf(userId) }).toEqual({ userId, balance: expected });
          }
          // Stock is down by exactly the acknowledged redemptions of each reward, none held twice or left held.
          for (const reward of rewards) {
            const shown = await json<{ remaining: number }>(
              await fetch(`${balancerUrl}/t/${tenant.slug}/rewards/${reward.id}`, { headers: auth }),
              200,
            );
            expect({ reward: reward.id, remaining: shown.remaining }).toEqual({
              reward: reward.id,
              remaining: STOCK - [...redeemed.values()].filter((r) => r.rewardId === reward.id).length,
            });
          }
          const db = new Client({ connectionString: databaseUrl });
          await db.connect();
          try {
            const countsOf = async (type: string, idField: string, prefix: string) => {
              const { rows } = await db.query<{ id: string; n: string }>(
                `SELECT data->>'${idField}' AS id, count(*) AS n FROM es_events WHERE type = $1 AND stream_name LIKE $2 GROUP BY 1`,
                [type, `${prefix}${tenant.id}.%`],
              );
              return new Map(rows.map((row) => [row.id, Number(row.n)]));
            };
            const sameOnce = (stored: Map<string, number>, acknowledged: Iterable<string>) => {
              expect([...stored.entries()].filter(([, n]) => n !== 1)).toEqual([]);
              expect([...stored.keys()].sort()).toEqual([...acknowledged].sort());
            };
            sameOnce(await countsOf('PointsRedeemed', 'redemptionId', 'rewards.wallet-'), redeemed.keys());
            sameOnce(await countsOf('RedemptionConfirmed', 'redemptionId', 'rewards.redemption-'), redeemed.keys());
            sameOnce(await countsOf('StockReserved', 'redemptionId', 'rewards.reward-'), redeemed.keys());
            sameOnce(await countsOf('PointsAdjusted', 'adjustmentId', 'rewards.wallet-'), adjusted.keys());
            // The admin read model catches up asynchronously; it must end with each redemption once, confirmed.
            const confirmedRows = async () =>
              (
                await db.query<{ redemption_id: string }>(
                  `SELECT redemption_id FROM rewards_redemptions WHERE tenant_id = $1 AND status = 'confirmed'`,
                  [tenant.id],
                )
              ).rows.map((row) => row.redemption_id);
            await eventually(async () => (await confirmedRows()).length >= redeemed.size);
            expect((await confirmedRows()).sort()).toEqual([...redeemed.keys()].sort());
          } finally {
            await db.end();
          }
        },
      };
    },
  };
};
