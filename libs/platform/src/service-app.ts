import type { IncomingMessage } from 'node:http';
import { Module, type DynamicModule, type InjectionToken, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { ReadinessChecks, type ReadinessCheck } from './health';
import { BOUNDS } from './input-bounds';
import { NestPinoLogger, SERVICE_LOGGER, createLogger, type LogFormat, type LogLevel } from './logging';
import { HttpMetrics } from './metrics';
import type { ApiDescription } from './openapi';
import { PlatformModule } from './platform.module';
import { problemContentType, problemDocument, statusSlug, statusTitle } from './problem-details';
import { instrumentRequests, requestIdFrom, requestIdHeader } from './request-telemetry';
import { parseRequestJson } from './request-json';
import { ServiceLifecycle, defaultShutdownOptions, shutdownService, type ShutdownOptions } from './shutdown';

/** Which proxies' forwarding headers to believe: none/all, a hop count, or addresses and CIDRs. */
export type TrustProxy = boolean | number | readonly string[];

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly bodyLimitBytes: number;
  readonly trustProxy: TrustProxy;
}

export const defaultHttpOptions: HttpOptions = { host: '0.0.0.0', port: 3000, bodyLimitBytes: 1024 * 1024, trustProxy: false };

/** A readiness check given directly, or the token of a provider implementing one. */
export type ReadinessCheckSource = ReadinessCheck | InjectionToken<ReadinessCheck>;

export interface ServiceOptions {
  /** Labels every log line and metric. */
  readonly serviceName: string;
  readonly logLevel?: LogLevel;
  /** json (the default) or pretty one-line records for a terminal. */
  readonly logFormat?: LogFormat;
  /** Where JSON log lines go; stdout by default. */
  readonly logDestination?: DestinationStream;
  readonly http?: Partial<HttpOptions>;
  readonly shutdown?: Partial<ShutdownOptions>;
  readonly readinessChecks?: readonly ReadinessCheckSource[];
  /** A check slower than this counts as failing, so one hung dependency cannot hang the probe. */
  readonly readinessCheckTimeoutMs?: number;
  /** prom-client's process metrics (CPU, memory, event loop, GC); on by default. */
  readonly processMetrics?: boolean;
  /** Served at /docs-json (OpenAPI 3.1) and /docs. */
  readonly api?: ApiDescription;
}

/** What `runService` leaves running. */
export interface RunningService {
  readonly app: NestFastifyApplication;
  /** `http://host:port` as bound, e.g. with the port the OS chose for port 0. */
  readonly url: string;
  /** The graceful stop the signal handlers run, without exiting the process. */
  stop(reason?: string): Promise<void>;
}

/**
 * Builds and initialises a service's Nest application on Fastify with logging, problem details,
 * metrics and health wired in, without listening or touching process signals. Tests use it
 * directly with supertest on `app.getHttpServer()`.
 */
