import { EventRegistry } from '#cqrs';
import { given } from '#cqrs/testing';
import { ProgramPublished, programEvents, type ProgramDefinition } from '../program/program.events';
import type { ClawBack } from './refund';
import { walletDecider } from './wallet.decider';
import {
  MemberEnrolled,
  OwedPointsRepaid,
  PointsClawedBack,
  PointsEarned,
  PointsExpired,
  PointsRedeemed,
  RedemptionCancelled,
  TierChanged,
  walletEvents,
} from './wallet.events';

const userId = 'u1';
const now = new Date('2026-06-01T00:00:00.000Z');
const at = now.toISOString();
const enrolled = MemberEnrolled({ userId, enrolledAt: '2026-01-01T00:00:00.000Z' });

/** A point per unit of an order's total, and tiers at 100 and 500 points a year. */
const program = (allowNegativeBalance = false): ProgramDefinition => ({
  rules: [{ id: 'buy', event: 'Order Completed', conditions: [], award: perUnitOfTotal, sources: ['server'] }],
  tiers: {
    periodMonths: 12,
    levels: Object.entries({ bronze: 0, silver: 100, gold: 500 }).map(([name, threshold]) => ({ name, threshold })),
  },
  expiry: null,
  limits: {},
  refunds: { allowNegativeBalance },
});
const perUnitOfTotal = { kind: 'perAmount', property: 'total', pointsPerUnit: 1, rounding: 'down' } as const;

/** A lot an order earned (or, without an order id, some other source). */
const earned = (lotId: string, points: number, orderId: string | null, orderAmount: number | null, expiresAt: string | null = null) =>
  PointsEarned({
    userId,
    lotId,
    points,
    sourceEventId: lotId.split('/')[0]!,
    ruleId: 'buy',
    earnedAt: '2026-05-01T00:00:00.000Z',
    expiresAt,
    orderId,
    orderAmount,
  });
const refund = (
  refundId: string,
  orderId: string,
  amount: number | null,
  options: { negative?: boolean; fingerprint?: string } = {},
): ClawBack => ({
  type: 'ClawBack',
  userId,
  refundId,
  orderId,
  cause: 'refund',
  amount,
  fingerprint: options.fingerprint ?? 'f',
  program: program(options.negative),
  now,
});
const clawed = (
  refundId: string,
  orderId: string,
  amount: number | null,
  points: number,
  lots: { lotId: string; points: number }[],
  owed = 0,
  shortfall = 0,
  expired = 0,
) =>
  PointsClawedBack({
    userId,
    refundId,
    orderId,
    cause: 'refund',
    amount,
    points,
    expired,
    lots,
    owed,
    shortfall,
    fingerprint: 'f',
    clawedBackAt: at,
  });
const redeemed = (points: number, lots: { lotId: string; points: number }[]) =>
  PointsRedeemed({ userId, redemptionId: 'r1', rewardId: 'w', points, lots, redeemedAt: at });

