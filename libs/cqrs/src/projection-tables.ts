import type { EntityManager } from 'typeorm';
import type { Position, RecordedEvent } from '#eventstore';
import type { ClassifiedFailure } from './projection-failures';

/**
 * Where each projection stands in the log. `epoch` counts writes made outside the log order (a
 * parked event retried through the admin API): a runner moves the checkpoint only from the
 * position and epoch it read, so one whose in-memory state predates such a write starts again.
 */
export const CHECKPOINTS_DDL = `
  CREATE TABLE IF NOT EXISTS projection_checkpoints (
    projection text PRIMARY KEY,
    commit_position bigint NOT NULL,
    prepare_position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    epoch bigint NOT NULL DEFAULT 0
  )`;

/**
 * Events a projection set aside, one row per projection and event, written in the transaction
 * that moves its checkpoint past them: events no reader can decode (`error_kind` undecodable) and
 * events whose application fails alone for a reason of their own (a constraint, a cast, a rule
 * that throws). `reason` never holds the event's content. Rows leave by a retry that applies the
 * event, or by dismissal; the event itself stays in the log.
 */
export const PARKED_EVENTS_DDL = `
  CREATE TABLE IF NOT EXISTS projection_parked_events (
    id uuid PRIMARY KEY,
    projection text NOT NULL,
    event_id text NOT NULL,
    event_type text,
    tenant_id text,
    stream_name text NOT NULL,
    stream_revision bigint,
    commit_position bigint NOT NULL,
    prepare_position bigint NOT NULL,
    error_kind text NOT NULL,
    reason text NOT NULL,
    attempts integer NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (projection, event_id)
  );
  CREATE INDEX IF NOT EXISTS projection_parked_events_in_log_order
    ON projection_parked_events (commit_position, prepare_position, projection);
  CREATE INDEX IF NOT EXISTS projection_parked_events_by_tenant
    ON projection_parked_events (tenant_id, commit_position, prepare_position, projection)`;

/**
 * Where earlier releases recorded the events they could not decode. No longer written; kept
 * because replicas of the previous release still write it during a rolling update, and what they
 * wrote moves to the parked events at the next start (`migrateProjectionTables`).
 */
const SKIPPED_EVENTS_DDL = `
  CREATE TABLE IF NOT EXISTS projection_skipped_events (
    projection text NOT NULL,
    event_id text NOT NULL,
    stream_name text NOT NULL,
    commit_position bigint NOT NULL,
    prepare_position bigint NOT NULL,
    error text NOT NULL,
    reason text NOT NULL,
    skipped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, event_id)
  )`;

/** Rows move rather than copy, so a row dismissed since is not brought back by the next start. */
const MOVE_SKIPPED_EVENTS = `
  WITH moved AS (DELETE FROM projection_skipped_events RETURNING *)
  INSERT INTO projection_parked_events
    (id, projection, event_id, stream_name, commit_position, prepare_position, error_kind, reason, attempts, parked_at, last_attempt_at)
  SELECT gen_random_uuid(), projection, event_id, stream_name, commit_position, prepare_position,
         'undecodable', error || ': ' || reason, 1, skipped_at, skipped_at
  FROM moved
  ON CONFLICT (projection, event_id) DO NOTHING`;

interface Queryable {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/**
 * The tables every projection runner writes, shared by the services on one database; idempotent,
 * so it also brings databases created by earlier releases up to date. Run under the migration lock.
 */
export async function migrateProjectionTables(db: Queryable): Promise<void> {
  await db.query(CHECKPOINTS_DDL);
  await db.query('ALTER TABLE projection_checkpoints ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0');
  await db.query(PARKED_EVENTS_DDL);
  await db.query(SKIPPED_EVENTS_DDL);
  await db.query(MOVE_SKIPPED_EVENTS);
}

/** A stored checkpoint; `position` undefined when the projection has none yet. */
export interface Checkpoint {
  readonly position?: Position;
  readonly epoch: string;
}

export async function loadCheckpoint(db: Queryable, projection: string): Promise<Checkpoint> {
  const rows = (await db.query('SELECT commit_position, prepare_position, epoch FROM projection_checkpoints WHERE projection = $1', [
    projection,
  ])) as { commit_position: string; prepare_position: string; epoch: string }[];
  const row = rows[0];
  return row
    ? { position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) }, epoch: String(row.epoch) }
    : { epoch: '0' };
}

