import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { eventually, usePulse } from './pulse-harness';

describe('real tracking SDKs pointed at pulse, then the unified profile read back', () => {
  const h = usePulse();

  test('Segment analytics-node and RudderStack, configured with only the write key and pulse URL, build one profile', async () => {
    const segment = new Analytics({ writeKey: h.tenant.writeKey, host: h.pulse.url, flushAt: 3, maxRetries: 1 });
    const failures: unknown[] = [];
    segment.on('error', (error) => failures.push(error));
    // Traits merge by event time, whichever batch the SDK happens to deliver first.
    segment.identify({
      anonymousId: 'device-1',
      traits: { email: 'Grace@Example.com', plan: 'free' },
      timestamp: new Date(Date.now() - 60_000),
    });
    segment.track({ anonymousId: 'device-1', event: 'Email Opened', properties: { campaign: 'spring' } });
    segment.page({ anonymousId: 'device-1', name: 'Pricing' });
    segment.identify({ userId: 'user-42', anonymousId: 'device-1', traits: { plan: 'pro' } });
    segment.group({ userId: 'user-42', groupId: 'acme' });
    segment.alias({ userId: 'user-42', previousId: 'legacy-7' });
    await segment.closeAndFlush();
    expect(failures).toEqual([]);

    const rudder = new RudderAnalytics(h.tenant.writeKey, { dataPlaneUrl: h.pulse.url, flushAt: 2, logLevel: 'error' });
    rudder.track({ userId: 'user-42', event: 'Email Clicked', properties: { link: 'cta' } });
    rudder.track({ anonymousId: 'legacy-7', event: 'Email Clicked', properties: { link: 'footer' } });
    rudder.screen({ userId: 'user-42', name: 'Home' });
    await new Promise<void>((resolve, reject) => rudder.flush((error?: unknown) => (error ? reject(error as Error) : resolve())));

    // RudderStack's flush callback covers the last batch only; earlier automatic flushes may still be in flight.
    await eventually(async () => (await h.pulse.storedMessageIds(h.tenant.id)).size === 9);
    await h.pulse.profilesCaughtUp();
    const byUser = await h.profile('userId', 'user-42');
    expect(byUser.status).toBe(200);
    expect(byUser.body).toMatchObject({
      userId: 'user-42',
      identities: { userId: ['user-42'], anonymousId: ['device-1', 'legacy-7'], email: ['Grace@Example.com'] },
      traits: { email: 'Grace@Example.com', plan: 'pro' },
      counters: {
        total: 9,
        events: { 'Email Opened': { count: 1 }, 'Email Clicked': { count: 2 }, Pricing: { count: 1 }, identify: { count: 2 } },
      },
    });
    for (const [kind, value] of [
      ['anonymousId', 'device-1'],
      ['anonymousId', 'legacy-7'],
      ['email', 'grace@example.com'],
    ]) {
      expect((await h.profile(kind!, value!)).body.profileId).toBe(byUser.body.profileId);
    }

    const first = await h.pulse
      .http()
      .get(`/t/${h.tenant.slug}/profiles/userId/user-42/events?limit=4`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`);
    expect(first.status).toBe(200);
    expect(first.body.events).toHaveLength(4);
    expect(first.body.events[0]).toMatchObject({ type: 'screen', name: 'Home' });
    const rest = await h.pulse
      .http()
      .get(`/t/${h.tenant.slug}/profiles/userId/user-42/events?limit=50&cursor=${first.body.nextCursor}`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`);
    expect(rest.body.events).toHaveLength(5);
    expect(rest.body.nextCursor).toBeNull();
    const opened = [...first.body.events, ...rest.body.events].find((event: { name: string }) => event.name === 'Email Opened');
    expect(opened.properties).toEqual({ campaign: 'spring' });
  });

  test('reading a profile needs the api key of its tenant', async () => {
    expect((await h.pulse.http().get(`/t/${h.tenant.slug}/profiles/userId/user-42`)).status).toBe(401);
    expect((await h.profile('userId', 'user-42', 'tsk_wrong')).status).toBe(401);
    expect((await h.profile('userId', 'nobody')).status).toBe(404);
    expect((await h.profile('deviceId', 'x')).status).toBe(404);
  });
});
