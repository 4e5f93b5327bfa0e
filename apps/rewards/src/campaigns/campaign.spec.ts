import { given } from '#cqrs/testing';
import type { ProgramDefinition } from '../program/program.events';
import type { SourceEvent } from '../program/program.rules';
import { walletDecider, type WalletCommand } from '../wallet/wallet.decider';
import { MemberEnrolled, PointsEarned, TierChanged } from '../wallet/wallet.events';
import { budgetDecider, campaignsDecider, liveCampaigns, MAX_LIVE_CAMPAIGNS } from './campaign.decider';
import { CampaignArchived, CampaignBudgetSpent, CampaignCreated, CampaignStopped, type CampaignDefinition } from './campaign.events';
import { campaignCeiling, campaignMatches, campaignRunsAt } from './campaign.rules';

const userId = 'u1';
const now = new Date('2026-06-03T10:00:00.000Z'); // a Wednesday, noon in Paris
const double: CampaignDefinition = {
  campaignId: 'double',
  name: 'Double points in June',
  event: 'Order Completed',
  sources: ['server'],
  conditions: [],
  award: { bonus: 0, multiplier: 2, tierMultipliers: {} },
  validFrom: '2026-06-01T00:00:00.000Z',
  validUntil: '2026-07-01T00:00:00.000Z',
  schedule: null,
  limits: { budget: null, perMemberAwards: null, perMemberPoints: null, firstOrders: null },
};
const program: ProgramDefinition = {
  rules: [
    {
      id: 'order',
      event: 'Order Completed',
      conditions: [],
      award: { kind: 'perAmount', property: 'total', pointsPerUnit: 1, rounding: 'down' },
      sources: ['server'],
    },
  ],
  // Tiers come from the wallet's events here: the campaign reads the member's tier, the program decides it.
  tiers: null,
  expiry: null,
  limits: { maxPointsPerEvent: 500 },
  refunds: { allowNegativeBalance: false },
};
const order = (id: string, total: number, properties: object = {}): SourceEvent => ({
  id,
  name: 'Order Completed',
  properties: { total, ...properties },
  kind: 'server',
});
const enrolled = MemberEnrolled({ userId, enrolledAt: '2026-01-01T00:00:00.000Z' });
const lot = (source: string, ruleId: string, points: number, orderId: string | null = null, orderAmount: number | null = null) =>
  PointsEarned({
    userId,
    lotId: `${source}/${ruleId}`,
    points,
    sourceEventId: source,
    ruleId,
    earnedAt: now.toISOString(),
    expiresAt: null,
    orderId,
    orderAmount,
  });
/** A lot holding `campaign` points of the double campaign on top of what its rule earned. */
const boosted = (
  source: string,
  ruleId: string,
  rulePoints: number,
  campaign: number,
  orderId: string | null = null,
  orderAmount: number | null = null,
) => {
  const event = lot(source, ruleId, rulePoints + campaign, orderId, orderAmount);
  return { ...event, data: { ...event.data, campaigns: [{ campaignId: 'double', points: campaign }] } };
};
const earn = (source: SourceEvent, campaigns: { campaign: CampaignDefinition; allowance: number }[], earning = program): WalletCommand => ({
  type: 'Earn',
  userId,
  source,
  program: earning,
  campaigns,
  now,
});
const offer = (campaign: CampaignDefinition, allowance = 1_000_000) => ({ campaign, allowance });
const gold = TierChanged({
  userId,
  from: null,
  to: 'gold',
  reason: 'upgrade',
  reviewAt: '2027-01-01T00:00:00.000Z',
  changedAt: '2026-01-01T00:00:00.000Z',
});

