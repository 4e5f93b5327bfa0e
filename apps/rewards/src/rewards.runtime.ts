import { LoginJwksVerifier, NoAccessTokens } from '#access';
import { ServiceInfrastructure, type CommandRunnerOptions } from '#cqrs';
import { OutboundTables1765300000000, outboundSettingsOf } from '#outbound';
import { platformOptionsFromEnv, type ServiceOptions } from '#platform';
import { exportEvents, tenantEvents } from '#contracts';
import { campaignEvents } from './campaigns/campaign.events';
import { catalogEvents } from './catalog/catalog.events';
import { consumedEvents } from './earning/tracked-events.contract';
import { programEvents } from './program/program.events';
import { redemptionEvents } from './redemption/redemption.events';
import { rewardsApi, rewardsProjectorApi } from './rewards.api';
import type { RewardsConfig } from './rewards.config';
import type { RewardsRuntime } from './rewards.module';
import {
  RewardsBoundedTotals1733500000000,
  RewardsCatalogManagement1765300000000,
  RewardsRedemptionsByMember1765400000000,
  RewardsErasedMembers1732360000001,
  RewardsReadModels1732360000000,
  RewardsTenantKeys1765200000000,
  RewardsWebhooks1765550000000,
  RewardsMemberEmails1765550000001,
  RewardsExportParts1765600000003,
  RewardsExportsPending1765680000003,
  RewardsTransactions1765620000000,
} from './rewards.migrations';
import { walletEvents } from './wallet/wallet.events';
import { webhookEndpointEvents } from './webhooks/webhook.events';
import { referralEvents } from './referral/referral.events';
import { referralCodeKey } from './referral/referrals';

/**
 * Every event type rewards reads: its own, register's tenant events (the tenants' keys), and the
 * sources of earning (pulse's tracked events, register's sign-ups and erasures).
 */
export const rewardsEventTypes = [
  ...programEvents,
  ...walletEvents,
  ...catalogEvents,
  ...campaignEvents,
  ...redemptionEvents,
  ...tenantEvents,
  ...consumedEvents,
  ...webhookEndpointEvents,
  ...referralEvents,
  ...exportEvents,
];

/**
 * Rewards decides on busy streams (a wallet of thousands of events, a reward's stock): their
 * states stay in memory and the commands of one stream take turns in this process. A lost race
 * (another replica, or earning and a redemption on one wallet) is retried up to 20 times, since
 * giving up answers a 5xx or replays a whole earning batch.
 */
const REWARDS_COMMANDS: CommandRunnerOptions = { cachedStreams: 50_000, retry: { retries: 20 }, passOverUnknownEvents: true };

/** Rewards's schema migrations, every release's (TypeORM runs them in the order of their timestamps). */
export const rewardsMigrations = [
  RewardsReadModels1732360000000,
  RewardsErasedMembers1732360000001,
  RewardsBoundedTotals1733500000000,
  RewardsTenantKeys1765200000000,
  RewardsCatalogManagement1765300000000,
  RewardsRedemptionsByMember1765400000000,
  OutboundTables1765300000000,
  RewardsWebhooks1765550000000,
  RewardsMemberEmails1765550000001,
  RewardsExportParts1765600000003,
  RewardsExportsPending1765680000003,
  RewardsTransactions1765620000000,
];

/** Opens what rewards runs on, as its configuration says. */
export async function openRewardsRuntime(config: RewardsConfig): Promise<RewardsRuntime> {
  const infrastructure = await ServiceInfrastructure.connect({
    service: 'rewards',
    poolSize: config.DATABASE_POOL_SIZE,
    migrate: config.MIGRATE,
    wakeOtherProcesses: config.EVENTSTORE_WAKE === 'notify',
    databaseUrl: config.DATABASE_URL,
    eventstoreUrl: config.EVENTSTORE_URL,
    masterKey: config.TESSERA_MASTER_KEY,
    entities: [],
    migrations: rewardsMigrations,
    events: rewardsEventTypes,
    commands: REWARDS_COMMANDS,
  });
  return {
    infrastructure,
    role: config.REWARDS_ROLE,
    settings: {
      expiryIntervalMs: config.REWARDS_EXPIRY_INTERVAL_MS,
      recoveryAfterMs: config.REWARDS_RECOVERY_AFTER_MS,
      maxProjectionLagMs: config.READY_MAX_PROJECTION_LAG_MS,
      fairness: {
        writesPerSecond: config.REWARDS_TENANT_WRITES_PER_SECOND,
        writeBurst: config.REWARDS_TENANT_WRITE_BURST,
        concurrency: config.REWARDS_TENANT_CONCURRENCY,
      },
    },
    adminToken: config.ADMIN_TOKEN,
    outbound: outboundSettingsOf(config),
    referralCodeKey: referralCodeKey(config.TESSERA_MASTER_KEY),
    // Members reach their own wallet with login's access tokens; without login's address, nobody does.
    accessTokens: config.LOGIN_PUBLIC_URL
      ? new LoginJwksVerifier(config.LOGIN_PUBLIC_URL, { jwksBaseUrl: config.LOGIN_INTERNAL_URL })
      : new NoAccessTokens(),
  };
}

export function rewardsServiceOptions(config: RewardsConfig): ServiceOptions {
  const api = config.REWARDS_ROLE === 'projector' ? rewardsProjectorApi : rewardsApi;
  return { serviceName: 'rewards', api, ...platformOptionsFromEnv(config) };
}
