import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { EventCodec } from '../../../libs/cqrs/src/event-codec';
import { ProjectionMetrics } from '../../../libs/cqrs/src/projection-metrics';
import { ProjectionRunner } from '../../../libs/cqrs/src/projection-runner';
import { ServiceInfrastructure } from '../../../libs/cqrs/src/service-infrastructure';
import { ReadinessChecks } from '../../../libs/platform/src/health';
import { SERVICE_LOGGER } from '../../../libs/platform/src/logging';
import { MetricsRegistry } from '../../../libs/platform/src/metrics';
import { CatalogHandler } from './catalog/catalog.handler';
import { CatalogController } from './catalog/catalog.http';
import { EarningProcessor } from './earning/earning.processor';
import { ExpiryJob } from './expiry/expiry.job';
import { ProgramHandler } from './program/program.handler';
import { ProgramController } from './program/program.http';
import { ReadModels } from './read-models';
import { RedemptionHandler } from './redemption/redemption.handler';
import { RedemptionController } from './redemption/redemption.http';
import { RedemptionRecovery } from './redemption/redemption.recovery';
import { Clock, REWARDS_SETTINGS, SystemClock, type RewardsSettings } from './rewards.ports';
import { rewardsReadModelProjection } from './rewards.projection';
import { CachedStreams } from './shared/cached-streams';
import { EventStoreRef } from './shared/event-store-ref';
import { TenantAccess } from './tenants/tenant-access';
import { TenantDirectory } from './tenants/tenant-directory';
import { WalletHandler } from './wallet/wallet.handler';
import { MemberController } from './wallet/member.http';

/** What rewards runs on, opened by main (or a test) before the module is built. */
export interface RewardsRuntime {
  readonly infrastructure: ServiceInfrastructure;
  readonly settings: RewardsSettings;
}

/** Starts the projection, the earning subscription and the periodic jobs; stops them on shutdown. */
@Injectable()
class RewardsLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly infrastructure: ServiceInfrastructure,
    private readonly projection: ProjectionRunner,
    private readonly earning: EarningProcessor,
    private readonly expiry: ExpiryJob,
    private readonly recovery: RedemptionRecovery,
    private readonly checks: ReadinessChecks,
    private readonly clock: Clock,
    @Inject(REWARDS_SETTINGS) private readonly settings: RewardsSettings,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.checks.register({ name: 'eventstore', check: async () => ({ ok: (await this.infrastructure.ping()).eventStore }) });
    this.checks.register({ name: 'postgres', check: async () => ({ ok: (await this.infrastructure.ping()).database }) });
    this.checks.register({
      name: 'projections',
      check: async () => {
        const lags = { [this.projection.name]: Math.round(this.projection.lagSeconds() * 1000), [this.earning.name]: Math.round(this.earning.lagSeconds() * 1000) };
        return { ok: Object.values(lags).every((lagMs) => lagMs <= this.settings.maxProjectionLagMs), detail: Object.fromEntries(Object.entries(lags).map(([name, lagMs]) => [name, { lagMs }])) };
      },
    });
    this.projection.start();
    this.earning.start();
    if (this.settings.expiryIntervalMs > 0) this.every(this.settings.expiryIntervalMs, 'expiry', () => this.expiry.runOnce(this.clock.now()));
    if (this.settings.recoveryAfterMs > 0) {
      this.every(this.settings.recoveryAfterMs, 'redemption recovery', () => this.recovery.resumeUnfinished(this.clock.now(), this.settings.recoveryAfterMs));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.earning.stop();
    await this.projection.stop();
    await this.infrastructure.close();
  }

  private every(ms: number, name: string, job: () => Promise<unknown>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      job()
        .catch((error: unknown) => this.logger.warn({ job: name, error: error instanceof Error ? error.message : String(error) }, 'periodic job failed'))
        .finally(() => (busy = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}

@Module({})
export class RewardsModule {
  static forRoot(runtime: RewardsRuntime): DynamicModule {
    const { infrastructure } = runtime;
    const streams = new CachedStreams(infrastructure.eventStore, infrastructure.codec);
    return {
      module: RewardsModule,
      controllers: [ProgramController, CatalogController, MemberController, RedemptionController],
      providers: [
        { provide: ServiceInfrastructure, useValue: infrastructure },
        { provide: DataSource, useValue: infrastructure.dataSource },
        { provide: EventCodec, useValue: infrastructure.codec },
        { provide: EventStoreRef, useValue: infrastructure.eventStore },
        { provide: CachedStreams, useValue: streams },
        { provide: REWARDS_SETTINGS, useValue: runtime.settings },
        { provide: Clock, useClass: SystemClock },
        {
          provide: ProjectionRunner,
          inject: [MetricsRegistry, SERVICE_LOGGER],
          useFactory: (metrics: MetricsRegistry, logger: Logger) =>
            new ProjectionRunner(rewardsReadModelProjection, infrastructure.eventStore, infrastructure.codec, infrastructure.dataSource, new ProjectionMetrics(metrics.registry), {
              warn: (message, fields) => logger.warn(fields ?? {}, message),
            }),
        },
        {
          provide: EarningProcessor,
          inject: [WalletHandler, ProgramHandler, SERVICE_LOGGER],
          useFactory: (wallets: WalletHandler, programs: ProgramHandler, logger: Logger) =>
            new EarningProcessor(infrastructure.eventStore, infrastructure.dataSource, wallets, programs, infrastructure.personalData, {
              warn: (message, fields) => logger.warn(fields ?? {}, message),
            }),
        },
        ReadModels,
        TenantDirectory,
        TenantAccess,
        ProgramHandler,
        CatalogHandler,
        WalletHandler,
        RedemptionHandler,
        RedemptionRecovery,
        ExpiryJob,
        RewardsLifecycle,
      ],
    };
  }
}
