import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { basic, usePulse } from './pulse-harness';

describe('tracking API (Segment HTTP API)', () => {
  const h = usePulse({ env: { PULSE_PUBLIC_URL: 'https://pulse.example.com/edge/' } });

  test('track with the write key as Basic user name answers like Segment, and the event is stored', async () => {
    const messageId = randomUUID();
    const response = await h.pulse
      .http()
      .post('/v1/track')
      .set('authorization', basic(h.tenant.writeKey))
      .send({ userId: 'u-1', event: 'Email Opened', properties: { campaign: 'spring' }, messageId });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ success: true });
    expect((await h.pulse.storedMessageIds(h.tenant.id)).get(messageId)).toBe(1);
  });

  test('a retried batch is stored once: messageIds dedup within the source', async () => {
    const batch = Array.from({ length: 5 }, (_, i) => ({
      type: 'track',
      event: 'Clicked',
      anonymousId: 'a-1',
      messageId: `retry-${i}-${randomUUID()}`,
    }));
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await h.pulse.http().post('/v1/batch').set('authorization', basic(h.tenant.writeKey)).send({ batch });
      expect(response.status).toBe(200);
    }
    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    for (const message of batch) expect(stored.get(message.messageId)).toBe(1);
  });

  test('concurrent copies of one batch are stored once', async () => {
    const batch = Array.from({ length: 20 }, (_, i) => ({
      type: 'page',
      name: 'Home',
      anonymousId: 'a-2',
      messageId: `race-${i}-${randomUUID()}`,
    }));
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => h.pulse.http().post('/v1/batch').set('authorization', basic(h.tenant.writeKey)).send({ batch })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const stored = await h.pulse.storedMessageIds(h.tenant.id);
    for (const message of batch) expect(stored.get(message.messageId)).toBe(1);
  });

  test('gzip bodies are accepted', async () => {
    const messageId = randomUUID();
    const body = gzipSync(JSON.stringify({ batch: [{ type: 'identify', userId: 'u-gz', traits: { plan: 'pro' }, messageId }] }));
    // fetch, because supertest re-encodes a Buffer body as JSON.
    const response = await fetch(`${h.pulse.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(h.tenant.writeKey), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body,
    });
    expect(await response.json()).toEqual({ success: true });
    expect((await h.pulse.storedMessageIds(h.tenant.id)).get(messageId)).toBe(1);
  });

  test('analytics.js short paths take text/plain with the write key in the body, with CORS', async () => {
    const messageId = randomUUID();
    const response = await h.pulse
      .http()
      .post('/v1/t')
      .set('origin', 'https://shop.example')
      .set('content-type', 'text/plain')
      .send(JSON.stringify({ writeKey: h.tenant.writeKey, event: 'Viewed', anonymousId: 'browser-1', messageId }));
    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    // No cookies are used, so a browser is never told to send them.
    expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    expect((await h.pulse.storedMessageIds(h.tenant.id)).get(messageId)).toBe(1);
    const preflight = await h.pulse
      .http()
      .options('/v1/b')
      .set('origin', 'https://shop.example')
      .set('access-control-request-method', 'POST');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-methods']).toMatch(/POST/);
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();
  });

  test('the settings analytics.js loads first are served for a known write key only', async () => {
    const settings = await h.pulse.http().get(`/v1/projects/${h.tenant.writeKey}/settings`);
    expect(settings.status).toBe(200);
    expect(settings.body.integrations['Segment.io'].apiKey).toBe(h.tenant.writeKey);
    expect((await h.pulse.http().get('/v1/projects/twk_unknown/settings')).status).toBe(404);
  });

  test('the settings send analytics.js to PULSE_PUBLIC_URL, whatever Host the request names', async () => {
    const settings = await h.pulse.http().get(`/v1/projects/${h.tenant.writeKey}/settings`).set('host', 'attacker.example');
    expect(settings.body.integrations['Segment.io']).toMatchObject({ apiHost: 'pulse.example.com/edge/v1', protocol: 'https' });
  });

  test('sentAt corrects the client clock; receivedAt is stamped', async () => {
    const messageId = randomUUID();
    const skewMs = 3_600_000;
    const clientNow = new Date(Date.now() + skewMs);
    const happened = new Date(clientNow.getTime() - 60_000);
    await h.pulse
      .http()
      .post('/v1/track')
      .set('authorization', basic(h.tenant.writeKey))
      .send({ userId: 'u-skew', event: 'Skewed', messageId, timestamp: happened.toISOString(), sentAt: clientNow.toISOString() })
      .expect(200);
    const { rows } = await h.pulse.runtime.infrastructure.pool.query(`SELECT data FROM es_events WHERE data->>'messageId' = $1`, [
      messageId,
    ]);
    const data = rows[0].data;
    const corrected = new Date(data.timestamp).getTime();
    const received = new Date(data.receivedAt).getTime();
    expect(received - corrected).toBeGreaterThanOrEqual(59_000);
    expect(received - corrected).toBeLessThan(70_000);
    expect(data.originalTimestamp).toBe(happened.toISOString());
  });

  test('a batch’s sentAt corrects the messages without one of their own; a message’s own sentAt wins', async () => {
    const skewMs = 3_600_000;
    const clientNow = new Date(Date.now() + skewMs);
    const happened = new Date(clientNow.getTime() - 60_000);
    const [inherits, own, untimed] = [randomUUID(), randomUUID(), randomUUID()];
    const ownSentAt = new Date(happened.getTime() + 5_000).toISOString();
    await h.pulse
      .http()
      .post('/v1/batch')
      .set('authorization', basic(h.tenant.writeKey))
      .send({
        sentAt: clientNow.toISOString(),
        batch: [
          { type: 'track', userId: 'u-batch-skew', event: 'Inherits', messageId: inherits, timestamp: happened.toISOString() },
          { type: 'track', userId: 'u-batch-skew', event: 'Own', messageId: own, timestamp: happened.toISOString(), sentAt: ownSentAt },
          { type: 'track', userId: 'u-batch-skew', event: 'Untimed', messageId: untimed },
        ],
      })
      .expect(200);
    const { rows } = await h.pulse.runtime.infrastructure.pool.query(`SELECT data FROM es_events WHERE data->>'messageId' = ANY($1)`, [
      [inherits, own, untimed],
    ]);
    const byId = new Map(rows.map((row) => [row.data.messageId as string, row.data as Record<string, string>]));
    const lead = (data: Record<string, string>) => new Date(data.receivedAt).getTime() - new Date(data.timestamp).getTime();
    expect(byId.get(inherits)!.sentAt).toBe(clientNow.toISOString());
    expect(lead(byId.get(inherits)!)).toBeGreaterThanOrEqual(59_000);
    expect(lead(byId.get(inherits)!)).toBeLessThan(70_000);
    // Sent 5 s after it happened by its own clock: it happened 5 s before it was received.
    expect(byId.get(own)!.sentAt).toBe(ownSentAt);
    expect(lead(byId.get(own)!)).toBeGreaterThanOrEqual(5_000);
    expect(lead(byId.get(own)!)).toBeLessThan(15_000);
    expect(byId.get(own)!.originalTimestamp).toBe(happened.toISOString());
    // No timestamp: it happened when it was received, and has no original timestamp.
    expect(byId.get(untimed)!.timestamp).toBe(byId.get(untimed)!.receivedAt);
    expect(byId.get(untimed)!.originalTimestamp).toBeUndefined();
  });

  test('properties, traits and context (IP included) are sealed in the store', async () => {
    const messageId = randomUUID();
    await h.pulse
      .http()
      .post('/v1/identify')
      .set('authorization', basic(h.tenant.writeKey))
      .send({ userId: 'u-sealed', traits: { email: 'secret.person@example.com' }, messageId })
      .expect(200);
    const { rows } = await h.pulse.runtime.infrastructure.pool.query(
      `SELECT data::text AS text FROM es_events WHERE data->>'messageId' = $1`,
      [messageId],
    );
    expect(rows[0].text).not.toContain('secret.person');
    expect(rows[0].text).not.toContain('127.0.0.1');
    expect(rows[0].text).toContain('$personal');
  });
});
