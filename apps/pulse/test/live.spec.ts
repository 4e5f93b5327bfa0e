import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';
import { basic, readEvents, usePulse } from './pulse-harness';

const CHROMIUM = '/usr/bin/chromium';

describe('live view', () => {
  const h = usePulse();

  const track = (event: string, userId: string) =>
    h.pulse
      .http()
      .post('/v1/track')
      .set('authorization', basic(h.tenant.writeKey))
      .send({ userId, event, messageId: randomUUID() })
      .expect(200);

  test('GET /t/{tenant}/live streams stored events as Server-Sent Events, filtered by event name and profile', async () => {
    const controller = new AbortController();
    const response = await fetch(`${h.pulse.url}/t/${h.tenant.slug}/live?event=Email%20Opened&userId=watched`, {
      headers: { authorization: `Bearer ${h.tenant.apiKey}` },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reading = readEvents(response, 2);
    await track('Email Clicked', 'watched');
    await track('Email Opened', 'someone-else');
    await track('Email Opened', 'watched');
    await track('Email Opened', 'watched');
    const events = await reading;
    controller.abort();
    expect(events.map((e) => [e.name, e.userId])).toEqual([
      ['Email Opened', 'watched'],
      ['Email Opened', 'watched'],
    ]);
  });

  test('a view opened after every earlier one closed streams again', async () => {
    for (const round of [1, 2]) {
      const controller = new AbortController();
      const response = await fetch(`${h.pulse.url}/t/${h.tenant.slug}/live?userId=returning-${round}`, {
        headers: { authorization: `Bearer ${h.tenant.apiKey}` },
        signal: controller.signal,
      });
      const reading = readEvents(response, 1);
      await track(`Round ${round}`, `returning-${round}`);
      const [event] = await reading;
      controller.abort();
      expect(event).toMatchObject({ name: `Round ${round}`, userId: `returning-${round}` });
      // The feed stops following the log once nobody watches; the next view starts it again.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  test('the live stream needs the api key, not the write key', async () => {
    const answer = await fetch(`${h.pulse.url}/t/${h.tenant.slug}/live?key=${h.tenant.writeKey}`);
    expect(answer.status).toBe(401);
    expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  test('the live page shows events as they arrive (headless Chromium)', async () => {
    if (!existsSync(CHROMIUM)) {
      process.stdout.write(`live page browser test DID NOT RUN: ${CHROMIUM} is absent\n`);
      return;
    }
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${h.pulse.url}/t/${h.tenant.slug}/live.html#key=${encodeURIComponent(h.tenant.apiKey)}`);
      await page.waitForSelector('#status:text-is("live")');
      await track('Browser Seen', 'viewer-1');
      await page.waitForSelector('tbody tr');
      const cells = await page.$$eval('tbody tr td', (tds) => tds.map((td) => td.textContent));
      expect(cells).toEqual(expect.arrayContaining(['track', 'Browser Seen', 'viewer-1']));
      expect(await page.textContent('#count')).toBe('1');
    } finally {
      await browser.close();
    }
  });
});
