import { Controller, Get, Header } from '@nestjs/common';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  Summary,
  collectDefaultMetrics,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Metric,
  type SummaryConfiguration,
} from 'prom-client';

type Unregistered<C> = Omit<C, 'registers'>;

/**
 * The metrics of one application. Not prom-client's global registry: a process that builds several
 * apps (the test suite does) would otherwise fail on duplicate metric names.
 * Other libraries inject this and create their metrics through it.
 */
export class MetricsRegistry {
  readonly registry = new Registry();

  constructor(options: { serviceName: string; processMetrics: boolean }) {
    this.registry.setDefaultLabels({ service: options.serviceName });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string>(config: Unregistered<CounterConfiguration<L>>): Counter<L> {
    return new Counter({ ...config, registers: [this.registry] });
  }

  gauge<L extends string>(config: Unregistered<GaugeConfiguration<L>>): Gauge<L> {
    return new Gauge({ ...config, registers: [this.registry] });
  }

  histogram<L extends string>(config: Unregistered<HistogramConfiguration<L>>): Histogram<L> {
    return new Histogram({ ...config, registers: [this.registry] });
  }

  summary<L extends string>(config: Unregistered<SummaryConfiguration<L>>): Summary<L> {
    return new Summary({ ...config, registers: [this.registry] });
  }

  /** For a metric built elsewhere, e.g. one a library constructs itself. */
  register(metric: Metric): void {
    this.registry.registerMetric(metric);
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Label for requests no route matched: raw paths would give the histogram unbounded cardinality. */
export const unmatchedRoute = 'unmatched';

export class HttpMetrics {
  private readonly duration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(metrics: MetricsRegistry) {
    this.duration = metrics.histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Time from receiving an HTTP request to finishing its response, by route template',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }

  observe(method: string, route: string | undefined, status: number, seconds: number): void {
    this.duration.observe({ method, route: route ?? unmatchedRoute, status_code: String(status) }, seconds);
  }
}

@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsRegistry) {}

  @Get('metrics')
  @Header('content-type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('cache-control', 'no-store')
  exposition(): Promise<string> {
    return this.metrics.exposition();
  }
}
