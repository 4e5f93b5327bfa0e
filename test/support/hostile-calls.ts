import fc from 'fast-check';
import { BOUNDS } from '#platform';
import {
  anything,
  bearer,
  call,
  form,
  headerSafe,
  hostileRequestId,
  instant,
  maybe,
  orHostile,
  own,
  points,
  query,
  segment,
  text,
  type HostileCallOf,
  type HostileTenant,
} from './hostile-call-parts';
import { mostly } from './hostile-values';
import { HOSTILE_PEOPLE, hostileJson, hostileNumber, hostileTrackingCall, trackingRequest } from './hostile-tracking';
import { STRONG_PASSWORD } from './register-harness';

export { hostileRequestId, type HostileCall, type HostileCallOf, type HostileTenant } from './hostile-call-parts';

/**
 * What a hostile tenant sends to every public endpoint of the four services, holding nothing but
 * what any tenant holds: its public write key, its own api key, tokens of one of its own people,
 * its own OAuth client and sign-in pages it opened. Each call is mostly what a client would send,
 * with hostile values mixed in (control characters, unpaired surrogates, huge strings, extreme and
 * non-finite numbers, far dates, wrong types, deep nesting), so that both the refusals and the
 * accepted paths behind them are exercised.
 */

const pulseCalls: fc.Arbitrary<HostileCallOf>[] = [
  hostileTrackingCall.map((generated) => (tenant, serial) => {
    let message = 0;
    const { path, body, sent } = trackingRequest(generated, tenant.writeKey, () => `${hostileRequestId(serial)}-${message++}`);
    const headers: Record<string, string> = generated.short
      ? { 'content-type': 'text/plain' }
      : { authorization: `Basic ${Buffer.from(`${tenant.writeKey}:`).toString('base64')}`, 'content-type': 'application/json' };
    return { ...call('pulse', `POST ${path}`, tenant, serial, { method: 'POST', path, headers, body }), messages: sent };
  }),
  own(text).map((key) => (tenant, serial) => {
    const path = `/v1/projects/${segment(key ?? tenant.writeKey)}/settings`;
    return call('pulse', 'GET /v1/projects/{writeKey}/settings', tenant, serial, { method: 'GET', path });
  }),
  fc
    .record({
      kind: mostly(fc.constantFrom('userId', 'anonymousId', 'email'), text),
      value: mostly(fc.constantFrom(...HOSTILE_PEOPLE, 'nobody', 'grace@example.com'), text),
      events: fc.boolean(),
      page: fc.record({ limit: maybe(orHostile(fc.integer({ min: 1, max: 500 }))), cursor: maybe(text) }),
      key: own(text),
    })
    .map(({ kind, value, events, page, key }) => (tenant, serial) => {
      const path = `/t/${tenant.slug}/profiles/${segment(kind)}/${segment(value)}${events ? `/events?${query(page)}` : ''}`;
      const headers = { authorization: bearer(key, tenant.apiKey) };
      return call('pulse', `GET /t/{tenant}/profiles/{kind}/{value}${events ? '/events' : ''}`, tenant, serial, {
        method: 'GET',
        path,
        headers,
      });
    }),
  fc.record({ key: own(text), body: maybe(anything) }).map(({ key, body }) => (tenant, serial) => {
    const headers = { authorization: bearer(key, tenant.apiKey) };
    return call('pulse', 'POST /t/{tenant}/live/tickets', tenant, serial, {
      method: 'POST',
      path: `/t/${tenant.slug}/live/tickets`,
      headers,
      json: body,
    });
  }),
  fc
    .record({ ticket: maybe(text), event: maybe(text), userId: maybe(text), key: own(text) })
    .map(({ ticket, event, userId, key }) => (tenant, serial) => {
      const headers: Record<string, string> = ticket === undefined ? { authorization: bearer(key, tenant.apiKey) } : {};
      const path = `/t/${tenant.slug}/live?${query({ ticket, event, userId })}`;
      return call('pulse', 'GET /t/{tenant}/live', tenant, serial, { method: 'GET', path, headers });
    }),
];

/** A fresh address for each call, or something else. */
const FRESH_EMAIL = '\u0001fresh-email';
const email = mostly(fc.constant(FRESH_EMAIL), fc.oneof(text, anything, fc.emailAddress()));
const emailFor = (value: unknown, serial: number) => (value === FRESH_EMAIL ? `${hostileRequestId(serial)}@example.com` : value);
const password = mostly(fc.constantFrom(STRONG_PASSWORD, 'ünïcödé pässphrase ✓'), fc.oneof(text, anything));
const profileChanges = fc.record(
  {
    givenName: orHostile(fc.constantFrom('Ada', 'José', null)),
    familyName: orHostile(fc.constantFrom('Lovelace', null)),
    phone: orHostile(fc.constantFrom('+441632960961', null)),
    locale: orHostile(fc.constantFrom('en-GB', 'fr', null)),
  },
  { requiredKeys: [] },
);
const purpose = mostly(fc.constantFrom('marketing', 'analytics', 'newsletter.weekly'), text);
const policyVersion = orHostile(fc.constantFrom('2026-01', 'v2'));