export async function createServiceApp(
  rootModule: Type<unknown> | DynamicModule,
  options: ServiceOptions,
): Promise<NestFastifyApplication> {
  const http = { ...defaultHttpOptions, ...options.http };
  const logger = createLogger({
    serviceName: options.serviceName,
    level: options.logLevel ?? 'info',
    format: options.logFormat,
    destination: options.logDestination,
  });

  // A class per application: Nest keys modules by class, and several apps may share a process.
  @Module({
    imports: [
      PlatformModule.forRoot({
        serviceName: options.serviceName,
        logger,
        shutdown: { ...defaultShutdownOptions, ...options.shutdown },
        readinessCheckTimeoutMs: options.readinessCheckTimeoutMs ?? 2000,
        processMetrics: options.processMetrics ?? true,
        api: options.api,
      }),
      rootModule,
    ],
  })
  class ServiceHostModule {}

  const adapter = new FastifyAdapter({
    bodyLimit: http.bodyLimitBytes,
    trustProxy: fastifyTrustProxy(http.trustProxy),
    genReqId: (request: IncomingMessage) => requestIdFrom(request.headers[requestIdHeader]),
    // The platform closes the listener itself (see shutdownService); this only matters if
    // something calls app.close() directly, where idle keep-alive sockets must not hold it open.
    forceCloseConnections: 'idle',
    // A path parameter as long as an identifier may be (BOUNDS.identifierLength code units, each up
    // to 9 characters percent-encoded) reaches its route, whose own checks answer with a problem
    // naming the parameter; the router's default (100) cut ids that are valid everywhere else.
    routerOptions: { maxParamLength: BOUNDS.identifierLength * 9 },
    // What the router refuses before any route runs (a longer parameter, a malformed URL) is
    // answered as problem+json like every other error.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 400;
      void reply
        .code(status)
        .type(problemContentType)
        .send(
          problemDocument({ status, type: statusSlug(status), title: statusTitle(status), detail: 'the request URL cannot be routed' }),
        );
    },
  });
  const routes: string[] = [];
  // Before Nest and the services register anything, so every route is seen, plugins' included.
  adapter.getInstance().addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push(`${method} ${route.url}`);
  });
  const app = await NestFactory.create<NestFastifyApplication>(ServiceHostModule, adapter, {
    logger: new NestPinoLogger(logger),
    // Nest would otherwise abort the process on a bootstrap error, losing the error for main.ts and tests.
    abortOnError: false,
  });
  registeredRoutes.set(app, routes);
  app.useBodyParser('application/json', { bodyLimit: http.bodyLimitBytes }, (_request, body, done) =>
    done(null, parseRequestJson(body.toString('utf8'))),
  );
  try {
    instrumentRequests(app.getHttpAdapter().getInstance(), {
      logger,
      httpMetrics: app.get(HttpMetrics),
      lifecycle: app.get(ServiceLifecycle),
    });
    const readiness = app.get(ReadinessChecks);
    for (const source of options.readinessChecks ?? []) readiness.register(resolveCheck(app, source));
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

const registeredRoutes = new WeakMap<NestFastifyApplication, readonly string[]>();

/** Every `METHOD /path` the app's router serves (HEAD aside: Fastify adds it to every GET), as registered. */
export function routesOf(app: NestFastifyApplication): string[] {
  return [...new Set(registeredRoutes.get(app) ?? [])].sort();
}

/**
 * What a service's main.ts calls: `createServiceApp`, listen, and stop gracefully on SIGTERM/SIGINT,
 * exiting 0 when stopped (1 if stopping failed).
 */
export async function runService(rootModule: Type<unknown> | DynamicModule, options: ServiceOptions): Promise<RunningService> {
  const app = await createServiceApp(rootModule, options);
  const http = { ...defaultHttpOptions, ...options.http };
  try {
    await app.listen(http.port, http.host);
  } catch (error) {
    // Port taken or host unknown: release what init acquired before main.ts reports the failure.
    await app.close().catch(() => undefined);
    throw error;
  }
  const logger = app.get<Logger>(SERVICE_LOGGER);
  const address = app.getHttpServer().address();
  const url = typeof address === 'object' && address !== null ? `http://${formatHost(address.address)}:${address.port}` : String(address);
  logger.info({ url }, 'listening');

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      // npm and some init processes forward the terminal's signal, so one Ctrl-C can arrive twice.
      logger.info({ signal }, 'already stopping');
      return;
    }
    signalled = true;
    shutdownService(app, signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, 'graceful stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  return {
    app,
    url,
    stop: async (reason = 'requested') => {
      await shutdownService(app, reason);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

function resolveCheck(app: NestFastifyApplication, source: ReadinessCheckSource): ReadinessCheck {
  if (typeof source === 'object' && source !== null && 'check' in source && 'name' in source) return source as ReadinessCheck;
  return app.get(source as InjectionToken<ReadinessCheck>, { strict: false });
}

function fastifyTrustProxy(trust: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return typeof trust === 'boolean' ? trust : [...trust];
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
