import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import {
  adminTokenCheck,
  CommandRunner,
  EventCodec,
  ParkedEventsAdmin,
  ParkedEventsController,
  PeriodicTask,
  ProjectionRunner,
  projectionRunners,
  RuntimeLifecycle,
  ServiceInfrastructure,
} from '#cqrs';
import type { OutboundSettings } from '#outbound';
import { MetricsRegistry, ReadinessChecks, SERVICE_LOGGER } from '#platform';
import { TenantKeyLookup } from '#tenant-keys';
import { CampaignHandler } from './campaigns/campaign.handler';
import { CampaignController } from './campaigns/campaign.http';
import { CatalogHandler } from './catalog/catalog.handler';
import { CatalogController } from './catalog/catalog.http';
import { Earning, EarningProjection } from './earning/earning.projection';
import { ExpiryJob } from './expiry/expiry.job';
import { ProgramHandler } from './program/program.handler';
import { ProgramController } from './program/program.http';
import { ReadModels } from './read-models';
import { RedemptionHandler } from './redemption/redemption.handler';
import { RedemptionController } from './redemption/redemption.http';
import { RedemptionRecovery } from './redemption/redemption.recovery';
import { Clock, REWARDS_SETTINGS, SystemClock, type RewardsSettings } from './rewards.ports';
import { rewardsReadModelProjection } from './rewards.projection';
import { EventStoreRef } from './shared/event-store-ref';
import { TenantCalls } from './shared/tenant-calls';
import { TenantAccess } from './tenants/tenant-access';
import { TENANT_KEYS_TABLE, TenantDirectory } from './tenants/tenant-directory';
import { WalletHandler } from './wallet/wallet.handler';
import { MemberController } from './wallet/member.http';
import { MembersController, ReportsController } from './reports/reports.http';
import { RefundController } from './wallet/refund.http';
import { TransferDelivery } from './wallet/transfer-delivery';
import { TransferController } from './wallet/transfer.http';
import { ReferralController } from './referral/referral.http';
import { ExpiringController } from './expiry/expiring.http';
import { EnrolmentController } from './wallet/enrolment.http';
import { Referrals } from './referral/referrals';
import { REWARDS_OUTBOX_PROJECTION } from './webhooks/webhook-routing';
import { WebhooksController } from './webhooks/webhooks.http';
import { RewardsWebhooks } from './webhooks/webhooks.wiring';

/** The webhook outbox's projection and its delivery worker (see RewardsWebhooks). */
const WEBHOOK_DELIVERY = Symbol('RewardsWebhookDelivery');
type WebhookDelivery = ReturnType<RewardsWebhooks['delivery']>;
import { TierController } from './wallet/tier.http';

/** What rewards runs on, opened by main (or a test) before the module is built. */
export interface RewardsRuntime {
  readonly infrastructure: ServiceInfrastructure;
  readonly settings: RewardsSettings;
  /** The parked-events admin routes answer 404 without it. */
  readonly adminToken?: string;
  /** How webhooks leave rewards (OUTBOUND_*). */
  readonly outbound: OutboundSettings;
  /** Keys members' referral codes (derived from the master key). */
  readonly referralCodeKey: Buffer;
  /** What "now" is for the API and the periodic jobs (tests move a clock of their own; the system's otherwise). */
  readonly clock?: Clock;
}

