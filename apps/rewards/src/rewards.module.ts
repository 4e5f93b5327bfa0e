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
import { MetricsRegistry, ReadinessChecks, SERVICE_LOGGER } from '#platform';
import { TenantKeyLookup } from '#tenant-keys';
import { CatalogHandler } from './catalog/catalog.handler';
import { CatalogController } from './catalog/catalog.http';
import { Earning, EARNING_PROJECTION, EarningProjection } from './earning/earning.projection';
import { WalletBatches } from './earning/wallet-batch';
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

/** What rewards runs on, opened by main (or a test) before the module is built. */
export interface RewardsRuntime {
  readonly infrastructure: ServiceInfrastructure;
  /** What this process runs (REWARDS_ROLE): the API, the earning projector, or both. */
  readonly role: RewardsRole;
  readonly settings: RewardsSettings;
  /** The parked-events admin routes answer 404 without it. */
  readonly adminToken?: string;
}

export type RewardsRole = 'all' | 'api' | 'projector';

/** The runners of this process's role (read models, earning), for the lifecycle and the parked-events admin. */
const RUNNERS = Symbol('RewardsRunners');

/**
 * Rewards in one of its roles (see REWARDS_ROLE). The API answers from the read models it keeps
 * itself (tenants' keys, catalog, redemptions) and waits for them per request to read its own
 * writes, so their lag gates its readiness. Earning follows every tracked event pulse stores: in
 * the projector role it gates that process's readiness (a roll waits for the new runner to catch
 * up); in `all` its lag is reported but never takes the API out of rotation, since nothing the API
 * answers waits on it and every replica shares the one checkpoint, so all would leave at once.
 */
@Module({})
export class RewardsModule {
  static forRoot(runtime: RewardsRuntime): DynamicModule {
    const { infrastructure, settings, role } = runtime;
    const { eventStore: store, codec, dataSource, commands } = infrastructure;
    const api = role !== 'projector';
    const earning =
      role !== 'api' ? new EarningProjection(new WalletBatches(commands), store, codec, infrastructure.personalData) : undefined;
    const projections = [...(api ? [rewardsReadModelProjection] : []), ...(earning ? [earning] : [])];
    const runnerNamed = (runners: ProjectionRunner[], name: string) => runners.find((runner) => runner.name === name);
    return {
      module: RewardsModule,
      controllers: [
        ...(api
          ? [
              ProgramController,
              CatalogController,
              MembersController,
              MemberController,
              RefundController,
              RedemptionController,
              ReportsController,
            ]
          : []),
        ParkedEventsController,
      ],
      providers: [
        { provide: ServiceInfrastructure, useValue: infrastructure },
        { provide: DataSource, useValue: dataSource },
        { provide: EventCodec, useValue: codec },
        { provide: EventStoreRef, useValue: store },
        { provide: CommandRunner, useValue: commands },
        { provide: REWARDS_SETTINGS, useValue: settings },
        { provide: Clock, useClass: SystemClock },
        { provide: TenantKeyLookup, useValue: new TenantKeyLookup(infrastructure.pool, TENANT_KEYS_TABLE) },
        {
          provide: RUNNERS,
          inject: [MetricsRegistry, SERVICE_LOGGER],
          useFactory: (metrics: MetricsRegistry, logger: Logger) =>
            projectionRunners(projections, { store, codec, dataSource }, metrics, logger),
        },
        ...(api
          ? [
              {
                provide: ProjectionRunner,
                inject: [RUNNERS],
                useFactory: (runners: ProjectionRunner[]) => runnerNamed(runners, rewardsReadModelProjection.name)!,
              },
              ReadModels,
              TenantAccess,
              TenantCalls,
              ProgramHandler,
              CatalogHandler,
              WalletHandler,
              RedemptionHandler,
              RedemptionRecovery,
              ExpiryJob,
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
              // Both roles list every projection's (one database); each retries only what it runs.
              projections: [rewardsReadModelProjection.name, EARNING_PROJECTION],
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
            { token: ExpiryJob, optional: true },
            { token: RedemptionRecovery, optional: true },
          ],
          useFactory: (
            checks: ReadinessChecks,
            runners: ProjectionRunner[],
            logger: Logger,
            clock: Clock,
            expiry?: ExpiryJob,
            recovery?: RedemptionRecovery,
          ) => {
            const gatesReadiness = (runner: ProjectionRunner) => role === 'projector' || runner.name !== EARNING_PROJECTION;
            return new RuntimeLifecycle(checks, {
              infrastructure,
              followers: runners.filter(gatesReadiness),
              ungatedFollowers: runners.filter((runner) => !gatesReadiness(runner)),
              maxLagMs: settings.maxProjectionLagMs,
              tasks: expiry && recovery ? apiTasks(settings, { expiry, recovery, clock }, logger) : [],
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