const registerCalls: fc.Arbitrary<HostileCallOf>[] = [
  fc
    .record(
      {
        email,
        password,
        profile: orHostile(profileChanges),
        consents: orHostile(fc.array(fc.record({ purpose, policyVersion }), { maxLength: 3 })),
      },
      { requiredKeys: ['email', 'password'] },
    )
    .map((body) => (tenant, serial) => {
      const json = { ...body, email: emailFor(body.email, serial) };
      return call('register', 'POST /t/{tenant}/users', tenant, serial, {
        method: 'POST',
        path: `/t/${tenant.slug}/users`,
        json,
        storesOnSuccess: true,
      });
    }),
  fc
    .record({ token: orHostile(fc.uuid().map((id) => `${id}.${'A'.repeat(43)}`)) }, { requiredKeys: [] })
    .map((body) => (tenant, serial) => {
      const path = `/t/${tenant.slug}/email-verifications`;
      return call('register', 'POST /t/{tenant}/email-verifications', tenant, serial, { method: 'POST', path, json: body });
    }),
  fc.record({ email: fc.oneof(email, fc.constant(undefined)) }).map((body) => (tenant, serial) => {
    const json = { email: body.email === undefined ? tenant.personEmail : emailFor(body.email, serial) };
    return call('register', 'POST /t/{tenant}/password-resets', tenant, serial, {
      method: 'POST',
      path: `/t/${tenant.slug}/password-resets`,
      json,
    });
  }),
  fc.record({ token: anything, password }, { requiredKeys: [] }).map((json) => (tenant, serial) => {
    const path = `/t/${tenant.slug}/password-resets/confirm`;
    return call('register', 'POST /t/{tenant}/password-resets/confirm', tenant, serial, { method: 'POST', path, json });
  }),
  fc
    .record({
      what: fc.constantFrom('GET /me', 'PATCH /me', 'PUT /me/consents/{purpose}', 'DELETE /me/consents/{purpose}', 'GET /me/export'),
      token: own(text),
      purpose,
      body: fc.oneof(profileChanges, fc.record({ policyVersion }), anything),
    })
    .map(({ what, token, purpose: named, body }) => (tenant, serial) => {
      const [method, template] = what.split(' ') as [string, string];
      const path = `/t/${tenant.slug}${template.replace('{purpose}', segment(named))}`;
      const headers = { authorization: bearer(token, tenant.apiToken) };
      return call('register', `${method} /t/{tenant}${template}`, tenant, serial, {
        method,
        path,
        headers,
        json: method === 'PATCH' || method === 'PUT' ? body : undefined,
      });
    }),
];

const grantType = mostly(fc.constantFrom('client_credentials', 'authorization_code', 'refresh_token', 'password'), text);
const scope = mostly(fc.constantFrom('openid', 'openid email profile offline_access', 'admin'), text);

