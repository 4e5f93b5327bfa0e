import { EventRegistry } from '#cqrs';
import { given } from '#cqrs/testing';
import { BOUNDS } from '#platform';
import { programDecider } from './program.decider';
import { ProgramPublished, programEvents, type EarningRule, type ProgramDefinition } from './program.events';
import { awardPoints, matchingRules } from './program.rules';

const now = new Date('2026-05-01T00:00:00.000Z');
const program: ProgramDefinition = {
  rules: [{ id: 'signup', event: 'UserRegistered', conditions: [], award: { kind: 'fixed', points: 50 }, sources: ['server'] }],
  tiers: {
    periodMonths: 12,
    levels: [
      { name: 'member', threshold: 0 },
      { name: 'vip', threshold: 500 },
    ],
  },
  expiry: { monthsAfterEarning: 12 },
  limits: {},
  refunds: { allowNegativeBalance: false },
};

describe('program', () => {
  test('each publication is a new complete version', () => {
    given(programDecider, [])
      .when({ program, now })
      .then([ProgramPublished({ ...program, version: 1, publishedAt: now.toISOString() })]);
    const changed = { ...program, expiry: null };
    given(programDecider, [ProgramPublished({ ...program, version: 1, publishedAt: '2026-01-01T00:00:00.000Z' })])
      .when({ program: changed, now })
      .then([ProgramPublished({ ...changed, version: 2, publishedAt: now.toISOString() })]);
  });

  test('a version 1 program, published before sources were told apart, reads as earning from server sources only, without limits', () => {
    const { limits: _limits, ...v1 } = program;
    const stored = { ...v1, rules: v1.rules.map(({ sources: _sources, ...rule }) => rule), version: 1, publishedAt: now.toISOString() };
    expect(new EventRegistry(programEvents).upcast('ProgramPublished', 1, JSON.parse(JSON.stringify(stored)))).toEqual({
      ...program,
      rules: [{ ...program.rules[0], sources: ['server'] }],
      limits: {},
      version: 1,
      publishedAt: now.toISOString(),
    });
  });

  test('publishing the same program again mints no version', () => {
    given(programDecider, [ProgramPublished({ ...program, version: 3, publishedAt: '2026-01-01T00:00:00.000Z' })])
      .when({ program, now })
      .thenNothingHappens();
  });

  test('tiers must start at 0 and rise; rule ids are unique; a daily cap or limit cannot exceed the monthly one', () => {
    const bad: ProgramDefinition = {
      rules: [
        {
          id: 'a',
          event: 'X',
          conditions: [],
          award: { kind: 'fixed', points: 1 },
          caps: { perDay: 10, perMonth: 5 },
          sources: ['server'],
        },
        { id: 'a', event: 'Y', conditions: [], award: { kind: 'fixed', points: 1 }, sources: ['server'] },
      ],
      tiers: {
        periodMonths: 12,
        levels: [
          { name: 'a', threshold: 10 },
          { name: 'b', threshold: 5 },
        ],
      },
      expiry: null,
      limits: { perMemberPerDay: 100, perMemberPerMonth: 50 },
      refunds: { allowNegativeBalance: false },
    };
    given(programDecider, [])
      .when({ program: bad, now })
      .thenRejects({
        kind: 'InvalidProgram',
        errors: [
          { pointer: '/rules/0/caps/perDay', message: expect.any(String) },
          { pointer: '/rules/1/id', message: expect.any(String) },
          { pointer: '/limits/perMemberPerDay', message: expect.any(String) },
          { pointer: '/tiers/levels/0/threshold', message: expect.any(String) },
          { pointer: '/tiers/levels/1/threshold', message: expect.any(String) },
        ],
      });
  });
});

