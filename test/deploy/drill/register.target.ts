import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { signTestToken } from '../../../apps/register/src/access/testing/test-tokens';
import { eventually, json, post, replicaEnv, type DrillTarget } from './drill';

const PASSWORD = 'correct horse battery staple';

/** Reads of /me and sign-ups (argon2id, a real write): every acknowledged account stored once. */
export const registerTarget = (): DrillTarget => {
  const adminToken = randomBytes(24).toString('base64url');
  const testTokenSecret = randomBytes(32).toString('base64url');
  // Every replica must share the master key, as pods share one Secret.
  const masterKey = randomBytes(32).toString('base64');
  return {
    service: 'register',
    entry: 'apps/register/src/main.ts',
    // "test" only so that /me accepts the drill's HS256 tokens; everything else runs as in production,
    // except that the drill's sign-ups all come from one address at full rate: past the per-address limit.
    env: (databaseUrl) =>
      replicaEnv(databaseUrl, masterKey, {
        NODE_ENV: 'test',
        ADMIN_TOKEN: adminToken,
        REGISTER_TEST_TOKEN_SECRET: testTokenSecret,
        REGISTER_SIGNUPS_PER_ADDRESS: '1000000',
      }),
    async prepare(balancerUrl) {
      const tenant = await json<{ id: string; slug: string }>(
        await fetch(
          `${balancerUrl}/admin/tenants`,
          post({ slug: `drill-${randomBytes(3).toString('hex')}`, name: 'Drill' }, { authorization: `Bearer ${adminToken}` }),
        ),
        201,
      );
      const reader = await json<{ id: string }>(
        await fetch(`${balancerUrl}/t/${tenant.slug}/users`, post({ email: 'reader@example.com', password: PASSWORD })),
        201,
      );
      const token = await signTestToken(testTokenSecret, { tenantId: tenant.id, userId: reader.id });
      await eventually(
        async () => (await fetch(`${balancerUrl}/t/${tenant.slug}/me`, { headers: { authorization: `Bearer ${token}` } })).status === 200,
      );
      const signedUp = new Set<string>([reader.id]);
      return {
        request: (i) =>
          // Mostly cheap reads, so requests arrive densely enough that routing to a replica that
          // stopped listening would be seen; every fourth one a sign-up (argon2id, a real write).
          i % 4 === 0
            ? {
                method: 'POST',
                path: `/t/${tenant.slug}/users`,
                body: { email: `drill-${i}@example.com`, password: PASSWORD },
                expect: 201,
                acknowledged: (body) => signedUp.add((body as { id: string }).id),
              }
            : { method: 'GET', path: `/t/${tenant.slug}/me`, headers: { authorization: `Bearer ${token}` }, expect: 200 },
        async verify(databaseUrl) {
          const db = new Client({ connectionString: databaseUrl });
          await db.connect();
          try {
            const events = await db.query<{ stream_name: string; n: string }>(
              `SELECT stream_name, count(*) AS n FROM es_events WHERE type = 'UserRegistered' AND stream_name LIKE $1 GROUP BY stream_name`,
              [`register.account-${tenant.id}.%`],
            );
            const stored = new Map(
              events.rows.map((row) => [row.stream_name.slice(`register.account-${tenant.id}.`.length), Number(row.n)]),
            );
            expect([...stored.values()].filter((n) => n !== 1)).toEqual([]);
            expect([...stored.keys()].sort()).toEqual([...signedUp].sort());
            // The read model catches up asynchronously; it must end with each account once.
            const profiles = async () =>
              (await db.query<{ user_id: string }>('SELECT user_id FROM register_profiles WHERE tenant_id = $1', [tenant.id])).rows.map(
                (row) => row.user_id,
              );
            await eventually(async () => (await profiles()).length >= signedUp.size);
            expect((await profiles()).sort()).toEqual([...signedUp].sort());
          } finally {
            await db.end();
          }
        },
      };
    },
  };
};