describe('campaign terms', () => {
  test('a campaign runs from validFrom (inclusive) until validUntil (exclusive)', () => {
    expect(campaignRunsAt(double, new Date('2026-05-31T23:59:59.999Z'))).toBe(false);
    expect(campaignRunsAt(double, new Date('2026-06-01T00:00:00.000Z'))).toBe(true);
    expect(campaignRunsAt(double, new Date('2026-07-01T00:00:00.000Z'))).toBe(false);
    expect(campaignRunsAt({ ...double, validUntil: null }, new Date('2099-01-01T00:00:00.000Z'))).toBe(true);
  });

  test("days and hours are the time zone's wall clock, daylight saving included", () => {
    const weekendMornings = {
      ...double,
      schedule: { timeZone: 'Europe/Paris', days: ['sat' as const, 'sun' as const], hours: { from: 9, until: 12 } },
    };
    // Saturday 6 June 2026: 07:00Z is 09:00 in Paris (summer time), 10:00Z is 12:00 (closed), 06:59Z is 08:59.
    expect(campaignRunsAt(weekendMornings, new Date('2026-06-06T07:00:00.000Z'))).toBe(true);
    expect(campaignRunsAt(weekendMornings, new Date('2026-06-06T06:59:00.000Z'))).toBe(false);
    expect(campaignRunsAt(weekendMornings, new Date('2026-06-06T10:00:00.000Z'))).toBe(false);
    // Friday 23:30Z is already Saturday 01:30 in Paris, but outside the hours; a Wednesday never runs.
    expect(
      campaignRunsAt({ ...weekendMornings, schedule: { ...weekendMornings.schedule, hours: null } }, new Date('2026-06-05T23:30:00.000Z')),
    ).toBe(true);
    expect(campaignRunsAt(weekendMornings, now)).toBe(false);
    // In winter Paris is UTC+1: 08:00Z is 09:00 on Saturday 12 December 2026... outside the June window, so widen it.
    const winter = { ...weekendMornings, validUntil: null };
    expect(campaignRunsAt(winter, new Date('2026-12-12T08:00:00.000Z'))).toBe(true);
    expect(campaignRunsAt(winter, new Date('2026-12-12T07:59:00.000Z'))).toBe(false);
  });

  test('the event name, a trusted source and every condition must match; an audience is a condition on Audience Entered', () => {
    const eur = { ...double, conditions: [{ property: 'currency', op: 'eq' as const, value: 'EUR' }] };
    expect(campaignMatches(eur, order('m1', 10, { currency: 'EUR' }), now)).toBe(true);
    expect(campaignMatches(eur, order('m1', 10, { currency: 'USD' }), now)).toBe(false);
    expect(campaignMatches(eur, { ...order('m1', 10, { currency: 'EUR' }), kind: 'client' }, now)).toBe(false);
    const vip: CampaignDefinition = {
      ...double,
      event: 'Audience Entered',
      conditions: [{ property: 'audience', op: 'eq', value: 'vip' }],
      award: { bonus: 100, multiplier: null, tierMultipliers: {} },
    };
    const entered = (audience: string): SourceEvent => ({ id: 'a', name: 'Audience Entered', properties: { audience }, kind: 'server' });
    expect(campaignMatches(vip, entered('vip'), now)).toBe(true);
    expect(campaignMatches(vip, entered('churn-risk'), now)).toBe(false);
  });

  test('the ceiling set aside for an event is the bonus plus the highest multiplier any tier gets', () => {
    expect(campaignCeiling(double, 100)).toBe(100);
    expect(campaignCeiling({ ...double, award: { bonus: 5, multiplier: 1.5, tierMultipliers: { gold: 3 } } }, 100)).toBe(205);
  });
});

