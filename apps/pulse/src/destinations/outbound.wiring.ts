import type { Provider } from '@nestjs/common';
import type { Logger } from 'pino';
import type { BackgroundTask } from '#cqrs';
import { DeliveryWorker, OutboundMetrics, outboxProjection, REPLAY_LANE, ReplayFeeder, WebhookSender } from '#outbound';
import type { MetricsRegistry } from '#platform';
import type { PulseRuntime } from '../pulse.runtime';
import { TenantKeys } from '../tenants/tenant-keys';
import { DestinationRenderer, destinationRouter, OUTBOX_PROJECTION } from './destination-routing';
import { DestinationsHandler } from './destinations.handler';
import { DestinationServices } from './destinations.http';

/** One sender per process: its agents keep connections to receivers alive between requests. */
export function webhookSenderOf(runtime: PulseRuntime): WebhookSender {
  const { outbound } = runtime;
  return new WebhookSender({
    policy: outbound.policy,
    connectTimeoutMs: outbound.connectTimeoutMs,
    totalTimeoutMs: outbound.totalTimeoutMs,
    maxResponseBytes: outbound.maxResponseBytes,
  });
}

/** The destination routes' services (API roles). */
export function destinationProviders(runtime: PulseRuntime, sender: WebhookSender): Provider[] {
  const { infrastructure, outbound } = runtime;
  return [
    {
      provide: DestinationServices,
      inject: [TenantKeys],
      useFactory: (tenants: TenantKeys) =>
        new DestinationServices(
          tenants,
          new DestinationsHandler(infrastructure.commands, outbound.secrets, infrastructure.pool),
          sender,
          outbound.secrets,
          outbound.policy,
          infrastructure.pool,
          runtime.store,
        ),
    },
  ];
}

/**
 * What delivers (delivering roles): the outbox projection (its runner is built with the others,
 * see PulseModule, but runs as a task so that delivery lag does not take the process out of
 * rotation; its lag is in the projection metrics), a worker for live deliveries, and a paced
 * worker and a feeder for replays.
 */
export function outboundDelivery(runtime: PulseRuntime, sender: WebhookSender, metrics: MetricsRegistry, logger: Logger) {
  const { infrastructure, outbound } = runtime;
  const log = { warn: (message: string, fields?: object) => logger.warn(fields ?? {}, message) };
  const outboundMetrics = new OutboundMetrics(metrics);
  const renderer = new DestinationRenderer(infrastructure.pool, infrastructure.personalData);
  const router = destinationRouter();
  const worker = (lane: string, concurrency: number, ratePerSecond?: number) =>
    new DeliveryWorker(
      infrastructure.pool,
      sender,
      outbound.secrets,
      renderer,
      {
        lane,
        concurrency,
        perTenant: Math.max(1, Math.ceil(concurrency / 4)),
        // A quarter of the slots at most for one endpoint (ordered ones and half-open circuits get one),
        // so one busy receiver is not held to 4 requests at a time (133 messages/s in the bench with 4).
        perEndpoint: Math.max(4, Math.ceil(concurrency / 4)),
        leaseMs: outbound.leaseMs,
        pollMs: 250,
        ratePerSecond,
        retry: outbound.retry,
      },
      outboundMetrics,
      log,
    );
  const live = worker('live', outbound.concurrency);
  const replay = worker(REPLAY_LANE, Math.max(1, Math.min(4, outbound.concurrency)), outbound.replayPerSecond);
  const feeder = new ReplayFeeder(
    infrastructure.pool,
    infrastructure.dataSource,
    runtime.store,
    infrastructure.codec,
    router,
    { pollMs: 500, maxPending: 200, chunk: 200, leaseMs: outbound.leaseMs },
    () => replay.wake(),
  );
  const tasks: BackgroundTask[] = [live, replay, feeder];
  return { projection: outboxProjection(OUTBOX_PROJECTION, router, () => live.wake()), tasks };
}
