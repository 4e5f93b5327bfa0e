import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from '../../../test/support/database';
import { startRegister, type RegisterHarness } from '../../../test/support/register-harness';
import { basic, eventually } from './pulse-harness';
import { freePort, killAll, startPulseProcess } from './pulse-process';
import { WebhookReceiver } from './webhook-receiver';

describe('crash: SIGKILL of the process delivering webhooks', () => {
  let register: RegisterHarness | undefined;
  let receiver: WebhookReceiver | undefined;
  const children: ChildProcess[] = [];
  afterAll(async () => {
    await killAll(children);
    await receiver?.close();
    await register?.close();
  });

  test('every tracked message reaches the receiver after a restart, signed, under the webhook-id it was first sent with', async () => {
    const databaseUrl = await createTestDatabase('pulsewebhookcrash');
    const masterKey = Buffer.alloc(32, 9).toString('base64');
    register = await startRegister({ DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey });
    const tenant = (await register.createTenant()) as { slug: string; writeKey: string; apiKey: string };
    // Slow enough that the kill finds requests in flight and deliveries still queued.
    receiver = await WebhookReceiver.start();
    receiver.answerWith(() => ({ status: 200, delayMs: 20 }));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      DATABASE_URL: databaseUrl,
      TESSERA_MASTER_KEY: masterKey,
      PORT: String(port),
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
      OUTBOUND_RETRY_BASE_MS: '50',
      // What the killed process had leased goes to the next one after this long.
      OUTBOUND_LEASE_MS: '2000',
      OUTBOUND_CONCURRENCY: '4',
    };
    const up = () =>
      eventually(
        async () => (await fetch(`${url}/v1/projects/${tenant.writeKey}/settings`).catch(() => undefined))?.status === 200,
        30_000,
      );

    children.push(startPulseProcess(env));
    await up();
    const created = await fetch(`${url}/t/${tenant.slug}/destinations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'crash', url: receiver.url }),
    });
    expect(created.status).toBe(201);
    receiver.trust(((await created.json()) as { secret: string }).secret);

    const messageIds = Array.from({ length: 300 }, () => randomUUID());
    for (let start = 0; start < messageIds.length; start += 50) {
      const batch = messageIds
        .slice(start, start + 50)
        .map((messageId) => ({ type: 'track', userId: `u-${messageId}`, event: 'Crash', messageId }));
      const response = await fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(tenant.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      });
      expect(response.status).toBe(200);
    }
    await receiver.until((received) => received.length >= 30);
    children[0]!.kill('SIGKILL');
    await new Promise((resolve) =>
      children[0]!.exitCode === null && children[0]!.signalCode === null ? children[0]!.once('exit', resolve) : resolve(undefined),
    );
    expect(children[0]!.signalCode).toBe('SIGKILL');
    const beforeRestart = new Set(receiver.delivered().map((message) => message.messageId));
    expect(beforeRestart.size).toBeLessThan(messageIds.length);

    children.push(startPulseProcess(env));
    await up();
    await receiver.until(() => new Set(receiver!.delivered().map((message) => message.messageId)).size >= messageIds.length, 60_000);

    const delivered = receiver.delivered().map((message) => String(message.messageId));
    expect(messageIds.filter((id) => !delivered.includes(id))).toEqual([]);
    expect(receiver.received.every((each) => each.verifiedWith.length === 1)).toBe(true);
    // At least once: a message sent twice (in flight at the kill) carries the same webhook-id both times.
    const idsByMessage = new Map<string, Set<string>>();
    for (const each of receiver.received) {
      const messageId = String(each.json.messageId);
      idsByMessage.set(messageId, (idsByMessage.get(messageId) ?? new Set()).add(each.webhookId));
    }
    expect([...idsByMessage.values()].filter((ids) => ids.size !== 1)).toEqual([]);
  }, 120_000);
});
