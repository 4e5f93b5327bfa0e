import { randomBytes, randomUUID } from 'node:crypto';
import { loadPulseConfig } from '../src/pulse.config';
import { DedupeRetention } from '../src/tracking/dedupe-retention';
import { usePulse } from './pulse-harness';

describe('messageId dedupe window', () => {
  const h = usePulse();
  const track = (messageId: string) => h.send([{ type: 'track', userId: 'u-window', event: 'Email Opened', messageId }]);

  test('a messageId older than the window is accepted again; a recent one is still dropped', async () => {
    const retention = h.pulse.app.get(DedupeRetention);
    const windowMs = h.pulse.runtime.dedupe.windowMs;
    expect(windowMs).toBe(24 * 3600 * 1000);

    const old = randomUUID();
    await track(old);
    // The job's clock says a window and a minute have passed since `old` was received.
    expect(await retention.prune(new Date(Date.now() + windowMs + 60_000))).toBe(1);

    const recent = randomUUID();
    await track(recent);
    // Half a window later: `recent` is still remembered.
    expect(await retention.prune(new Date(Date.now() + windowMs / 2))).toBe(0);

    await track(old);
    await track(recent);
    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    expect([stored.get(old), stored.get(recent)]).toEqual([2, 1]);
  });

  test('PULSE_DEDUPE_WINDOW_MS is validated at start-up, naming the variable', () => {
    const env = { DATABASE_URL: 'postgres://localhost/x', TESSERA_MASTER_KEY: randomBytes(32).toString('base64') };
    expect(loadPulseConfig({ ...env, PULSE_DEDUPE_WINDOW_MS: '3600000' }).PULSE_DEDUPE_WINDOW_MS).toBe(3_600_000);
    expect(() => loadPulseConfig({ ...env, PULSE_DEDUPE_WINDOW_MS: '24h' })).toThrow(/PULSE_DEDUPE_WINDOW_MS/);
  });
});
