import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { exportPartToken } from '#contracts';
import { deriveKeys } from '#personal-data';
import { basic, eventually } from '../apps/pulse/test/pulse-harness';
import { REDIRECT_URI } from '../apps/login/test/sign-in-flow';
import { callService, startFourServices, type FourServices, type ServiceName } from './support/four-services';
import { createTenant, insecure, registerClient, signIn } from './support/noisy-tenants';
import { STRONG_PASSWORD } from './support/register-harness';
import { issueServerKey } from './support/server-key';
import { readableTraces, readModelTraces } from './support/privacy-traces';
import request from 'supertest';

/**
 * The proof of erasure across the four services, each its own process on one database as deployed:
 * a person signs up, signs in through login's pages, is tracked (an anonymous visit before
 * sign-in, then identified with an e-mail trait), earns and redeems points; then they erase
 * themselves. Once the erasure's status says every service is done, every row of every table and
 * every event of the store (opened with the master key, as any service could) is searched for
 * their personal values: none is readable anywhere. Further tracking of them is acknowledged and
 * not stored. The same for someone known only to tracking, erased by the tenant through the api.
 *
 * What stays, by design, is pseudonymous: the ids (register's random account id, the tracked
 * userId and anonymousId the tenant chose, the tenant's order ids in rewards' wallet history) in
 * stream names and event envelopes, and as the subject of their destroyed keys' tombstones, which
 * is what keeps them from being tracked again. No read model keeps any of them.
 */

jest.setTimeout(300_000);

const masterKey = randomBytes(32);
type Json = Record<string, unknown>;

