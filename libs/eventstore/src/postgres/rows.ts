import type { JsonObject, Position, RecordedEvent } from '../event-store';

/**
 * Columns every event read selects, with bigint/xid8 as text so no precision is lost in JS. The
 * aliases shadow the column names, so ORDER BY must name the table to sort numerically.
 */
export const EVENT_COLUMNS = `
  seq::text AS seq, transaction_id::text AS transaction_id, stream_name, stream_revision::text AS stream_revision,
  event_id::text AS event_id, type, data, metadata, created_at`;

export interface EventRow {
  seq: string;
  transaction_id: string;
  stream_name: string;
  stream_revision: string;
  event_id: string;
  type: string;
  data: JsonObject;
  metadata: JsonObject;
  created_at: Date;
}

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    streamName: row.stream_name,
    revision: BigInt(row.stream_revision),
    position: toPosition(row.transaction_id, row.seq),
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}

export function toPosition(transactionId: string, seq: string): Position {
  return { commit: BigInt(transactionId), prepare: BigInt(seq) };
}
