import type { Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { INestApplication } from '@nestjs/common';
import type { Logger } from 'pino';
import { SERVICE_LOGGER } from './logging';

export interface ShutdownOptions {
  /**
   * How long readiness reports 503 while requests are still served, before the listener closes.
   * Endpoint removal reaches load balancers and kube-proxy asynchronously; closing earlier
   * refuses connections they still route here.
   */
  readonly drainDelayMs: number;
  /** Upper bound on waiting for in-flight requests once the listener is closed; the rest are cut. */
  readonly inFlightTimeoutMs: number;
}

export const defaultShutdownOptions: ShutdownOptions = { drainDelayMs: 5000, inFlightTimeoutMs: 20000 };

/**
 * Where a replica is in its life: `serving`, then on a stop signal `draining` (readiness fails,
 * requests still served), `closing` (listener closed, in-flight requests finishing),
 * `releasing` (Nest shutdown hooks), `stopped`.
 */
export type LifecyclePhase = 'serving' | 'draining' | 'closing' | 'releasing' | 'stopped';

const phaseOrder: readonly LifecyclePhase[] = ['serving', 'draining', 'closing', 'releasing', 'stopped'];

/** Whether this replica still wants traffic; read by readiness and by the response hooks. */
export class ServiceLifecycle {
  private current: LifecyclePhase = 'serving';
  private readonly waiters: Array<{ phase: LifecyclePhase; resolve: () => void }> = [];
  private stopping?: Promise<void>;

  constructor(readonly options: ShutdownOptions) {}

  get phase(): LifecyclePhase {
    return this.current;
  }

  get draining(): boolean {
    return this.current !== 'serving';
  }

  /** Resolves once the replica has reached `phase` (or a later one). */
  reached(phase: LifecyclePhase): Promise<void> {
    if (isAtOrAfter(this.current, phase)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ phase, resolve }));
  }

  advanceTo(phase: LifecyclePhase): void {
    if (isAtOrAfter(this.current, phase)) return;
    this.current = phase;
    for (const waiter of this.waiters.filter((w) => isAtOrAfter(phase, w.phase))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  /** Runs the stop sequence once; a second signal waits on the first instead of racing it. */
  stopOnce(sequence: () => Promise<void>): Promise<void> {
    this.stopping ??= sequence();
    return this.stopping;
  }
}

function isAtOrAfter(current: LifecyclePhase, phase: LifecyclePhase): boolean {
  return phaseOrder.indexOf(current) >= phaseOrder.indexOf(phase);
}

// Stragglers are swept at this pace, so a connection whose last response predates the drain
// (and so lacked `Connection: close`) does not hold the server open until its keep-alive timeout.
const idleSweepIntervalMs = 100;

/**
 * The graceful stop the SIGTERM/SIGINT handler runs:
 * 1. readiness turns 503 (responses also ask keep-alive clients to reconnect elsewhere);
 * 2. wait `drainDelayMs` while still serving, so routing stops sending new requests;
 * 3. stop accepting connections and let in-flight requests finish, at most `inFlightTimeoutMs`;
 * 4. `app.close()`: Nest's onModuleDestroy / beforeApplicationShutdown / onApplicationShutdown
 *    hooks release the event store, pools and subscriptions, after the last request is done.
 */
export function shutdownService(app: INestApplication, reason: string): Promise<void> {
  const lifecycle = app.get(ServiceLifecycle);
  const logger = app.get<Logger>(SERVICE_LOGGER);
  return lifecycle.stopOnce(async () => {
    const { drainDelayMs, inFlightTimeoutMs } = lifecycle.options;
    lifecycle.advanceTo('draining');
    logger.info({ reason, drainDelayMs }, 'draining: readiness now fails');
    if (drainDelayMs > 0) await delay(drainDelayMs);
    lifecycle.advanceTo('closing');
    const outcome = await closeHttpServer(app.getHttpServer() as Server, inFlightTimeoutMs);
    if (outcome === 'cut') logger.warn({ inFlightTimeoutMs }, 'in-flight requests outlived the shutdown timeout and were cut');
    lifecycle.advanceTo('releasing');
    logger.info('listener closed, releasing resources');
    await app.close();
    lifecycle.advanceTo('stopped');
    logger.info('stopped');
  });
}

type CloseOutcome = 'idle' | 'drained' | 'cut';

/** Stops accepting connections and resolves once every open one has ended, forcibly after the timeout. */
function closeHttpServer(server: Server, timeoutMs: number): Promise<CloseOutcome> {
  if (!server.listening) return Promise.resolve('idle');
  return new Promise((resolve) => {
    let outcome: CloseOutcome = 'drained';
    const sweep = setInterval(() => server.closeIdleConnections(), idleSweepIntervalMs);
    const deadline = setTimeout(() => {
      outcome = 'cut';
      server.closeAllConnections();
    }, timeoutMs);
    // Node's close() also ends connections that are idle right now; busy ones end after their response.
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve(outcome);
    });
  });
}
