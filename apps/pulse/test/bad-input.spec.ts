import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { basic, usePulse, type PulseHarness } from './pulse-harness';

/** Sends raw bytes (supertest would re-encode a Buffer as JSON). */
async function post(pulse: PulseHarness, path: string, body: string | Buffer, headers: Record<string, string>) {
  const response = await fetch(`${pulse.url}${path}`, { method: 'POST', headers, body });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    body: text ? JSON.parse(text) : undefined,
    retryAfter: response.headers.get('retry-after'),
  };
}

describe('tracking: bad input is refused with problem+json and nothing is stored', () => {
  const h = usePulse();
  let json: Record<string, string>;
  beforeAll(() => {
    json = { authorization: basic(h.tenant.writeKey), 'content-type': 'application/json' };
  });

  async function expectRefused(path: string, body: string | Buffer, status: number, pointerOrType: RegExp, headers = json) {
    const before = (await h.pulse.storedMessageIds(h.tenant.id)).size;
    const answer = await post(h.pulse, path, body, headers);
    expect(answer.status).toBe(status);
    expect(answer.contentType).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(answer.body)).toMatch(pointerOrType);
    expect((await h.pulse.storedMessageIds(h.tenant.id)).size).toBe(before);
  }

  test('malformed JSON, a non-object body, an empty body', async () => {
    await expectRefused('/v1/track', '{"userId": "u", "event": ', 400, /malformed-json/);
    await expectRefused('/v1/track', '[1,2]', 400, /malformed-json/);
    await expectRefused('/v1/track', '', 400, /malformed-json/);
  });

  test('missing ids, missing event, wrong types, bad timestamps', async () => {
    await expectRefused('/v1/track', JSON.stringify({ event: 'E' }), 400, /\/userId/);
    await expectRefused('/v1/track', JSON.stringify({ userId: 'u' }), 400, /\/event/);
    await expectRefused('/v1/track', JSON.stringify({ userId: 'u', event: '  ' }), 400, /\/event/);
    await expectRefused('/v1/track', JSON.stringify({ userId: { id: 1 }, event: 'E' }), 400, /\/userId/);
    await expectRefused('/v1/track', JSON.stringify({ userId: 'u', event: 'E', properties: [1] }), 400, /\/properties/);
    await expectRefused('/v1/track', JSON.stringify({ userId: 'u', event: 'E', timestamp: 'yesterday' }), 400, /\/timestamp/);
    await expectRefused('/v1/alias', JSON.stringify({ userId: 'u' }), 400, /\/previousId/);
    await expectRefused('/v1/group', JSON.stringify({ userId: 'u' }), 400, /\/groupId/);
    await expectRefused('/v1/track', JSON.stringify({ userId: 'u', event: 'E', messageId: 'x'.repeat(100) }), 400, /\/messageId/);
  });

  test('a batch with one bad message is refused whole, naming the message', async () => {
    const good = { type: 'track', userId: 'u', event: 'Fine', messageId: randomUUID() };
    await expectRefused('/v1/batch', JSON.stringify({ batch: [good, { type: 'track', userId: 'u' }] }), 400, /\/batch\/1\/event/);
    await expectRefused('/v1/batch', JSON.stringify({ batch: [good, { type: 'purchase', userId: 'u' }] }), 400, /\/batch\/1\/type/);
    await expectRefused('/v1/batch', JSON.stringify({ batch: 'nope' }), 400, /\/batch/);
    const tooMany = Array.from({ length: 2501 }, () => ({ type: 'track', userId: 'u', event: 'E' }));
    await expectRefused('/v1/batch', JSON.stringify({ batch: tooMany }), 400, /batch-too-long/);
  });

  test('unknown or missing write key', async () => {
    const body = JSON.stringify({ userId: 'u', event: 'E' });
    await expectRefused('/v1/track', body, 401, /invalid-write-key/, { 'content-type': 'application/json' });
    await expectRefused('/v1/track', body, 401, /invalid-write-key/, {
      'content-type': 'application/json',
      authorization: basic('twk_not-a-key'),
    });
    await expectRefused('/v1/t', JSON.stringify({ writeKey: 'twk_nope', userId: 'u', event: 'E' }), 401, /invalid-write-key/, {
      'content-type': 'text/plain',
    });
  });

  test('oversized messages and bodies, compressed or not', async () => {
    const big = 'x'.repeat(33 * 1024);
    await expectRefused('/v1/track', JSON.stringify({ userId: 'u', event: 'E', properties: { big } }), 413, /too-large/);
    await expectRefused(
      '/v1/batch',
      JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'E', properties: { big } }] }),
      413,
      /\/batch\/0/,
    );
    const huge = JSON.stringify({
      batch: Array.from({ length: 20 }, () => ({ type: 'track', userId: 'u', event: 'E', properties: { p: 'y'.repeat(30 * 1024) } })),
    });
    await expectRefused('/v1/batch', huge, 413, /body-too-large/);
    // A zip bomb: tiny on the wire, far beyond the limit once inflated.
    await expectRefused('/v1/batch', gzipSync(huge), 413, /body-too-large/, { ...json, 'content-encoding': 'gzip' });
  });

  test('bad gzip and unknown content encodings', async () => {
    await expectRefused('/v1/track', Buffer.from('definitely not gzip'), 400, /bad-content-encoding/, {
      ...json,
      'content-encoding': 'gzip',
    });
    await expectRefused('/v1/track', JSON.stringify({ userId: 'u', event: 'E' }), 415, /unsupported-content-encoding/, {
      ...json,
      'content-encoding': 'br',
    });
  });

  test('the write key cannot read profiles', async () => {
    const response = await h.pulse.http().get(`/t/${h.tenant.slug}/profiles/userId/u`).set('authorization', `Bearer ${h.tenant.writeKey}`);
    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
  });

  test('the server keeps working afterwards', async () => {
    const messageId = randomUUID();
    const answer = await post(h.pulse, '/v1/track', JSON.stringify({ userId: 'u', event: 'Still Fine', messageId }), json);
    expect(answer.status).toBe(200);
    expect((await h.pulse.storedMessageIds(h.tenant.id)).get(messageId)).toBe(1);
  });
});
