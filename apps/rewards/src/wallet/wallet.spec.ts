import { given } from '#cqrs/testing';
import { BOUNDS } from '#platform';
import type { ProgramDefinition } from '../program/program.events';
import { walletDecider } from './wallet.decider';
import {
  MemberEnrolled,
  MemberErased,
  PointsAdjusted,
  PointsEarned,
  PointsExpired,
  PointsRedeemed,
  RedemptionCancelled,
  TierChanged,
  TierRetained,
} from './wallet.events';

const userId = 'u1';
const at = (iso: string) => new Date(iso);
const enrolled = MemberEnrolled({ userId, enrolledAt: '2026-01-01T00:00:00.000Z' });
const lot = (lotId: string, points: number, earnedAt: string, expiresAt: string | null, ruleId = 'r') =>
  PointsEarned({
    userId,
    lotId,
    points,
    sourceEventId: lotId.split('/')[0]!,
    ruleId,
    earnedAt,
    expiresAt,
    orderId: null,
    orderAmount: null,
  });

const purchaseProgram: ProgramDefinition = {
  rules: [
    {
      id: 'buy',
      event: 'Order Completed',
      conditions: [{ property: 'currency', op: 'eq', value: 'EUR' }],
      award: { kind: 'perAmount', property: 'total', pointsPerUnit: 1, rounding: 'down' },
      caps: { perDay: 150, perMonth: 200 },
      sources: ['server'],
    },
  ],
  tiers: {
    periodMonths: 12,
    levels: [
      { name: 'bronze', threshold: 0 },
      { name: 'silver', threshold: 100 },
      { name: 'gold', threshold: 1000 },
    ],
  },
  expiry: { monthsAfterEarning: 6 },
  limits: {},
  refunds: { allowNegativeBalance: false },
};
const order = (id: string, total: number, currency = 'EUR', kind: 'server' | 'client' = 'server') => ({
  id,
  name: 'Order Completed',
  properties: { total, currency },
  kind,
});
const earn = (id: string, total: number, now: string, currency = 'EUR') => ({
  type: 'Earn' as const,
  userId,
  source: order(id, total, currency),
  program: purchaseProgram,
  now: at(now),
});

/** One rule paying a point per unit of `total`, without caps of its own, from the sources given. */
const openProgram = (limits: ProgramDefinition['limits'] = {}, sources: ('server' | 'client')[] = ['server']): ProgramDefinition => ({
  rules: [
    {
      id: 'buy',
      event: 'Order Completed',
      conditions: [],
      award: { kind: 'perAmount', property: 'total', pointsPerUnit: 1, rounding: 'down' },
      sources,
    },
  ],
  tiers: null,
  expiry: null,
  limits,
  refunds: { allowNegativeBalance: false },
});
const earnUnder = (program: ProgramDefinition, id: string, total: number, now: string, kind: 'server' | 'client' = 'server') => ({
  type: 'Earn' as const,
  userId,
  source: order(id, total, 'EUR', kind),
  program,
  now: at(now),
});
/** Lots of one award's worth each, earned on the first days of 2025 (so no later day or month counts them). */
const fullLots = (count: number) =>
  Array.from({ length: count }, (_, n) =>
    lot(`full${n}/buy`, BOUNDS.points, `2025-01-01T00:00:${String(n % 60).padStart(2, '0')}.${String(n).padStart(3, '0')}Z`, null, 'buy'),
  );