const loginCalls: fc.Arbitrary<HostileCallOf>[] = [
  fc
    .record({
      grant_type: grantType,
      client_id: own(text),
      code: maybe(text),
      refresh_token: maybe(text),
      code_verifier: maybe(text),
      scope: maybe(scope),
      resource: maybe(mostly(fc.constant('urn:tessera:api'), text)),
      json: fc.boolean(),
    })
    .map(({ json, client_id, ...fields }) => (tenant, serial) => {
      const body = { ...fields, client_id: client_id ?? tenant.clientId, redirect_uri: tenant.redirectUri };
      const headers = { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' };
      const path = `/t/${tenant.slug}/token`;
      return call('login', 'POST /t/{tenant}/token', tenant, serial, {
        method: 'POST',
        path,
        headers,
        body: json ? hostileJson(body) : form(body),
      });
    }),
  fc
    .record({
      client_id: own(text),
      response_type: mostly(fc.constant('code'), text),
      redirect_uri: own(text),
      scope,
      state: maybe(text),
      nonce: maybe(text),
      prompt: maybe(mostly(fc.constantFrom('login', 'consent', 'none'), text)),
      code_challenge: maybe(mostly(fc.constant('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'), text)),
      code_challenge_method: maybe(mostly(fc.constant('S256'), text)),
      resource: maybe(text),
    })
    .map(({ client_id, redirect_uri, ...params }) => (tenant, serial) => {
      const path = `/t/${tenant.slug}/auth?${query({ ...params, client_id: client_id ?? tenant.clientId, redirect_uri: redirect_uri ?? tenant.redirectUri })}`;
      return call('login', 'GET /t/{tenant}/auth', tenant, serial, { method: 'GET', path });
    }),
  fc.record({ token: own(text), post: fc.boolean() }).map(({ token, post }) => (tenant, serial) => {
    const headers = { authorization: bearer(token, tenant.userinfoToken) };
    return call('login', `${post ? 'POST' : 'GET'} /t/{tenant}/me`, tenant, serial, {
      method: post ? 'POST' : 'GET',
      path: `/t/${tenant.slug}/me`,
      headers,
    });
  }),
  fc
    .record({ token: own(text), token_type_hint: maybe(text), client_id: own(text), basic: maybe(text) })
    .map(({ token, token_type_hint, client_id, basic }) => (tenant, serial) => {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (basic !== undefined) headers.authorization = `Basic ${Buffer.from(String(basic)).toString('base64')}`;
      const body = form({ token: token ?? tenant.userinfoToken, token_type_hint, client_id: client_id ?? tenant.clientId });
      const path = `/t/${tenant.slug}/token/introspection`;
      return call('login', 'POST /t/{tenant}/token/introspection', tenant, serial, { method: 'POST', path, headers, body });
    }),
  fc
    .record({
      page: fc.nat(),
      email: mostly(fc.constantFrom('nobody@example.com', 'ada@example.org', undefined), fc.oneof(text, anything)),
      password: mostly(fc.constantFrom('not the password', STRONG_PASSWORD.toUpperCase()), fc.oneof(text, anything)),
      csrf: own(text),
      encoding: fc.constantFrom('form', 'form', 'form', 'json', 'repeated'),
    })
    .map(({ page, email: address, password: secret, csrf, encoding }) => (tenant, serial) => {
      const signIn = tenant.signInForms[page % tenant.signInForms.length]!;
      const fields = { csrf: csrf ?? signIn.csrf, email: address ?? tenant.personEmail, password: secret };
      const body =
        encoding === 'json'
          ? hostileJson(fields)
          : `${form(fields)}${encoding === 'repeated' ? `&${form({ email: 'other@example.com' })}` : ''}`;
      const headers = {
        cookie: signIn.cookie,
        'content-type': encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
      };
      return call('login', 'POST /t/{tenant}/interaction/{uid}/login', tenant, serial, {
        method: 'POST',
        path: new URL(signIn.action).pathname,
        headers,
        body,
      });
    }),
];

const memberOf = (choice: unknown, tenant: HostileTenant) =>
  typeof choice === 'number' ? tenant.members[choice % tenant.members.length]! : (choice as string);
const member = mostly(fc.nat(), text);
/** `undefined`: a fresh key; otherwise what an attacker puts in the header. */
const idempotencyKey = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.option(text, { nil: null }) });
const keyHeader = (key: string | null | undefined, serial: number): Record<string, string> =>
  key === null ? {} : { 'idempotency-key': key === undefined ? hostileRequestId(serial) : headerSafe(key) };

const rule = fc.record(
  {
    id: mostly(fc.constantFrom('order', 'grant'), text),
    event: mostly(fc.constantFrom('Order Completed', 'Grant'), text),
    conditions: orHostile(
      fc.array(fc.record({ property: mostly(fc.constant('total'), text), op: fc.constantFrom('eq', 'gt', 'exists'), value: anything }), {
        maxLength: 2,
      }),
    ),
    award: fc.oneof(
      fc.record({ kind: fc.constant('fixed'), points }),
      fc.record({
        kind: fc.constant('perAmount'),
        property: mostly(fc.constant('total'), text),
        pointsPerUnit: orHostile(fc.constantFrom(1, 0.5)),
        rounding: fc.constantFrom('down', 'up', 'sideways'),
      }),
    ),
    caps: maybe(fc.record({ perDay: maybe(points), perMonth: maybe(points) }, { requiredKeys: [] })),
    sources: maybe(orHostile(fc.subarray(['server', 'client']))),
  },
  { requiredKeys: ['id', 'event', 'award'] },
);

