import {
  allowedByItsConsent,
  TrackingPurposesSet,
  trackingPurposesBody,
  NO_PURPOSES,
  purposeOf,
  refusedByItsConsent,
  trackingPurposesDecider,
  type TrackingPurposes,
} from './tracking-purposes';

const now = new Date('2026-12-06T10:00:00Z');
const purposes: TrackingPurposes = {
  rules: [
    { purpose: 'marketing', events: ['Email Opened', 'Ad Clicked'] },
    { purpose: 'analytics', kinds: ['page', 'screen'] },
    { purpose: 'analytics', events: ['*'] },
  ],
  segmentCategories: { Advertising: 'marketing' },
  requireGrant: [],
};

describe('which purpose a tracked message serves', () => {
  test('the first matching rule names it: an event by name before every track, a type by kind', () => {
    expect(purposeOf({ kind: 'track', event: 'Email Opened' }, purposes)).toBe('marketing');
    expect(purposeOf({ kind: 'track', event: 'Order Completed' }, purposes)).toBe('analytics');
    expect(purposeOf({ kind: 'page' }, purposes)).toBe('analytics');
  });

  test('a message no rule matches serves none, and neither does any message of a tenant without rules', () => {
    expect(purposeOf({ kind: 'identify' }, purposes)).toBeUndefined();
    expect(purposeOf({ kind: 'track', event: 'Email Opened' }, NO_PURPOSES)).toBeUndefined();
  });

  test("Segment's consent object refuses a purpose through its mapped category, or the category of the purpose's own name", () => {
    const withPreferences = (categoryPreferences: object) => ({ context: { consent: { categoryPreferences } } }) as never;
    expect(refusedByItsConsent(withPreferences({ Advertising: false, Analytics: true }), 'marketing', purposes)).toBe(true);
    expect(refusedByItsConsent(withPreferences({ Analytics: false }), 'analytics', purposes)).toBe(true);
    expect(refusedByItsConsent(withPreferences({ Advertising: true, Analytics: true }), 'marketing', purposes)).toBe(false);
    // Unmapped categories are compared by name: "Marketing" is not the mapped "Advertising", but it is "marketing".
    expect(refusedByItsConsent(withPreferences({ Marketing: false }), 'marketing', purposes)).toBe(true);
    expect(refusedByItsConsent({ context: { consent: 'no' } } as never, 'marketing', purposes)).toBe(false);
    expect(refusedByItsConsent({} as never, 'marketing', purposes)).toBe(false);
  });
});

describe('setting the rules', () => {
  test('given none, when rules are set, then TrackingPurposesSet; setting the same again records nothing', () => {
    const set = trackingPurposesDecider.decide({ type: 'SetTrackingPurposes', purposes, now }, NO_PURPOSES);
    expect(set).toMatchObject({ accepted: true, events: [{ type: 'TrackingPurposesSet', data: { ...purposes, at: now.toISOString() } }] });
    if (!set.accepted) throw new Error('refused');
    const state = trackingPurposesDecider.evolve(NO_PURPOSES, set.events[0]!);
    expect(trackingPurposesDecider.decide({ type: 'SetTrackingPurposes', purposes, now }, state)).toMatchObject({
      accepted: true,
      events: [],
    });
  });

  test.each([
    [{ rules: [{ purpose: 'Marketing', events: ['x'] }] }, ['/rules/0/purpose']],
    [{ rules: [{ purpose: 'marketing' }] }, ['/rules/0']],
    [{ rules: [{ purpose: 'marketing', kinds: ['click'] }] }, ['/rules/0/kinds/0']],
    [{ rules: [{ purpose: 'marketing', events: ['a\u0000b'] }] }, ['/rules/0/events/0']],
    [{ rules: [], segmentCategories: { Ads: 'Not A Purpose' } }, ['/segmentCategories/Ads']],
    [{ rules: [], extra: 1 }, ['']],
  ])('a body such as %j is refused, naming %j', (body, pointers) => {
    const parsed = trackingPurposesBody.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((issue) => `/${issue.path.join('/')}`.replace(/^\/$/, ''))).toEqual(pointers);
  });
});

describe('purposes that need consent given (opt-in)', () => {
  test("a message's consent object allows a purpose through its mapped category, or the category of the purpose's own name", () => {
    const withPreferences = (categoryPreferences: object) => ({ context: { consent: { categoryPreferences } } }) as never;
    expect(allowedByItsConsent(withPreferences({ Advertising: true }), 'marketing', purposes)).toBe(true);
    expect(allowedByItsConsent(withPreferences({ Marketing: true }), 'marketing', purposes)).toBe(true);
    expect(allowedByItsConsent(withPreferences({ Advertising: false }), 'marketing', purposes)).toBe(false);
    expect(allowedByItsConsent(withPreferences({ Analytics: true }), 'marketing', purposes)).toBe(false);
    expect(allowedByItsConsent({} as never, 'marketing', purposes)).toBe(false);
  });

  test('rules set before requireGrant existed require no grant', () => {
    const old = TrackingPurposesSet({ rules: purposes.rules as never, segmentCategories: {}, at: '2026-01-01T00:00:00.000Z' });
    expect(trackingPurposesDecider.evolve(NO_PURPOSES, old).requireGrant).toEqual([]);
  });

  test('the opt-in purposes are recorded once each, with the rules', () => {
    const decision = trackingPurposesDecider.decide(
      { type: 'SetTrackingPurposes', purposes: { ...purposes, requireGrant: ['marketing', 'marketing'] }, now },
      NO_PURPOSES,
    );
    expect(decision).toMatchObject({ accepted: true, events: [{ data: { requireGrant: ['marketing'] } }] });
  });
});
