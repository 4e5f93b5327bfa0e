import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { ProjectionMetrics } from '../../../libs/cqrs/src/projection-metrics';
import { ProjectionRunner, type Projection } from '../../../libs/cqrs/src/projection-runner';
import { ReadinessChecks } from '../../../libs/platform/src/health';
import { SERVICE_LOGGER } from '../../../libs/platform/src/logging';
import { MetricsRegistry } from '../../../libs/platform/src/metrics';
import { profilesProjection } from './identity/profiles.projection';
import { LiveController, LiveFeed } from './live/live.http';
import { ProfileReader } from './profiles/profile-reader';
import { ProfilesController } from './profiles/profiles.http';
import type { PulseRuntime } from './pulse.runtime';
import { TenantKeys } from './tenants/tenant-keys';
import { pulseTenantsProjection } from './tenants/tenants.projection';
import { GroupCommit } from './tracking/group-commit';
import { TrackingHandler } from './tracking/tracking.handler';
import { TrackingRoutes } from './tracking/tracking.http';

const RUNTIME = Symbol('PulseRuntime');
export const PROJECTIONS = Symbol('PulseProjections');

/** Starts the projections and reports readiness; drains ingest and releases everything on shutdown. */
@Injectable()
class PulseLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(RUNTIME) private readonly runtime: PulseRuntime,
    @Inject(PROJECTIONS) private readonly projections: ProjectionRunner[],
    private readonly commit: GroupCommit,
    private readonly live: LiveFeed,
    private readonly checks: ReadinessChecks,
  ) {}

  onApplicationBootstrap(): void {
    const { infrastructure, maxProjectionLagMs } = this.runtime;
    this.checks.register({ name: 'eventstore', check: async () => ({ ok: (await infrastructure.ping()).eventStore }) });
    this.checks.register({ name: 'postgres', check: async () => ({ ok: (await infrastructure.ping()).database }) });
    this.checks.register({
      name: 'projections',
      check: async () => {
        const lags = Object.fromEntries(this.projections.map((runner) => [runner.name, { lagMs: Math.round(runner.lagSeconds() * 1000) }]));
        return { ok: Object.values(lags).every((lag) => lag.lagMs <= maxProjectionLagMs), detail: lags };
      },
    });
    for (const runner of this.projections) runner.start();
    this.live.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.commit.drain();
    await this.live.stop();
    for (const runner of this.projections) await runner.stop();
    await this.runtime.infrastructure.close();
  }
}

@Module({})
export class PulseModule {
  static forRoot(runtime: PulseRuntime): DynamicModule {
    const { infrastructure, store } = runtime;
    const commit = new GroupCommit(infrastructure.pool, store, runtime.ingest);
    const tenants = new TenantKeys(infrastructure.pool);
    return {
      module: PulseModule,
      controllers: [ProfilesController, LiveController],
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: GroupCommit, useValue: commit },
        { provide: TenantKeys, useValue: tenants },
        { provide: TrackingHandler, useValue: new TrackingHandler(infrastructure.codec, commit) },
        { provide: ProfileReader, useValue: new ProfileReader(infrastructure.pool, infrastructure.personalData, infrastructure.blindIndexKey) },
        { provide: LiveFeed, useValue: new LiveFeed(store, infrastructure.codec) },
        {
          provide: PROJECTIONS,
          inject: [MetricsRegistry, SERVICE_LOGGER],
          useFactory: (metrics: MetricsRegistry, logger: Logger) => {
            const projectionMetrics = new ProjectionMetrics(metrics.registry);
            const projections: Projection[] = [
              pulseTenantsProjection,
              profilesProjection({
                store,
                codec: infrastructure.codec,
                personalData: infrastructure.personalData,
                blindIndexKey: infrastructure.blindIndexKey,
                maxMergesPerIdentifier: runtime.maxMergesPerIdentifier,
              }),
            ];
            return projections.map(
              (projection) =>
                new ProjectionRunner(projection, store, infrastructure.codec, infrastructure.dataSource, projectionMetrics, {
                  warn: (message, fields) => logger.warn(fields ?? {}, message),
                }),
            );
          },
        },
        TrackingRoutes,
        PulseLifecycle,
      ],
    };
  }
}
