import { given } from '#cqrs/testing';
import { BOUNDS } from '#platform';
import { catalogDecider } from './catalog.decider';
import { RewardCreated, StockReleased, StockReserved, type RewardTerms } from './catalog.events';

const terms: RewardTerms = {
  rewardId: 'w',
  name: 'Mug',
  cost: 100,
  stock: 2,
  perMemberLimit: 1,
  validFrom: '2026-01-01T00:00:00.000Z',
  validUntil: '2026-12-31T00:00:00.000Z',
  category: null,
  tiers: null,
  voucher: null,
};
const created = RewardCreated({ ...terms, createdAt: '2026-01-01T00:00:00.000Z' });
const now = new Date('2026-06-01T00:00:00.000Z');
const reserved = (redemptionId: string, userId: string) =>
  StockReserved({ rewardId: 'w', redemptionId, userId, reservedAt: now.toISOString() });
const reserve = (redemptionId: string, userId: string, at = now) => ({ type: 'ReserveStock' as const, redemptionId, userId, now: at });

describe('catalog', () => {
  test('a reward is created once, with a validity window that ends after it starts', () => {
    given(catalogDecider, [])
      .when({ type: 'CreateReward', terms, now })
      .then([RewardCreated({ ...terms, createdAt: now.toISOString() })]);
    given(catalogDecider, [created]).when({ type: 'CreateReward', terms, now }).thenRejects({ kind: 'RewardExists' });
    given(catalogDecider, [])
      .when({ type: 'CreateReward', terms: { ...terms, validUntil: terms.validFrom }, now })
      .thenRejects({ kind: 'InvalidValidity' });
  });

  test('terms past what the catalog read model holds are refused: cost, stock and limit are bounded', () => {
    given(catalogDecider, [])
      .when({ type: 'CreateReward', terms: { ...terms, cost: BOUNDS.points + 1, stock: BOUNDS.quantity + 1, perMemberLimit: 0 }, now })
      .thenRejects({
        kind: 'InvalidTerms',
        errors: [
          { pointer: '/cost', message: expect.any(String) },
          { pointer: '/stock', message: expect.any(String) },
          { pointer: '/perMemberLimit', message: expect.any(String) },
        ],
      });
    given(catalogDecider, [])
      .when({
        type: 'CreateReward',
        terms: { ...terms, cost: BOUNDS.points, stock: BOUNDS.quantity, perMemberLimit: BOUNDS.quantity },
        now,
      })
      .then([
        RewardCreated({
          ...terms,
          cost: BOUNDS.points,
          stock: BOUNDS.quantity,
          perMemberLimit: BOUNDS.quantity,
          createdAt: now.toISOString(),
        }),
      ]);
  });

  test('stock is reserved one unit per redemption, and once per redemption', () => {
    given(catalogDecider, [created])
      .when(reserve('r1', 'u1'))
      .then([reserved('r1', 'u1')]);
    given(catalogDecider, [created, reserved('r1', 'u1')])
      .when(reserve('r1', 'u1'))
      .thenNothingHappens();
  });

  test('no reservation beyond the stock', () => {
    given(catalogDecider, [created, reserved('r1', 'u1'), reserved('r2', 'u2')])
      .when(reserve('r3', 'u3'))
      .thenRejects({ kind: 'OutOfStock' });
  });

  test('released stock can be reserved again', () => {
    const released = StockReleased({ rewardId: 'w', redemptionId: 'r1', userId: 'u1', releasedAt: now.toISOString() });
    given(catalogDecider, [created, reserved('r1', 'u1'), reserved('r2', 'u2'), released])
      .when(reserve('r3', 'u3'))
      .then([reserved('r3', 'u3')]);
    given(catalogDecider, [created, reserved('r1', 'u1'), released])
      .when({ type: 'ReleaseStock', redemptionId: 'r1', now })
      .thenNothingHappens();
  });

  test('a member cannot hold more than the per-member limit', () => {
    given(catalogDecider, [created, reserved('r1', 'u1')])
      .when(reserve('r2', 'u1'))
      .thenRejects({ kind: 'MemberLimitReached', limit: 1 });
  });

  test('a reward can be redeemed only within its validity window', () => {
    given(catalogDecider, [created])
      .when(reserve('r1', 'u1', new Date('2025-12-31T00:00:00.000Z')))
      .thenRejects({ kind: 'RewardNotYetValid' });
    given(catalogDecider, [created])
      .when(reserve('r1', 'u1', new Date('2026-12-31T00:00:00.000Z')))
      .thenRejects({ kind: 'RewardExpired' });
    given(catalogDecider, []).when(reserve('r1', 'u1')).thenRejects({ kind: 'RewardNotFound' });
  });
});
