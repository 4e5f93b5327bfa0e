/**
 * Stream names of rewards. Each carries its tenant first, so one tenant's streams never share a
 * lock, a cache entry or a name with another's.
 */
export const PROGRAM_STREAM_PREFIX = 'rewards.program-';
export const WALLET_STREAM_PREFIX = 'rewards.wallet-';
export const REWARD_STREAM_PREFIX = 'rewards.reward-';
export const REDEMPTION_STREAM_PREFIX = 'rewards.redemption-';
/** A tenant's campaigns (definitions, stops, archives) on one stream; each campaign's spending on its own. */
export const CAMPAIGNS_STREAM_PREFIX = 'rewards.campaigns-';
export const CAMPAIGN_BUDGET_STREAM_PREFIX = 'rewards.campaign-budget-';

export const programStreamFor = (tenantId: string) => `${PROGRAM_STREAM_PREFIX}${tenantId}`;
export const walletStreamFor = (tenantId: string, userId: string) => `${WALLET_STREAM_PREFIX}${tenantId}.${userId}`;
export const rewardStreamFor = (tenantId: string, rewardId: string) => `${REWARD_STREAM_PREFIX}${tenantId}.${rewardId}`;
export const redemptionStreamFor = (tenantId: string, redemptionId: string) => `${REDEMPTION_STREAM_PREFIX}${tenantId}.${redemptionId}`;
export const WEBHOOK_STREAM_PREFIX = 'rewards.webhook-';
export const webhookStreamFor = (tenantId: string, endpointId: string) => `${WEBHOOK_STREAM_PREFIX}${tenantId}.${endpointId}`;
export const REFERRAL_STREAM_PREFIX = 'rewards.referral-';
export const referralStreamFor = (tenantId: string, code: string) => `${REFERRAL_STREAM_PREFIX}${tenantId}.${code}`;
export const campaignsStreamFor = (tenantId: string) => `${CAMPAIGNS_STREAM_PREFIX}${tenantId}`;
export const campaignBudgetStreamFor = (tenantId: string, campaignId: string) =>
  `${CAMPAIGN_BUDGET_STREAM_PREFIX}${tenantId}.${campaignId}`;
