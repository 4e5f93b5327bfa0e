import type { Counter, Histogram } from 'prom-client';
import type { MetricsRegistry } from '#platform';

/**
 * Delivery counts by tenant and lane. Not by endpoint: tenants create endpoints through the API,
 * so endpoint ids are unbounded label values; each endpoint's own counts are in its API (see
 * endpointStats) instead.
 */
export class OutboundMetrics {
  readonly delivered: Counter<'tenant' | 'lane'>;
  readonly failed: Counter<'tenant' | 'lane'>;
  readonly retried: Counter<'tenant' | 'lane'>;
  readonly deadLettered: Counter<'tenant' | 'lane'>;
  readonly lag: Histogram<'lane'>;

  constructor(metrics: MetricsRegistry) {
    const counter = (name: string, help: string) => metrics.counter({ name, help, labelNames: ['tenant', 'lane'] as const });
    this.delivered = counter('tessera_outbound_delivered_total', 'Messages a receiver acknowledged with 2xx');
    this.failed = counter('tessera_outbound_failed_total', 'Delivery attempts that failed (an error status or no answer)');
    this.retried = counter('tessera_outbound_retried_total', 'Failed deliveries scheduled again');
    this.deadLettered = counter(
      'tessera_outbound_dead_lettered_total',
      'Deliveries given up on (attempts, age or an answer that will not change)',
    );
    this.lag = metrics.histogram({
      name: 'tessera_outbound_lag_seconds',
      help: 'Time from an event being stored to its delivery being acknowledged',
      labelNames: ['lane'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    });
  }
}