@Module({})
export class RewardsModule {
  static forRoot(runtime: RewardsRuntime): DynamicModule {
    const { infrastructure, settings } = runtime;
    const { eventStore: store, codec, dataSource, commands } = infrastructure;
    const earning = new EarningProjection(commands, store, codec, infrastructure.personalData);
    const webhooks = new RewardsWebhooks(runtime.outbound, infrastructure.pool, commands);
    const transfers = new TransferDelivery(commands);
    const referrals = new Referrals(commands, runtime.referralCodeKey);
    return {
      module: RewardsModule,
      controllers: [
        ProgramController,
        CatalogController,
        MembersController,
        MemberController,
        RefundController,
        RedemptionController,
        ReportsController,
        ParkedEventsController,
        WebhooksController,
        TransferController,
        ReferralController,
        ExpiringController,
        EnrolmentController,
        CampaignController,
        TierController,
      ],
      providers: [
        { provide: ServiceInfrastructure, useValue: infrastructure },
        { provide: DataSource, useValue: dataSource },
        { provide: EventCodec, useValue: codec },
        { provide: EventStoreRef, useValue: store },
        { provide: CommandRunner, useValue: commands },
        { provide: REWARDS_SETTINGS, useValue: settings },
        { provide: Clock, useValue: runtime.clock ?? new SystemClock() },
        { provide: TenantKeyLookup, useValue: new TenantKeyLookup(infrastructure.pool, TENANT_KEYS_TABLE) },
        { provide: RewardsWebhooks, useValue: webhooks },
        { provide: TransferDelivery, useValue: transfers },
        { provide: Referrals, useValue: referrals },
        {
          provide: WEBHOOK_DELIVERY,
          inject: [MetricsRegistry, SERVICE_LOGGER],
          useFactory: (metrics: MetricsRegistry, logger: Logger) => webhooks.delivery(metrics, logger),
        },
        {
          provide: 'rewards.runners',
          inject: [MetricsRegistry, SERVICE_LOGGER, WEBHOOK_DELIVERY],
          useFactory: (metrics: MetricsRegistry, logger: Logger, delivery: WebhookDelivery) =>
            projectionRunners(
              [rewardsReadModelProjection, earning, delivery.projection, transfers.projection(), referrals.projection()],
              { store, codec, dataSource },
              metrics,
              logger,
            ),
        },
        { provide: ProjectionRunner, inject: ['rewards.runners'], useFactory: (runners: ProjectionRunner[]) => runners[0] },
        { provide: Earning, inject: ['rewards.runners'], useFactory: (runners: ProjectionRunner[]) => new Earning(runners[1]!, earning) },
        {
          provide: ParkedEventsAdmin,
          inject: ['rewards.runners', TenantDirectory],
          useFactory: (runners: ProjectionRunner[], tenants: TenantDirectory) =>
            new ParkedEventsAdmin({
              requireAdmin: adminTokenCheck(runtime.adminToken),
              tenantIdOf: async (slug) => (await tenants.bySlug(slug))?.tenantId,
              projections: runners.map((runner) => runner.name),
              runners,
              dataSource,
            }),
        },
        {
          provide: RuntimeLifecycle,
          inject: [ReadinessChecks, 'rewards.runners', ExpiryJob, RedemptionRecovery, Clock, SERVICE_LOGGER, WEBHOOK_DELIVERY],
          useFactory: (
            checks: ReadinessChecks,
            runners: ProjectionRunner[],
            expiry: ExpiryJob,
            recovery: RedemptionRecovery,
            clock: Clock,
            logger: Logger,
            delivery: WebhookDelivery,
          ) =>
            new RuntimeLifecycle(checks, {
              infrastructure,
              // The outbox runs as a task: a slow webhook receiver does not take rewards out of rotation.
              followers: runners.filter((runner) => runner.name !== REWARDS_OUTBOX_PROJECTION),
              maxLagMs: settings.maxProjectionLagMs,
              release: [async () => webhooks.sender.close()],
              tasks: [
                ...runners.filter((runner) => runner.name === REWARDS_OUTBOX_PROJECTION),
                delivery.worker,
                new PeriodicTask('expiry', settings.expiryIntervalMs, () => expiry.runOnce(clock.now()), logger),
                new PeriodicTask(
                  'redemption recovery',
                  settings.recoveryAfterMs,
                  () => recovery.resumeUnfinished(clock.now(), settings.recoveryAfterMs),
                  logger,
                ),
              ],
            }),
        },
        ReadModels,
        TenantDirectory,
        TenantAccess,
        TenantCalls,
        ProgramHandler,
        CatalogHandler,
        WalletHandler,
        RedemptionHandler,
        RedemptionRecovery,
        ExpiryJob,
        CampaignHandler,
      ],
    };
  }
}
