import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import type { ProjectionRunner } from '../../../libs/cqrs/src/projection-runner';
import { projectionRunners, RuntimeLifecycle } from '../../../libs/cqrs/src/runtime-lifecycle';
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
import { DedupeRetention } from './tracking/dedupe-retention';
import { PeriodicTask } from '../../../libs/cqrs/src/periodic-task';
import { GroupCommit } from './tracking/group-commit';
import { ingestLogFor } from './tracking/ingest-log';
import { TrackingHandler } from './tracking/tracking.handler';
import { TrackingRoutes } from './tracking/tracking.http';

/** Pulse's projection runners (tenants, profiles), for the lifecycle and for tests that wait on them. */
export const PROJECTIONS = Symbol('PulseProjections');

@Module({})
export class PulseModule {
  static forRoot(runtime: PulseRuntime): DynamicModule {
    const { infrastructure, store } = runtime;
    const commit = new GroupCommit(infrastructure.pool, ingestLogFor(store), runtime.ingest);
    const live = new LiveFeed(store, infrastructure.codec);
    return {
      module: PulseModule,
      controllers: [ProfilesController, LiveController],
      providers: [
        { provide: GroupCommit, useValue: commit },
        { provide: TenantKeys, useValue: new TenantKeys(infrastructure.pool) },
        { provide: TrackingHandler, useValue: new TrackingHandler(infrastructure.codec, commit) },
        { provide: ProfileReader, useValue: new ProfileReader(infrastructure.pool, infrastructure.personalData, infrastructure.blindIndexKey) },
        { provide: LiveFeed, useValue: live },
        { provide: DedupeRetention, useValue: new DedupeRetention(infrastructure.pool, runtime.dedupe) },
        {
          provide: PROJECTIONS,
          inject: [MetricsRegistry, SERVICE_LOGGER],
          useFactory: (metrics: MetricsRegistry, logger: Logger) =>
            projectionRunners(
              [
                pulseTenantsProjection,
                profilesProjection({
                  store,
                  codec: infrastructure.codec,
                  personalData: infrastructure.personalData,
                  blindIndexKey: infrastructure.blindIndexKey,
                  maxMergesPerIdentifier: runtime.maxMergesPerIdentifier,
                }),
              ],
              { store, codec: infrastructure.codec, dataSource: infrastructure.dataSource },
              metrics,
              logger,
            ),
        },
        {
          provide: RuntimeLifecycle,
          inject: [ReadinessChecks, PROJECTIONS, DedupeRetention, SERVICE_LOGGER],
          useFactory: (checks: ReadinessChecks, projections: ProjectionRunner[], retention: DedupeRetention, logger: Logger) =>
            new RuntimeLifecycle(checks, {
              infrastructure,
              followers: projections,
              maxLagMs: runtime.maxProjectionLagMs,
              tasks: [live, new PeriodicTask('dedupe-prune', runtime.dedupe.intervalMs, () => retention.prune(), logger)],
              // Accepted tracking calls are flushed to the store before anything closes.
              drain: () => commit.drain(),
            }),
        },
        TrackingRoutes,
      ],
    };
  }
}
