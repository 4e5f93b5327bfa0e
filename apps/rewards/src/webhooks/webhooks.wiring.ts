import type { Logger } from 'pino';
import type { Pool } from 'pg';
import type { BackgroundTask, CommandRunner, Projection } from '#cqrs';
import { DeliveryWorker, OutboundMetrics, outboxProjection, WebhookSender, type OutboundSettings } from '#outbound';
import type { MetricsRegistry } from '#platform';
import { REWARDS_OUTBOX_PROJECTION, WebhookRenderer, webhookRouter } from './webhook-routing';
import { WebhooksHandler } from './webhooks.handler';

/** What the webhook routes use, built once per process (see RewardsModule). */
export class RewardsWebhooks {
  readonly handler: WebhooksHandler;
  /** One sender per process: its agents keep connections to receivers alive between requests. */
  readonly sender: WebhookSender;

  constructor(
    readonly outbound: OutboundSettings,
    readonly pool: Pool,
    readonly commands: CommandRunner,
  ) {
    this.handler = new WebhooksHandler(commands, outbound.secrets, pool);
    this.sender = new WebhookSender({
      policy: outbound.policy,
      connectTimeoutMs: outbound.connectTimeoutMs,
      totalTimeoutMs: outbound.totalTimeoutMs,
      maxResponseBytes: outbound.maxResponseBytes,
    });
  }

  /**
   * What delivers: the outbox projection (its runner runs as a task, so that a slow receiver does
   * not take rewards out of rotation; its lag is in the projection metrics) and a worker for live
   * deliveries, as pulse's destinations do (#outbound).
   */
  delivery(metrics: MetricsRegistry, logger: Logger): { projection: Projection; worker: BackgroundTask } {
    const { outbound } = this;
    const log = { warn: (message: string, fields?: object) => logger.warn(fields ?? {}, message) };
    const worker = new DeliveryWorker(
      this.pool,
      this.sender,
      outbound.secrets,
      new WebhookRenderer(this.pool),
      {
        lane: 'live',
        concurrency: outbound.concurrency,
        perTenant: Math.max(1, Math.ceil(outbound.concurrency / 4)),
        perEndpoint: Math.max(4, Math.ceil(outbound.concurrency / 4)),
        leaseMs: outbound.leaseMs,
        pollMs: 250,
        retry: outbound.retry,
      },
      new OutboundMetrics(metrics),
      log,
    );
    return { projection: outboxProjection(REWARDS_OUTBOX_PROJECTION, webhookRouter(this.commands), () => worker.wake()), worker };
  }
}
