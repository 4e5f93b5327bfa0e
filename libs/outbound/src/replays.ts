import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { EventCodec, EventEnvelope } from '#cqrs';
import { comparePositions, positionFromString, positionToString, type EventStore, type Position, type RecordedEvent } from '#eventstore';
import { enqueue } from './enqueue';
import type { OutboundRouter } from './outbox';

export const REPLAY_LANE = 'replay';

/** Where a replay starts and ends: an instant (from inclusive, to exclusive) or a log position (after `from`, up to `to` inclusive). */
export type ReplayBound = { readonly time: Date } | { readonly position: Position };

export interface ReplayRequest {
  readonly tenantId: string;
  readonly endpointId: string;
  readonly from: ReplayBound;
  readonly to?: ReplayBound;
}

export interface ReplayView {
  readonly id: string;
  readonly state: 'running' | 'done';
  readonly enqueued: number;
}

/**
 * Records a replay. It never goes past the log's head as it is now: what comes later is live
 * delivery's. Returns its id.
 */
export async function requestReplay(pool: Pool, store: EventStore, request: ReplayRequest): Promise<string> {
  const head = await store.headPosition();
  const id = randomUUID();
  const { from, to } = request;
  await pool.query(
    `INSERT INTO outbound_replays (id, tenant_id, endpoint_id, from_position, from_time, to_position, to_time, stop_position, state)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      id,
      request.tenantId,
      request.endpointId,
      'position' in from ? positionToString(from.position) : null,
      'time' in from ? from.time.toISOString() : null,
      to && 'position' in to ? positionToString(to.position) : null,
      to && 'time' in to ? to.time.toISOString() : null,
      head ? positionToString(head) : null,
      head ? 'running' : 'done',
    ],
  );
  return id;
}

export async function replayStatus(pool: Pool, tenantId: string, endpointId: string, id: string): Promise<ReplayView | undefined> {
  const { rows } = await pool.query<{ id: string; state: 'running' | 'done'; enqueued: number }>(
    'SELECT id::text, state, enqueued FROM outbound_replays WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3',
    [tenantId, endpointId, id],
  );
  return rows[0];
}

interface ReplayRow {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  from_position: string | null;
  from_time: Date | null;
  to_position: string | null;
  to_time: Date | null;
  stop_position: string;
  cursor: string | null;
}

export interface ReplayFeederOptions {
  readonly pollMs: number;
  /** Replay deliveries waiting to be sent beyond which a replay stops enqueueing until they drain. */
  readonly maxPending: number;
  /** Events read per transaction. */
  readonly chunk: number;
  readonly leaseMs: number;
}

/**
 * Works through running replays: reads the log from each one's cursor, routes what falls in its
 * range to its one endpoint and enqueues it in the replay lane, moving the cursor in the same
 * transaction (a crash repeats nothing and skips nothing). It reads only as fast as the replay
 * lane drains, and the replay lane has its own worker and pace: live delivery never waits on it.
 */
export class ReplayFeeder {
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly pool: Pool,
    private readonly dataSource: DataSource,
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    private readonly router: OutboundRouter,
    private readonly options: ReplayFeederOptions,
    private readonly onEnqueued?: () => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    this.running = undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      // A failed step (the database away) waits like an idle one, then tries again.
      const worked = await this.step().catch(() => false);
      if (!worked) await new Promise((resolve) => setTimeout(resolve, this.options.pollMs));
    }
  }

  /** One chunk of one replay; false when there was nothing to do. */
  private async step(): Promise<boolean> {
    const { rows } = await this.pool.query<ReplayRow>(
      `UPDATE outbound_replays SET leased_until = now() + $1 * interval '1 millisecond'
       WHERE id = (SELECT id FROM outbound_replays r WHERE state = 'running' AND (leased_until IS NULL OR leased_until < now())
         AND (SELECT count(*) FROM outbound_deliveries d WHERE d.tenant_id = r.tenant_id AND d.endpoint_id = r.endpoint_id
              AND d.lane = 'replay' AND d.state = 'pending') < $2
         ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id::text, tenant_id, endpoint_id, from_position, from_time, to_position, to_time, stop_position, cursor`,
      [this.options.leaseMs, this.options.maxPending],
    );
    const replay = rows[0];
    if (!replay) return false;
    const { events, finished } = await this.readChunk(replay);
    const inRange = events.filter((event) => inReplayRange(replay, event));
    const envelopes: EventEnvelope[] = [];
    for (const event of inRange) {
      if (this.codec.understands(event)) envelopes.push(await this.codec.decode(event, { open: false }));
    }
    const last = events[events.length - 1];
    let enqueued = 0;
    await this.dataSource.transaction(async (tx) => {
      const items = await this.router.route(envelopes, tx, { kind: 'replay', tenantId: replay.tenant_id, endpointId: replay.endpoint_id });
      enqueued = await enqueue(tx, items, REPLAY_LANE, `replay:${replay.id}`);
      await tx.query(
        `UPDATE outbound_replays SET cursor = COALESCE($2, cursor), enqueued = enqueued + $3, leased_until = NULL,
           state = CASE WHEN $4 THEN 'done' ELSE state END, finished_at = CASE WHEN $4 THEN now() END
         WHERE id = $1`,
        [replay.id, last ? positionToString(last.position) : null, enqueued, finished],
      );
    });
    if (enqueued > 0) this.onEnqueued?.();
    return true;
  }

  /**
   * The next events after the replay's cursor that the router's filter takes, up to its stop. A
   * subscription is catch-up first: this range is already stored, so it arrives at once; a quiet
   * pause means the subscription has reached the head.
   */
  private async readChunk(replay: ReplayRow): Promise<{ events: RecordedEvent[]; finished: boolean }> {
    const stop = positionFromString(replay.stop_position);
    const to = replay.to_position ? positionFromString(replay.to_position) : undefined;
    const end = to && comparePositions(to, stop) < 0 ? to : stop;
    const start = replay.cursor ?? replay.from_position;
    const subscription = this.store.subscribeToAll({ from: start ? positionFromString(start) : 'start', filter: this.router.filter });
    const iterator = subscription[Symbol.asyncIterator]();
    const events: RecordedEvent[] = [];
    let finished = false;
    try {
      while (events.length < this.options.chunk) {
        const next = await Promise.race([iterator.next(), quiet(1000)]);
        if (next === QUIET || next.done) {
          finished = true;
          break;
        }
        // Not cut at `to_time`: commit order and store times may differ by a little, so a time range is
        // filtered event by event up to the stop position instead.
        if (comparePositions(next.value.position, end) > 0) {
          finished = true;
          break;
        }
        events.push(next.value);
      }
    } finally {
      await subscription.close();
    }
    return { events, finished };
  }
}

function inReplayRange(replay: ReplayRow, event: RecordedEvent): boolean {
  if (replay.from_time && event.createdAt < replay.from_time) return false;
  if (replay.to_time && event.createdAt >= replay.to_time) return false;
  return true;
}

const QUIET = Symbol('quiet');

function quiet(ms: number): Promise<typeof QUIET> {
  return new Promise((resolve) => setTimeout(() => resolve(QUIET), ms).unref());
}
