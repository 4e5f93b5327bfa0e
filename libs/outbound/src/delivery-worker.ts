import type { Pool } from 'pg';
import type { JsonObject } from '#eventstore';
import { claimDeliveries, settleDelivery, type ClaimedDelivery } from './deliveries';
import type { OutboundMetrics } from './outbound-metrics';
import { verdictOf, type RetryPolicy } from './retry-policy';
import { signatureHeaders, signingSecrets, type SecretBox } from './signing';
import type { SendOutcome, WebhookSender } from './webhook-sender';

/** Turns stored items into the body a receiver gets; undefined when nothing is left to send (every person in it erased). */
export interface OutboundRenderer {
  render(tenantId: string, endpointId: string, items: readonly JsonObject[], batched: boolean): Promise<string | undefined>;
}

export interface WorkerOptions {
  readonly lane: string;
  /** Requests in flight at once from this process. */
  readonly concurrency: number;
  readonly perTenant: number;
  readonly perEndpoint: number;
  readonly leaseMs: number;
  /** How often to look for due deliveries when nothing woke the worker. */
  readonly pollMs: number;
  /** Requests per second at most (the replay lane is paced); undefined for no pace. */
  readonly ratePerSecond?: number;
  readonly retry: RetryPolicy;
}

export interface WorkerLogger {
  warn(message: string, fields?: object): void;
}

/**
 * Sends one lane's deliveries: leases what is due, sends each, settles it. Slots are refilled as
 * requests finish, not round by round, so a receiver that takes its whole timeout holds its own
 * slots (at most `perEndpoint`) and nobody else's. Logs name deliveries by id, never content.
 */
export class DeliveryWorker {
  private running?: Promise<void>;
  private stopped = false;
  private readonly inFlight = new Map<string, number>();
  private inFlightTotal = 0;
  private wakeUp?: () => void;
  private nextSendAt = 0;

  constructor(
    private readonly pool: Pool,
    private readonly sender: WebhookSender,
    private readonly secrets: SecretBox,
    private readonly renderer: OutboundRenderer,
    private readonly options: WorkerOptions,
    private readonly metrics?: OutboundMetrics,
    private readonly logger?: WorkerLogger,
    private readonly random: () => number = Math.random,
  ) {}

  start(): void {
    this.stopped = false;
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
    this.running = undefined;
  }

  /** Something was enqueued or a slot freed: look again now rather than at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  private async loop(): Promise<void> {
    const sending = new Set<Promise<void>>();
    let failures = 0;
    while (!this.stopped) {
      let claimed: ClaimedDelivery[] = [];
      try {
        claimed = await claimDeliveries(this.pool, {
          lane: this.options.lane,
          limit: this.freeSlots(),
          perTenant: this.options.perTenant,
          perEndpoint: this.options.perEndpoint,
          busy: [...this.inFlight].filter(([, count]) => count >= this.options.perEndpoint).map(([key]) => key),
          leaseMs: this.options.leaseMs,
          breakerThreshold: this.options.retry.breakerThreshold,
        });
        failures = 0;
      } catch (error) {
        failures++;
        this.logger?.warn('outbound claim failed; trying again', { lane: this.options.lane, error: (error as Error).name });
      }
      for (const delivery of claimed) {
        const key = `${delivery.tenantId}/${delivery.endpointId}`;
        this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
        this.inFlightTotal++;
        const task: Promise<void> = this.paced()
          .then(() => this.deliver(delivery))
          .catch((error: Error) =>
            this.logger?.warn('outbound delivery failed to settle; its lease will run out', { deliveryId: delivery.id, error: error.name }),
          )
          .finally(() => {
            const left = (this.inFlight.get(key) ?? 1) - 1;
            if (left > 0) this.inFlight.set(key, left);
            else this.inFlight.delete(key);
            this.inFlightTotal--;
            sending.delete(task);
            this.wake();
          });
        sending.add(task);
      }
      // Full, idle or failing: wait for a slot, a wake-up or the next poll.
      if (this.freeSlots() === 0 || claimed.length === 0 || failures > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, failures > 0 ? Math.min(5000, this.options.pollMs * 2 ** failures) : this.options.pollMs);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeUp = undefined;
      }
    }
    await Promise.allSettled([...sending]);
  }

  private freeSlots(): number {
    return Math.max(0, this.options.concurrency - this.inFlightTotal);
  }

  private async paced(): Promise<void> {
    const rate = this.options.ratePerSecond;
    if (!rate) return;
    const now = Date.now();
    const at = Math.max(now, this.nextSendAt);
    this.nextSendAt = at + 1000 / rate;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const { lane } = this.options;
    const labels = { tenant: delivery.tenantId, lane };
    const now = new Date();
    let outcome: SendOutcome;
    try {
      const body = await this.renderer.render(delivery.tenantId, delivery.endpointId, delivery.items, delivery.batched);
      if (body === undefined) {
        await settleDelivery(this.pool, delivery, { kind: 'suppressed' }, undefined, this.options.retry);
        return;
      }
      const secrets = signingSecrets(this.secrets, delivery.secrets, delivery.endpointId, now);
      outcome = await this.sender.post(delivery.url, { ...signatureHeaders(secrets, delivery.webhookId, now, body) }, body);
    } catch (error) {
      // A message that cannot be opened or a secret that cannot be read: retried like a failed
      // send, so that it ends as a dead letter someone can see, not as a lease expiring forever.
      outcome = { kind: 'failed', error: `could not prepare the request (${(error as Error).name})`, refused: false };
    }
    const verdict = verdictOf(outcome, delivery.attempts, now.getTime() - delivery.eventAt.getTime(), this.options.retry, this.random);
    const status = outcome.kind === 'answered' ? outcome.status : undefined;
    await settleDelivery(this.pool, delivery, verdict, status, this.options.retry);
    if (verdict.kind === 'delivered') {
      this.metrics?.delivered.inc(labels, delivery.items.length);
      this.metrics?.lag.observe({ lane }, Math.max(0, Date.now() - delivery.eventAt.getTime()) / 1000);
      return;
    }
    this.metrics?.failed.inc(labels);
    if (verdict.kind === 'retry') this.metrics?.retried.inc(labels);
    else {
      this.metrics?.deadLettered.inc(labels);
      this.logger?.warn('outbound delivery dead-lettered', {
        lane,
        tenantId: delivery.tenantId,
        endpointId: delivery.endpointId,
        deliveryId: delivery.id,
        webhookId: delivery.webhookId,
        attempts: delivery.attempts,
        reason: verdict.reason,
      });
    }
  }
}
