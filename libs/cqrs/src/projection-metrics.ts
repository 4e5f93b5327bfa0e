import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventStore } from '#eventstore';

const HEAD_AGE_METRIC = 'tessera_eventstore_head_age_seconds';

/** The lag figures a projection reports: readiness and dashboards read them. */
export class ProjectionMetrics {
  readonly lag: Histogram<'projection'>;
  readonly behind: Gauge<'projection'>;
  readonly applied: Counter<'projection'>;
  readonly parked: Counter<'projection' | 'reason'>;

  private readonly sources = new Map<string, () => number>();

  constructor(registry: Registry) {
    this.lag = new Histogram({
      name: 'tessera_projection_lag_seconds',
      help: 'Time from an event being stored to its read-model change being committed',
      labelNames: ['projection'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.behind = new Gauge({
      name: 'tessera_projection_behind_seconds',
      help: 'Age of the oldest event a projection has received but not yet committed (0 when caught up)',
      labelNames: ['projection'],
      registers: [registry],
      collect: () => {
        for (const [projection, lagSeconds] of this.sources) this.behind.set({ projection }, lagSeconds());
      },
    });
    // A Counter, not a Gauge: it only grows, so rate() and increase() read it across restarts.
    this.applied = new Counter({
      name: 'tessera_projection_events_applied_total',
      help: 'Events applied by a projection since the process started',
      labelNames: ['projection'],
      registers: [registry],
    });
    this.parked = new Counter({
      name: 'tessera_projection_events_parked_total',
      help: 'Events a projection set aside (recorded in projection_parked_events), by error kind: the SQLSTATE, the error class, or undecodable',
      labelNames: ['projection', 'reason'],
      registers: [registry],
    });
  }

  /**
   * Reports, at every scrape, how long the store has held back its oldest unread event (see
   * EventStore.headAgeSeconds): the stall that projections' own lag cannot show. Once per registry.
   */
  static watchEventStoreHead(registry: Registry, store: Pick<EventStore, 'headAgeSeconds'>): void {
    const headAgeSeconds = store.headAgeSeconds?.bind(store);
    if (!headAgeSeconds || registry.getSingleMetric(HEAD_AGE_METRIC)) return;
    const gauge: Gauge = new Gauge({
      name: HEAD_AGE_METRIC,
      help: 'Age of the oldest stored event that subscriptions cannot read yet (held back behind a transaction still open); 0 when none',
      registers: [registry],
      collect: async () => {
        // A scrape while the database is away reports nothing new rather than failing the whole scrape.
        const age = await headAgeSeconds().catch(() => undefined);
        if (age !== undefined) gauge.set(age);
      },
    });
  }

  /** Reports a projection's current lag whenever metrics are scraped. */
  watch(projection: string, lagSeconds: () => number): void {
    this.sources.set(projection, lagSeconds);
  }
}
