import fc from 'fast-check';
import { WEEKDAYS } from '../src/campaigns/campaign.events';
import { anyValue, hostileText } from '../../../test/support/hostile-values';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

type Body = Record<string, unknown>;

/** A campaign the API must take: every field within its rules, ids unique to the run. */
const validCampaign: fc.Arbitrary<Body> = fc.record(
  {
    id: fc.uuid().map((uuid) => `c-${uuid}`),
    name: fc.stringMatching(/^ ?[A-Za-z][A-Za-z0-9 ]{0,30}$/),
    event: fc.constantFrom('Order Completed', 'Audience Entered', 'Grant'),
    sources: fc.constantFrom(['server'], ['client', 'server']),
    conditions: fc.array(
      fc.oneof(
        fc.record({ property: fc.constantFrom('currency', 'channel'), op: fc.constant('eq'), value: fc.constantFrom('EUR', 'web') }),
        fc.record({
          property: fc.constantFrom('total', 'order.total'),
          op: fc.constantFrom('gt', 'lte'),
          value: fc.integer({ min: 0, max: 1000 }),
        }),
      ),
      { maxLength: 2 },
    ),
    award: fc.record({
      bonus: fc.integer({ min: 1, max: 1000 }),
      multiplier: fc.option(
        fc.integer({ min: 100, max: 500 }).map((hundredths) => hundredths / 100),
        { nil: null },
      ),
      tierMultipliers: fc.dictionary(fc.constantFrom('gold', 'silver'), fc.constantFrom(1.5, 2, 3)),
    }),
    validUntil: fc.option(
      fc.date({ min: new Date('2030-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }).map((date) => date.toISOString()),
      { nil: null },
    ),
    schedule: fc.option(
      fc.record({
        timeZone: fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York'),
        days: fc.uniqueArray(fc.constantFrom(...WEEKDAYS), { minLength: 1, maxLength: 7 }),
        hours: fc.option(
          fc
            .integer({ min: 0, max: 22 })
            .chain((from) => fc.record({ from: fc.constant(from), until: fc.integer({ min: from + 1, max: 24 }) })),
          { nil: null },
        ),
      }),
      { nil: null },
    ),
    limits: fc.record({
      budget: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: null }),
      perMemberAwards: fc.option(fc.integer({ min: 1, max: 10 }), { nil: null }),
      perMemberPoints: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: null }),
      firstOrders: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
    }),
  },
  { requiredKeys: ['id', 'name', 'event', 'award'] },
);

/** Where a hostile value goes: a field of the body or of one of its objects (its JSON pointer). */
const FIELDS = [
  '/id',
  '/name',
  '/event',
  '/sources',
  '/conditions',
  '/award',
  '/award/bonus',
  '/award/multiplier',
  '/award/tierMultipliers',
  '/validFrom',
  '/validUntil',
  '/schedule',
  '/schedule/timeZone',
  '/schedule/days',
  '/schedule/hours',
  '/limits',
  '/limits/budget',
  '/limits/perMemberAwards',
  '/limits/firstOrders',
  '/unknownField',
] as const;

const hostileValue = fc.oneof(
  anyValue(hostileText(['Order Completed', 'gold', '2026-13-01T00:00:00Z', '1969-12-31T23:59:59Z', 'Mars/Olympus', 'mon'])),
  fc.constantFrom(0, -1, 0.5, 1.005, 100.01, 1e300, 2 ** 53, [], {}, ['mon', 'mon'], [{ property: 'a..b', op: 'eq', value: 1 }]),
);

/** A valid campaign with one field made hostile (or left out): the pointer says which. */
const hostileCampaign = fc
  .tuple(validCampaign, fc.constantFrom(...FIELDS), fc.option(hostileValue, { nil: undefined, freq: 8 }))
  .map(([body, pointer, value]) => {
    const copy = structuredClone(body);
    const path = pointer.slice(1).split('/');
    let parent = copy;
    for (const key of path.slice(0, -1)) {
      if (typeof parent[key] !== 'object' || parent[key] === null) parent[key] = {};
      parent = parent[key] as Body;
    }
    if (value === undefined) delete parent[path.at(-1)!];
    else parent[path.at(-1)!] = value;
    return { body: copy, pointer };
  });

/** Well-formed campaigns that break a rule the shape cannot say (the decider's): each names its own pointer. */
const ruleBreaking = fc
  .tuple(validCampaign, fc.constantFrom('award', 'hours', 'validity'))
  .map(([body, rule]): { body: Body; pointer: string } => {
    switch (rule) {
      case 'award':
        return { body: { ...body, award: { bonus: 0 } }, pointer: '/award' };
      case 'hours':
        return {
          body: { ...body, schedule: { timeZone: 'UTC', days: ['mon'], hours: { from: 10, until: 10 } } },
          pointer: '/schedule/hours/until',
        };
      default:
        return { body: { ...body, validFrom: '2035-01-01T00:00:00Z', validUntil: '2031-01-01T00:00:00Z' }, pointer: '/validUntil' };
    }
  });

