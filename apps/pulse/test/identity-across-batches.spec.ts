import { randomUUID } from 'node:crypto';
import { eventually, usePulse } from './pulse-harness';

/**
 * The profiles projection remembers the identifiers of its recent batches instead of reading them
 * again. Each step here is its own projection batch (sent, then waited for), so every decision
 * after the first rests on what earlier batches left: a userId set later, rows a merge moved, rows
 * an erasure deleted.
 */
describe('identity resolution across projection batches', () => {
  const h = usePulse();
  const step = async (batch: object[]) => {
    await h.send(batch.map((message) => ({ messageId: randomUUID(), ...message })));
    await h.pulse.profilesCaughtUp();
  };

  test('a userId a profile gained in an earlier batch keeps a second userId off it', async () => {
    const device = `device-${randomUUID()}`;
    await step([{ type: 'track', anonymousId: device, event: 'Browsed' }]);
    await step([{ type: 'identify', anonymousId: device, userId: 'ada' }]);
    await step([{ type: 'track', anonymousId: device, userId: 'grace', event: 'Borrowed The Laptop' }]);

    const ada = await h.profile('userId', 'ada');
    const grace = await h.profile('userId', 'grace');
    expect(ada.body.userId).toBe('ada');
    expect(grace.status).toBe(200);
    expect(grace.body.profileId).not.toBe(ada.body.profileId);
    expect((await h.profile('anonymousId', device)).body.profileId).toBe(ada.body.profileId);
  });

  test('an identifier a merge moved in an earlier batch leads to the surviving profile', async () => {
    const device = `device-${randomUUID()}`;
    const email = `moved.${randomUUID()}@example.com`;
    await step([{ type: 'identify', anonymousId: device, traits: { email } }]);
    await step([{ type: 'track', userId: 'linus', event: 'Signed In' }]);
    // The device's profile merges into linus's; its e-mail moves along without being in this batch.
    await step([{ type: 'identify', anonymousId: device, userId: 'linus' }]);
    const tablet = `tablet-${randomUUID()}`;
    await step([{ type: 'identify', anonymousId: tablet, traits: { email } }]);

    const linus = await h.profile('userId', 'linus');
    expect((await h.profile('email', email)).body.profileId).toBe(linus.body.profileId);
    expect((await h.profile('anonymousId', tablet)).body.profileId).toBe(linus.body.profileId);
    expect(linus.body.counters.total).toBe(4);
  });

  test('an e-mail whose profile an erasure deleted starts a new profile', async () => {
    const email = `erased.${randomUUID()}@example.com`;
    const { id: userId } = await h.pulse.register.signUp(h.tenant.slug, email);
    await step([{ type: 'identify', userId, traits: { email } }]);
    await h.pulse.register
      .http()
      .delete(`/t/${h.tenant.slug}/users/${userId}`)
      .set('authorization', `Bearer ${h.tenant.apiKey}`)
      .expect(204);
    await eventually(async () => (await h.profile('userId', userId)).status === 404);

    const stranger = `stranger-${randomUUID()}`;
    await step([{ type: 'identify', anonymousId: stranger, traits: { email } }]);
    const profile = await h.profile('anonymousId', stranger);
    expect(profile.status).toBe(200);
    expect(profile.body.counters.total).toBe(1);
    expect((await h.profile('email', email)).body.profileId).toBe(profile.body.profileId);
  });
});