describe('earning with campaigns (wallet decider)', () => {
  test('a multiplier adds the program points times (multiplier - 1), on the same lot, with its share recorded', () => {
    given(walletDecider, [enrolled])
      .when(earn(order('m1', 120), [offer(double)]))
      .then([boosted('m1', 'order', 120, 120)]);
  });

  test("a member of a tier the campaign names gets that tier's multiplier; others the campaign's", () => {
    const tiered = { ...double, award: { bonus: 0, multiplier: 1.5, tierMultipliers: { gold: 3 } } };
    given(walletDecider, [enrolled, gold])
      .when(earn(order('m1', 101), [offer(tiered)]))
      .then([boosted('m1', 'order', 101, 202)]);
    given(walletDecider, [enrolled])
      .when(earn(order('m1', 101), [offer(tiered)]))
      .then([boosted('m1', 'order', 101, 50)]);
  });

  test('a fixed bonus earns on an event no program rule names, even without a program', () => {
    const welcome = { ...double, event: 'Audience Entered', award: { bonus: 75, multiplier: null, tierMultipliers: {} } };
    const source: SourceEvent = { id: 'a1', name: 'Audience Entered', properties: { audience: 'vip' }, kind: 'server' };
    given(walletDecider, [enrolled])
      .when({ type: 'Earn', userId, source, campaigns: [offer(welcome)], now })
      .then([boosted('a1', 'campaign:double', 0, 75)]);
  });

  test('the award never exceeds the allowance earning set aside from the budget', () => {
    given(walletDecider, [enrolled])
      .when(earn(order('m1', 120), [offer(double, 30)]))
      .then([boosted('m1', 'order', 120, 30)]);
  });

  test('per-member limits: awards and points', () => {
    const once = { ...double, limits: { ...double.limits, perMemberAwards: 1 } };
    given(walletDecider, [enrolled, boosted('m0', 'order', 20, 10)])
      .when(earn(order('m1', 50), [offer(once)]))
      .then([lot('m1', 'order', 50)]);
    const upTo80 = { ...double, limits: { ...double.limits, perMemberPoints: 80 } };
    given(walletDecider, [enrolled, boosted('m0', 'order', 20, 50)])
      .when(earn(order('m1', 50), [offer(upTo80)]))
      .then([boosted('m1', 'order', 50, 30)]);
  });

  test('first orders: only an order the member has not earned on, while fewer than N of theirs earned', () => {
    const firstOrder = {
      ...double,
      award: { bonus: 200, multiplier: null, tierMultipliers: {} },
      limits: { ...double.limits, firstOrders: 1 },
    };
    const withOrder = (id: string, orderId: string) => order(id, 40, { order_id: orderId });
    given(walletDecider, [enrolled])
      .when(earn(withOrder('m1', 'W-1'), [offer(firstOrder)]))
      .then([boosted('m1', 'order', 40, 200, 'W-1', 40)]);
    given(walletDecider, [enrolled, lot('m0', 'order', 10, 'W-0', 10)])
      .when(earn(withOrder('m1', 'W-1'), [offer(firstOrder)]))
      .then([lot('m1', 'order', 40, 'W-1', 40)]);
    // No order id: not an order.
    given(walletDecider, [enrolled])
      .when(earn(order('m1', 40), [offer(firstOrder)]))
      .then([lot('m1', 'order', 40)]);
  });

  test('campaign points come on top of the program limits, and do not use up the member limits of later events', () => {
    const capped = { ...program, limits: { perMemberPerDay: 100 } };
    given(walletDecider, [enrolled, boosted('m0', 'campaign:double', 0, 90)])
      .when(earn(order('m1', 100), [offer(double)], capped))
      .then([boosted('m1', 'order', 100, 100)]);
  });

  test('a source that earned before earns nothing again, campaigns included (exactly once on replay)', () => {
    given(walletDecider, [enrolled, boosted('m1', 'order', 120, 120)])
      .when(earn(order('m1', 120), [offer(double)]))
      .thenNothingHappens();
  });
});

