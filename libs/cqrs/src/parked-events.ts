import type { DataSource } from 'typeorm';
import { positionToString, type EventStore, type Position, type RecordedEvent } from '#eventstore';
import type { ClassifiedFailure } from './projection-failures';

/** What it takes to find a parked event again in the store and remove its row. */
export interface ParkedEventRef {
  readonly id: string;
  readonly projection: string;
  readonly eventId: string;
  readonly streamName: string;
  /** Unknown for events parked by earlier releases (moved from projection_skipped_events). */
  readonly streamRevision?: bigint;
}

/** A parked event as the admin API shows it: ids, positions and why, never the event's content. */
export interface ParkedEventView {
  readonly id: string;
  readonly projection: string;
  readonly eventId: string;
  readonly eventType: string | null;
  readonly tenantId: string | null;
  readonly streamName: string;
  readonly streamRevision: string | null;
  readonly position: string;
  readonly errorKind: string;
  readonly reason: string;
  readonly attempts: number;
  readonly parkedAt: string;
  readonly lastAttemptAt: string;
}

export interface ParkedEvent extends ParkedEventRef {
  readonly position: Position;
  readonly view: ParkedEventView;
}

/** Whose parked events: one tenant's, or every one's (events that name no tenant included). */
export type ParkedScope = { readonly tenantId: string } | 'installation';

/** Where a page ends in log order; the next page starts after it. */
export interface ParkedCursor {
  readonly position: Position;
  readonly projection: string;
}

interface ParkedRow {
  id: string;
  projection: string;
  event_id: string;
  event_type: string | null;
  tenant_id: string | null;
  stream_name: string;
  stream_revision: string | null;
  commit_position: string;
  prepare_position: string;
  error_kind: string;
  reason: string;
  attempts: number;
  parked_at: Date;
  last_attempt_at: Date;
}

/**
 * The parked events of one service's projections (services on one database share the table, and
 * each sees only its own), in log order: a page never shifts when events are parked later, since
 * they land after it. Every query is scoped to the projections and, but for the installation-wide
 * view, to the tenant.
 */
export class ParkedEvents {
  constructor(
    private readonly dataSource: DataSource,
    private readonly projections: readonly string[],
  ) {}

  async list(
    scope: ParkedScope,
    options: { projection?: string; after?: ParkedCursor; limit: number },
  ): Promise<{ items: ParkedEvent[]; next?: ParkedCursor }> {
    const after = options.after;
    const rows: ParkedRow[] = await this.dataSource.query(
      `SELECT * FROM projection_parked_events
       WHERE projection = ANY($1) AND ($2::text IS NULL OR tenant_id = $2) AND ($3::text IS NULL OR projection = $3)
         AND ($4::bigint IS NULL OR (commit_position, prepare_position, projection) > ($4, $5, $6))
       ORDER BY commit_position, prepare_position, projection
       LIMIT $7`,
      [
        this.projections,
        scope === 'installation' ? null : scope.tenantId,
        options.projection ?? null,
        after?.position.commit.toString() ?? null,
        after?.position.prepare.toString() ?? null,
        after?.projection ?? null,
        options.limit,
      ],
    );
    const items = rows.map(parkedOf);
    const last = items[items.length - 1];
    return { items, next: last && items.length === options.limit ? { position: last.position, projection: last.projection } : undefined };
  }

  async find(scope: ParkedScope, id: string): Promise<ParkedEvent | undefined> {
    const rows: ParkedRow[] = await this.dataSource.query(
      `SELECT * FROM projection_parked_events WHERE id = $1 AND projection = ANY($2) AND ($3::text IS NULL OR tenant_id = $3)`,
      [id, this.projections, scope === 'installation' ? null : scope.tenantId],
    );
    return rows[0] ? parkedOf(rows[0]) : undefined;
  }

  /** Dismissal: the read model never applies the event (it stays in the log). False when there was no such row. */
  async dismiss(scope: ParkedScope, id: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      `WITH dismissed AS (
         DELETE FROM projection_parked_events WHERE id = $1 AND projection = ANY($2) AND ($3::text IS NULL OR tenant_id = $3) RETURNING id)
       SELECT id FROM dismissed`,
      [id, this.projections, scope === 'installation' ? null : scope.tenantId],
    );
    return rows.length > 0;
  }
}

/**
 * A retry that failed again: one attempt more, and the error of the event's own it failed with this
 * time (one that was not the event's, a connection lost say, leaves the recorded cause as it was).
 */
export async function noteFailedAttempt(dataSource: DataSource, id: string, failure: ClassifiedFailure): Promise<void> {
  const own = failure.class === 'permanent';
  await dataSource.query(
    `UPDATE projection_parked_events
     SET attempts = attempts + 1, error_kind = CASE WHEN $4::boolean THEN $2 ELSE error_kind END,
         reason = CASE WHEN $4::boolean THEN $3 ELSE reason END, last_attempt_at = now()
     WHERE id = $1`,
    [id, failure.kind, failure.reason, own],
  );
}

const PAGE = 500;

/** The parked event as stored: at its revision, or looked for through its stream when the revision was not recorded. */
export async function findRecorded(store: EventStore, parked: ParkedEventRef): Promise<RecordedEvent | undefined> {
  if (parked.streamRevision !== undefined) {
    const [recorded] = await store.readStream(parked.streamName, { fromRevision: parked.streamRevision, maxCount: 1 });
    if (recorded?.id === parked.eventId) return recorded;
  }
  for (let from = 0n; ;) {
    const page = await store.readStream(parked.streamName, { fromRevision: from, maxCount: PAGE });
    const found = page.find((recorded) => recorded.id === parked.eventId);
    if (found || page.length < PAGE) return found;
    from = page[page.length - 1]!.revision + 1n;
  }
}

function parkedOf(row: ParkedRow): ParkedEvent {
  const position = { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) };
  return {
    id: row.id,
    projection: row.projection,
    eventId: row.event_id,
    streamName: row.stream_name,
    streamRevision: row.stream_revision === null ? undefined : BigInt(row.stream_revision),
    position,
    view: {
      id: row.id,
      projection: row.projection,
      eventId: row.event_id,
      eventType: row.event_type,
      tenantId: row.tenant_id,
      streamName: row.stream_name,
      streamRevision: row.stream_revision,
      position: positionToString(position),
      errorKind: row.error_kind,
      reason: row.reason,
      attempts: row.attempts,
      parkedAt: row.parked_at.toISOString(),
      lastAttemptAt: row.last_attempt_at.toISOString(),
    },
  };
}
