import { EventRegistry } from '#cqrs';
import { given } from '#cqrs/testing';
import { BOUNDS } from '#platform';
import { catalogDecider } from './catalog.decider';
import {
  RewardCreated,
  RewardDeactivated,
  RewardReactivated,
  RewardUpdated,
  catalogEvents,
  StockAdded,
  StockReleased,
  StockReserved,
  VoucherCodeAssigned,
  VoucherCodesImported,
  type RewardTerms,
} from './catalog.events';

const terms: RewardTerms = {
  rewardId: 'w',
  name: 'Mug',
  cost: 100,
  stock: 2,
  perMemberLimit: null,
  validFrom: '2026-01-01T00:00:00.000Z',
  validUntil: null,
  category: 'kitchen',
  tiers: null,
  voucher: null,
};
const now = new Date('2026-06-01T00:00:00.000Z');
const at = now.toISOString();
const created = (overrides: Partial<RewardTerms> = {}) => RewardCreated({ ...terms, ...overrides, createdAt: at });
const reserved = (redemptionId: string, userId: string) => StockReserved({ rewardId: 'w', redemptionId, userId, reservedAt: at });
const reserve = (redemptionId: string, userId: string, extra: { tier?: string | null; code?: string; now?: Date } = {}) => ({
  type: 'ReserveStock' as const,
  redemptionId,
  userId,
  now,
  ...extra,
});
const assigned = (redemptionId: string, userId: string, code: string) =>
  VoucherCodeAssigned({ rewardId: 'w', redemptionId, userId, code, assignedAt: at });
const imported = (codes: string[], importId = 'i1') => VoucherCodesImported({ rewardId: 'w', importId, codes, importedAt: at });

