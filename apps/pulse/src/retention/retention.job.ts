import type { Pool } from 'pg';
import type { Counter } from 'prom-client';
import type { CommandRunner } from '#cqrs';
import type { EventStore } from '#eventstore';
import type { MetricsRegistry } from '#platform';
import { trackingStreamFor } from '#contracts';
import { MAX_INGEST_WRITERS } from '../pulse.config';
import { oneAtATime } from '../tracking/one-at-a-time';
import { retentionCutoff, retentionDecider, retentionStreamFor } from './retention';

// Small chunks keep each DELETE short, so neither ingest nor the profiles projection queues behind it.
const CHUNK_ROWS = 5000;
const RETENTION_LOCK = 'tessera.pulse.tracked-events-retention';

export interface RetentionRun {
  readonly tenants: number;
  readonly eventLog: number;
  readonly profileEvents: number;
}

/**
 * Applies each tenant's retention period: removes its tracked messages older than the period from
 * the event log (every partition stream its ingest may have written) and from its profiles' event
 * lists. Counters, traits and identities stay. Every replica that keeps profiles runs it as a
 * PeriodicTask; an advisory lock lets one of them work at a time, and a run that finds the lock
 * taken does nothing.
 */
export class TrackedEventsRetention {
  private readonly removed: Counter<'from'>;

  constructor(
    private readonly pool: Pool,
    private readonly store: EventStore,
    private readonly commands: CommandRunner,
    metrics: MetricsRegistry,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.removed = metrics.counter({
      name: 'tessera_retention_removed_total',
      help: "Tracked messages removed by tenants' retention periods, from the event log or from profiles' event lists",
      labelNames: ['from'],
    });
  }

  async run(now: Date = this.clock()): Promise<RetentionRun> {
    return oneAtATime(this.pool, RETENTION_LOCK, { tenants: 0, eventLog: 0, profileEvents: 0 }, () => this.applyPolicies(now));
  }

  /**
   * Tenants take turns a chunk at a time, so a tenant with a large backlog (a first policy over
   * years of history) does not keep the others' periods waiting until it is through.
   */
  private async applyPolicies(now: Date): Promise<RetentionRun> {
    const { rows: tenants } = await this.pool.query<{ tenant_id: string }>('SELECT tenant_id::text FROM pulse_tenants');
    const run = { tenants: 0, eventLog: 0, profileEvents: 0 };
    let turns: AsyncGenerator<void>[] = [];
    for (const { tenant_id: tenantId } of tenants) {
      const { state: policy } = await this.commands.load(retentionStreamFor(tenantId), retentionDecider);
      const cutoff = retentionCutoff(policy, now);
      if (!cutoff) continue;
      run.tenants += 1;
      turns.push(this.chunksOf(tenantId, cutoff, run));
    }
    while (turns.length > 0) {
      const unfinished: AsyncGenerator<void>[] = [];
      for (const turn of turns) if (!(await turn.next()).done) unfinished.push(turn);
      turns = unfinished;
    }
    return run;
  }

  /** One tenant's removals, a chunk per step: the event log's partitions, then profiles' event lists. */
  private async *chunksOf(tenantId: string, cutoff: Date, run: { eventLog: number; profileEvents: number }): AsyncGenerator<void> {
    for (let partition = 0; partition < MAX_INGEST_WRITERS; partition++) {
      const stream = trackingStreamFor(tenantId, partition);
      for (let removed = -1; removed !== 0;) {
        removed = await this.store.removeEventsBefore(stream, cutoff, CHUNK_ROWS);
        run.eventLog += removed;
        this.removed.inc({ from: 'event-log' }, removed);
        if (removed > 0) yield;
      }
    }
    for (let removed = CHUNK_ROWS; removed === CHUNK_ROWS;) {
      const { rowCount } = await this.pool.query(
        `DELETE FROM pulse_profile_events WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM pulse_profile_events WHERE tenant_id = $1 AND received_at < $2 LIMIT ${CHUNK_ROWS}))`,
        [tenantId, cutoff],
      );
      removed = rowCount ?? 0;
      run.profileEvents += removed;
      this.removed.inc({ from: 'profiles' }, removed);
      yield;
    }
  }
}
