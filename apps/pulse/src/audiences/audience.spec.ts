import { given } from '#cqrs/testing';
import { matches, MAX_RULE_DEPTH, parseRule, type AudienceRule } from './audience-rule';
import { audiencesDecider, MAX_AUDIENCES_PER_TENANT, MAX_TRAITS_PER_TENANT } from './audience.decider';
import { AudienceDefined, AudienceRemoved, ComputedTraitDefined, ComputedTraitRemoved, type TraitDefinition } from './audience.events';

const now = new Date('2026-12-06T10:00:00Z');
const at = now.toISOString();
const orders: TraitDefinition = { kind: 'count', event: 'Order Completed', windowDays: 30 };
const bigSpenders = { name: 'Big spenders', rule: { computed: 'orders_30d', op: 'gte', value: 3 } as AudienceRule };

describe('computed trait keys are unique and bounded per tenant', () => {
  test('given no traits, when one is defined, then ComputedTraitDefined', () => {
    given(audiencesDecider, [])
      .when({ type: 'DefineTrait', key: 'orders_30d', definition: orders, now })
      .then([ComputedTraitDefined({ key: 'orders_30d', definition: orders, at })]);
  });

  test('given a trait, when its key is defined again, then KeyTaken (a definition is never silently changed)', () => {
    given(audiencesDecider, [ComputedTraitDefined({ key: 'orders_30d', definition: orders, at })])
      .when({ type: 'DefineTrait', key: 'orders_30d', definition: { kind: 'firstSeen' }, now })
      .thenRejects({ kind: 'KeyTaken', key: 'orders_30d' });
  });

  test(`given ${MAX_TRAITS_PER_TENANT} traits, when another is defined, then LimitReached`, () => {
    const history = Array.from({ length: MAX_TRAITS_PER_TENANT }, (_, i) => ComputedTraitDefined({ key: `t${i}`, definition: orders, at }));
    given(audiencesDecider, history)
      .when({ type: 'DefineTrait', key: 'one_more', definition: orders, now })
      .thenRejects({ kind: 'LimitReached', limit: MAX_TRAITS_PER_TENANT });
  });

  test('given a removed trait, when its key is defined again, then it is defined', () => {
    given(audiencesDecider, [
      ComputedTraitDefined({ key: 'orders_30d', definition: orders, at }),
      ComputedTraitRemoved({ key: 'orders_30d', at }),
    ])
      .when({ type: 'DefineTrait', key: 'orders_30d', definition: orders, now })
      .then([ComputedTraitDefined({ key: 'orders_30d', definition: orders, at })]);
  });
});

describe('an audience reads only computed traits that exist', () => {
  test('given the trait, when an audience reads it, then AudienceDefined', () => {
    given(audiencesDecider, [ComputedTraitDefined({ key: 'orders_30d', definition: orders, at })])
      .when({ type: 'DefineAudience', key: 'big_spenders', definition: bigSpenders, now })
      .then([AudienceDefined({ key: 'big_spenders', definition: bigSpenders, at })]);
  });

  test('given no such trait, when an audience reads it, then UnknownComputedTrait naming the comparison', () => {
    const rule: AudienceRule = { and: [{ trait: 'plan', op: 'eq', value: 'pro' }, { not: { computed: 'nope', op: 'exists' } }] };
    given(audiencesDecider, [])
      .when({ type: 'DefineAudience', key: 'a', definition: { name: 'A', rule }, now })
      .thenRejects({ kind: 'UnknownComputedTrait', key: 'nope', pointer: '/rule/and/1/not/computed' });
  });

  test('given an audience reading a trait, when the trait is removed, then TraitInUse; once the audience is gone, it can be', () => {
    const history = [
      ComputedTraitDefined({ key: 'orders_30d', definition: orders, at }),
      AudienceDefined({ key: 'big_spenders', definition: bigSpenders, at }),
    ];
    given(audiencesDecider, history)
      .when({ type: 'RemoveTrait', key: 'orders_30d', now })
      .thenRejects({ kind: 'TraitInUse', audiences: ['big_spenders'] });
    given(audiencesDecider, [...history, AudienceRemoved({ key: 'big_spenders', at })])
      .when({ type: 'RemoveTrait', key: 'orders_30d', now })
      .then([ComputedTraitRemoved({ key: 'orders_30d', at })]);
  });

  test(`given ${MAX_AUDIENCES_PER_TENANT} audiences, when another is defined, then LimitReached; removing an unknown one is NotFound`, () => {
    const history = Array.from({ length: MAX_AUDIENCES_PER_TENANT }, (_, i) =>
      AudienceDefined({ key: `a${i}`, definition: { name: 'A', rule: { trait: 'plan', op: 'exists' } }, at }),
    );
    given(audiencesDecider, history)
      .when({ type: 'DefineAudience', key: 'more', definition: { name: 'More', rule: { trait: 'plan', op: 'exists' } }, now })
      .thenRejects({ kind: 'LimitReached', limit: MAX_AUDIENCES_PER_TENANT });
    given(audiencesDecider, []).when({ type: 'RemoveAudience', key: 'ghost', now }).thenRejects({ kind: 'NotFound' });
  });
});

