import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  HOSTILE_PEOPLE,
  hostileTrackingCall,
  trackingRequest,
  type HostileTrackingCall,
  type SentMessage,
} from '../../../test/support/hostile-tracking';
import { basic, usePulse, type Tenant } from './pulse-harness';

/**
 * Hostile generated input against the tracking API, as a tenant holding only its public write key
 * can send it: control characters everywhere, extreme and non-finite numbers, far and near dates,
 * deep nesting, huge strings, wrong types, valid-but-absurd values. Whatever it sends, pulse
 * answers 200 or a 4xx problem+json; what it answered 200 is stored and shows on the profile, what
 * it refused left nothing behind; and meanwhile another tenant's calls all succeed and its
 * profile keeps up.
 */
describe('hostile generated input (fast-check) against /v1/track, /v1/batch and the short paths', () => {
  const h = usePulse();

  test('every answer is 200 or a 4xx problem+json; 200 is stored and on the profile, 4xx stores nothing; another tenant is unaffected', async () => {
    const steady = await h.pulse.createTenant();
    const accepted: SentMessage[] = [];
    const refused: SentMessage[] = [];
    let serial = 0;

    const send = async (generated: HostileTrackingCall) => {
      const { path, body, sent } = trackingRequest(generated, h.tenant.writeKey, () => `hostile-${serial++}-${randomUUID()}`);
      const short = generated.short;
      const response = await fetch(`${h.pulse.url}${path}`, {
        method: 'POST',
        headers: short ? { 'content-type': 'text/plain' } : { authorization: basic(h.tenant.writeKey), 'content-type': 'application/json' },
        body,
      });
      const answer = await response.text();
      expect(response.status < 500).toBe(true);
      if (response.status === 200) {
        expect(JSON.parse(answer)).toEqual({ success: true });
        accepted.push(...sent);
      } else {
        expect([400, 413, 422]).toContain(response.status);
        expect(response.headers.get('content-type')).toMatch(/application\/problem\+json/);
        refused.push(...sent);
      }
    };

    // The other tenant sends valid calls, one after the other, for as long as the hostile one does.
    let hostileDone = false;
    const steadyAnswers: number[] = [];
    const steadyCalls = (async () => {
      while (!hostileDone) {
        const response = await h.pulse
          .http()
          .post('/v1/track')
          .set('authorization', basic(steady.writeKey))
          .send({ userId: 'steady-person', event: 'Steady', messageId: randomUUID(), properties: { n: steadyAnswers.length } });
        steadyAnswers.push(response.status);
      }
    })();
    try {
      await fc.assert(fc.asyncProperty(hostileTrackingCall, send), { numRuns: Number(process.env.HOSTILE_RUNS ?? 300) });
    } finally {
      hostileDone = true;
      await steadyCalls;
    }

    expect(steadyAnswers.length).toBeGreaterThan(0);
    expect(steadyAnswers.filter((status) => status !== 200)).toEqual([]);
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);

    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    const acceptedIds = new Set(accepted.flatMap((sent) => (sent.messageId === undefined ? [] : [sent.messageId])));
    expect([...acceptedIds].filter((messageId) => !stored.has(messageId))).toEqual([]);
    const freshRefused = refused.filter((sent) => sent.fresh).map((sent) => sent.messageId!);
    expect(freshRefused.filter((messageId) => stored.has(messageId))).toEqual([]);

    // The profiles projection took everything (it would time out here if one event had stalled it).
    await h.pulse.profilesCaughtUp();
    for (const person of HOSTILE_PEOPLE) {
      const expected = accepted.filter((sent) => sent.fresh && sent.userId === person).map((sent) => sent.messageId!);
      if (expected.length === 0) continue;
      const shown = await profileMessageIds(h.tenant, person);
      expect(expected.filter((messageId) => !shown.has(messageId))).toEqual([]);
    }
    const steadyProfile = await h.pulse
      .http()
      .get(`/t/${steady.slug}/profiles/userId/steady-person`)
      .set('authorization', `Bearer ${steady.apiKey}`);
    expect(steadyProfile.status).toBe(200);
    expect(steadyProfile.body.counters.events.Steady.count).toBe(steadyAnswers.length);
    expect((await h.pulse.http().get('/health/ready')).status).toBe(200);
  });

  /** Every messageId on the profile of `userId`, through the profile API, all pages. */
  async function profileMessageIds(tenant: Tenant, userId: string): Promise<Set<string>> {
    const shown = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { events: { messageId: string }[]; nextCursor: string | null } } = await h.pulse
        .http()
        .get(`/t/${tenant.slug}/profiles/userId/${encodeURIComponent(userId)}/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`)
        .set('authorization', `Bearer ${tenant.apiKey}`);
      expect(page.status).toBe(200);
      for (const event of page.body.events) shown.add(event.messageId);
      cursor = page.body.nextCursor;
    } while (cursor);
    return shown;
  }
});
