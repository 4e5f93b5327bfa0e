import { given } from '#cqrs/testing';
import type { ProgramDefinition } from '../program/program.events';
import { walletDecider } from './wallet.decider';
import { MemberEnrolled, PointsEarned, TierAssigned, TierChanged, TierGraceStarted, TierRetained } from './wallet.events';

const userId = 'u1';
const program: ProgramDefinition = {
  rules: [
    {
      id: 'grant',
      event: 'Grant',
      conditions: [],
      award: { kind: 'perAmount', property: 'points', pointsPerUnit: 1, rounding: 'down' },
      sources: ['server'],
    },
  ],
  tiers: {
    periodMonths: 12,
    graceMonths: 3,
    levels: [
      { name: 'bronze', threshold: 0 },
      { name: 'silver', threshold: 500, earningMultiplier: 1.5 },
      { name: 'gold', threshold: 2000, earningMultiplier: 2 },
    ],
  },
  expiry: null,
  limits: {},
  refunds: { allowNegativeBalance: false },
};
const enrolled = MemberEnrolled({ userId, enrolledAt: '2025-01-01T00:00:00.000Z' });
const earned = (source: string, points: number, at: string) =>
  PointsEarned({
    userId,
    lotId: `${source}/grant`,
    points,
    sourceEventId: source,
    ruleId: 'grant',
    earnedAt: at,
    expiresAt: null,
    orderId: null,
    orderAmount: null,
  });
const becameGold = TierChanged({
  userId,
  from: 'silver',
  to: 'gold',
  reason: 'upgrade',
  reviewAt: '2026-01-01T00:00:00.000Z',
  changedAt: '2025-01-01T00:00:00.000Z',
});
const review = (at: string, withProgram = program) => ({ type: 'ReviewTier' as const, userId, program: withProgram, now: new Date(at) });

describe('tier downgrades: review period and grace', () => {
  test('a review that finds the member below their tier gives them the grace period first, keeping the tier', () => {
    given(walletDecider, [enrolled, earned('e1', 2500, '2025-01-01T00:00:00.000Z'), becameGold])
      .when(review('2026-01-01T00:00:00.000Z'))
      .then([
        TierGraceStarted({
          userId,
          tier: 'gold',
          qualifiesFor: 'bronze',
          reviewAt: '2026-04-01T00:00:00.000Z',
          startedAt: '2026-01-01T00:00:00.000Z',
        }),
      ]);
  });

  test('at the end of the grace the review decides without grace: down to what the last period qualifies for', () => {
    const grace = TierGraceStarted({
      userId,
      tier: 'gold',
      qualifiesFor: 'bronze',
      reviewAt: '2026-04-01T00:00:00.000Z',
      startedAt: '2026-01-01T00:00:00.000Z',
    });
    given(walletDecider, [
      enrolled,
      earned('e1', 2500, '2025-01-01T00:00:00.000Z'),
      becameGold,
      grace,
      earned('e2', 600, '2026-02-01T00:00:00.000Z'),
    ])
      .when(review('2026-04-01T00:00:00.000Z'))
      .then([
        TierChanged({
          userId,
          from: 'gold',
          to: 'silver',
          reason: 'downgrade',
          reviewAt: '2027-04-01T00:00:00.000Z',
          changedAt: '2026-04-01T00:00:00.000Z',
        }),
      ]);
    // Earned back during the grace: kept, and the next period starts.
    given(walletDecider, [
      enrolled,
      earned('e1', 2500, '2025-01-01T00:00:00.000Z'),
      becameGold,
      grace,
      earned('e2', 2000, '2026-02-01T00:00:00.000Z'),
    ])
      .when(review('2026-04-01T00:00:00.000Z'))
      .then([TierRetained({ userId, tier: 'gold', reviewAt: '2027-04-01T00:00:00.000Z', reviewedAt: '2026-04-01T00:00:00.000Z' })]);
  });

  test('without graceMonths a review lowers the tier at once; before the review date nothing happens', () => {
    const { graceMonths: _grace, ...noGrace } = program.tiers!;
    given(walletDecider, [enrolled, earned('e1', 2500, '2025-01-01T00:00:00.000Z'), becameGold])
      .when(review('2026-01-01T00:00:00.000Z', { ...program, tiers: noGrace }))
      .then([
        TierChanged({
          userId,
          from: 'gold',
          to: 'bronze',
          reason: 'downgrade',
          reviewAt: '2027-01-01T00:00:00.000Z',
          changedAt: '2026-01-01T00:00:00.000Z',
        }),
      ]);
    given(walletDecider, [enrolled, earned('e1', 2500, '2025-01-01T00:00:00.000Z'), becameGold])
      .when(review('2025-12-31T23:59:59.999Z'))
      .thenNothingHappens();
  });
});

describe('manual tier assignment', () => {
  const assign = (tier: string) => ({
    type: 'AssignTier' as const,
    userId,
    tier,
    reason: 'VIP goodwill',
    actor: 'agent-7',
    program,
    now: new Date('2026-03-01T00:00:00.000Z'),
  });

  test('an operator sets the tier with a reason and an actor; the next review is a period away', () => {
    given(walletDecider, [enrolled])
      .when(assign('gold'))
      .then([
        TierAssigned({
          userId,
          from: null,
          to: 'gold',
          reason: 'VIP goodwill',
          actor: 'agent-7',
          reviewAt: '2027-03-01T00:00:00.000Z',
          assignedAt: '2026-03-01T00:00:00.000Z',
        }),
      ]);
  });

  test('the same tier again changes nothing; a tier the program lacks, or a member never enrolled, is refused', () => {
    given(walletDecider, [enrolled, becameGold]).when(assign('gold')).thenNothingHappens();
    given(walletDecider, [enrolled]).when(assign('platinum')).thenRejects({ kind: 'UnknownTier', tier: 'platinum' });
    given(walletDecider, []).when(assign('gold')).thenRejects({ kind: 'UnknownMember' });
  });
});

describe('tier benefits as data', () => {
  test("the rules' points are multiplied by the member's tier's earningMultiplier, rounded down", () => {
    given(walletDecider, [enrolled, becameGold])
      .when({
        type: 'Earn',
        userId,
        source: { id: 'e9', name: 'Grant', properties: { points: 101 }, kind: 'server' },
        program,
        now: new Date('2025-06-01T00:00:00.000Z'),
      })
      .then([earned('e9', 202, '2025-06-01T00:00:00.000Z')]);
    const silver = TierChanged({
      userId,
      from: null,
      to: 'silver',
      reason: 'upgrade',
      reviewAt: '2026-01-01T00:00:00.000Z',
      changedAt: '2025-01-01T00:00:00.000Z',
    });
    given(walletDecider, [enrolled, silver])
      .when({
        type: 'Earn',
        userId,
        source: { id: 'e9', name: 'Grant', properties: { points: 101 }, kind: 'server' },
        program,
        now: new Date('2025-06-01T00:00:00.000Z'),
      })
      .then([earned('e9', 151, '2025-06-01T00:00:00.000Z')]);
  });
});