/** A quarter of the bodies are valid, so the property always sees campaigns accepted and read back. */
const campaignBody = fc.oneof(
  { weight: 1, arbitrary: validCampaign.map((body) => ({ body, pointer: undefined })) },
  { weight: 2, arbitrary: hostileCampaign },
  { weight: 1, arbitrary: ruleBreaking },
);

/** Hostile campaign definitions: refused with a 400 naming the field and nothing stored, or accepted and read back as sent. */
describe('campaign bodies', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
  });
  afterAll(() => h?.close());

  const http = () => h.rewards.http();

  test('each is refused naming the field with nothing stored, or accepted and readable back equal', async () => {
    const outcomes = { accepted: 0, refused: 0 };
    // Generated ids repeat across runs: a refused body may carry the id of one accepted earlier.
    const acceptedIds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(campaignBody, async ({ body: generated, pointer }) => {
        // What reaches the API is the JSON of the body: a NaN is sent as null, an undefined member not at all.
        const body = JSON.parse(JSON.stringify(generated)) as Body;
        const before = await h.storedEvents();
        const response = await http().post(`/t/${tenant.slug}/campaigns`).set(auth(tenant)).send(body);
        if (response.status === 400) {
          outcomes.refused++;
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
          const pointers = (response.body.errors as { pointer: string }[]).map((error) => error.pointer);
          expect(pointers.length).toBeGreaterThan(0);
          // The field made hostile is named (a whole object left out is named by itself, a bad member by its path).
          if (pointer !== undefined) expect(pointers.some((named) => named.startsWith(pointer) || pointer.startsWith(named))).toBe(true);
          expect(await h.storedEvents()).toBe(before);
          if (typeof body.id === 'string' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(body.id) && !acceptedIds.has(body.id))
            expect((await http().get(`/t/${tenant.slug}/campaigns/${body.id}`).set(auth(tenant))).status).toBe(404);
          return;
        }
        if (typeof body.id === 'string' && acceptedIds.has(body.id)) {
          // The id of a campaign accepted earlier in this run (shrinking replays them): a conflict, nothing stored.
          expect(response.status).toBe(409);
          expect(await h.storedEvents()).toBe(before);
          return;
        }
        expect([response.status, response.body]).toEqual([201, expect.anything()]);
        outcomes.accepted++;
        acceptedIds.add(String(body.id));
        const shown = await http()
          .get(`/t/${tenant.slug}/campaigns/${String(body.id)}`)
          .set(auth(tenant));
        expect(shown.body).toEqual(response.body);
        expectAsSent(shown.body, body);
        // Archived, so the tenant's limit on live campaigns never refuses a later valid one.
        await http()
          .post(`/t/${tenant.slug}/campaigns/${String(body.id)}/archive`)
          .set(auth(tenant))
          .expect(200);
      }),
      { numRuns: 80 },
    );
    expect(outcomes.accepted).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});

/** The terms read back are the terms sent, in the API's normal form (names and the event trimmed, days in week order, defaults filled). */
function expectAsSent(shown: Body, sent: Body): void {
  const award = sent.award as Body;
  const limits = (sent.limits ?? {}) as Body;
  const schedule = sent.schedule as Body | null | undefined;
  expect(shown).toMatchObject({
    id: sent.id,
    name: String(sent.name).trim(),
    event: String(sent.event).trim(),
    conditions: sent.conditions ?? [],
    award: { bonus: award.bonus ?? 0, multiplier: award.multiplier ?? null, tierMultipliers: award.tierMultipliers ?? {} },
    validUntil: sent.validUntil ?? null,
    limits: {
      budget: limits.budget ?? null,
      perMemberAwards: limits.perMemberAwards ?? null,
      perMemberPoints: limits.perMemberPoints ?? null,
      firstOrders: limits.firstOrders ?? null,
    },
  });
  if (sent.sources !== undefined) expect(new Set(shown.sources as string[])).toEqual(new Set(sent.sources as string[]));
  if (schedule)
    expect(shown.schedule).toEqual({
      timeZone: schedule.timeZone ?? 'UTC',
      days: WEEKDAYS.filter((day) => ((schedule.days as string[] | undefined) ?? WEEKDAYS).includes(day)),
      hours: schedule.hours ?? null,
    });
  else expect(shown.schedule).toBeNull();
}
