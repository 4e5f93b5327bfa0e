import { EXPORT_PART_SOURCE, ExportParts, ExportPartsController, exportPartSource, exportSections } from '#contracts';
import { rewardsSection } from './wallet/export-section';
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
import { AccessTokenVerifier } from '#access';
import { CampaignHandler } from './campaigns/campaign.handler';
import { CampaignController } from './campaigns/campaign.http';
import { CatalogHandler } from './catalog/catalog.handler';
import { CatalogController } from './catalog/catalog.http';
import { Earning, EARNING_PROJECTION, EarningProjection } from './earning/earning.projection';
import { ExpiringController } from './expiry/expiring.http';
import { ExpiryJob } from './expiry/expiry.job';
import { ProgramHandler } from './program/program.handler';
import { ProgramController } from './program/program.http';
import { ReadModels } from './read-models';
import { RedemptionHandler } from './redemption/redemption.handler';
import { RedemptionController } from './redemption/redemption.http';
import { RedemptionRecovery } from './redemption/redemption.recovery';
import { ReferralController } from './referral/referral.http';
import { Referrals } from './referral/referrals';
import { MembersController, ReportsController } from './reports/reports.http';
import { Clock, REWARDS_SETTINGS, SystemClock, type RewardsSettings } from './rewards.ports';
import { rewardsReadModelProjection } from './rewards.projection';
import { EventStoreRef } from './shared/event-store-ref';
import { TenantCalls } from './shared/tenant-calls';
import { TenantAccess } from './tenants/tenant-access';
import { TENANT_KEYS_TABLE, TenantDirectory } from './tenants/tenant-directory';
import { EnrolmentController } from './wallet/enrolment.http';
import { MemberController } from './wallet/member.http';
import { MemberSelfController } from './wallet/member-self.http';
import { RefundController } from './wallet/refund.http';
import { TierController } from './wallet/tier.http';
import { TransferDelivery } from './wallet/transfer-delivery';
import { TransferController } from './wallet/transfer.http';
import { WalletHandler } from './wallet/wallet.handler';
import { REWARDS_OUTBOX_PROJECTION } from './webhooks/webhook-routing';
import { WebhooksController } from './webhooks/webhooks.http';
import { RewardsWebhooks } from './webhooks/webhooks.wiring';

/** What rewards runs on, opened by main (or a test) before the module is built. */
export interface RewardsRuntime {
  readonly infrastructure: ServiceInfrastructure;
  /** What this process runs (REWARDS_ROLE): the API, the earning projector, or both. */
  readonly role: RewardsRole;
  readonly settings: RewardsSettings;
  /** The parked-events admin routes answer 404 without it. */
  readonly adminToken?: string;
  /** How webhooks leave rewards (OUTBOUND_*). */
  readonly outbound: OutboundSettings;
  /** Keys members' referral codes (derived from the master key). */
  readonly referralCodeKey: Buffer;
  /** What "now" is for the API and the periodic jobs (tests move a clock of their own; the system's otherwise). */
  readonly clock?: Clock;
  /** Whose login access token a member-facing call carries (NoAccessTokens refuses them all). */
  readonly accessTokens: AccessTokenVerifier;
}

export type RewardsRole = 'all' | 'api' | 'projector';

/** The runners of this process's role, for the lifecycle, the parked-events admin and tests that wait on them. */
export const RUNNERS = Symbol('RewardsRunners');
/** The webhook outbox's projection and its delivery worker (see RewardsWebhooks), in the roles that follow tracking. */
const WEBHOOK_DELIVERY = Symbol('RewardsWebhookDelivery');
type WebhookDelivery = ReturnType<RewardsWebhooks['delivery']>;

const API_CONTROLLERS = [
  ProgramController,
  CatalogController,
  MembersController,
  MemberController,
  RefundController,
  RedemptionController,
  ReportsController,
  WebhooksController,
  TransferController,
  ReferralController,
  ExpiringController,
  EnrolmentController,
  CampaignController,
  TierController,
  MemberSelfController,
];

