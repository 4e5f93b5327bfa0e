import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { MetricsRegistry, ReadinessChecks } from '#platform';
import type { EventStore } from '#eventstore';
import type { EventCodec } from './event-codec';
import type { DataSource } from 'typeorm';
import { ProjectionMetrics } from './projection-metrics';
import type { Projection, ProjectionLogger } from './projection';
import { ProjectionRunner } from './projection-runner';
import type { ServiceInfrastructure } from './service-infrastructure';

/** Anything that follows the event log and can say how far behind it is (projections, processors). */
export interface LogFollower {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
  lagSeconds(): number;
}

/** Something a service runs beside its followers: a live feed, a periodic job. */
export interface BackgroundTask {
  start(): void;
  stop(): Promise<void>;
}

export interface RuntimeParts {
  readonly infrastructure: Pick<ServiceInfrastructure, 'ping' | 'close'>;
  readonly followers: readonly LogFollower[];
  /** Readiness fails while any follower is further behind than this. */
  readonly maxLagMs: number;
  /**
   * Run like the followers, their lag in the readiness report, but never failing it: what the
   * process serves does not wait on them. Every replica follows the same log into the same read
   * model, so their lag would take all replicas out of rotation at once.
   */
  readonly ungatedFollowers?: readonly LogFollower[];
  /** Started after the followers, stopped before them. */
  readonly tasks?: readonly BackgroundTask[];
  /** Runs first on shutdown, while the event store is still open (flushes accepted writes). */
  readonly drain?: () => Promise<void>;
  /** Released after the followers stop and before the infrastructure closes (mailer, caches). */
  readonly release?: readonly (() => Promise<void>)[];
}

/**
 * The start and stop order every event-sourced service shares: readiness on the event store, the
 * database and follower lag; followers then tasks on start; drain, tasks, followers, resources,
 * infrastructure on stop, so nothing is still writing when its connection goes.
 */
export class RuntimeLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly checks: ReadinessChecks,
    private readonly parts: RuntimeParts,
  ) {}

  onApplicationBootstrap(): void {
    const { infrastructure, followers, maxLagMs } = this.parts;
    const ungated = this.parts.ungatedFollowers ?? [];
    this.checks.register({ name: 'eventstore', check: async () => ({ ok: (await infrastructure.ping()).eventStore }) });
    this.checks.register({ name: 'postgres', check: async () => ({ ok: (await infrastructure.ping()).database }) });
    if (followers.length + ungated.length > 0) {
      const lagOf = (follower: LogFollower) => Math.round(follower.lagSeconds() * 1000);
      this.checks.register({
        name: 'projections',
        check: async () => ({
          ok: followers.every((follower) => lagOf(follower) <= maxLagMs),
          detail: Object.fromEntries([
            ...followers.map((follower) => [follower.name, { lagMs: lagOf(follower) }]),
            ...ungated.map((follower) => [follower.name, { lagMs: lagOf(follower), gatesReadiness: false }]),
          ]),
        }),
      });
    }
    for (const follower of this.allFollowers()) follower.start();
    for (const task of this.parts.tasks ?? []) task.start();
  }

  private allFollowers(): readonly LogFollower[] {
    return [...this.parts.followers, ...(this.parts.ungatedFollowers ?? [])];
  }

  async onApplicationShutdown(): Promise<void> {
    await this.parts.drain?.();
    for (const task of this.parts.tasks ?? []) await task.stop();
    for (const follower of this.allFollowers()) await follower.stop();
    for (const release of this.parts.release ?? []) await release();
    await this.parts.infrastructure.close();
  }
}

/** Builds one runner per projection, sharing the service's metrics and logger. */
export function projectionRunners(
  projections: readonly Projection[],
  source: { store: EventStore; codec: EventCodec; dataSource: DataSource },
  metrics: MetricsRegistry,
  logger: { warn(fields: object, message: string): void },
): ProjectionRunner[] {
  const projectionMetrics = new ProjectionMetrics(metrics.registry);
  ProjectionMetrics.watchEventStoreHead(metrics.registry, source.store);
  const log: ProjectionLogger = { warn: (message, fields) => logger.warn(fields ?? {}, message) };
  return projections.map(
    (projection) => new ProjectionRunner(projection, source.store, source.codec, source.dataSource, projectionMetrics, log),
  );
}