describe('wallet', () => {
  test('an order earns points per amount, rounded down, expiring N months after earning, and qualifies for a tier at once', () => {
    given(walletDecider, [enrolled])
      .when(earn('e1', 120.9, '2026-03-31T10:00:00.000Z'))
      .then([
        lot('e1/buy', 120, '2026-03-31T10:00:00.000Z', '2026-09-30T10:00:00.000Z', 'buy'),
        TierChanged({
          userId,
          from: null,
          to: 'silver',
          reason: 'upgrade',
          reviewAt: '2027-03-31T10:00:00.000Z',
          changedAt: '2026-03-31T10:00:00.000Z',
        }),
      ]);
  });

  test('the same source event earns once, however often it is delivered', () => {
    given(walletDecider, [enrolled, lot('e1/buy', 20, '2026-03-01T00:00:00.000Z', null, 'buy')])
      .when(earn('e1', 20, '2026-03-01T00:00:00.000Z'))
      .thenNothingHappens();
  });

  test('events whose conditions do not hold earn nothing', () => {
    given(walletDecider, [
      enrolled,
      TierChanged({
        userId,
        from: null,
        to: 'bronze',
        reason: 'upgrade',
        reviewAt: '2027-01-01T00:00:00.000Z',
        changedAt: '2026-01-01T00:00:00.000Z',
      }),
    ])
      .when(earn('e2', 50, '2026-03-01T00:00:00.000Z', 'USD'))
      .thenNothingHappens();
  });

  test('a daily cap limits what one rule gives a member per UTC day', () => {
    given(walletDecider, [
      enrolled,
      lot('e1/buy', 140, '2026-03-01T08:00:00.000Z', null, 'buy'),
      TierChanged({
        userId,
        from: null,
        to: 'silver',
        reason: 'upgrade',
        reviewAt: '2027-03-01T08:00:00.000Z',
        changedAt: '2026-03-01T08:00:00.000Z',
      }),
    ])
      .when(earn('e2', 50, '2026-03-01T20:00:00.000Z'))
      .then([lot('e2/buy', 10, '2026-03-01T20:00:00.000Z', '2026-09-01T20:00:00.000Z', 'buy')]);
  });

  test('a monthly cap limits what one rule gives a member per UTC month', () => {
    const silver = TierChanged({
      userId,
      from: null,
      to: 'silver',
      reason: 'upgrade',
      reviewAt: '2027-03-01T08:00:00.000Z',
      changedAt: '2026-03-01T08:00:00.000Z',
    });
    given(walletDecider, [
      enrolled,
      lot('e1/buy', 150, '2026-03-01T08:00:00.000Z', null, 'buy'),
      silver,
      lot('e2/buy', 40, '2026-03-02T08:00:00.000Z', null, 'buy'),
    ])
      .when(earn('e3', 100, '2026-03-03T08:00:00.000Z'))
      .then([lot('e3/buy', 10, '2026-03-03T08:00:00.000Z', '2026-09-03T08:00:00.000Z', 'buy')]);
  });

  test('a first tracked event enrols the member', () => {
    given(walletDecider, [])
      .when({
        type: 'Earn',
        userId,
        source: { id: 's', name: 'Page Viewed', properties: {}, kind: 'server' },
        now: at('2026-01-01T00:00:00.000Z'),
      })
      .then([enrolled]);
  });

  test('points are consumed first-to-expire-first', () => {
    given(walletDecider, [
      enrolled,
      lot('late/r', 100, '2026-01-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z'),
      lot('never/r', 100, '2026-01-02T00:00:00.000Z', null),
      lot('soon/r', 30, '2026-01-03T00:00:00.000Z', '2026-06-01T00:00:00.000Z'),
    ])
      .when({ type: 'Redeem', userId, redemptionId: 'x', rewardId: 'w', points: 80, now: at('2026-02-01T00:00:00.000Z') })
      .then([
        PointsRedeemed({
          userId,
          redemptionId: 'x',
          rewardId: 'w',
          points: 80,
          lots: [
            { lotId: 'soon/r', points: 30 },
            { lotId: 'late/r', points: 50 },
          ],
          redeemedAt: '2026-02-01T00:00:00.000Z',
        }),
      ]);
  });

  test('a redemption beyond the spendable balance is refused; lots past their expiry do not count', () => {
    given(walletDecider, [
      enrolled,
      lot('a/r', 100, '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'),
      lot('b/r', 50, '2026-01-01T00:00:00.000Z', null),
    ])
      .when({ type: 'Redeem', userId, redemptionId: 'x', rewardId: 'w', points: 60, now: at('2026-02-01T00:00:00.000Z') })
      .thenRejects({ kind: 'InsufficientPoints', available: 50, requested: 60 });
  });

  test('an unknown member cannot redeem', () => {
    given(walletDecider, [])
      .when({ type: 'Redeem', userId, redemptionId: 'x', rewardId: 'w', points: 1, now: at('2026-02-01T00:00:00.000Z') })
      .thenRejects({ kind: 'UnknownMember' });
  });

  test('the same redemption is debited once', () => {
    const redeemed = PointsRedeemed({
      userId,
      redemptionId: 'x',
      rewardId: 'w',
      points: 10,
      lots: [{ lotId: 'a/r', points: 10 }],
      redeemedAt: '2026-01-02T00:00:00.000Z',
    });
    given(walletDecider, [enrolled, lot('a/r', 100, '2026-01-01T00:00:00.000Z', null), redeemed])
      .when({ type: 'Redeem', userId, redemptionId: 'x', rewardId: 'w', points: 10, now: at('2026-01-03T00:00:00.000Z') })
      .thenNothingHappens();
  });

  test('cancelling a redemption gives the points back to their lots, once', () => {
    const lots = [{ lotId: 'a/r', points: 10 }];
    const redeemed = PointsRedeemed({ userId, redemptionId: 'x', rewardId: 'w', points: 10, lots, redeemedAt: '2026-01-02T00:00:00.000Z' });
    const cancelled = RedemptionCancelled({ userId, redemptionId: 'x', points: 10, lots, cancelledAt: '2026-01-03T00:00:00.000Z' });
    const history = [enrolled, lot('a/r', 100, '2026-01-01T00:00:00.000Z', null), redeemed];
    given(walletDecider, history)
      .when({ type: 'CancelRedemption', userId, redemptionId: 'x', now: at('2026-01-03T00:00:00.000Z') })
      .then([cancelled]);
    given(walletDecider, [...history, cancelled])
      .when({ type: 'CancelRedemption', userId, redemptionId: 'x', now: at('2026-01-04T00:00:00.000Z') })
      .thenNothingHappens();
    given(walletDecider, [enrolled])
      .when({ type: 'CancelRedemption', userId, redemptionId: 'y', now: at('2026-01-04T00:00:00.000Z') })
      .thenRejects({ kind: 'UnknownRedemption' });
  });

  test('expiry takes what is left of each lot past its date, and running it again does nothing', () => {
    const history = [
      enrolled,
      lot('a/r', 100, '2026-01-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z'),
      lot('b/r', 40, '2026-02-01T00:00:00.000Z', '2026-08-01T00:00:00.000Z'),
      PointsRedeemed({
        userId,
        redemptionId: 'x',
        rewardId: 'w',
        points: 30,
        lots: [{ lotId: 'a/r', points: 30 }],
        redeemedAt: '2026-03-01T00:00:00.000Z',
      }),
    ];
    const expired = PointsExpired({ userId, lotId: 'a/r', points: 70, expiredAt: '2026-07-15T00:00:00.000Z' });
    given(walletDecider, history)
      .when({ type: 'ExpirePoints', userId, now: at('2026-07-15T00:00:00.000Z') })
      .then([expired]);
    given(walletDecider, [...history, expired])
      .when({ type: 'ExpirePoints', userId, now: at('2026-07-15T00:00:00.000Z') })
      .thenNothingHappens();
  });

  test('a negative adjustment takes points first-to-expire-first and records reason and actor; it cannot overdraw', () => {
    const history = [enrolled, lot('a/r', 10, '2026-01-01T00:00:00.000Z', null)];
    const now = at('2026-02-01T00:00:00.000Z');
    given(walletDecider, history)
      .when({ type: 'Adjust', userId, adjustmentId: 'j', points: -4, reason: 'fraud', actor: 'ops', now })
      .then([
        PointsAdjusted({
          userId,
          adjustmentId: 'j',
          points: -4,
          reason: 'fraud',
          actor: 'ops',
          lots: [{ lotId: 'a/r', points: 4 }],
          expiresAt: null,
          adjustedAt: now.toISOString(),
        }),
      ]);
    given(walletDecider, history)
      .when({ type: 'Adjust', userId, adjustmentId: 'j', points: -11, reason: 'fraud', actor: 'ops', now })
      .thenRejects({ kind: 'InsufficientPoints', available: 10 });
  });

  test('a positive adjustment is a new lot that expires under the program policy', () => {
    const now = at('2026-02-01T00:00:00.000Z');
    given(walletDecider, [enrolled])
      .when({ type: 'Adjust', userId, adjustmentId: 'j', points: 25, reason: 'goodwill', actor: 'ops', program: purchaseProgram, now })
      .then([
        PointsAdjusted({
          userId,
          adjustmentId: 'j',
          points: 25,
          reason: 'goodwill',
          actor: 'ops',
          lots: [{ lotId: 'adjustment/j', points: 25 }],
          expiresAt: '2026-08-01T00:00:00.000Z',
          adjustedAt: now.toISOString(),
        }),
      ]);
  });

  describe('trusted earning', () => {
    test('an event from a client source earns nothing under a rule that trusts server sources only (the default)', () => {
      given(walletDecider, [enrolled])
        .when(earnUnder(openProgram(), 'c1', 100, '2026-03-01T00:00:00.000Z', 'client'))
        .thenNothingHappens();
    });

    test('an event from a client source earns under a rule that lists client sources', () => {
      given(walletDecider, [enrolled])
        .when(earnUnder(openProgram({}, ['server', 'client']), 'c1', 100, '2026-03-01T00:00:00.000Z', 'client'))
        .then([lot('c1/buy', 100, '2026-03-01T00:00:00.000Z', null, 'buy')]);
    });

    test('an event from a server source earns under the default rule', () => {
      given(walletDecider, [enrolled])
        .when(earnUnder(openProgram(), 's1', 100, '2026-03-01T00:00:00.000Z', 'server'))
        .then([lot('s1/buy', 100, '2026-03-01T00:00:00.000Z', null, 'buy')]);
    });
  });

  describe('what a wallet can hold', () => {
    test('an order of 1e300 earns one award is worth (BOUNDS.points), never more, never an error', () => {
      given(walletDecider, [enrolled])
        .when(earnUnder(openProgram(), 'huge', 1e300, '2026-03-01T00:00:00.000Z'))
        .then([lot('huge/buy', BOUNDS.points, '2026-03-01T00:00:00.000Z', null, 'buy')]);
    });

    test('one event earns at most the program limit per event, every matching rule together', () => {
      const twoRules = openProgram({ maxPointsPerEvent: 150 });
      twoRules.rules.push({ ...twoRules.rules[0]!, id: 'again' });
      given(walletDecider, [enrolled])
        .when(earnUnder(twoRules, 'e1', 100, '2026-03-01T00:00:00.000Z'))
        .then([
          lot('e1/buy', 100, '2026-03-01T00:00:00.000Z', null, 'buy'),
          lot('e1/again', 50, '2026-03-01T00:00:00.000Z', null, 'again'),
        ]);
    });

    test('the program limit per member per UTC day holds every rule together; the next day earns again', () => {
      const limited = openProgram({ perMemberPerDay: 100 });
      const history = [enrolled, lot('e1/buy', 80, '2026-03-01T08:00:00.000Z', null, 'buy')];
      given(walletDecider, history)
        .when(earnUnder(limited, 'e2', 50, '2026-03-01T20:00:00.000Z'))
        .then([lot('e2/buy', 20, '2026-03-01T20:00:00.000Z', null, 'buy')]);
      given(walletDecider, [...history, lot('e2/buy', 20, '2026-03-01T20:00:00.000Z', null, 'buy')])
        .when(earnUnder(limited, 'e3', 50, '2026-03-01T21:00:00.000Z'))
        .thenNothingHappens();
      given(walletDecider, history)
        .when(earnUnder(limited, 'e2', 50, '2026-03-02T00:00:00.000Z'))
        .then([lot('e2/buy', 50, '2026-03-02T00:00:00.000Z', null, 'buy')]);
    });

    test('the program limit per member per UTC month holds every rule together', () => {
      given(walletDecider, [enrolled, lot('e1/buy', 80, '2026-03-01T08:00:00.000Z', null, 'other')])
        .when(earnUnder(openProgram({ perMemberPerMonth: 100 }), 'e2', 50, '2026-03-31T23:00:00.000Z'))
        .then([lot('e2/buy', 20, '2026-03-31T23:00:00.000Z', null, 'buy')]);
    });

    test('a wallet never holds more than BOUNDS.pointsTotal: earning past it is cut to what fits, then earns nothing', () => {
      const almostFull = [enrolled, ...fullLots(999), lot('last/buy', BOUNDS.points - 10, '2025-02-01T00:00:00.000Z', null, 'buy')];
      given(walletDecider, almostFull)
        .when(earnUnder(openProgram(), 'e1', 100, '2026-03-01T00:00:00.000Z'))
        .then([lot('e1/buy', 10, '2026-03-01T00:00:00.000Z', null, 'buy')]);
      given(walletDecider, [...almostFull, lot('e1/buy', 10, '2026-03-01T00:00:00.000Z', null, 'buy')])
        .when(earnUnder(openProgram(), 'e2', 100, '2026-03-01T00:00:01.000Z'))
        .thenNothingHappens();
    });

    test('what a member earns in a month stays within BOUNDS.pointsTotal, even when it was spent meanwhile', () => {
      const month = Array.from({ length: 1000 }, (_, n) =>
        lot(
          `m${n}/buy`,
          BOUNDS.points,
          `2026-03-01T00:${String(Math.floor(n / 60)).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}.000Z`,
          null,
          'buy',
        ),
      );
      const spent = PointsAdjusted({
        userId,
        adjustmentId: 'spent',
        points: -BOUNDS.points,
        reason: 'x',
        actor: 'ops',
        lots: [{ lotId: 'm0/buy', points: BOUNDS.points }],
        expiresAt: null,
        adjustedAt: '2026-03-02T00:00:00.000Z',
      });
      given(walletDecider, [enrolled, ...month, spent])
        .when(earnUnder(openProgram(), 'e1', 100, '2026-03-03T00:00:00.000Z'))
        .thenNothingHappens();
      given(walletDecider, [enrolled, ...month, spent])
        .when(earnUnder(openProgram(), 'e1', 100, '2026-04-01T00:00:00.000Z'))
        .then([lot('e1/buy', 100, '2026-04-01T00:00:00.000Z', null, 'buy')]);
    });

    test('the points of a tier window stay within BOUNDS.pointsTotal, even when spent meanwhile', () => {
      const tiered = { ...openProgram(), tiers: { periodMonths: 12, levels: [{ name: 'member', threshold: 0 }] } };
      const member = TierChanged({
        userId,
        from: null,
        to: 'member',
        reason: 'upgrade',
        reviewAt: '2027-01-01T00:00:00.000Z',
        changedAt: '2026-01-01T00:00:00.000Z',
      });
      // A thousand months' worth would be too many lots: spread over the window, each lot then spent.
      const window = Array.from({ length: 1000 }, (_, n) =>
        lot(`w${n}/buy`, BOUNDS.points, new Date(Date.UTC(2026, 0, 1) + n * 3_600_000).toISOString(), null, 'buy'),
      );
      const spentAll = PointsAdjusted({
        userId,
        adjustmentId: 'spent',
        points: -BOUNDS.points * 1000,
        reason: 'x',
        actor: 'ops',
        lots: window.map((earned) => ({ lotId: earned.data.lotId, points: BOUNDS.points })),
        expiresAt: null,
        adjustedAt: '2026-03-01T00:00:00.000Z',
      });
      given(walletDecider, [enrolled, member, ...window, spentAll])
        .when(earnUnder(tiered, 'e1', 100, '2026-06-01T00:00:00.000Z'))
        .thenNothingHappens();
    });

    test('a positive adjustment that would take the wallet past BOUNDS.pointsTotal is refused, not cut', () => {
      given(walletDecider, [enrolled, ...fullLots(1000)])
        .when({
          type: 'Adjust',
          userId,
          adjustmentId: 'j',
          points: 1,
          reason: 'goodwill',
          actor: 'ops',
          now: at('2026-03-01T00:00:00.000Z'),
        })
        .thenRejects({ kind: 'WalletLimitReached', limit: BOUNDS.pointsTotal, held: BOUNDS.pointsTotal });
    });

    test('a cancelled redemption gives back what it took, even when the wallet filled up meanwhile', () => {
      const allocation = [{ lotId: 'full0/buy', points: 100 }];
      const redeemed = PointsRedeemed({
        userId,
        redemptionId: 'x',
        rewardId: 'w',
        points: 100,
        lots: allocation,
        redeemedAt: '2026-02-01T00:00:00.000Z',
      });
      given(walletDecider, [enrolled, ...fullLots(1000), redeemed, lot('refill/buy', 100, '2026-02-02T00:00:00.000Z', null, 'buy')])
        .when({ type: 'CancelRedemption', userId, redemptionId: 'x', now: at('2026-02-03T00:00:00.000Z') })
        .then([RedemptionCancelled({ userId, redemptionId: 'x', points: 100, lots: allocation, cancelledAt: '2026-02-03T00:00:00.000Z' })]);
    });
  });

  describe('adjustment idempotency', () => {
    const now = at('2026-02-01T00:00:00.000Z');
    const adjust = (points: number, reason = 'goodwill', actor = 'ops') => ({
      type: 'Adjust' as const,
      userId,
      adjustmentId: 'k',
      points,
      reason,
      actor,
      now,
    });
    const made = PointsAdjusted({
      userId,
      adjustmentId: 'k',
      points: 25,
      reason: 'goodwill',
      actor: 'ops',
      lots: [{ lotId: 'adjustment/k', points: 25 }],
      expiresAt: null,
      adjustedAt: now.toISOString(),
    });

    test('the same Idempotency-Key with the same body is one adjustment', () => {
      given(walletDecider, [enrolled, made]).when(adjust(25)).thenNothingHappens();
    });

    test('the same Idempotency-Key with another body is refused, whatever differs', () => {
      for (const other of [adjust(26), adjust(25, 'late parcel'), adjust(25, 'goodwill', 'agent-7'), adjust(-25)])
        given(walletDecider, [enrolled, made]).when(other).thenRejects({ kind: 'IdempotencyKeyReused' });
    });
  });

  describe('tiers', () => {
    const gold = [
      enrolled,
      lot('a/buy', 1200, '2026-01-10T00:00:00.000Z', null, 'buy'),
      TierChanged({
        userId,
        from: null,
        to: 'gold',
        reason: 'upgrade',
        reviewAt: '2027-01-10T00:00:00.000Z',
        changedAt: '2026-01-10T00:00:00.000Z',
      }),
    ];
    const review = (now: string) => ({ type: 'ReviewTier' as const, userId, program: purchaseProgram, now: at(now) });

    test('a tier is kept until the end of its period', () => {
      given(walletDecider, gold).when(review('2026-12-31T00:00:00.000Z')).thenNothingHappens();
    });

    test('at the period end a member drops to the tier the last period qualifies for', () => {
      given(walletDecider, [...gold, lot('b/buy', 150, '2026-06-01T00:00:00.000Z', null, 'buy')])
        .when(review('2027-01-11T00:00:00.000Z'))
        .then([
          TierChanged({
            userId,
            from: 'gold',
            to: 'silver',
            reason: 'downgrade',
            reviewAt: '2028-01-11T00:00:00.000Z',
            changedAt: '2027-01-11T00:00:00.000Z',
          }),
        ]);
    });

    test('a member who qualifies again keeps the tier for another period', () => {
      given(walletDecider, [...gold, lot('b/buy', 1000, '2026-12-01T00:00:00.000Z', null, 'buy')])
        .when(review('2027-01-11T00:00:00.000Z'))
        .then([TierRetained({ userId, tier: 'gold', reviewAt: '2028-01-11T00:00:00.000Z', reviewedAt: '2027-01-11T00:00:00.000Z' })]);
    });
  });

  describe('erasure', () => {
    const erased = MemberErased({ userId, erasedAt: '2026-05-01T00:00:00.000Z' });
    const history = [enrolled, lot('e1/buy', 120, '2026-03-01T00:00:00.000Z', null, 'buy')];

    test('erasing a person closes their wallet', () => {
      given(walletDecider, history)
        .when({ type: 'Erase', userId, now: at('2026-05-01T00:00:00.000Z') })
        .then([erased]);
    });

    test('an erased wallet earns nothing more and is not enrolled again', () => {
      given(walletDecider, [...history, erased])
        .when(earn('e2', 50, '2026-05-02T00:00:00.000Z'))
        .thenNothingHappens();
      given(walletDecider, [...history, erased])
        .when({ type: 'Enrol', userId, now: at('2026-05-02T00:00:00.000Z') })
        .thenNothingHappens();
    });

    test('an erased member can neither redeem nor be adjusted', () => {
      given(walletDecider, [...history, erased])
        .when({ type: 'Redeem', userId, redemptionId: 'r1', rewardId: 'w1', points: 10, now: at('2026-05-02T00:00:00.000Z') })
        .thenRejects({ kind: 'UnknownMember' });
      given(walletDecider, [...history, erased])
        .when({
          type: 'Adjust',
          userId,
          adjustmentId: 'a1',
          points: 10,
          reason: 'goodwill',
          actor: 'agent',
          now: at('2026-05-02T00:00:00.000Z'),
        })
        .thenRejects({ kind: 'UnknownMember' });
    });

    test('erasing twice records it once; expiry and tier reviews leave an erased wallet alone', () => {
      given(walletDecider, [...history, erased])
        .when({ type: 'Erase', userId, now: at('2026-05-03T00:00:00.000Z') })
        .thenNothingHappens();
      given(walletDecider, [...history, erased])
        .when({ type: 'ExpirePoints', userId, now: at('2030-01-01T00:00:00.000Z') })
        .thenNothingHappens();
    });
  });
});