const rewardsCalls: fc.Arbitrary<HostileCallOf>[] = [
  fc
    .record(
      {
        rules: orHostile(fc.array(rule, { maxLength: 3 })),
        tiers: maybe(
          orHostile(
            fc.record({
              periodMonths: orHostile(fc.constant(12)),
              levels: fc.array(fc.record({ name: text, threshold: points }), { maxLength: 3 }),
            }),
          ),
        ),
        expiry: maybe(orHostile(fc.record({ monthsAfterEarning: orHostile(fc.constant(6)) }))),
        limits: maybe(fc.record({ maxPointsPerEvent: maybe(points), perMemberPerDay: maybe(points) }, { requiredKeys: [] })),
      },
      { requiredKeys: ['rules'] },
    )
    .map(
      (json) => (tenant, serial) =>
        call('rewards', 'PUT /t/{tenant}/program', tenant, serial, { method: 'PUT', path: `/t/${tenant.slug}/program`, json }),
    ),
  fc
    .record(
      {
        name: orHostile(fc.constantFrom('Mug', 'Tote bag')),
        cost: points,
        stock: orHostile(fc.oneof(fc.integer({ min: 0, max: BOUNDS.quantity }), hostileNumber)),
        perMemberLimit: maybe(points),
        validFrom: maybe(orHostile(instant)),
        validUntil: maybe(orHostile(instant)),
      },
      { requiredKeys: ['name', 'cost', 'stock'] },
    )
    .map(
      (json) => (tenant, serial) =>
        call('rewards', 'POST /t/{tenant}/rewards', tenant, serial, {
          method: 'POST',
          path: `/t/${tenant.slug}/rewards`,
          json,
          storesOnSuccess: true,
        }),
    ),
  fc.record({ member, reward: own(anything), key: idempotencyKey }).map(
    ({ member: who, reward, key }) =>
      (tenant, serial) =>
        call('rewards', 'POST /t/{tenant}/members/{userId}/redemptions', tenant, serial, {
          method: 'POST',
          path: `/t/${tenant.slug}/members/${segment(memberOf(who, tenant))}/redemptions`,
          headers: keyHeader(key, serial),
          json: { rewardId: reward ?? tenant.rewardId },
          // A key used before answers as it did then and stores nothing new.
          storesOnSuccess: key === undefined,
        }),
  ),
  fc
    .record({
      member,
      key: idempotencyKey,
      body: fc.record(
        { points, reason: orHostile(fc.constant('goodwill')), actor: orHostile(fc.constant('agent-7')) },
        { requiredKeys: [] },
      ),
    })
    .map(
      ({ member: who, key, body }) =>
        (tenant, serial) =>
          call('rewards', 'POST /t/{tenant}/members/{userId}/adjustments', tenant, serial, {
            method: 'POST',
            path: `/t/${tenant.slug}/members/${segment(memberOf(who, tenant))}/adjustments`,
            headers: keyHeader(key, serial),
            json: body,
            storesOnSuccess: key === undefined,
          }),
    ),
  fc
    .record({
      template: fc.constantFrom(
        '/members/{id}',
        '/members/{id}/transactions',
        '/rewards',
        '/rewards/{id}',
        '/redemptions',
        '/redemptions/{id}',
        '/program',
      ),
      id: fc.oneof(member, text),
      page: fc.record({
        cursor: maybe(text),
        limit: maybe(orHostile(fc.integer({ min: 1, max: 100 }))),
        status: maybe(mostly(fc.constant('confirmed'), text)),
      }),
    })
    .map(({ template, id, page }) => (tenant, serial) => {
      const path = `/t/${tenant.slug}${template.replace('{id}', segment(memberOf(id, tenant)))}?${query(page)}`;
      return call('rewards', `GET /t/{tenant}${template}`, tenant, serial, { method: 'GET', path });
    }),
  fc.record({ id: text, action: fc.constantFrom('fulfilment', 'cancellation') }).map(
    ({ id, action }) =>
      (tenant, serial) =>
        call('rewards', `POST /t/{tenant}/redemptions/{id}/${action}`, tenant, serial, {
          method: 'POST',
          path: `/t/${tenant.slug}/redemptions/${segment(id)}/${action}`,
        }),
  ),
];

/**
 * Any call of the four services' public APIs, tracking most often (it is the busiest edge and the
 * one a write key opens to anyone). Rewards calls carry the tenant's api key.
 */
export const hostileCall: fc.Arbitrary<HostileCallOf> = fc.oneof(
  { weight: 12, arbitrary: pulseCalls[0]! },
  { weight: 5, arbitrary: fc.oneof(...pulseCalls.slice(1)) },
  { weight: 8, arbitrary: fc.oneof(...registerCalls) },
  { weight: 8, arbitrary: fc.oneof(...loginCalls) },
  {
    weight: 8,
    arbitrary: fc.oneof(...rewardsCalls).map((make) => (tenant: HostileTenant, serial: number) => {
      const made = make(tenant, serial);
      return { ...made, headers: { authorization: `Bearer ${tenant.apiKey}`, ...made.headers } };
    }),
  },
);