/**
 * Moves the checkpoint only from where this runner read it, and holds its row until the batch
 * commits. Two replicas running the same projection would otherwise both apply a batch; the
 * loser waits here for the winner's commit, finds the checkpoint moved, and resumes from it.
 */
export async function advanceCheckpoint(tx: EntityManager, projection: string, from: Checkpoint, to: Position): Promise<void> {
  const rows: { moved: string }[] = from.position
    ? await tx.query(
        `WITH moved AS (
           UPDATE projection_checkpoints SET commit_position = $2, prepare_position = $3, updated_at = now()
           WHERE projection = $1 AND commit_position = $4 AND prepare_position = $5 AND epoch = $6 RETURNING 1)
         SELECT count(*)::text AS moved FROM moved`,
        [
          projection,
          to.commit.toString(),
          to.prepare.toString(),
          from.position.commit.toString(),
          from.position.prepare.toString(),
          from.epoch,
        ],
      )
    : await tx.query(
        `WITH moved AS (
           INSERT INTO projection_checkpoints (projection, commit_position, prepare_position)
           VALUES ($1, $2, $3) ON CONFLICT (projection) DO NOTHING RETURNING 1)
         SELECT count(*)::text AS moved FROM moved`,
        [projection, to.commit.toString(), to.prepare.toString()],
      );
  if (rows[0]?.moved !== '1') throw new CheckpointMovedError(projection);
}

/**
 * Marks a write outside the log order, holding the checkpoint row (so it waits for, or holds up,
 * any replica's batch) until the transaction ends; answers the epoch before and after.
 */
export async function bumpEpoch(tx: EntityManager, projection: string): Promise<{ before: string; after: string } | undefined> {
  const rows: { epoch: string }[] = await tx.query(
    // As a SELECT: TypeORM answers a bare UPDATE ... RETURNING with [rows, count].
    'WITH bumped AS (UPDATE projection_checkpoints SET epoch = epoch + 1 WHERE projection = $1 RETURNING epoch) SELECT epoch::text AS epoch FROM bumped',
    [projection],
  );
  const after = rows[0]?.epoch;
  return after === undefined ? undefined : { before: (BigInt(after) - 1n).toString(), after };
}

/** Another runner of the same projection committed first, or retried a parked event; resume from the stored checkpoint. */
export class CheckpointMovedError extends Error {
  override readonly name = 'CheckpointMovedError';
  constructor(projection: string) {
    super(`checkpoint of projection ${projection} was moved by another runner`);
  }
}

export interface EventToPark {
  readonly recorded: RecordedEvent;
  readonly failure: ClassifiedFailure;
  /** Applications that failed with the event in them (1 for an event that cannot be decoded). */
  readonly attempts: number;
}

/** In the checkpoint's transaction, so an event is parked exactly when the checkpoint passes it. */
export async function recordParked(tx: EntityManager, projection: string, parked: readonly EventToPark[]): Promise<void> {
  if (parked.length === 0) return;
  const column = <T>(pick: (each: EventToPark) => T) => parked.map(pick);
  await tx.query(
    `INSERT INTO projection_parked_events
       (id, projection, event_id, event_type, tenant_id, stream_name, stream_revision, commit_position, prepare_position,
        error_kind, reason, attempts)
     SELECT gen_random_uuid(), $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                                                $8::bigint[], $9::text[], $10::text[], $11::int[])
     ON CONFLICT (projection, event_id) DO NOTHING`,
    [
      projection,
      column((p) => p.recorded.id),
      column((p) => p.recorded.type),
      column((p) => tenantOf(p.recorded)),
      column((p) => p.recorded.streamName),
      column((p) => p.recorded.revision.toString()),
      column((p) => p.recorded.position.commit.toString()),
      column((p) => p.recorded.position.prepare.toString()),
      column((p) => p.failure.kind),
      column((p) => p.failure.reason),
      column((p) => p.attempts),
    ],
  );
}

/** The tenant the event's metadata names, when it names one (an undecodable event may not). */
export function tenantOf(recorded: RecordedEvent): string | null {
  const metadata = recorded.metadata as { tenantId?: unknown } | null;
  const tenantId = typeof metadata === 'object' && metadata !== null ? metadata.tenantId : undefined;
  // Tenant ids are UUIDs; anything else is kept out of a column the admin API filters on.
  return typeof tenantId === 'string' && /^[A-Za-z0-9._:-]{1,200}$/.test(tenantId) ? tenantId : null;
}
