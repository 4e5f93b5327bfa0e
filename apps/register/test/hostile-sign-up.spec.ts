import fc from 'fast-check';
import { anyValue, hostileText, mostly } from '../../../test/support/hostile-values';
import { startRegister, STRONG_PASSWORD, type RegisterHarness } from '../../../test/support/register-harness';

/**
 * Sign-up against generated bodies, as an attacker would send them: any JSON at all, and bodies of
 * the right shape whose values are hostile (control characters, unpaired surrogates, huge or empty
 * strings, wrong types, extreme numbers). Every answer is 201 or a 4xx problem, never a 5xx, and
 * a 4xx leaves the event store and the read model as they were.
 */
describe('sign-up under generated hostile bodies', () => {
  let register: RegisterHarness;
  let slug: string;
  beforeAll(async () => {
    register = await startRegister();
    slug = (await register.createTenant()).slug;
  });
  afterAll(() => register.close());

  async function stored(): Promise<{ events: number; profiles: number }> {
    const { rows } = await register.runtime.infrastructure.pool.query<{ events: number; profiles: number }>(
      'SELECT (SELECT count(*)::int FROM es_events) AS events, (SELECT count(*)::int FROM register_profiles) AS profiles',
    );
    return rows[0]!;
  }

  const text = hostileText(['x'.repeat(300), 'é'.repeat(257)]);
  const anything = anyValue(text);
  const orHostile = <T>(valid: fc.Arbitrary<T>) => mostly(valid, anything);
  const address = fc
    .tuple(fc.stringMatching(/^[a-z0-9]{1,12}(?:[._+-][a-z0-9]{1,6})?$/), fc.constantFrom('example.com', 'mail.example.org', 'b.co'))
    .map(([local, domain]) => `${local}@${domain}`);
  const email = mostly(
    address,
    fc.oneof(
      text,
      anything,
      fc.emailAddress(),
      fc.tuple(address, text).map(([valid, noise]) => `${noise}${valid}`),
    ),
  );
  const password = mostly(
    fc.constantFrom(STRONG_PASSWORD, 'another long passphrase', 'ünïcödé pässphrase ✓'),
    fc.oneof(
      text,
      anything,
      text.map((noise) => `${STRONG_PASSWORD}${noise}`),
    ),
  );
  const profile = fc.record(
    {
      givenName: orHostile(fc.constantFrom('Ada', 'Grace', 'José', null)),
      familyName: orHostile(fc.constantFrom('Lovelace', 'Hopper', null)),
      phone: orHostile(fc.constantFrom('+441632960961', null)),
      locale: orHostile(fc.constantFrom('en-GB', 'fr', null)),
    },
    { requiredKeys: [] },
  );
  const profileWithUnknownKey = fc.tuple(profile, text, anything).map(([known, key, value]) => ({ ...known, [key]: value }));
  const consent = fc.record({
    purpose: orHostile(fc.constantFrom('marketing', 'analytics', 'newsletter.weekly')),
    policyVersion: orHostile(fc.constantFrom('2026-01', 'v2')),
  });
  const shapedBody = fc.record(
    {
      email,
      password,
      profile: mostly(profile, fc.oneof(anything, profileWithUnknownKey)),
      consents: orHostile(fc.uniqueArray(consent, { maxLength: 3, selector: (c) => c.purpose })),
    },
    { requiredKeys: ['email', 'password'] },
  );
  const body = fc.oneof({ weight: 4, arbitrary: shapedBody }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) });

  test('answers 201 or 4xx, never 5xx, and a 4xx stores nothing', async () => {
    let created = 0;
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const before = await stored();
        const response = await register
          .http()
          .post(`/t/${slug}/users`)
          .set('content-type', 'application/json')
          .send(JSON.stringify(generated));
        expect(response.status === 201 || (response.status >= 400 && response.status < 500)).toBe(true);
        if (response.status === 201) {
          created += 1;
          return;
        }
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(await stored()).toEqual(before);
      }),
      { numRuns: 150 },
    );
    // The generator reaches the accepting path too, not only refusals.
    expect(created).toBeGreaterThan(5);
  });
});
