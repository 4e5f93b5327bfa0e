import type { Pool } from 'pg';
import type { BackgroundTask } from '#cqrs';
import { deleteExpiredModels } from './postgres-adapter';

/** Deletes expired sessions, grants, codes and tokens every `intervalMs`; a failed round is logged and retried next time. */
export class ExpiredArtefactsCleanup implements BackgroundTask {
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;

  constructor(
    private readonly pool: Pool,
    private readonly warn: (fields: object, message: string) => void,
    private readonly intervalMs = 60_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      // Rounds never overlap: a slow delete under load must not pile up more of them.
      this.round ??= deleteExpiredModels(this.pool)
        .then(
          () => undefined,
          (error: unknown) =>
            this.warn({ error: error instanceof Error ? error.message : String(error) }, 'expired OIDC artefacts clean-up failed'),
        )
        .finally(() => (this.round = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }
}
