import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { eventually, replicaEnv, tenantThroughRegister, type DrillTarget } from './drill';

const BATCH = 5;

/**
 * Segment batches (group commit, a real write) and single tracks: every acknowledged messageId is
 * in the event store exactly once, none lost in a replica's queue at SIGTERM, none doubled.
 */
export const pulseTarget = (): DrillTarget => {
  const masterKey = randomBytes(32).toString('base64');
  return {
    service: 'pulse',
    entry: 'apps/pulse/src/main.ts',
    env: (databaseUrl) => replicaEnv(databaseUrl, masterKey),
    async prepare(balancerUrl, databaseUrl) {
      const tenant = await tenantThroughRegister(databaseUrl, masterKey);
      const auth = `Basic ${Buffer.from(`${tenant.writeKey}:`).toString('base64')}`;
      await eventually(async () => {
        const probe = await fetch(`${balancerUrl}/v1/track`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: auth },
          body: JSON.stringify({ userId: 'probe', event: 'Probe', messageId: `probe-${randomUUID()}` }),
        });
        return probe.status === 200;
      });
      const acknowledged = new Set<string>();
      return {
        request: (i) => {
          const messageIds = Array.from({ length: i % 3 === 0 ? BATCH : 1 }, () => `drill-${randomUUID()}`);
          const messages = messageIds.map((messageId, n) => ({
            type: 'track',
            userId: `user-${(i + n) % 17}`,
            event: 'Drill Step',
            properties: { i },
            messageId,
          }));
          return {
            method: 'POST',
            path: messages.length > 1 ? '/v1/batch' : '/v1/track',
            headers: { authorization: auth },
            body: messages.length > 1 ? { batch: messages } : messages[0],
            expect: 200,
            acknowledged: () => messageIds.forEach((id) => acknowledged.add(id)),
          };
        },
        async verify(url) {
          const db = new Client({ connectionString: url });
          await db.connect();
          try {
            const { rows } = await db.query<{ message_id: string; n: string }>(
              `SELECT data->>'messageId' AS message_id, count(*) AS n FROM es_events
               WHERE type = 'MessageReceived' AND stream_name LIKE $1 AND data->>'messageId' LIKE 'drill-%' GROUP BY 1`,
              [`pulse.tracking-${tenant.id}.%`],
            );
            const stored = new Map(rows.map((row) => [row.message_id, Number(row.n)]));
            expect([...stored.entries()].filter(([, n]) => n !== 1)).toEqual([]);
            expect([...acknowledged].filter((id) => !stored.has(id))).toEqual([]);
            expect(acknowledged.size).toBeGreaterThan(20);
          } finally {
            await db.end();
          }
        },
      };
    },
  };
};
