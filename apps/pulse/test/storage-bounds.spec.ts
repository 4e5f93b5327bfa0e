import { randomUUID } from 'node:crypto';
import { basic, usePulse, type Tenant } from './pulse-harness';

/**
 * What storage cannot hold is refused at the door, with a 400 naming the field, before anything of
 * the request is stored: let through, one tenant's value failed the group commit it shared with
 * every other tenant, or the profiles projection every tenant waits on.
 */
describe('tracking takes only what storage can hold', () => {
  const h = usePulse();
  let other: Tenant;
  beforeAll(async () => {
    other = await h.pulse.createTenant();
  });

  const post = (tenant: Tenant, path: string, body: object) =>
    h.pulse
      .http()
      .post(path)
      .set('authorization', basic(tenant.writeKey))
      .set('content-type', 'application/json')
      .send(JSON.stringify(body));
  const track = (extra: object = {}) => ({ type: 'track', userId: `u-${randomUUID()}`, event: 'Fine', messageId: randomUUID(), ...extra });

  /** Refused with 400 problem+json naming `pointer`, and nothing of the request stored. */
  async function expectRefused(path: string, body: object, pointer: string) {
    const before = (await h.pulse.storedMessageIds(h.tenant.id)).size;
    const answer = await post(h.tenant, path, body);
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(answer.body.errors.map((error: { pointer: string }) => error.pointer)).toContain(pointer);
    expect((await h.pulse.storedMessageIds(h.tenant.id)).size).toBe(before);
  }

  test('a messageId holding a NUL is refused naming it, while another tenant’s calls at the same moment are all stored', async () => {
    const poisoned = { batch: [track(), track(), track(), track({ messageId: `nul\u0000${randomUUID()}` }), track()] };
    const theirs = Array.from({ length: 8 }, () => ({ batch: [track(), track()] }));
    const [refused, ...answers] = await Promise.all([
      post(h.tenant, '/v1/batch', poisoned),
      ...theirs.map((body) => post(other, '/v1/batch', body)),
    ]);
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ pointer: '/batch/3/messageId', message: 'must not contain control characters' }]);
    expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
    const stored = await h.pulse.storedMessageIds(other.id);
    for (const message of theirs.flatMap((body) => body.batch)) expect(stored.get(message.messageId)).toBe(1);
    const ours = await h.pulse.storedMessageIds(h.tenant.id);
    for (const message of poisoned.batch) expect(ours.has(message.messageId)).toBe(false);
  });

  test('a timestamp of 9999-12-31T23:00:00-05:00 is refused, and every tenant’s profiles keep updating', async () => {
    await expectRefused('/v1/track', { userId: 'far-future', event: 'Late', timestamp: '9999-12-31T23:00:00-05:00' }, '/timestamp');
    const userId = `current-${randomUUID()}`;
    expect((await post(other, '/v1/identify', { userId, traits: { plan: 'gold' } })).status).toBe(200);
    await h.pulse.profilesCaughtUp();
    const profile = await h.pulse.http().get(`/t/${other.slug}/profiles/userId/${userId}`).set('authorization', `Bearer ${other.apiKey}`);
    expect(profile.status).toBe(200);
    expect(profile.body.traits).toEqual({ plan: 'gold' });
  });

  test.each([
    ['a userId with a line break', { userId: 'a\nb', event: 'E' }, '/userId'],
    ['an anonymousId with DEL', { anonymousId: 'a\u007f', event: 'E' }, '/anonymousId'],
    ['an anonymousId with a lone surrogate', { anonymousId: 'a\ud800', event: 'E' }, '/anonymousId'],
    ['a userId past the identifier length', { userId: 'u'.repeat(513), event: 'E' }, '/userId'],
    ['a numeric userId beyond a safe integer', { userId: 2 ** 53, event: 'E' }, '/userId'],
    ['a fractional numeric userId', { userId: 1.5, event: 'E' }, '/userId'],
    ['an event name with a carriage return', { userId: 'u', event: 'Opened\r\nevent: forged' }, '/event'],
    ['a messageId of 100 characters', { userId: 'u', event: 'E', messageId: 'm'.repeat(100) }, '/messageId'],
    ['a property key with a NUL', { userId: 'u', event: 'E', properties: { 'k\u0000': 1 } }, '/properties/k\u0000'],
    ['a trait with a lone surrogate', { userId: 'u', event: 'E', context: { traits: { name: '\udc00' } } }, '/context/traits/name'],
    ['integrations nested past 32 levels', { userId: 'u', event: 'E', integrations: nested(40) }, '/integrations' + '/a'.repeat(32)],
    ['a timestamp before 1970', { userId: 'u', event: 'E', timestamp: '1969-12-31T23:59:59Z' }, '/timestamp'],
    ['a timestamp that is not ISO-8601', { userId: 'u', event: 'E', timestamp: 'Tue, 01 Jan 2030 00:00:00 GMT' }, '/timestamp'],
    ['a sentAt two days ahead', { userId: 'u', event: 'E', sentAt: new Date(Date.now() + 2 * 86_400_000).toISOString() }, '/sentAt'],
    [
      'a timestamp that sentAt’s skew correction moves past tomorrow',
      { userId: 'u', event: 'E', timestamp: new Date().toISOString(), sentAt: '1971-01-01T00:00:00Z' },
      '/timestamp',
    ],
    ['a write key in the body with a NUL', { writeKey: 'twk_\u0000', userId: 'u', event: 'E' }, '/writeKey'],
    ['a write key in the body that is not a string', { writeKey: 42, userId: 'u', event: 'E' }, '/writeKey'],
  ])('refused: %s', async (_case, body, pointer) => {
    await expectRefused('/v1/track', body, pointer);
  });

  test('a number JSON.parse turns into Infinity (1e400) is refused', async () => {
    const before = (await h.pulse.storedMessageIds(h.tenant.id)).size;
    const answer = await h.pulse
      .http()
      .post('/v1/track')
      .set('authorization', basic(h.tenant.writeKey))
      .set('content-type', 'application/json')
      .send('{"userId":"u","event":"E","properties":{"total":1e400}}');
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([{ pointer: '/properties/total', message: 'must be a finite number' }]);
    expect((await h.pulse.storedMessageIds(h.tenant.id)).size).toBe(before);
  });

  test('a batch whose own sentAt cannot be read is refused naming /sentAt (it used to be ignored)', async () => {
    await expectRefused('/v1/batch', { sentAt: 'yesterday-ish', batch: [track()] }, '/sentAt');
    await expectRefused('/v1/batch', { sentAt: '+275760-09-13T00:00:00Z', batch: [track()] }, '/sentAt');
  });

  test('a message nested deeper than JSON.stringify can recurse is a 400, not a 500', async () => {
    const depth = 100_000;
    const body = `{"batch":[{"type":"track","userId":"u","event":"E","extra":${'['.repeat(depth)}${']'.repeat(depth)}}]}`;
    const answer = await h.pulse
      .http()
      .post('/v1/batch')
      .set('authorization', basic(h.tenant.writeKey))
      .set('content-type', 'application/json')
      .send(body);
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([{ pointer: '/batch/0', message: 'nests too deep' }]);
  });

  test('a profile looked up by an identity holding a NUL is a 400, not a 500', async () => {
    for (const path of ['userId/a%00b', 'anonymousId/%00/events']) {
      const answer = await h.pulse.http().get(`/t/${h.tenant.slug}/profiles/${path}`).set('authorization', `Bearer ${h.tenant.apiKey}`);
      expect(answer.status).toBe(400);
      expect(answer.headers['content-type']).toMatch(/application\/problem\+json/);
    }
  });

  test('valid values at the bounds are stored as sent (Segment compatible)', async () => {
    const messageId = 'm'.repeat(99);
    const timestamp = new Date(Date.now() - 60_000).toISOString();
    const answer = await post(h.tenant, '/v1/track', {
      userId: 9007199254740991,
      event: 'Émoji 🎉 bought',
      messageId,
      timestamp,
      properties: { note: 'line one\nline two\ttabbed', nested: nested(31), big: 1e300 },
    });
    expect(answer.status).toBe(200);
    const { rows } = await h.pulse.runtime.infrastructure.pool.query(`SELECT data FROM es_events WHERE data->>'messageId' = $1`, [
      messageId,
    ]);
    expect(rows[0].data).toMatchObject({ userId: '9007199254740991', event: 'Émoji 🎉 bought', originalTimestamp: timestamp });
  });
});

/** `{a: {a: … 1}}`, `depth` objects deep. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 1 };
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}
