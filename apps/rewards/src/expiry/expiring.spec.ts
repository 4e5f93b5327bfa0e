import { fold } from '#cqrs';
import { expiryOf } from '../shared/calendar';
import { walletDecider } from '../wallet/wallet.decider';
import { MemberEnrolled, PointsEarned, PointsExpiringSoon, PointsRedeemed } from '../wallet/wallet.events';
import { expiringWithin } from './expiring';
import { given } from '#cqrs/testing';

const earned = (lotId: string, points: number, expiresAt: string | null) =>
  PointsEarned({
    userId: 'u',
    lotId,
    points,
    sourceEventId: lotId,
    ruleId: 'r',
    earnedAt: '2026-01-01T00:00:00.000Z',
    expiresAt,
    orderId: null,
    orderAmount: null,
  });

describe('end-of-period expiry', () => {
  const at = new Date('2026-05-17T13:45:00.000Z');

  test('points earned in a year expire as it ends (31 December, 24:00 UTC), or as a later one does', () => {
    expect(expiryOf({ endOfPeriod: { period: 'year', periodsAfter: 0 } }, at)?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(expiryOf({ endOfPeriod: { period: 'year', periodsAfter: 1 } }, at)?.toISOString()).toBe('2028-01-01T00:00:00.000Z');
  });

  test('by quarter and by month, counted from the period the points were earned in', () => {
    expect(expiryOf({ endOfPeriod: { period: 'quarter', periodsAfter: 0 } }, at)?.toISOString()).toBe('2026-07-01T00:00:00.000Z');
    expect(expiryOf({ endOfPeriod: { period: 'quarter', periodsAfter: 2 } }, at)?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(expiryOf({ endOfPeriod: { period: 'month', periodsAfter: 0 } }, new Date('2026-12-31T23:59:59.999Z'))?.toISOString()).toBe(
      '2027-01-01T00:00:00.000Z',
    );
  });

  test('months after earning and no expiry read as before', () => {
    expect(expiryOf({ monthsAfterEarning: 6 }, at)?.toISOString()).toBe('2026-11-17T13:45:00.000Z');
    expect(expiryOf(null, at)).toBeNull();
  });

  test('an order earned under an end-of-year program expires at the end of the year', () => {
    const program = {
      rules: [{ id: 'r', event: 'E', conditions: [], award: { kind: 'fixed', points: 5 } as const, sources: ['server' as const] }],
      tiers: null,
      expiry: { endOfPeriod: { period: 'year' as const, periodsAfter: 0 } },
      limits: {},
      refunds: { allowNegativeBalance: false },
    };
    const decision = walletDecider.decide(
      { type: 'Earn', userId: 'u', source: { id: 's1', name: 'E', properties: {}, kind: 'server' }, program, now: at },
      walletDecider.initialState(),
    );
    expect(decision.accepted && decision.events.find((event) => event.type === 'PointsEarned')?.data).toMatchObject({
      expiresAt: '2027-01-01T00:00:00.000Z',
    });
  });
});

describe('points expiring soon', () => {
  const wallet = fold(
    walletDecider,
    [
      MemberEnrolled({ userId: 'u', enrolledAt: '2026-01-01T00:00:00.000Z' }),
      earned('soon', 30, '2026-06-05T00:00:00.000Z'),
      earned('later', 40, '2026-07-20T00:00:00.000Z'),
      earned('never', 50, null),
      earned('gone', 60, '2026-05-31T00:00:00.000Z'),
      PointsRedeemed({
        userId: 'u',
        redemptionId: 'x',
        rewardId: 'y',
        points: 10,
        lots: [{ lotId: 'soon', points: 10 }],
        redeemedAt: '2026-05-02T00:00:00.000Z',
      }),
    ],
    walletDecider.initialState(),
  );
  const now = new Date('2026-06-01T00:00:00.000Z');

  test('the points still spendable that expire within the window, soonest first; already expired and never-expiring ones are not', () => {
    expect(expiringWithin(wallet, now, 30)).toEqual({
      until: '2026-07-01T00:00:00.000Z',
      points: 20,
      lots: [{ lotId: 'soon', points: 20, expiresAt: '2026-06-05T00:00:00.000Z' }],
    });
    expect(expiringWithin(wallet, now, 60).points).toBe(60);
  });

  test('a lot that expires on the last instant of the window counts; one a millisecond later does not', () => {
    expect(expiringWithin(wallet, new Date('2026-06-01T00:00:00.000Z'), 4).points).toBe(20);
    expect(expiringWithin(wallet, new Date('2026-05-31T23:59:59.999Z'), 4).points).toBe(0);
  });
});

describe('expiry reminders', () => {
  const enrolled = MemberEnrolled({ userId: 'u', enrolledAt: '2026-01-01T00:00:00.000Z' });
  const history = [enrolled, earned('soon', 30, '2026-06-05T00:00:00.000Z'), earned('later', 40, '2026-07-20T00:00:00.000Z')];
  const program = (remindDaysBefore?: number) => ({
    rules: [],
    tiers: null,
    expiry: { monthsAfterEarning: 6, ...(remindDaysBefore ? { remindDaysBefore } : {}) },
    limits: {},
    refunds: { allowNegativeBalance: false },
  });
  const now = new Date('2026-06-01T00:00:00.000Z');
  const reminded = PointsExpiringSoon({
    userId: 'u',
    lotId: 'soon',
    points: 30,
    expiresAt: '2026-06-05T00:00:00.000Z',
    remindedAt: now.toISOString(),
  });

  test('a lot expiring within remindDaysBefore is announced, once', () => {
    given(walletDecider, history)
      .when({ type: 'RemindExpiring', userId: 'u', program: program(7), now })
      .then([reminded]);
    given(walletDecider, [...history, reminded])
      .when({ type: 'RemindExpiring', userId: 'u', program: program(7), now })
      .then([]);
  });

  test('a program without reminders announces nothing', () => {
    given(walletDecider, history).when({ type: 'RemindExpiring', userId: 'u', program: program(), now }).then([]);
  });
});
