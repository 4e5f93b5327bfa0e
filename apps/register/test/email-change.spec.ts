import fc from 'fast-check';
import request from 'supertest';
import { eventually } from '#platform/testing';
import { accountStreamFor } from '#contracts';
import { anyValue, hostileText, mostly } from '../../../test/support/hostile-values';
import { startRegister, STRONG_PASSWORD, type RegisterHarness } from '../../../test/support/register-harness';

/**
 * A change of address through register's API and the mailed link's page: nothing changes until the
 * new address's owner opens the link; then the account, its reservation and the read model move,
 * and the old address is free. The mails go out from a subscription, so tests wait for them.
 */
describe('changing the e-mail address', () => {
  let register: RegisterHarness;
  let tenant: { id: string; slug: string };
  beforeAll(async () => {
    register = await startRegister();
    tenant = await register.createTenant();
  });
  afterAll(() => register?.close());

  /** The newest mail to `to` whose subject matches, once the subscription has sent it (polled, with a deadline). */
  async function mailTo(to: string, subject: RegExp) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      await register.settled();
      const mail = register.mailbox.list(to).find((m) => subject.test(m.subject));
      if (mail) return mail;
      if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${subject}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  const tokenIn = (text: string) => /code[\s\u00a0]?: (\S+)/u.exec(text)?.[1] ?? '';
  const changeLink = async (to: string) => tokenIn((await mailTo(to, /new e-mail address|nouvelle adresse/)).text);

  /** The two links mailed to one address (two people asked for it), polled with a deadline. */
  async function bothLinks(to: string): Promise<[string, string]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      await register.settled();
      const links = register.mailbox
        .list(to)
        .map((mail) => tokenIn(mail.text))
        .filter(Boolean);
      if (links.length >= 2) return [links[0]!, links[1]!];
      if (Date.now() > deadline) throw new Error(`fewer than two links mailed to ${to}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function person(email: string) {
    const { id } = await register.signUp(tenant.slug, email);
    return { id, token: await register.tokenFor(tenant.id, id) };
  }
  const askChange = (token: string, body: unknown, language = 'en') =>
    register
      .http()
      .post(`/t/${tenant.slug}/me/email`)
      .set('authorization', `Bearer ${token}`)
      .set('accept-language', language)
      .send(body as object);
  const me = async (token: string) => (await register.http().get(`/t/${tenant.slug}/me`).set('authorization', `Bearer ${token}`)).body;
  const eventTypes = async (userId: string) =>
    (await register.runtime.infrastructure.eventStore.readStream(accountStreamFor(tenant.id, userId))).map((e) => e.type);

  /** A browser on the mailed link's page: opens it, then presses its button (the page's CSRF token posted back). */
  async function openLink(token: string, agent = request.agent(register.app.getHttpServer())) {
    const page = await agent.get(`/t/${tenant.slug}/confirm-email-change?ui_locales=en`);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    return agent.post(`/t/${tenant.slug}/confirm-email-change`).type('form').send({ csrf, token, ui_locales: 'en' });
  }
  /** An application confirming with the code it had the person copy from the mail. */
  const confirmByApi = (body: unknown) =>
    register.http().post(`/t/${tenant.slug}/email-changes/confirm`).set('content-type', 'application/json').send(JSON.stringify(body));

  test('the new address gets a link, the current one a notice; only the link moves the account, and the old address is free', async () => {
    const ada = await person('ada.before@example.com');
    const asked = await askChange(ada.token, { email: ' Ada.After@Example.com ' });
    expect(asked.status).toBe(202);

    const link = await mailTo('ada.after@example.com', /confirm your new e-mail address/);
    expect(link.text).toContain(`/t/${tenant.slug}/confirm-email-change?ui_locales=en#token=`);
    const notice = await mailTo('ada.before@example.com', /is being changed/);
    expect(notice.text).toContain('contact support');
    // The notice helps no one who holds the session: no link, no code.
    expect(notice.text).not.toMatch(/code|#token=/);
    expect((await me(ada.token)).email).toBe('ada.before@example.com');

    const page = await register.http().get(`/t/${tenant.slug}/confirm-email-change`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<button type="submit" data-after-token>Confirm my new address</button>');

    const token = tokenIn(link.text);
    const confirmed = await openLink(token);
    expect(confirmed.status).toBe(200);
    expect(confirmed.text).toContain('Your account now uses your new e-mail address');
    expect(await me(ada.token)).toMatchObject({ email: 'ada.after@example.com', emailVerified: true });

    const again = await openLink(token);
    expect(again.status).toBe(400);
    expect(again.text).toContain('This link is not valid, or it was used already.');
    expect(again.text).toContain('To try again, sign in and ask for the change from your account page.');

    // The reservations moved: the old address signs up anew, the new one is taken.
    expect(
      (await register.http().post(`/t/${tenant.slug}/users`).send({ email: 'ada.before@example.com', password: STRONG_PASSWORD })).status,
    ).toBe(201);
    expect(
      (await register.http().post(`/t/${tenant.slug}/users`).send({ email: 'ada.after@example.com', password: STRONG_PASSWORD })).status,
    ).toBe(409);
    expect((await eventTypes(ada.id)).filter((type) => type === 'EmailChanged')).toHaveLength(1);
  });

  test('a newer request voids the older link', async () => {
    const bob = await person('bob.first@example.com');
    await askChange(bob.token, { email: 'bob.second@example.com' });
    const older = await changeLink('bob.second@example.com');
    await askChange(bob.token, { email: 'bob.third@example.com' });
    const newer = await changeLink('bob.third@example.com');

    expect((await openLink(older)).status).toBe(400);
    expect((await me(bob.token)).email).toBe('bob.first@example.com');
    expect((await openLink(newer)).status).toBe(200);
    expect((await me(bob.token)).email).toBe('bob.third@example.com');
  });

  test('an address another account holds: the request still answers 202, the link then says the address is taken', async () => {
    await person('carol.owner@example.com');
    const dan = await person('dan@example.com');
    const asked = await askChange(dan.token, { email: 'carol.owner@example.com' });
    expect(asked.status).toBe(202);
    const token = await changeLink('carol.owner@example.com');
    const taken = await openLink(token);
    expect(taken.status).toBe(409);
    expect(taken.text).toContain('This address is used by another account already');
    expect((await me(dan.token)).email).toBe('dan@example.com');
    expect(await eventTypes(dan.id)).not.toContain('EmailChanged');
  });

  test('two people racing to one new address, or a change racing a sign-up: exactly one wins', async () => {
    for (let round = 0; round < 3; round += 1) {
      const target = `contested${round}@example.com`;
      const first = await person(`first${round}@example.com`);
      const second = await person(`second${round}@example.com`);
      await askChange(first.token, { email: target });
      await askChange(second.token, { email: target });
      const [firstLink, secondLink] = await bothLinks(target);
      const outcomes = await Promise.all([openLink(firstLink), openLink(secondLink)]);
      expect(outcomes.map((o) => o.status).sort()).toEqual([200, 409]);
      const addresses = [(await me(first.token)).email, (await me(second.token)).email];
      expect(addresses.filter((address) => address === target)).toHaveLength(1);
    }

    for (let round = 0; round < 3; round += 1) {
      const target = `signup-race${round}@example.com`;
      const mover = await person(`mover${round}@example.com`);
      await askChange(mover.token, { email: target });
      const link = await changeLink(target);
      const [confirmed, signedUp] = await Promise.all([
        openLink(link),
        register.http().post(`/t/${tenant.slug}/users`).send({ email: target, password: STRONG_PASSWORD }),
      ]);
      const winners = [confirmed.status === 200, signedUp.status === 201].filter(Boolean);
      expect(winners).toHaveLength(1);
      expect([confirmed.status, signedUp.status]).toEqual(confirmed.status === 200 ? [200, 409] : [409, 201]);
    }
  });

  test('an erased account’s pending change is void', async () => {
    const eve = await person('eve@example.com');
    await askChange(eve.token, { email: 'eve.new@example.com' });
    const token = await changeLink('eve.new@example.com');
    expect((await register.http().delete(`/t/${tenant.slug}/me`).set('authorization', `Bearer ${eve.token}`)).status).toBeLessThan(300);
    const refused = await openLink(token);
    expect(refused.status).toBe(400);
    // The new address was never taken: anyone may sign up with it.
    expect(
      (await register.http().post(`/t/${tenant.slug}/users`).send({ email: 'eve.new@example.com', password: STRONG_PASSWORD })).status,
    ).toBe(201);
  });

  test('mails go in the language of the call', async () => {
    const fay = await person('fay@example.com');
    await askChange(fay.token, { email: 'fay.nouvelle@example.com' }, 'fr-FR,fr;q=0.9');
    const mail = await mailTo('fay.nouvelle@example.com', /nouvelle adresse/);
    expect(mail.text).toContain('?ui_locales=fr#token=');
    expect((await mailTo('fay@example.com', /modification/)).subject).toContain('votre adresse e-mail est en cours de modification');
  });

  test('the API asks for a token and refuses a bad address naming the field, storing nothing', async () => {
    expect((await register.http().post(`/t/${tenant.slug}/me/email`).send({ email: 'x@example.com' })).status).toBe(401);
    const gus = await person('gus@example.com');
    const before = await eventTypes(gus.id);
    const bad = await askChange(gus.token, { email: 'not an address' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].pointer).toBe('/email');
    expect(await eventTypes(gus.id)).toEqual(before);
  });

  test('generated hostile bodies: 202 or a 4xx problem, never 5xx, and a 4xx stores nothing', async () => {
    const hal = await person('hal@example.com');
    const text = hostileText(['x'.repeat(300), `${'a'.repeat(250)}@example.com`]);
    const address = fc.oneof(
      fc.emailAddress(),
      fc
        .tuple(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.constantFrom('example.com', 'b.co'))
        .map(([local, domain]) => `${local}@${domain}`),
    );
    const body = fc.oneof(
      { weight: 3, arbitrary: fc.record({ email: mostly(address, anyValue(text)) }) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    );
    const count = async () =>
      (
        await register.runtime.infrastructure.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM es_events WHERE type <> 'EmailChangeLinkIssued'",
        )
      ).rows[0]!.n;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const before = await count();
        const response = await register
          .http()
          .post(`/t/${tenant.slug}/me/email`)
          .set('authorization', `Bearer ${hal.token}`)
          .set('content-type', 'application/json')
          .send(JSON.stringify(generated));
        expect(response.status === 202 || (response.status >= 400 && response.status < 500)).toBe(true);
        if (response.status === 202) {
          // Only an address is taken: one line, no control character, at most 254 characters.
          const email = (generated as { email?: unknown }).email;
          expect(typeof email === 'string' && email.trim().length <= 254 && /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u.test(email.trim())).toBe(true);
          accepted += 1;
          return;
        }
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        // (A link the subscription records for an earlier request may land meanwhile: it is not counted.)
        expect(await count()).toBe(before);
      }),
      { numRuns: 80 },
    );
    expect(accepted).toBeGreaterThan(5);
  });
  test('by API: the mailed token moves the account once; used, unknown or replaced tokens are 400 problems, a taken address 409', async () => {
    const ida = await person('ida@example.com');
    await askChange(ida.token, { email: 'ida.older@example.com' });
    const replaced = await changeLink('ida.older@example.com');
    await askChange(ida.token, { email: 'ida.new@example.com' });
    const token = await changeLink('ida.new@example.com');

    const missing = await confirmByApi({});
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].pointer).toBe('/token');
    for (const wrong of [replaced, `${ida.id}.${'A'.repeat(43)}`, 'not-a-token']) {
      const refused = await confirmByApi({ token: wrong });
      expect(refused.status).toBe(400);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(refused.body.type).toMatch(/invalid-token$/);
    }
    expect((await me(ida.token)).email).toBe('ida@example.com');

    const confirmed = await confirmByApi({ token });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toEqual({ userId: ida.id, emailChanged: true });
    expect(await me(ida.token)).toMatchObject({ email: 'ida.new@example.com', emailVerified: true });
    const used = await confirmByApi({ token });
    expect(used.status).toBe(400);
    expect(used.body.type).toMatch(/invalid-token$/);
    expect((await eventTypes(ida.id)).filter((type) => type === 'EmailChanged')).toHaveLength(1);

    await person('jo.owner@example.com');
    const kai = await person('kai@example.com');
    await askChange(kai.token, { email: 'jo.owner@example.com' });
    const taken = await confirmByApi({ token: await changeLink('jo.owner@example.com') });
    expect(taken.status).toBe(409);
    expect(taken.body.type).toMatch(/email-taken$/);
    expect((await me(kai.token)).email).toBe('kai@example.com');
    expect(await eventTypes(kai.id)).not.toContain('EmailChanged');
  });

  test('the page and the API racing with one link: exactly one moves the account', async () => {
    for (let round = 0; round < 3; round += 1) {
      const racer = await person(`racer${round}@example.com`);
      await askChange(racer.token, { email: `racer${round}.new@example.com` });
      const token = await changeLink(`racer${round}.new@example.com`);
      const outcomes = await Promise.all([openLink(token), confirmByApi({ token })]);
      expect(outcomes.map((o) => o.status).sort()).toEqual([200, 400]);
      expect((await eventTypes(racer.id)).filter((type) => type === 'EmailChanged')).toHaveLength(1);
    }
  });

  test('generated hostile confirmation bodies: a 4xx problem, never 5xx nor a change, and the real link still works', async () => {
    const lea = await person('lea@example.com');
    await askChange(lea.token, { email: 'lea.new@example.com' });
    const token = await changeLink('lea.new@example.com');
    const secret = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/);
    const hostileToken = fc.oneof(
      hostileText(['x'.repeat(300), `${lea.id}.`, `.${token}`, `${token}\u0000`, ` ${token} `]),
      fc.tuple(fc.oneof(fc.uuid(), fc.constant(lea.id)), secret).map(([id, tail]) => `${id}.${tail}`),
      fc.nat({ max: token.length - 1 }).map((at) => `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`),
    );
    const body = fc.oneof(
      { weight: 3, arbitrary: fc.record({ token: mostly(hostileToken, anyValue()) }) },
      { weight: 1, arbitrary: fc.record({ token: hostileToken, extra: anyValue() }) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    );
    const count = async () =>
      (await register.runtime.infrastructure.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM es_events')).rows[0]!.n;
    const before = await count();
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const response = await confirmByApi(generated);
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      }),
      { numRuns: 80 },
    );
    expect(await count()).toBe(before);
    expect((await me(lea.token)).email).toBe('lea@example.com');
    expect((await confirmByApi({ token })).status).toBe(200);
  });
});

