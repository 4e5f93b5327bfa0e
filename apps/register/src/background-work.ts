import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { SERVICE_LOGGER } from '#platform';

/**
 * Work that must not hold up (or show in) the answer to a request, such as the password-reset
 * mail, whose presence or absence would otherwise tell who has an account. Shutdown waits for it.
 */
@Injectable()
export class BackgroundWork implements OnApplicationShutdown {
  private readonly running = new Set<Promise<void>>();

  constructor(@Inject(SERVICE_LOGGER) private readonly logger: Logger) {}

  run(name: string, work: () => Promise<void>): void {
    const task = work().catch((error: unknown) => {
      // The error message of a mail transport can quote addresses: only its kind is logged.
      this.logger.warn({ task: name, error: error instanceof Error ? error.name : 'unknown' }, 'background work failed');
    });
    this.running.add(task);
    void task.finally(() => this.running.delete(task));
  }

  /** Resolves once everything started so far has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  onApplicationShutdown(): Promise<void> {
    return this.idle();
  }
}