describe('one erasure across register, login, pulse and rewards', () => {
  let four: FourServices;
  let tenant: { id: string; slug: string; writeKey: string; apiKey: string };
  let serverKey: string;
  let app: oidc.Configuration;
  let rewardId: string;
  const url = (service: 'register' | 'login' | 'pulse' | 'rewards') => four.services[service].url;
  const api = () => ({ authorization: `Bearer ${tenant.apiKey}` });

  const call = (service: ServiceName, method: string, path: string, headers: Json = {}, body?: unknown) =>
    callService(four, service, method, path, headers, body);
  const track = (kind: string, body: Json, key = serverKey) => call('pulse', 'POST', `/v1/${kind}`, { authorization: basic(key) }, body);
  /** Tracked messages stored for any of the ids (as userId or anonymousId). */
  const storedMessagesOf = async (...ids: string[]) =>
    Number(
      (
        await four.pool.query<{ n: string }>(
          "SELECT count(*) AS n FROM es_events WHERE type = 'MessageReceived' AND (data->>'userId' = ANY($1) OR data->>'anonymousId' = ANY($1))",
          [ids],
        )
      ).rows[0]!.n,
    );
  const suppressedErased = async () => {
    const text = await (await fetch(`${url('pulse')}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('tessera_tracking_messages_suppressed_total{') && l.includes('reason="erased"'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  /** Polls the status until every service is done; answers the status and how long it took since `since`. */
  async function untilCompleted(location: string, since: number) {
    let status: Json = {};
    await eventually(async () => {
      status = (await call('register', 'GET', location, api())).body;
      return status.status === 'completed';
    }, 20_000);
    return { status, elapsedMs: Date.now() - since };
  }

  /** Polls an export until every section is ready; answers its status. */
  async function untilReady(location: string, headers: Json) {
    let status: Json = {};
    await eventually(async () => {
      status = (await call('register', 'GET', location, headers)).body;
      return status.status === 'ready';
    }, 30_000);
    return status;
  }

  /** The download as a client reads it: the headers, how many pieces the body came in, and the parsed document. */
  async function download(path: string, headers: Json) {
    const response = await fetch(`${url('register')}${path}`, { headers: headers as Record<string, string> });
    let pieces = 0;
    let text = '';
    const decoder = new TextDecoder();
    for await (const piece of response.body!) {
      pieces += 1;
      text += decoder.decode(piece, { stream: true });
    }
    return {
      status: response.status,
      headers: response.headers,
      pieces,
      text,
      document: response.ok ? (JSON.parse(text) as any) : undefined,
    };
  }

  beforeAll(async () => {
    four = await startFourServices({ TESSERA_MASTER_KEY: masterKey.toString('base64') });
    tenant = await createTenant(four, 'privacy-a');
    const register = { http: () => request(url('register')), adminToken: four.adminToken };
    serverKey = await issueServerKey(register, url('pulse'), tenant.slug);
    const reward = await call('rewards', 'POST', `/t/${tenant.slug}/rewards`, api(), { name: 'Tote bag', cost: 30, stock: 10 });
    expect(reward.status).toBe(201);
    rewardId = String(reward.body.id);
    const client = await registerClient(four, tenant.slug, { name: 'Shop', type: 'public', redirectUris: [REDIRECT_URI] });
    app = await oidc.discovery(new URL(`${url('login')}/t/${tenant.slug}`), client.clientId, undefined, oidc.None(), insecure);
  });
  afterAll(() => four?.close());

  test('a person who signed up, signed in, was tracked and redeemed points erases themselves: nothing of theirs stays readable anywhere', async () => {
    const tag = randomBytes(6).toString('hex');
    const email = `ada.${tag}@example.com`;
    const person = { givenName: `Adelina${tag}`, familyName: `Lovelace${tag}`, phone: `+44207946${randomInt(1000, 10000)}` };
    const anonymousId = `anon-${tag}`;
    const traits = { colour: `ultramarine-${tag}`, promo: `spring-${tag}`, gift: `for-grandma-${tag}` };
    const orderId = `order-${tag}`;

    // Before sign-in: an anonymous visit, with its page and campaign.
    expect(
      (
        await track(
          'page',
          { anonymousId, name: 'Home', properties: { url: `https://shop.example/?promo=${traits.promo}` } },
          tenant.writeKey,
        )
      ).status,
    ).toBe(200);
    const signedUp = await call('register', 'POST', `/t/${tenant.slug}/users`, {}, { email, password: STRONG_PASSWORD, profile: person });
    expect(signedUp).toMatchObject({ status: 201 });
    const userId = String(signedUp.body.id);
    await eventually(async () => (await four.pool.query('SELECT 1 FROM login_credentials WHERE user_id = $1', [userId])).rowCount === 1);
    const accessToken = await signIn(app, tenant.slug, email, { resource: 'urn:tessera:api' });
    // Identified with an e-mail trait, then an order that earns points, redeemed for a reward.
    expect((await track('identify', { userId, anonymousId, traits: { email, phone: person.phone, colour: traits.colour } })).status).toBe(
      200,
    );
    expect(
      (
        await track('track', {
          userId,
          event: 'Order Completed',
          properties: { order_id: orderId, total: 120, currency: 'EUR', giftMessage: traits.gift },
        })
      ).status,
    ).toBe(200);
    await eventually(async () => Number((await call('rewards', 'GET', `/t/${tenant.slug}/members/${userId}`, api())).body.balance) >= 120);
    const redeemed = await call(
      'rewards',
      'POST',
      `/t/${tenant.slug}/members/${userId}/redemptions`,
      { ...api(), 'idempotency-key': tag },
      { rewardId },
    );
    expect(redeemed.status).toBe(201);
    await eventually(
      async () =>
        (await four.pool.query("SELECT 1 FROM pulse_identities WHERE kind = 'anonymousId' AND value = $1", [anonymousId])).rowCount === 1,
    );
    await eventually(
      async () =>
        (
          await four.pool.query(
            `SELECT 1 FROM pulse_profile_events e JOIN pulse_identities i ON i.tenant_id = e.tenant_id AND i.profile_id = e.profile_id
              WHERE i.kind = 'userId' AND i.value = $1 AND e.name = 'Order Completed'`,
            [userId],
          )
        ).rowCount! > 0,
    );

    // Before erasing, they export: one document with each service's section.
    const me = { authorization: `Bearer ${accessToken}` };
    const asked = await call('register', 'POST', `/t/${tenant.slug}/me/exports`, me);
    expect(asked).toMatchObject({ status: 202, body: { status: 'pending', links: { self: asked.headers.get('location') } } });
    const ready = await untilReady(asked.headers.get('location')!, me);
    const downloadPath = String((ready.links as Json).download && ((ready.links as Json).download as Json).href);
    expect(downloadPath).toBe(`/t/${tenant.slug}/me/exports/${asked.body.id}/download`);
    const exported = await download(downloadPath, me);
    expect(exported.status).toBe(200);
    const { document } = exported;
    expect(document).toMatchObject({
      format: 'tessera-export/1',
      exportId: asked.body.id,
      subject: { userIds: [userId], emails: [email] },
    });
    expect(Object.keys(document.sections)).toEqual(['register', 'login', 'pulse', 'rewards']);
    expect(document.sections.register.accounts).toEqual([
      expect.objectContaining({ account: expect.objectContaining({ id: userId, email, profile: expect.objectContaining(person) }) }),
    ]);
    const [signedIn] = document.sections.login.accounts;
    expect(signedIn.userId).toBe(userId);
    expect(signedIn.signIns).toContainEqual(
      expect.objectContaining({ type: 'LoginSucceeded', at: expect.any(String), client: expect.objectContaining({ name: 'Shop' }) }),
    );
    expect(signedIn.sessions[0].clients).toContainEqual(expect.objectContaining({ name: 'Shop' }));
    expect(document.sections.pulse.profiles[0]).toMatchObject({
      userId,
      identities: { userIds: [userId], anonymousIds: [anonymousId], emails: [email] },
      traits: { colour: traits.colour },
    });
    expect(document.sections.pulse.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'page', name: 'Home', properties: { url: `https://shop.example/?promo=${traits.promo}` } }),
        expect.objectContaining({
          type: 'track',
          name: 'Order Completed',
          properties: expect.objectContaining({ giftMessage: traits.gift }),
        }),
      ]),
    );
    const [wallet] = document.sections.rewards.wallets;
    expect(wallet.userId).toBe(userId);
    expect(wallet.transactions.map((entry: Json) => entry.type)).toEqual(expect.arrayContaining(['PointsEarned', 'PointsRedeemed']));
    expect(wallet.redemptions).toEqual([expect.objectContaining({ reward: { id: rewardId, name: 'Tote bag' }, cost: 30 })]);

    const needles = [email, person.givenName, person.familyName, person.phone, traits.colour, traits.promo, traits.gift];
    // The searches find what is there: before the erasure every value is readable somewhere.
    const before = new Set((await readableTraces(four.pool, masterKey, needles)).map((leak) => leak.needle));
    expect([...before].sort()).toEqual([...needles].sort());

    const started = Date.now();
    const erased = await call('register', 'DELETE', `/t/${tenant.slug}/me`, { authorization: `Bearer ${accessToken}` });
    expect(erased.status).toBe(204);
    const location = erased.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^/t/${tenant.slug}/erasures/[0-9a-f-]{36}$`));
    const { status, elapsedMs } = await untilCompleted(location, started);
    process.stdout.write(`erasure of a registered person complete in every service after ${elapsedMs} ms\n`);
    expect(status).toMatchObject({ status: 'completed', requestedBy: 'user' });
    expect(Object.values(status.services as Json).every((service) => (service as Json).status === 'done')).toBe(true);

    expect(await readableTraces(four.pool, masterKey, needles)).toEqual([]);
    // Their export went with them: its key is destroyed, the link yields nothing, every service's part is deleted.
    expect([404, 410]).toContain((await download(downloadPath, me)).status);
    const byTenant = await download(`/t/${tenant.slug}/exports/${asked.body.id}/download`, api());
    expect(byTenant.status).toBe(410);
    expect(byTenant.text).not.toContain(email);
    await eventually(async () => {
      const { rows } = await four.pool.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM register_export_parts WHERE export_id = $1) + (SELECT count(*) FROM login_export_parts WHERE export_id = $1)
              + (SELECT count(*) FROM pulse_export_parts WHERE export_id = $1) + (SELECT count(*) FROM rewards_export_parts WHERE export_id = $1) AS n`,
        [asked.body.id],
      );
      return rows[0]!.n === '0';
    });
    // Their sessions and tokens are gone with their credentials; their access token no longer finds them.
    expect((await four.pool.query("SELECT 1 FROM login_oidc_models WHERE payload->>'accountId' = $1", [userId])).rowCount).toBe(0);
    expect((await call('register', 'GET', `/t/${tenant.slug}/me`, { authorization: `Bearer ${accessToken}` })).status).toBe(404);
    // No read model of any service still names them, nor the order they earned with (the tenant's reference).
    expect(await readModelTraces(four.pool, masterKey, [userId, anonymousId, orderId])).toEqual([]);

    // Tracked again: acknowledged, counted, not stored.
    const stored = await storedMessagesOf(userId, anonymousId);
    const suppressed = await suppressedErased();
    expect((await track('track', { userId, event: 'Order Completed', properties: { total: 5, currency: 'EUR' } })).status).toBe(200);
    expect((await track('page', { anonymousId, name: 'Home' }, tenant.writeKey)).status).toBe(200);
    expect(await storedMessagesOf(userId, anonymousId)).toBe(stored);
    expect(await suppressedErased()).toBe(suppressed + 2);
  });

  test('someone known only to tracking is erased by the tenant by userId: profile, identities, traits, events and wallet', async () => {
    const tag = randomBytes(6).toString('hex');
    const userId = `user-42-${tag}`;
    const anonymousId = `visitor-${tag}`;
    const email = `grace.${tag}@example.org`;
    const needles = [email, `Hopper${tag}`, `cobol-${tag}`];
    expect((await track('page', { anonymousId, name: 'Pricing', properties: { ref: needles[2] } }, tenant.writeKey)).status).toBe(200);
    expect((await track('identify', { userId, anonymousId, traits: { email, lastName: needles[1] } })).status).toBe(200);
    expect((await track('track', { userId, event: 'Grant', properties: { points: 40 } })).status).toBe(200);
    await eventually(async () => Number((await call('rewards', 'GET', `/t/${tenant.slug}/members/${userId}`, api())).body.balance) === 40);
    await eventually(
      async () =>
        (await four.pool.query("SELECT 1 FROM pulse_identities WHERE kind = 'anonymousId' AND value = $1", [anonymousId])).rowCount === 1,
    );

    const started = Date.now();
    const asked = await call('register', 'POST', `/t/${tenant.slug}/erasures`, api(), { userId });
    expect(asked.status).toBe(202);
    const location = asked.headers.get('location')!;
    const { status, elapsedMs } = await untilCompleted(location, started);
    process.stdout.write(`erasure of a person known only to tracking complete in every service after ${elapsedMs} ms\n`);
    expect(status).toMatchObject({ id: asked.body.id, status: 'completed', requestedBy: 'tenant' });
    // Asked again: the same request, already complete.
    const again = await call('register', 'POST', `/t/${tenant.slug}/erasures`, api(), { userId });
    expect(again).toMatchObject({ status: 200, body: { id: asked.body.id, status: 'completed' } });

    expect(await readableTraces(four.pool, masterKey, needles)).toEqual([]);
    expect(await readModelTraces(four.pool, masterKey, [userId, anonymousId])).toEqual([]);
    expect((await call('rewards', 'GET', `/t/${tenant.slug}/members/${userId}`, api())).status).toBe(404);
    const stored = await storedMessagesOf(userId);
    expect((await track('identify', { userId, traits: { email } })).status).toBe(200);
    expect(await storedMessagesOf(userId)).toBe(stored);
  });

  test('an erasure by e-mail reaches a tracked person whose only link is that e-mail trait', async () => {
    const tag = randomBytes(6).toString('hex');
    const anonymousId = `visitor-${tag}`;
    const email = `Linus.${tag}@Example.net`;
    expect((await track('identify', { anonymousId, traits: { email, city: `Helsinki-${tag}` } }, tenant.writeKey)).status).toBe(200);
    await eventually(
      async () =>
        (await four.pool.query("SELECT 1 FROM pulse_identities WHERE kind = 'anonymousId' AND value = $1", [anonymousId])).rowCount === 1,
    );
    const asked = await call('register', 'POST', `/t/${tenant.slug}/erasures`, api(), { email: email.toLowerCase() });
    expect(asked.status).toBe(202);
    await untilCompleted(asked.headers.get('location')!, Date.now());
    expect(await readableTraces(four.pool, masterKey, [email, `Helsinki-${tag}`])).toEqual([]);
    expect((await four.pool.query('SELECT 1 FROM pulse_identities WHERE value = $1', [anonymousId])).rowCount).toBe(0);
  });

  test('an erasure by anonymousId reaches a visitor who never identified, and suppresses them', async () => {
    const tag = randomBytes(6).toString('hex');
    const anonymousId = `cookie-${tag}`;
    expect((await track('page', { anonymousId, name: 'Offers', properties: { search: `red shoes ${tag}` } }, tenant.writeKey)).status).toBe(
      200,
    );
    await eventually(
      async () =>
        (await four.pool.query("SELECT 1 FROM pulse_identities WHERE kind = 'anonymousId' AND value = $1", [anonymousId])).rowCount === 1,
    );
    const asked = await call('register', 'POST', `/t/${tenant.slug}/erasures`, api(), { anonymousId });
    expect(asked.status).toBe(202);
    await untilCompleted(asked.headers.get('location')!, Date.now());
    expect(await readableTraces(four.pool, masterKey, [`red shoes ${tag}`])).toEqual([]);
    expect(await readModelTraces(four.pool, masterKey, [anonymousId])).toEqual([]);
    const stored = await storedMessagesOf(anonymousId);
    expect((await track('page', { anonymousId, name: 'Offers' }, tenant.writeKey)).status).toBe(200);
    expect(await storedMessagesOf(anonymousId)).toBe(stored);
  });

  test('the tenant exports someone known only to tracking, thousands of events long: the document streams in pieces', async () => {
    const tag = randomBytes(6).toString('hex');
    const userId = `user-7-${tag}`;
    const anonymousId = `visitor-${tag}`;
    const events = 3000;
    expect((await track('page', { anonymousId, name: 'Landing', properties: { ref: `ad-${tag}` } }, tenant.writeKey)).status).toBe(200);
    expect((await track('identify', { userId, anonymousId, traits: { plan: `gold-${tag}` } })).status).toBe(200);
    for (let sent = 0; sent < events; sent += 1000) {
      const batch = Array.from({ length: 1000 }, (_, i) => ({ type: 'track', userId, event: 'Viewed', properties: { n: sent + i } }));
      expect((await call('pulse', 'POST', '/v1/batch', { authorization: basic(serverKey) }, { batch })).status).toBe(200);
    }
    await eventually(async () => {
      const { rows } = await four.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM pulse_profile_events e JOIN pulse_identities i ON i.tenant_id = e.tenant_id AND i.profile_id = e.profile_id
          WHERE i.kind = 'userId' AND i.value = $1`,
        [userId],
      );
      return Number(rows[0]!.n) === events + 2;
    }, 60_000);

    const asked = await call('register', 'POST', `/t/${tenant.slug}/exports`, api(), { anonymousId });
    expect(asked).toMatchObject({ status: 202, body: { status: 'pending', requestedBy: 'tenant' } });
    const ready = await untilReady(asked.headers.get('location')!, api());
    expect(ready).toMatchObject({ status: 'ready', expiresAt: expect.any(String) });
    const exported = await download(((ready.links as Json).download as Json).href as string, api());
    expect(exported.status).toBe(200);
    // Streamed, not built and sent whole: no length known up front, the body arriving in many pieces.
    expect(exported.headers.get('content-length')).toBeNull();
    expect(exported.headers.get('transfer-encoding')).toBe('chunked');
    expect(exported.pieces).toBeGreaterThan(1);
    const { sections, subject } = exported.document;
    expect(subject).toEqual({ userIds: [], anonymousIds: [anonymousId], emails: [] });
    expect(sections.pulse.profiles).toEqual([expect.objectContaining({ userId, traits: { plan: `gold-${tag}` } })]);
    // Every message pulse keeps for them, each once, every one of the batches among them.
    const { rows: stored } = await four.pool.query<{ n: string; distinct: string }>(
      `SELECT count(*) AS n, count(DISTINCT e.message_id) AS distinct FROM pulse_profile_events e
         JOIN pulse_identities i ON i.tenant_id = e.tenant_id AND i.profile_id = e.profile_id WHERE i.kind = 'userId' AND i.value = $1`,
      [userId],
    );
    process.stdout.write(`export of ${stored[0]!.n} stored events (${stored[0]!.distinct} distinct) in ${exported.pieces} pieces\n`);
    expect(sections.pulse.events).toHaveLength(Number(stored[0]!.n));
    expect(new Set(sections.pulse.events.map((event: Json) => event.messageId)).size).toBe(Number(stored[0]!.distinct));
    const viewed = new Set(
      sections.pulse.events.filter((event: Json) => event.name === 'Viewed').map((event: Json) => (event.properties as Json).n),
    );
    expect([...viewed].sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: events }, (_, i) => i));
    expect(sections.pulse.events).toContainEqual(
      expect.objectContaining({ type: 'page', name: 'Landing', properties: { ref: `ad-${tag}` } }),
    );
    // Not a register account, never signed in, no wallet (no rewards program earns from 'Viewed'): their sections are empty, and there.
    expect(sections.register).toEqual({ accounts: [] });
    expect(sections.login).toEqual({ accounts: [] });
    expect(sections.rewards).toEqual({ wallets: [] });
  });

  test('an export for nobody completes with empty sections; another tenant cannot see it; a bad body is refused and stores nothing', async () => {
    const asked = await call('register', 'POST', `/t/${tenant.slug}/exports`, api(), { email: `nobody.${randomUUID()}@example.com` });
    expect(asked.status).toBe(202);
    const ready = await untilReady(asked.headers.get('location')!, api());
    const { document } = await download(((ready.links as Json).download as Json).href as string, api());
    expect(document.sections).toEqual({
      register: { accounts: [] },
      login: { accounts: [] },
      pulse: { profiles: [], events: [] },
      rewards: { wallets: [] },
    });

    // The internal route gives a section only to a link signed for it, still valid: anything else is 404.
    const linkKey = deriveKeys(masterKey).internalLinkKey;
    const part = { tenantId: tenant.id, exportId: String(asked.body.id), service: 'pulse' as const };
    const internal = (token: string) =>
      fetch(`${url('pulse')}/internal/exports/${tenant.id}/${asked.body.id}/pulse`, { headers: { authorization: `Bearer ${token}` } });
    expect((await internal(exportPartToken(linkKey, part, Date.now() + 60_000))).status).toBe(200);
    expect((await internal(exportPartToken(linkKey, part, Date.now() - 1))).status).toBe(404);
    expect((await internal(exportPartToken(linkKey, { ...part, service: 'login' }, Date.now() + 60_000))).status).toBe(404);
    expect((await internal(exportPartToken(randomBytes(32), part, Date.now() + 60_000))).status).toBe(404);
    expect((await fetch(`${url('pulse')}/internal/exports/${tenant.id}/${asked.body.id}/pulse`)).status).toBe(404);

    const other = await createTenant(four, `privacy-b${randomBytes(3).toString('hex')}`);
    const otherApi = { authorization: `Bearer ${other.apiKey}` };
    expect((await call('register', 'GET', `/t/${other.slug}/exports/${asked.body.id}`, otherApi)).status).toBe(404);
    expect((await call('register', 'GET', `/t/${other.slug}/exports/${asked.body.id}/download`, otherApi)).status).toBe(404);
    expect((await call('register', 'GET', `/t/${tenant.slug}/exports/${asked.body.id}`, otherApi)).status).toBe(403);

    const exportsStored = async () =>
      Number((await four.pool.query<{ n: string }>("SELECT count(*) AS n FROM es_events WHERE type = 'ExportRequested'")).rows[0]!.n);
    const before = await exportsStored();
    for (const [body, pointer] of [
      [{}, '/userId'],
      [{ userId: '' }, '/userId'],
      [{ email: 'not an address' }, '/email'],
      [{ anonymousId: 'x'.repeat(10_000) }, '/anonymousId'],
      [{ userId: 'u', extra: true }, ''],
    ] as const) {
      const refused = await call('register', 'POST', `/t/${tenant.slug}/exports`, api(), body);
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toContain(pointer);
    }
    expect(await exportsStored()).toBe(before);
  });

  test('the status is the tenant’s alone; unknown ids are 404, malformed ones 400', async () => {
    const unknown = await call('register', 'GET', `/t/${tenant.slug}/erasures/${randomUUID()}`, api());
    expect(unknown.status).toBe(404);
    expect((await call('register', 'GET', `/t/${tenant.slug}/erasures/not-a-uuid`, api())).status).toBe(400);
    expect((await call('register', 'GET', `/t/${tenant.slug}/erasures/${randomUUID()}`)).status).toBe(401);
  });
});
