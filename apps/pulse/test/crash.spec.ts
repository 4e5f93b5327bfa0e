import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { Pool } from 'pg';
import { createTestDatabase } from '../../../test/support/database';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { basic, eventually } from './pulse-harness';
import { freePort, killAll, startPulseProcess } from './pulse-process';

describe('crash: SIGKILL in the middle of a stream of batches', () => {
  let register: RegisterHarness;
  let pool: Pool;
  const children: ChildProcess[] = [];
  afterAll(async () => {
    await killAll(children);
    await pool?.end();
    await register?.close();
  });

  test('every acknowledged event is stored exactly once, and retries after the restart add no copies', async () => {
    const databaseUrl = await createTestDatabase('pulsecrash');
    const masterKey = Buffer.alloc(32, 7).toString('base64');
    register = await startRegister({ DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey });
    pool = new Pool({ connectionString: databaseUrl });
    pool.on('error', () => undefined);
    const tenant = (await register.createTenant()) as { id: string; writeKey: string };
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey, PORT: String(port) };
    const up = async () => {
      await eventually(
        async () => (await fetch(`${url}/v1/projects/${tenant.writeKey}/settings`).catch(() => undefined))?.status === 200,
        30_000,
      );
    };

    children.push(startPulseProcess(env));
    await up();

    const batches = Array.from({ length: 400 }, () =>
      Array.from({ length: 50 }, () => ({ type: 'track', userId: `u-${randomUUID()}`, event: 'Crash Test', messageId: randomUUID() })),
    );
    const send = async (batch: object[]) => {
      const response = await fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(tenant.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      });
      await response.arrayBuffer();
      return response.status === 200;
    };

    const acknowledged: object[][] = [];
    let next = 0;
    let killed = false;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < batches.length && !killed) {
          const batch = batches[next++]!;
          const ok = await send(batch).catch(() => false);
          if (ok) acknowledged.push(batch);
          if (acknowledged.length >= 60 && !killed) {
            killed = true;
            children[0]!.kill('SIGKILL');
          }
        }
      }),
    );
    await new Promise((resolve) =>
      children[0]!.exitCode === null && children[0]!.signalCode === null ? children[0]!.once('exit', resolve) : resolve(undefined),
    );
    expect(children[0]!.signalCode).toBe('SIGKILL');

    const count = async () => {
      const { rows } = await pool.query<{ message_id: string; n: string }>(
        `SELECT data->>'messageId' AS message_id, count(*)::text AS n FROM es_events WHERE stream_name LIKE $1 GROUP BY 1`,
        [`pulse.tracking-${tenant.id}.%`],
      );
      return new Map(rows.map((row) => [row.message_id, Number(row.n)]));
    };
    const afterCrash = await count();
    const ackedIds = acknowledged.flat().map((message) => (message as { messageId: string }).messageId);
    expect(ackedIds.length).toBeGreaterThanOrEqual(60 * 50);
    expect(ackedIds.filter((id) => afterCrash.get(id) !== 1)).toEqual([]);

    // The clients retry everything they sent (acknowledged or not) against the restarted service.
    children.push(startPulseProcess(env));
    await up();
    const sent = batches.slice(0, next);
    for (const batch of sent) expect(await send(batch)).toBe(true);
    const afterRetry = await count();
    const sentIds = sent.flat().map((message) => (message as { messageId: string }).messageId);
    expect(sentIds.filter((id) => afterRetry.get(id) !== 1)).toEqual([]);
    expect(afterRetry.size).toBe(sentIds.length);
  }, 120_000);
});