describe('earning rules', () => {
  const perAmount = (rounding: 'down' | 'up' | 'nearest') => ({
    kind: 'perAmount' as const,
    property: 'order.total',
    pointsPerUnit: 1.5,
    rounding,
  });

  test.each([
    ['down', 10.99, 16],
    ['up', 10.01, 16],
    ['nearest', 10.33, 15],
    ['nearest', 10.34, 16],
  ] as const)('points per amount round %s: %p gives %p', (rounding, total, points) => {
    expect(awardPoints(perAmount(rounding), { order: { total } })).toBe(points);
  });

  test('an award is never more than one award is worth (BOUNDS.points): 1e300, Infinity, or a product past a double', () => {
    const huge = { kind: 'perAmount' as const, property: 'total', pointsPerUnit: 1, rounding: 'up' as const };
    for (const total of [1e300, Number.MAX_VALUE, Number.POSITIVE_INFINITY, '1e999', 1_073_741_824, BOUNDS.points + 0.5])
      expect(awardPoints(huge, { total })).toBe(BOUNDS.points);
    expect(awardPoints({ ...huge, pointsPerUnit: 1_000_000 }, { total: 1e303 })).toBe(BOUNDS.points);
    expect(awardPoints(huge, { total: BOUNDS.points - 0.5 })).toBe(BOUNDS.points);
    expect(awardPoints(huge, { total: BOUNDS.points - 1 })).toBe(BOUNDS.points - 1);
    for (const total of [Number.NEGATIVE_INFINITY, Number.NaN, '-1e999', 'NaN']) expect(awardPoints(huge, { total })).toBe(0);
  });

  test('binary fractions do not cost a point when rounding down', () => {
    expect(awardPoints({ kind: 'perAmount', property: 'total', pointsPerUnit: 100, rounding: 'down' }, { total: 19.99 })).toBe(1999);
  });

  test('a missing, negative or non-numeric amount earns nothing', () => {
    for (const properties of [{}, { order: { total: -5 } }, { order: { total: 'lots' } }])
      expect(awardPoints(perAmount('up'), properties)).toBe(0);
  });

  test('a rule matches its event name when every condition holds', () => {
    const rules: ProgramDefinition = {
      rules: [
        {
          id: 'big',
          event: 'Order Completed',
          conditions: [
            { property: 'total', op: 'gte', value: 100 },
            { property: 'channel', op: 'in', value: ['web', 'app'] },
          ],
          award: { kind: 'fixed', points: 5 },
          sources: ['server'],
        },
        {
          id: 'any',
          event: 'Order Completed',
          conditions: [{ property: 'coupon', op: 'exists' }],
          award: { kind: 'fixed', points: 1 },
          sources: ['server'],
        },
      ],
      tiers: null,
      expiry: null,
      limits: {},
      refunds: { allowNegativeBalance: false },
    };
    const ids = (properties: Record<string, unknown>, name = 'Order Completed') =>
      matchingRules(rules, { id: 'e', name, properties, kind: 'server' }).map((r) => r.id);
    expect(ids({ total: 120, channel: 'web' })).toEqual(['big']);
    expect(ids({ total: '150', channel: 'app', coupon: 'X' })).toEqual(['big', 'any']);
    expect(ids({ total: 99, channel: 'web' })).toEqual([]);
    expect(ids({ total: 120, channel: 'store' })).toEqual([]);
    expect(ids({ total: 120, channel: 'web' }, 'Order Refunded')).toEqual([]);
  });

  test('a rule earns from server sources only, unless it lists client sources too', () => {
    const rule = (id: string, sources: EarningRule['sources']): EarningRule => ({
      id,
      event: 'Order Completed',
      conditions: [],
      award: { kind: 'fixed', points: 1 },
      sources,
    });
    const rules: ProgramDefinition = {
      rules: [rule('trusted', ['server']), rule('open', ['server', 'client'])],
      tiers: null,
      expiry: null,
      limits: {},
      refunds: { allowNegativeBalance: false },
    };
    const ids = (kind: 'server' | 'client') =>
      matchingRules(rules, { id: 'e', name: 'Order Completed', properties: {}, kind }).map((r) => r.id);
    expect(ids('server')).toEqual(['trusted', 'open']);
    expect(ids('client')).toEqual(['open']);
  });
});