describe('catalog management', () => {
  test('an update records the editable terms whole, keeps the stock, and the same update again records nothing', () => {
    const updated = RewardUpdated({
      rewardId: 'w',
      name: 'Big mug',
      cost: 120,
      perMemberLimit: null,
      validFrom: terms.validFrom,
      validUntil: null,
      category: 'kitchen',
      tiers: null,
      updatedAt: at,
    });
    given(catalogDecider, [created()])
      .when({ type: 'UpdateReward', changes: { name: 'Big mug', cost: 120 }, now })
      .then([updated]);
    given(catalogDecider, [created(), updated])
      .when({ type: 'UpdateReward', changes: { name: 'Big mug' }, now })
      .thenNothingHappens();
    given(catalogDecider, [created(), updated])
      .when(reserve('r1', 'u1'))
      .then([reserved('r1', 'u1')]);
  });

  test('an update is held to the same terms as a new reward: bounded cost and limit, a window that ends after it starts', () => {
    given(catalogDecider, [created()])
      .when({ type: 'UpdateReward', changes: { cost: BOUNDS.points + 1, perMemberLimit: 0 }, now })
      .thenRejects({
        kind: 'InvalidTerms',
        errors: [
          { pointer: '/cost', message: expect.any(String) },
          { pointer: '/perMemberLimit', message: expect.any(String) },
        ],
      });
    given(catalogDecider, [created()])
      .when({ type: 'UpdateReward', changes: { validUntil: '2025-01-01T00:00:00.000Z' }, now })
      .thenRejects({ kind: 'InvalidValidity' });
    given(catalogDecider, [])
      .when({ type: 'UpdateReward', changes: { name: 'x' }, now })
      .thenRejects({ kind: 'RewardNotFound' });
  });

  test('a restock adds units to the stock, once per restock id, never past what a quantity holds', () => {
    const added = StockAdded({ rewardId: 'w', restockId: 'k1', units: 3, stock: 5, restockedAt: at });
    given(catalogDecider, [created()]).when({ type: 'Restock', restockId: 'k1', units: 3, now }).then([added]);
    given(catalogDecider, [created(), added]).when({ type: 'Restock', restockId: 'k1', units: 3, now }).thenNothingHappens();
    given(catalogDecider, [created()])
      .when({ type: 'Restock', restockId: 'k2', units: BOUNDS.quantity - 1, now })
      .thenRejects({ kind: 'InvalidTerms', errors: [{ pointer: '/units', message: expect.any(String) }] });
  });

  test('a restock makes an out-of-stock reward redeemable again', () => {
    const sold = [created(), reserved('r1', 'u1'), reserved('r2', 'u2')];
    given(catalogDecider, sold).when(reserve('r3', 'u3')).thenRejects({ kind: 'OutOfStock' });
    given(catalogDecider, [...sold, StockAdded({ rewardId: 'w', restockId: 'k1', units: 1, stock: 3, restockedAt: at })])
      .when(reserve('r3', 'u3'))
      .then([reserved('r3', 'u3')]);
  });

  test('a deactivated reward cannot be redeemed; what it already holds is released as before; reactivated, it can', () => {
    const deactivated = RewardDeactivated({ rewardId: 'w', deactivatedAt: at });
    given(catalogDecider, [created()]).when({ type: 'Deactivate', now }).then([deactivated]);
    given(catalogDecider, [created(), deactivated]).when({ type: 'Deactivate', now }).thenNothingHappens();
    given(catalogDecider, [created(), reserved('r1', 'u1'), deactivated])
      .when(reserve('r2', 'u2'))
      .thenRejects({ kind: 'RewardInactive' });
    given(catalogDecider, [created(), reserved('r1', 'u1'), deactivated])
      .when({ type: 'ReleaseStock', redemptionId: 'r1', now })
      .then([StockReleased({ rewardId: 'w', redemptionId: 'r1', userId: 'u1', releasedAt: at })]);
    const reactivated = RewardReactivated({ rewardId: 'w', reactivatedAt: at });
    given(catalogDecider, [created(), deactivated]).when({ type: 'Reactivate', now }).then([reactivated]);
    given(catalogDecider, [created()]).when({ type: 'Reactivate', now }).thenNothingHappens();
    given(catalogDecider, [created(), deactivated, reactivated])
      .when(reserve('r2', 'u2'))
      .then([reserved('r2', 'u2')]);
  });

  test('a tier-only reward goes to members of its tiers only, and names them when it refuses', () => {
    const goldOnly = created({ tiers: ['gold', 'platinum'] });
    given(catalogDecider, [goldOnly])
      .when(reserve('r1', 'u1', { tier: 'gold' }))
      .then([reserved('r1', 'u1')]);
    given(catalogDecider, [goldOnly])
      .when(reserve('r1', 'u1', { tier: 'silver' }))
      .thenRejects({ kind: 'TierRequired', tiers: ['gold', 'platinum'], memberTier: 'silver' });
    given(catalogDecider, [goldOnly]).when(reserve('r1', 'u1')).thenRejects({ kind: 'TierRequired', memberTier: null });
  });

  test('an availability window changed by an update is what redemption is held to', () => {
    const closing = RewardUpdated({ ...terms, validUntil: '2026-05-01T00:00:00.000Z', updatedAt: at });
    given(catalogDecider, [created(), closing]).when(reserve('r1', 'u1')).thenRejects({ kind: 'RewardExpired' });
    const opening = RewardUpdated({ ...terms, validFrom: '2026-07-01T00:00:00.000Z', updatedAt: at });
    given(catalogDecider, [created(), opening]).when(reserve('r1', 'u1')).thenRejects({ kind: 'RewardNotYetValid' });
  });

  test('imported codes are handed out in order, one per reservation and in the same decision, until none is left', () => {
    const withCodes = [created({ voucher: { kind: 'imported' }, stock: 10 }), imported(['A-1', 'A-2'])];
    given(catalogDecider, withCodes)
      .when(reserve('r1', 'u1'))
      .then([reserved('r1', 'u1'), assigned('r1', 'u1', 'A-1')]);
    given(catalogDecider, [...withCodes, reserved('r1', 'u1'), assigned('r1', 'u1', 'A-1')])
      .when(reserve('r2', 'u2'))
      .then([reserved('r2', 'u2'), assigned('r2', 'u2', 'A-2')]);
    const spent = [...withCodes, reserved('r1', 'u1'), assigned('r1', 'u1', 'A-1'), reserved('r2', 'u2'), assigned('r2', 'u2', 'A-2')];
    given(catalogDecider, spent).when(reserve('r3', 'u3')).thenRejects({ kind: 'OutOfCodes' });
    // A cancelled redemption's code stays spent: its member has seen it.
    const released = StockReleased({ rewardId: 'w', redemptionId: 'r1', userId: 'u1', releasedAt: at });
    given(catalogDecider, [...spent, released])
      .when(reserve('r3', 'u3'))
      .thenRejects({ kind: 'OutOfCodes' });
  });

  test('imported codes are refused when repeated within the list or already in the reward, each named by its place', () => {
    const withCodes = [created({ voucher: { kind: 'imported' } }), imported(['A-1'])];
    given(catalogDecider, withCodes)
      .when({ type: 'ImportCodes', importId: 'i2', codes: ['B-1', 'A-1', 'B-1', 'has space'], now })
      .thenRejects({
        kind: 'InvalidTerms',
        errors: [
          { pointer: '/codes/1', message: 'is already in this reward' },
          { pointer: '/codes/2', message: 'appears twice in the list' },
          { pointer: '/codes/3', message: expect.any(String) },
        ],
      });
    given(catalogDecider, withCodes)
      .when({ type: 'ImportCodes', importId: 'i2', codes: ['B-1'], now })
      .then([imported(['B-1'], 'i2')]);
    given(catalogDecider, withCodes)
      .when({ type: 'ImportCodes', importId: 'i1', codes: ['C-1'], now })
      .thenNothingHappens();
    given(catalogDecider, [created()])
      .when({ type: 'ImportCodes', importId: 'i2', codes: ['B-1'], now })
      .thenRejects({ kind: 'NotImportingCodes' });
  });

  test('a reward created with codes records them with it', () => {
    given(catalogDecider, [])
      .when({ type: 'CreateReward', terms: { ...terms, voucher: { kind: 'imported' } }, codes: ['A-1'], now })
      .then([created({ voucher: { kind: 'imported' } }), imported(['A-1'], 'create:w')]);
    given(catalogDecider, [])
      .when({ type: 'CreateReward', terms, codes: ['A-1'], now })
      .thenRejects({ kind: 'InvalidTerms', errors: [{ pointer: '/voucher/codes', message: expect.any(String) }] });
  });

  test('a generated code is handed out with its unit, and a code handed out before is never handed out again', () => {
    const generating = created({ voucher: { kind: 'generated', prefix: 'MUG-', length: 8 } });
    given(catalogDecider, [generating])
      .when(reserve('r1', 'u1', { code: 'MUG-ABCDEFGH' }))
      .then([reserved('r1', 'u1'), assigned('r1', 'u1', 'MUG-ABCDEFGH')]);
    given(catalogDecider, [generating, reserved('r1', 'u1'), assigned('r1', 'u1', 'MUG-ABCDEFGH')])
      .when(reserve('r2', 'u2', { code: 'MUG-ABCDEFGH' }))
      .thenRejects({ kind: 'CodeTaken' });
    given(catalogDecider, [generating]).when(reserve('r1', 'u1')).thenRejects({ kind: 'CodeTaken' });
  });

  test('a reward created before categories, tiers and codes reads as one with none of them', () => {
    const { category: _category, tiers: _tiers, voucher: _voucher, ...v1 } = terms;
    const upcast = new EventRegistry(catalogEvents).upcast('RewardCreated', 1, { ...v1, createdAt: at });
    expect(upcast).toEqual({ ...terms, category: null, tiers: null, voucher: null, createdAt: at });
    given(catalogDecider, [RewardCreated(upcast as never)])
      .when(reserve('r1', 'u1'))
      .then([reserved('r1', 'u1')]);
  });
});