describe('refunds and returns', () => {
  test('a refunded order takes back what it earned, from its own lot first', () => {
    given(walletDecider, [enrolled, earned('a/buy', 50, null, null, '2026-07-01T00:00:00.000Z'), earned('o1/buy', 100, 'o1', 100)])
      .when(refund('track:x', 'o1', null))
      .then([clawed('track:x', 'o1', null, 100, [{ lotId: 'o1/buy', points: 100 }])]);
  });

  test('what the order lot no longer holds is taken from the lots that expire first', () => {
    const history = [
      enrolled,
      earned('late/buy', 40, null, null, '2027-01-01T00:00:00.000Z'),
      earned('soon/buy', 40, null, null, '2026-07-01T00:00:00.000Z'),
      earned('o1/buy', 100, 'o1', 100, '2026-12-01T00:00:00.000Z'),
      redeemed(70, [{ lotId: 'o1/buy', points: 70 }]),
    ];
    given(walletDecider, history)
      .when(refund('track:x', 'o1', null))
      .then([
        clawed('track:x', 'o1', null, 100, [
          { lotId: 'o1/buy', points: 30 },
          { lotId: 'soon/buy', points: 40 },
          { lotId: 'late/buy', points: 30 },
        ]),
      ]);
  });

  test("what expired from the order's own lot counts as taken back already: only what the member spent of it is taken from other lots", () => {
    const history = [
      enrolled,
      earned('other/buy', 100, null, null),
      earned('o1/buy', 100, 'o1', 100, '2026-05-15T00:00:00.000Z'),
      redeemed(40, [{ lotId: 'o1/buy', points: 40 }]),
      PointsExpired({ userId, lotId: 'o1/buy', points: 60, expiredAt: '2026-05-15T00:00:00.000Z' }),
    ];
    const half = clawed('track:a', 'o1', 50, 50, [], 0, 0, 50);
    given(walletDecider, history)
      .when(refund('track:a', 'o1', 50))
      .then([half]);
    given(walletDecider, [...history, half])
      .when(refund('track:b', 'o1', null))
      .then([clawed('track:b', 'o1', null, 50, [{ lotId: 'other/buy', points: 40 }], 0, 0, 10)]);
  });

  test('a partial refund takes back in proportion to the amount refunded, and partial refunds add up to the whole, never more', () => {
    const history = [enrolled, earned('o1/buy', 99, 'o1', 99.99)];
    const third = clawed('track:a', 'o1', 33.33, 33, [{ lotId: 'o1/buy', points: 33 }]);
    given(walletDecider, history)
      .when(refund('track:a', 'o1', 33.33))
      .then([third]);
    given(walletDecider, [...history, third])
      .when(refund('track:b', 'o1', 500))
      .then([clawed('track:b', 'o1', 500, 66, [{ lotId: 'o1/buy', points: 66 }])]);
    const whole = clawed('track:b', 'o1', 500, 66, [{ lotId: 'o1/buy', points: 66 }]);
    given(walletDecider, [...history, third, whole])
      .when(refund('track:c', 'o1', 1))
      .thenRejects({ kind: 'OrderFullyRefunded', orderId: 'o1', points: 99 });
  });

  test('the same refund twice takes back once; the same key with another body is refused', () => {
    const history = [enrolled, earned('o1/buy', 100, 'o1', 100), clawed('track:x', 'o1', 50, 50, [{ lotId: 'o1/buy', points: 50 }])];
    given(walletDecider, history)
      .when(refund('track:x', 'o1', 50))
      .thenNothingHappens();
    given(walletDecider, history)
      .when(refund('track:x', 'o1', 60, { fingerprint: 'other' }))
      .thenRejects({ kind: 'IdempotencyKeyReused' });
  });

  test('a refund of an order that earned nothing here, or of a member unknown, is refused', () => {
    given(walletDecider, [enrolled, earned('o1/buy', 100, 'o1', 100)])
      .when(refund('track:x', 'o2', null))
      .thenRejects({ kind: 'UnknownOrder', orderId: 'o2' });
    given(walletDecider, [])
      .when(refund('track:x', 'o1', null))
      .thenRejects({ kind: 'UnknownMember' });
  });

  test('without the program allowing a negative balance, the clawback stops at the balance and records the shortfall', () => {
    const spent = [enrolled, earned('o1/buy', 100, 'o1', 100), redeemed(80, [{ lotId: 'o1/buy', points: 80 }])];
    given(walletDecider, spent)
      .when(refund('track:x', 'o1', null))
      .then([clawed('track:x', 'o1', null, 100, [{ lotId: 'o1/buy', points: 20 }], 0, 80)]);
  });

  test('with the program allowing it, the balance goes negative, and later points pay what is owed first', () => {
    const spent = [enrolled, earned('o1/buy', 100, 'o1', 100), redeemed(80, [{ lotId: 'o1/buy', points: 80 }])];
    const owing = clawed('track:x', 'o1', null, 100, [{ lotId: 'o1/buy', points: 20 }], 80, 0);
    given(walletDecider, spent)
      .when(refund('track:x', 'o1', null, { negative: true }))
      .then([owing]);
    given(walletDecider, [...spent, owing])
      .when({
        type: 'Earn',
        userId,
        source: { id: 'track:y', name: 'Order Completed', properties: { total: 50 }, kind: 'server' },
        program: { ...program(true), tiers: null },
        now,
      })
      .then([
        PointsEarned({
          userId,
          lotId: 'track:y/buy',
          points: 50,
          sourceEventId: 'track:y',
          ruleId: 'buy',
          earnedAt: at,
          expiresAt: null,
          orderId: null,
          orderAmount: null,
        }),
        OwedPointsRepaid({ userId, points: 50, lots: [{ lotId: 'track:y/buy', points: 50 }], repaidAt: at }),
      ]);
    // Owing, the member spends nothing; a cancelled redemption's points pay the debt first.
    given(walletDecider, [...spent, owing])
      .when({ type: 'Redeem', userId, redemptionId: 'r2', rewardId: 'w', points: 1, now })
      .thenRejects({ kind: 'InsufficientPoints', available: -80, requested: 1 });
    given(walletDecider, [...spent, owing])
      .when({ type: 'CancelRedemption', userId, redemptionId: 'r1', now })
      .then([
        RedemptionCancelled({ userId, redemptionId: 'r1', points: 80, lots: [{ lotId: 'o1/buy', points: 80 }], cancelledAt: at }),
        OwedPointsRepaid({ userId, points: 80, lots: [{ lotId: 'o1/buy', points: 80 }], repaidAt: at }),
      ]);
  });

  test('an order that bought an upgrade loses it when refunded, down to what is left, never below the tier held before', () => {
    const upgraded = TierChanged({
      userId,
      from: 'silver',
      to: 'gold',
      reason: 'upgrade',
      reviewAt: '2027-05-01T00:00:00.000Z',
      changedAt: '2026-05-01T00:00:00.000Z',
    });
    const silver = TierChanged({
      userId,
      from: 'bronze',
      to: 'silver',
      reason: 'upgrade',
      reviewAt: '2027-05-01T00:00:00.000Z',
      changedAt: '2026-05-01T00:00:00.000Z',
    });
    const bronze = TierChanged({ ...silver.data, from: null, to: 'bronze' });
    const history = [enrolled, earned('a/buy', 50, null, null), bronze, silver, earned('o1/buy', 500, 'o1', 500), upgraded];
    given(walletDecider, history)
      .when(refund('track:x', 'o1', null))
      .then([
        clawed('track:x', 'o1', null, 500, [{ lotId: 'o1/buy', points: 500 }]),
        TierChanged({
          userId,
          from: 'gold',
          to: 'silver',
          reason: 'downgrade',
          reviewAt: '2027-05-01T00:00:00.000Z',
          changedAt: at,
        }),
      ]);
    // Half refunded: 300 points left in the window still qualify for silver, not gold.
    given(walletDecider, history)
      .when(refund('track:x', 'o1', 250))
      .then([
        clawed('track:x', 'o1', 250, 250, [{ lotId: 'o1/buy', points: 250 }]),
        TierChanged({ userId, from: 'gold', to: 'silver', reason: 'downgrade', reviewAt: '2027-05-01T00:00:00.000Z', changedAt: at }),
      ]);
    // A tenth refunded: 500 points left still qualify for gold.
    given(walletDecider, history)
      .when(refund('track:x', 'o1', 50))
      .then([clawed('track:x', 'o1', 50, 50, [{ lotId: 'o1/buy', points: 50 }])]);
  });

  test('a partial refund of an order without an amount takes nothing; a whole one takes all', () => {
    const history = [enrolled, earned('o1/buy', 10, 'o1', null)];
    given(walletDecider, history)
      .when(refund('track:a', 'o1', 5))
      .then([clawed('track:a', 'o1', 5, 0, [])]);
    given(walletDecider, history)
      .when(refund('track:a', 'o1', null))
      .then([clawed('track:a', 'o1', null, 10, [{ lotId: 'o1/buy', points: 10 }])]);
  });

  test('an order earns under its order id and total, as Segment names them', () => {
    given(walletDecider, [enrolled])
      .when({
        type: 'Earn',
        userId,
        source: { id: 'track:o', name: 'Order Completed', properties: { total: '42.5', order_id: 7001 }, kind: 'server' },
        program: { ...program(), tiers: null },
        now,
      })
      .then([
        PointsEarned({
          userId,
          lotId: 'track:o/buy',
          points: 42,
          sourceEventId: 'track:o',
          ruleId: 'buy',
          earnedAt: at,
          expiresAt: null,
          orderId: '7001',
          orderAmount: 42.5,
        }),
      ]);
  });

  test('lots and programs stored before orders and refunds read as belonging to no order, and as keeping balances above zero', () => {
    const registry = new EventRegistry([...walletEvents, ...programEvents]);
    const v1 = { userId, lotId: 'l', points: 1, sourceEventId: 's', ruleId: 'r', earnedAt: at, expiresAt: null };
    expect(registry.upcast('PointsEarned', 1, v1)).toEqual({ ...v1, orderId: null, orderAmount: null });
    const { refunds: _refunds, ...v2 } = program();
    expect(registry.upcast(ProgramPublished.type, 2, JSON.parse(JSON.stringify({ ...v2, version: 4, publishedAt: at })))).toEqual({
      ...program(),
      version: 4,
      publishedAt: at,
    });
  });
});
