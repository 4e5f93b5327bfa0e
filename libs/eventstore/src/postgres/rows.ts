import { randomFillSync } from 'node:crypto';
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

/**
 * UUIDv7 (RFC 9562): time-ordered ids keep inserts into the unique event_id index at its right
 * edge instead of scattering them over the whole B-tree. The `uuid` package is ESM-only, which
 * this CommonJS build cannot load.
 */
export function newEventId(): string {
  const bytes = randomFillSync(Buffer.alloc(16));
  bytes.writeUIntBE(Date.now(), 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