describe('a change link past VERIFICATION_TOKEN_TTL_MS', () => {
  let short: RegisterHarness;
  beforeAll(async () => {
    short = await startRegister({ VERIFICATION_TOKEN_TTL_MS: '0' });
  });
  afterAll(() => short?.close());

  test('the API answers 400 token-expired and the address stays', async () => {
    const tenant = await short.createTenant();
    const { id } = await short.signUp(tenant.slug, 'mo@example.com');
    const accessToken = await short.tokenFor(tenant.id, id);
    await short
      .http()
      .post(`/t/${tenant.slug}/me/email`)
      .set('authorization', `Bearer ${accessToken}`)
      .send({ email: 'mo.new@example.com' })
      .expect(202);
    let token = '';
    await eventually(
      async () => {
        await short.settled();
        token = /code[\s\u00a0]?: (\S+)/u.exec(short.mailbox.list('mo.new@example.com')[0]?.text ?? '')?.[1] ?? '';
        return token !== '';
      },
      { timeoutMs: 15_000, what: 'the change link' },
    );
    const expired = await short.http().post(`/t/${tenant.slug}/email-changes/confirm`).send({ token });
    expect(expired.status).toBe(400);
    expect(expired.body.type).toMatch(/token-expired$/);
    expect((await short.http().get(`/t/${tenant.slug}/me`).set('authorization', `Bearer ${accessToken}`)).body.email).toBe(
      'mo@example.com',
    );
  });
});