/**
 * Rewards in one of its roles (see REWARDS_ROLE). The API answers from the read models it keeps
 * itself (tenants' keys, catalog, redemptions) and waits for them per request to read its own
 * writes, so their lag gates its readiness. What follows every tracked event pulse stores
 * (earning, referrals), the webhook outbox and the completion of half-done transfers run in
 * the projector role, where they gate that process's readiness (a roll waits for the new runner to
 * catch up); in `all` their lag is reported but never takes the API out of rotation, since nothing
 * the API answers waits on them and every replica shares their one checkpoint, so all would leave at once.
 */
@Module({})
export class RewardsModule {
  static forRoot(runtime: RewardsRuntime): DynamicModule {
    const { infrastructure, settings, role } = runtime;
    const { eventStore: store, codec, dataSource, commands } = infrastructure;
    const api = role !== 'projector';
    // What follows the log beyond the API's own read models: earning and referrals (every tracked
    // event), the webhook outbox, and the completion of transfers a crash left half-done.
    const follows = role !== 'api';
    const earning = follows ? new EarningProjection(commands, store, codec, infrastructure.personalData) : undefined;
    const webhooks = new RewardsWebhooks(runtime.outbound, infrastructure.pool, commands);
    const transfers = new TransferDelivery(commands, store, codec);
    const referrals = new Referrals(commands, runtime.referralCodeKey);
    const transferProjection = transfers.projection();
    const referralProjection = referrals.projection();
    const exportParts = new ExportParts('rewards_export_parts', infrastructure.personalData);
    // Sections are written by the processes that follow the log, and served by those that answer the API.
    const { projection: exportProjection, writer: exportWriter } = exportSections({
      service: 'rewards',
      parts: exportParts,
      store,
      codec,
      personalData: infrastructure.personalData,
      dataSource,
      gather: rewardsSection({ store, codec }),
    });
    const ownProjections = [
      ...(api ? [rewardsReadModelProjection] : []),
      ...(earning ? [earning, referralProjection, transferProjection, exportProjection] : []),
    ];
    const runnerNamed = (runners: ProjectionRunner[], name: string) => runners.find((runner) => runner.name === name);
    // A long export takes no process out of rotation.
    const gatesReadiness = (runner: ProjectionRunner) =>
      runner.name === rewardsReadModelProjection.name ||
      (role === 'projector' && runner.name !== REWARDS_OUTBOX_PROJECTION && runner.name !== exportProjection.name);
    return {
      module: RewardsModule,
      controllers: [...(api ? [...API_CONTROLLERS, ExportPartsController] : []), ParkedEventsController],
      providers: [
        { provide: EXPORT_PART_SOURCE, useValue: exportPartSource('rewards', exportParts, infrastructure) },
        { provide: ServiceInfrastructure, useValue: infrastructure },
        { provide: DataSource, useValue: dataSource },
        { provide: EventCodec, useValue: codec },
        { provide: EventStoreRef, useValue: store },
        { provide: CommandRunner, useValue: commands },
        { provide: REWARDS_SETTINGS, useValue: settings },
        { provide: Clock, useValue: runtime.clock ?? new SystemClock() },
        { provide: TenantKeyLookup, useValue: new TenantKeyLookup(infrastructure.pool, TENANT_KEYS_TABLE) },
        { provide: AccessTokenVerifier, useValue: runtime.accessTokens },
        { provide: RewardsWebhooks, useValue: webhooks },
        { provide: TransferDelivery, useValue: transfers },
        { provide: Referrals, useValue: referrals },
        {
          provide: WEBHOOK_DELIVERY,
          inject: [MetricsRegistry, SERVICE_LOGGER],
          useFactory: (metrics: MetricsRegistry, logger: Logger) => (follows ? webhooks.delivery(metrics, logger) : undefined),
        },
        {
          provide: RUNNERS,
          inject: [MetricsRegistry, SERVICE_LOGGER, WEBHOOK_DELIVERY],
          useFactory: (metrics: MetricsRegistry, logger: Logger, delivery?: WebhookDelivery) =>
            projectionRunners(
              [...ownProjections, ...(delivery ? [delivery.projection] : [])],
              { store, codec, dataSource },
              metrics,
              logger,
            ),
        },
        ...(api
          ? [
              {
                provide: ProjectionRunner,
                inject: [RUNNERS],
                useFactory: (runners: ProjectionRunner[]) => runnerNamed(runners, rewardsReadModelProjection.name)!,
              },
              ReadModels,
              // The member-facing routes answer with the very code of the tenant's own (see MemberSelfController).
              MemberController,
              RedemptionController,
              CatalogController,
              TenantAccess,
              TenantCalls,
              ProgramHandler,
              CatalogHandler,
              WalletHandler,
              RedemptionHandler,
              RedemptionRecovery,
              ExpiryJob,
              CampaignHandler,
            ]
          : []),
        ...(earning
          ? [
              {
                provide: Earning,
                inject: [RUNNERS],
                useFactory: (runners: ProjectionRunner[]) => new Earning(runnerNamed(runners, earning.name)!, earning),
              },
            ]
          : []),
        {
          provide: ParkedEventsAdmin,
          inject: [RUNNERS, TenantDirectory],
          useFactory: (runners: ProjectionRunner[], tenants: TenantDirectory) =>
            new ParkedEventsAdmin({
              requireAdmin: adminTokenCheck(runtime.adminToken),
              tenantIdOf: async (slug) => (await tenants.bySlug(slug))?.tenantId,
              // Every role lists every projection's (one database); each retries only what it runs.
              projections: [
                rewardsReadModelProjection.name,
                EARNING_PROJECTION,
                REWARDS_OUTBOX_PROJECTION,
                transferProjection.name,
                referralProjection.name,
                exportProjection.name,
              ],
              runners,
              dataSource,
            }),
        },
        {
          provide: RuntimeLifecycle,
          inject: [
            ReadinessChecks,
            RUNNERS,
            SERVICE_LOGGER,
            Clock,
            WEBHOOK_DELIVERY,
            { token: ExpiryJob, optional: true },
            { token: RedemptionRecovery, optional: true },
          ],
          useFactory: (
            checks: ReadinessChecks,
            runners: ProjectionRunner[],
            logger: Logger,
            clock: Clock,
            delivery?: WebhookDelivery,
            expiry?: ExpiryJob,
            recovery?: RedemptionRecovery,
          ) => {
            // The outbox runs as a task: a slow webhook receiver does not take rewards out of rotation.
            const followers = runners.filter((runner) => runner.name !== REWARDS_OUTBOX_PROJECTION);
            return new RuntimeLifecycle(checks, {
              infrastructure,
              followers: followers.filter(gatesReadiness),
              ungatedFollowers: followers.filter((runner) => !gatesReadiness(runner)),
              maxLagMs: settings.maxProjectionLagMs,
              release: [async () => webhooks.sender.close()],
              tasks: [
                ...runners.filter((runner) => runner.name === REWARDS_OUTBOX_PROJECTION),
                ...(delivery ? [delivery.worker] : []),
                ...(earning ? [exportWriter.reportingTo((fields, message) => logger.warn(fields, message))] : []),
                ...(expiry && recovery ? apiTasks(settings, { expiry, recovery, clock }, logger) : []),
              ],
            });
          },
        },
        TenantDirectory,
      ],
    };
  }
}

/** Expiry and the recovery of unfinished redemptions: API work, run beside the API (each replica, idempotent). */
function apiTasks(
  settings: RewardsSettings,
  { expiry, recovery, clock }: { expiry: ExpiryJob; recovery: RedemptionRecovery; clock: Clock },
  logger: Logger,
): PeriodicTask[] {
  return [
    new PeriodicTask('expiry', settings.expiryIntervalMs, () => expiry.runOnce(clock.now()), logger),
    new PeriodicTask(
      'redemption recovery',
      settings.recoveryAfterMs,
      () => recovery.resumeUnfinished(clock.now(), settings.recoveryAfterMs),
      logger,
    ),
  ];
}