describe('a rule parses only when it is small, well-formed and total', () => {
  test.each([
    [{ computed: 'x', op: 'between', value: 1 }, '/rule/op'],
    [{ and: [] }, '/rule/and'],
    [{ or: [{ trait: 'a', op: 'eq', value: {} }] }, '/rule/or/0/value'],
    [{ trait: 'a', op: 'exists', value: 1 }, '/rule/value'],
    [{ trait: 'a', op: 'gt', value: true }, '/rule/value'],
    [{ trait: 'a\u0000', op: 'exists' }, '/rule/trait'],
    [{ trait: 'a', op: 'exists', extra: 1 }, '/rule/extra'],
    [{ not: 'x' }, '/rule/not'],
    [{ and: [{ trait: 'a', op: 'exists' }], or: [] }, '/rule'],
    [[], '/rule'],
  ])('%j is refused at %s', (input, pointer) => {
    const parsed = parseRule(input, '/rule');
    expect(parsed.problems?.[0]?.pointer).toBe(pointer);
  });

  test(`nesting past ${MAX_RULE_DEPTH} levels is refused before it is walked further`, () => {
    let rule: unknown = { trait: 'a', op: 'exists' };
    for (let i = 0; i < 10_000; i++) rule = { not: rule };
    expect(parseRule(rule, '/rule').problems?.[0]?.message).toMatch(/nest at most/);
  });

  test('a rule of too many parts is refused', () => {
    const wide = { or: Array.from({ length: 20 }, () => ({ and: Array.from({ length: 20 }, () => ({ trait: 'a', op: 'exists' })) })) };
    expect(parseRule(wide, '/rule').problems?.[0]?.message).toMatch(/at most 64 parts/);
  });
});

describe('a rule is evaluated totally over a profile', () => {
  const facts = { traits: { plan: 'pro', age: 42 }, computed: { orders_30d: 3, first_order: '2026-11-01T00:00:00.000Z' } };
  const parsed = (input: unknown) => {
    const result = parseRule(input, '');
    if (result.problems) throw new Error(JSON.stringify(result.problems));
    return result.rule;
  };

  test('comparisons, and, or and not combine as in logic', () => {
    expect(matches(parsed({ computed: 'orders_30d', op: 'gte', value: 3 }), facts)).toBe(true);
    expect(matches(parsed({ computed: 'orders_30d', op: 'gt', value: 3 }), facts)).toBe(false);
    expect(
      matches(parsed({ and: [{ trait: 'plan', op: 'eq', value: 'pro' }, { not: { trait: 'age', op: 'lt', value: 18 } }] }), facts),
    ).toBe(true);
    expect(
      matches(
        parsed({
          or: [
            { trait: 'plan', op: 'eq', value: 'free' },
            { computed: 'first_order', op: 'lt', value: '2026-12-01' },
          ],
        }),
        facts,
      ),
    ).toBe(true);
  });

  test('a missing value or one of another type compares false, except for missing', () => {
    expect(matches(parsed({ trait: 'city', op: 'ne', value: 'Paris' }), facts)).toBe(false);
    expect(matches(parsed({ trait: 'city', op: 'missing' }), facts)).toBe(true);
    expect(matches(parsed({ trait: 'plan', op: 'gt', value: 3 }), facts)).toBe(false);
    expect(matches(parsed({ trait: '__proto__', op: 'exists' }), facts)).toBe(false);
  });
});
