import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import type { Logger } from 'pino';
import { HealthController, READINESS_CHECK_TIMEOUT_MS, ReadinessChecks } from './health';
import { SERVICE_LOGGER } from './logging';
import { HttpMetrics, MetricsController, MetricsRegistry } from './metrics';
import { DocsController, OPENAPI_DOCUMENT, openApiDocument, type ApiDescription } from './openapi';
import { ProblemDetailsFilter } from './problem-details.filter';
import { ServiceLifecycle, type ShutdownOptions } from './shutdown';

export interface PlatformModuleOptions {
  readonly serviceName: string;
  readonly logger: Logger;
  readonly shutdown: ShutdownOptions;
  readonly readinessCheckTimeoutMs: number;
  readonly processMetrics: boolean;
  readonly api?: ApiDescription;
}

/**
 * The platform's providers and endpoints for one application. Global, so any module can inject
 * `MetricsRegistry`, `ReadinessChecks`, `ServiceLifecycle` or `SERVICE_LOGGER` without importing it.
 * `createServiceApp` imports it around the service's root module; services do not import it themselves.
 */
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformModuleOptions): DynamicModule {
    return {
      module: PlatformModule,
      global: true,
      // Readiness failures are logged by the health controller on change; terminus would log every probe.
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController, ...(options.api ? [DocsController] : [])],
      providers: [
        ...(options.api ? [{ provide: OPENAPI_DOCUMENT, useValue: openApiDocument(options.api) }] : []),
        { provide: SERVICE_LOGGER, useValue: options.logger },
        { provide: READINESS_CHECK_TIMEOUT_MS, useValue: options.readinessCheckTimeoutMs },
        { provide: ServiceLifecycle, useFactory: () => new ServiceLifecycle(options.shutdown) },
        { provide: ReadinessChecks, useFactory: () => new ReadinessChecks() },
        {
          provide: MetricsRegistry,
          useFactory: () => new MetricsRegistry({ serviceName: options.serviceName, processMetrics: options.processMetrics }),
        },
        { provide: HttpMetrics, useFactory: (metrics: MetricsRegistry) => new HttpMetrics(metrics), inject: [MetricsRegistry] },
        { provide: APP_FILTER, useFactory: (logger: Logger) => new ProblemDetailsFilter(logger), inject: [SERVICE_LOGGER] },
      ],
      exports: [SERVICE_LOGGER, ServiceLifecycle, ReadinessChecks, MetricsRegistry],
    };
  }
}
