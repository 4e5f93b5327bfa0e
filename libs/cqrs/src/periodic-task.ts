import type { BackgroundTask } from './runtime-lifecycle';

/**
 * A job run every `intervalMs` on this replica; a run still going when the next falls due makes
 * that one skip. Failures are logged and the next run tries again. Stopping waits for the run in
 * flight, so nothing writes after the stores close.
 */
export class PeriodicTask implements BackgroundTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly job: () => Promise<unknown>,
    private readonly logger: { warn(fields: object, message: string): void },
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.job()
        .then(() => undefined)
        .catch((error: unknown) =>
          this.logger.warn({ job: this.name, error: error instanceof Error ? error.message : String(error) }, 'periodic job failed'),
        )
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
