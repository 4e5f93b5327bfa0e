import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, chromiumAvailable } from '../../../test/support/chromium';
import { hostileText } from '../../../test/support/hostile-values';
import { usePulse } from './pulse-harness';

const GIF_SIGNATURE = 'GIF89a';
const base64 = (message: object) => Buffer.from(JSON.stringify(message)).toString('base64');
const base64url = (message: object) => Buffer.from(JSON.stringify(message)).toString('base64url');

/**
 * Segment's Pixel API: a mail client or a page without JavaScript loads a 1×1 GIF whose URL holds
 * the message; pulse stores it with the checks and the de-duplication a POST gets, and answers the
 * GIF even when it refuses the message (an image has no other way to fail quietly).
 */
describe('the pixel API', () => {
  const h = usePulse();
  const pixel = (query: string, accept?: string) => {
    const call = h.pulse.http().get(`/v1/pixel/${query}`).buffer(true);
    return accept ? call.set('accept', accept) : call;
  };
  const stored = async () => (await h.pulse.storedMessageIds(h.tenant.id)).size;
  const eventsOf = async (userId: string) => {
    await h.pulse.profilesCaughtUp();
    return (await h.profileEvents('userId', userId).expect(200)).body.events as { name: string; properties: Record<string, unknown> }[];
  };
  const expectGif = (response: { status: number; headers: Record<string, string>; body: Buffer }) => {
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('image/gif');
    expect(response.headers['cache-control']).toMatch(/no-store/);
    expect(Buffer.from(response.body).subarray(0, 6).toString('latin1')).toBe(GIF_SIGNATURE);
  };

  test('a base64 message (standard or URL-safe, with "+" read back as a space) is stored and answered with the GIF', async () => {
    const userId = `reader-${randomUUID()}`;
    const message = { writeKey: h.tenant.writeKey, userId, event: 'Email Opened', properties: { subject: 'The Electric Daily ~~~???' } };
    const standard = base64(message);
    expect(standard).toMatch(/[+/]/);
    for (const data of [standard, base64url({ ...message, event: 'Email Opened Again' }), standard.replaceAll('+', ' ')]) {
      const response = await pixel(`track?data=${data.replaceAll('/', '%2F')}`);
      expectGif(response);
      expect(response.headers['tessera-refused']).toBeUndefined();
    }
    expect((await eventsOf(userId)).map((event) => event.name).sort()).toEqual(['Email Opened', 'Email Opened', 'Email Opened Again']);
  });

  test('the unencoded form nests dotted names; a repeated open with one messageId is stored once', async () => {
    const userId = `reader-${randomUUID()}`;
    const messageId = randomUUID();
    const query = new URLSearchParams({
      writeKey: h.tenant.writeKey,
      userId,
      event: 'Email Opened',
      messageId,
      'properties.subject': 'Spring sale',
      'properties.campaign.id': 'c-42',
    });
    for (let open = 0; open < 3; open++) expectGif(await pixel(`track?${query}`));
    expect((await h.pulse.storedMessageIds(h.tenant.id)).get(messageId)).toBe(1);
    expect(await eventsOf(userId)).toEqual([
      expect.objectContaining({ name: 'Email Opened', properties: { subject: 'Spring sale', campaign: { id: 'c-42' } } }),
    ]);
  });

  test.each([
    ['data that is not base64', 'track?data=%%%', 'malformed-json', undefined],
    ['base64 of no JSON', `track?data=${Buffer.from('{"event":').toString('base64')}`, 'malformed-json', undefined],
    ['an event name with NUL', `track?data=${base64url({ userId: 'u', event: 'a\u0000b' })}`, 'validation-failed', '/event'],
    ['a prototype key', 'track?userId=u&event=E&__proto__.polluted=1', 'validation-failed', '/__proto__/polluted'],
    ['a field given twice', 'track?userId=a&userId=b&event=E', 'validation-failed', '/userId'],
    ['a value and an object at once', 'track?userId=u&event=E&properties=1&properties.a=2', 'validation-failed', '/properties/a'],
  ])(
    '%s: an image gets the GIF and the refusal in a header; a JSON caller gets the problem; nothing is stored',
    async (_, query, type, pointer) => {
      const before = await stored();
      const withKey = `${query}&writeKey=${h.tenant.writeKey}`;
      const image = await pixel(withKey, 'image/avif,image/webp,*/*');
      expectGif(image);
      expect(image.headers['tessera-refused']).toBe(type);
      const data = await pixel(withKey, 'application/json');
      expect(data.status).toBe(400);
      expect(data.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = data.body as { type: string; errors: { pointer: string }[] };
      expect(problem.type).toBe(`https://tessera.dev/problems/${type}`);
      if (pointer) expect(problem.errors.map((error) => error.pointer)).toContain(pointer);
      expect(await stored()).toBe(before);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  test('with data, a writeKey may also come as its own query parameter (as RudderStack sends it)', async () => {
    const userId = `reader-${randomUUID()}`;
    expectGif(await pixel(`page?writeKey=${h.tenant.writeKey}&data=${base64url({ userId, name: 'Pricing' })}`));
    expect((await eventsOf(userId)).map((event) => event.name)).toEqual(['Pricing']);
  });

  test('an unknown write key and an unknown pixel type', async () => {
    const image = await pixel(`track?data=${base64url({ writeKey: 'wk_nobody', userId: 'u', event: 'E' })}`);
    expectGif(image);
    expect(image.headers['tessera-refused']).toBe('invalid-write-key');
    expect((await pixel(`order?writeKey=${h.tenant.writeKey}&userId=u`, 'application/json')).status).toBe(404);
  });

  test('whatever the query holds, the answer is the GIF (or, asked for JSON, a 4xx problem), never a 5xx, and a refusal stores nothing', async () => {
    const name = fc.oneof(
      fc.constantFrom('userId', 'event', 'properties.a', 'data', 'timestamp', 'messageId', 'context.ip'),
      hostileText(),
    );
    // An accepted message whose messageId an earlier run already stored is a duplicate: acknowledged, not stored again.
    const storedIds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, hostileText()), { maxLength: 6 }), fc.boolean(), async (pairs, asJson) => {
        const fields: [string, string][] = [['writeKey', h.tenant.writeKey], ['event', 'Opened'], ['userId', 'hostile'], ...pairs];
        const sent = fields.map(([k, v]): [string, string] => [k.toWellFormed(), v.toWellFormed()]);
        const query = new URLSearchParams(sent);
        const messageIds = sent.filter(([k]) => k === 'messageId').map(([, v]) => v);
        const duplicate = messageIds.length === 1 && storedIds.has(messageIds[0]!);
        const before = await stored();
        const response = await pixel(`track?${query}`, asJson ? 'application/json' : undefined);
        expect(response.status).toBeLessThan(500);
        if (!asJson) expectGif(response);
        const refused = asJson ? response.status >= 400 : response.headers['tessera-refused'] !== undefined;
        if (refused || duplicate) expect(await stored()).toBe(before);
        else {
          expect(await stored()).toBe(before + 1);
          if (messageIds.length === 1) storedIds.add(messageIds[0]!);
        }
      }),
      // fast-check found this one: "\ud800" is sent as "\ufffd", twice over once made well-formed.
      {
        numRuns: 80,
        examples: [
          [[['messageId', '\ud800']], false],
          [[['messageId', '\udc00']], false],
        ],
      },
    );
  });

  test('an <img> in a page in headless Chromium records the open', async () => {
    expect(chromiumAvailable).toBe(true);
    const userId = `reader-${randomUUID()}`;
    const src = `${h.pulse.url}/v1/pixel/track?data=${base64url({ writeKey: h.tenant.writeKey, userId, event: 'Email Opened' })}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.setContent(`<p>Hello</p><img alt="" width="1" height="1" src="${src}">`);
      await page.waitForFunction('document.images[0].complete && document.images[0].naturalWidth === 1');
    } finally {
      await browser.close();
    }
    expect((await eventsOf(userId)).map((event) => event.name)).toEqual(['Email Opened']);
  });
});
