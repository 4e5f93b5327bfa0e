import { given } from '#cqrs/testing';
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
  PointsEarned({ userId, lotId, points, sourceEventId: lotId.split('/')[0]!, ruleId, earnedAt, expiresAt });

const purchaseProgram: ProgramDefinition = {
  rules: [
    {
      id: 'buy',
      event: 'Order Completed',
      conditions: [{ property: 'currency', op: 'eq', value: 'EUR' }],
      award: { kind: 'perAmount', property: 'total', pointsPerUnit: 1, rounding: 'down' },
      caps: { perDay: 150, perMonth: 200 },
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
};
const order = (id: string, total: number, currency = 'EUR') => ({ id, name: 'Order Completed', properties: { total, currency } });
const earn = (id: string, total: number, now: string, currency = 'EUR') => ({
  type: 'Earn' as const,
  userId,
  source: order(id, total, currency),
  program: purchaseProgram,
  now: at(now),
});

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
      .when({ type: 'Earn', userId, source: { id: 's', name: 'Page Viewed', properties: {} }, now: at('2026-01-01T00:00:00.000Z') })
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
