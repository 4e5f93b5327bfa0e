import { oneAtATime } from './one-at-a-time';
import type { Pool } from 'pg';

export interface DedupeRetentionSettings {
  /** A messageId is remembered this long after it was first received. */
  readonly windowMs: number;
  /** How often the job runs. */
  readonly intervalMs: number;
}

// Small chunks keep each DELETE short, so ingest's claims never queue behind a long prune.
const CHUNK_ROWS = 5000;
const PRUNE_LOCK = 'tessera.pulse.dedupe-prune';

/**
 * Forgets messageIds older than the dedupe window, as Segment's dedupe does: a copy that arrives
 * within the window is dropped, a copy that arrives later is a new message. Without it the id
 * table grows by every event ever tracked. Replicas may all run it (as a PeriodicTask); an
 * advisory lock lets one of them prune at a time.
 */
export class DedupeRetention {
  constructor(
    private readonly pool: Pool,
    private readonly settings: DedupeRetentionSettings,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Deletes every messageId received before `now - window`; resolves to how many went. */
  async prune(now: Date = this.clock()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.settings.windowMs);
    return oneAtATime(this.pool, PRUNE_LOCK, 0, async () => {
      let pruned = 0;
      for (;;) {
        const { rowCount } = await this.pool.query(
          `DELETE FROM pulse_message_ids WHERE ctid = ANY(ARRAY(
             SELECT ctid FROM pulse_message_ids WHERE received_at < $1 LIMIT ${CHUNK_ROWS}))`,
          [cutoff],
        );
        pruned += rowCount ?? 0;
        if ((rowCount ?? 0) < CHUNK_ROWS) return pruned;
      }
    });
  }
}