describe('campaign lifecycle (campaigns decider)', () => {
  const created = CampaignCreated({ ...double, createdAt: now.toISOString() });

  test('a campaign is created once; the same terms again are a retry, other terms under its id are refused', () => {
    given(campaignsDecider, []).when({ type: 'Create', campaign: double, now }).then([created]);
    given(campaignsDecider, [created]).when({ type: 'Create', campaign: double, now }).thenNothingHappens();
    given(campaignsDecider, [created])
      .when({ type: 'Create', campaign: { ...double, name: 'Triple' }, now })
      .thenRejects({ kind: 'CampaignExists', campaignId: 'double' });
  });

  test('a window that ends before it starts, hours that end before they start, or an award of nothing are refused, naming the field', () => {
    given(campaignsDecider, [])
      .when({ type: 'Create', campaign: { ...double, validUntil: double.validFrom }, now })
      .thenRejects({ kind: 'InvalidCampaign', errors: [{ pointer: '/validUntil', message: 'must be after validFrom' }] });
    given(campaignsDecider, [])
      .when({ type: 'Create', campaign: { ...double, schedule: { timeZone: 'UTC', days: ['mon'], hours: { from: 18, until: 9 } } }, now })
      .thenRejects({ kind: 'InvalidCampaign', errors: [{ pointer: '/schedule/hours/until', message: 'must be after from' }] });
    given(campaignsDecider, [])
      .when({ type: 'Create', campaign: { ...double, award: { bonus: 0, multiplier: 1, tierMultipliers: { gold: 1 } } }, now })
      .thenRejects({ kind: 'InvalidCampaign' });
  });

  test(`at most ${MAX_LIVE_CAMPAIGNS} campaigns that are not archived`, () => {
    const many = Array.from({ length: MAX_LIVE_CAMPAIGNS }, (_, i) =>
      CampaignCreated({ ...double, campaignId: `c${i}`, createdAt: now.toISOString() }),
    );
    given(campaignsDecider, many).when({ type: 'Create', campaign: double, now }).thenRejects({ kind: 'TooManyCampaigns' });
    given(campaignsDecider, [...many, CampaignArchived({ campaignId: 'c0', archivedAt: now.toISOString() })])
      .when({ type: 'Create', campaign: double, now })
      .then([created]);
  });

  test('stopping takes it out of earning once; archiving stops it too; an unknown campaign is refused', () => {
    const stopped = CampaignStopped({ campaignId: 'double', stoppedAt: now.toISOString() });
    given(campaignsDecider, [created]).when({ type: 'Stop', campaignId: 'double', now }).then([stopped]);
    given(campaignsDecider, [created, stopped]).when({ type: 'Stop', campaignId: 'double', now }).thenNothingHappens();
    given(campaignsDecider, []).when({ type: 'Stop', campaignId: 'double', now }).thenRejects({ kind: 'CampaignNotFound' });
    const archived = CampaignArchived({ campaignId: 'double', archivedAt: now.toISOString() });
    given(campaignsDecider, [created]).when({ type: 'Archive', campaignId: 'double', now }).then([archived]);
    const state = [created, archived].reduce(campaignsDecider.evolve, campaignsDecider.initialState());
    expect(liveCampaigns(state)).toEqual([]);
    expect(liveCampaigns(campaignsDecider.evolve(campaignsDecider.initialState(), created))).toEqual([double]);
  });
});

describe('campaign budget (budget decider)', () => {
  const spend = (points: number, budget: number | null = 1000) => ({ campaignId: 'double', points, awards: 2, budget, now });
  const spent = (points: number, total: number) =>
    CampaignBudgetSpent({ campaignId: 'double', points, awards: 2, spent: total, spentAt: now.toISOString() });

  test('a batch records what it gave and the running total, up to the budget exactly', () => {
    given(budgetDecider, [spent(600, 600)])
      .when(spend(400))
      .then([spent(400, 1000)]);
    given(budgetDecider, [])
      .when(spend(10, null))
      .then([spent(10, 10)]);
    given(budgetDecider, []).when(spend(0)).thenNothingHappens();
  });

  test('a total past the budget is refused (a concurrent writer): the batch is applied again on the newer total', () => {
    given(budgetDecider, [spent(600, 600)])
      .when(spend(401))
      .thenRejects({ kind: 'BudgetExceeded', budget: 1000, spent: 600, points: 401 });
  });
});
