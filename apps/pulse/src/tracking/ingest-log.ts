import type { Pool } from 'pg';
import type { EventStore, EventToAppend } from '../../../../libs/eventstore/src/event-store';
import { PostgresEventStore } from '../../../../libs/eventstore/src/postgres/postgres-event-store';
import { newEventId } from '../../../../libs/eventstore/src/event-id';
import { inTransaction } from '../../../../libs/eventstore/src/postgres/transaction';
import { MessageReceived } from './tracking.events';

/** One message the group commit wants stored: the id Segment dedups on, and its event. */
export interface ClaimedMessage {
  readonly tenantId: string;
  readonly messageId: string;
  readonly streamName: string;
  readonly event: EventToAppend;
}

/**
 * Where the group commit stores a batch: it claims every message's id in pulse_message_ids and
 * appends the events of the messages whose claim is new, returning those claims (see claimKey).
 * The claims of one batch are distinct; concurrent batches claiming one id queue on its primary
 * key, and the loser sees the winner's row once that commits and drops its copy.
 */
export interface IngestLog {
  store(pool: Pool, messages: readonly ClaimedMessage[]): Promise<Set<string>>;
}

/** How a claim is named in the set `store` returns. */
export function claimKey(tenantId: string, messageId: string): string {
  return `${tenantId.toLowerCase()}\n${messageId}`;
}

/**
 * The PostgreSQL event store: claims and events in one statement (the store's es_append_any per
 * stream), so both commit or neither does, in one round trip and without a transaction block. A
 * retried message is either already stored (dropped as a duplicate) or not at all: exactly once.
 * Claims are inserted in (tenant, id) order, so concurrent batches lock ids in one order and
 * queue instead of deadlocking.
 *
 * The messages come as arrays ($1 tenant, $2 messageId, $3 the ordinal of their stream) and the
 * events as one JSON array per stream ($4 names, $5 arrays, in message order), so that when every
 * claim is new, as it nearly always is, each stream's array goes to the append as it came. Only a
 * batch holding a duplicate has its arrays taken apart and rebuilt without it: doing that for
 * every batch cost a fifth of the statement.
 */
const CLAIM_AND_APPEND = `
  WITH messages AS (
    SELECT k.tenant_id, k.message_id, k.stream, row_number() OVER (PARTITION BY k.stream ORDER BY k.ord) AS rank
    FROM unnest($1::uuid[], $2::text[], $3::int[]) WITH ORDINALITY AS k(tenant_id, message_id, stream, ord)
  ),
  claimed AS (
    INSERT INTO pulse_message_ids (tenant_id, message_id)
    SELECT tenant_id, message_id FROM messages ORDER BY tenant_id, message_id
    ON CONFLICT DO NOTHING RETURNING tenant_id, message_id
  ),
  streams AS (
    SELECT s.stream_name, CASE WHEN (SELECT count(*) FROM claimed) = cardinality($2::text[]) THEN s.events ELSE (
      SELECT coalesce(jsonb_agg(x.event ORDER BY x.rank), '[]') FROM jsonb_array_elements(s.events) WITH ORDINALITY AS x(event, rank)
      WHERE EXISTS (SELECT 1 FROM messages m JOIN claimed c USING (tenant_id, message_id) WHERE m.stream = s.ord AND m.rank = x.rank)
    ) END AS events
    FROM ROWS FROM (unnest($4::text[]), jsonb_array_elements($5::jsonb)) WITH ORDINALITY AS s(stream_name, events, ord)
  ),
  appended AS (
    SELECT a.new_revision FROM streams s CROSS JOIN LATERAL es_append_any(s.stream_name, s.events) a
    WHERE jsonb_array_length(s.events) > 0
  )
  SELECT c.tenant_id::text AS tenant_id, c.message_id FROM claimed c CROSS JOIN (SELECT count(*) FROM appended) done`;

export class PostgresIngestLog implements IngestLog {
  constructor(private readonly eventStore: PostgresEventStore) {}

  async store(pool: Pool, messages: readonly ClaimedMessage[]): Promise<Set<string>> {
    if (messages.length === 0) return new Set();
    const streams = new Map<string, { ordinal: number; events: object[] }>();
    const streamOrdinals = messages.map(({ streamName, event }) => {
      let stream = streams.get(streamName);
      if (!stream) streams.set(streamName, (stream = { ordinal: streams.size + 1, events: [] }));
      stream.events.push({ id: event.id ?? newEventId(), type: event.type, data: event.data, metadata: event.metadata ?? {} });
      return stream.ordinal;
    });
    const { rows } = await pool.query<{ tenant_id: string; message_id: string }>({
      name: 'pulse_claim_and_append',
      text: CLAIM_AND_APPEND,
      values: [
        messages.map((message) => message.tenantId),
        messages.map((message) => message.messageId),
        streamOrdinals,
        [...streams.keys()],
        JSON.stringify([...streams.values()].map((stream) => stream.events)),
      ],
    });
    // Committed outside appendToStream: this process's subscriptions are told, or they would wait
    // for their next poll. A batch of duplicates only (a client's retry) appended nothing to tell.
    if (rows.length > 0) this.eventStore.notifyCommitted([...streams.keys()].map((streamName) => ({ streamName, types: [MessageReceived.type] })));
    return new Set(rows.map((row) => claimKey(row.tenant_id, row.message_id)));
  }
}

/**
 * Any other event store (EventStoreDB): the claims are written in a PostgreSQL transaction, the
 * events are appended to the store while it is still open, then the claims commit; a failed
 * append rolls the claims back, so nothing is recorded and the client's retry is stored.
 *
 * At-least-once window: when the append succeeded but the PostgreSQL COMMIT then fails (the
 * database or the connection goes away in between), the events are in the store while their
 * messageIds are not recorded. The same happens to a batch that spans several streams when one
 * stream's append succeeded and a later one failed. The client got a 503 and retries, and the
 * retry is stored again: a duplicate, never a loss. Concurrent copies of one batch still dedupe, because the second claim
 * waits on the first one's uncommitted row until the first transaction ends.
 */
export class EventStoreIngestLog implements IngestLog {
  constructor(private readonly eventStore: EventStore) {}

  async store(pool: Pool, messages: readonly ClaimedMessage[]): Promise<Set<string>> {
    const sorted = [...messages].sort((a, b) => compare(a.tenantId.toLowerCase(), b.tenantId.toLowerCase()) || compare(a.messageId, b.messageId));
    return inTransaction(pool, async (client) => {
      const { rows } = await client.query<{ tenant_id: string; message_id: string }>({
        name: 'pulse_claim_message_ids',
        text: `INSERT INTO pulse_message_ids (tenant_id, message_id)
               SELECT t, m FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS k(t, m, o) ORDER BY o
               ON CONFLICT DO NOTHING RETURNING tenant_id::text, message_id`,
        values: [sorted.map((message) => message.tenantId), sorted.map((message) => message.messageId)],
      });
      const fresh = new Set(rows.map((row) => claimKey(row.tenant_id, row.message_id)));
      const byStream = new Map<string, EventToAppend[]>();
      for (const message of messages) {
        if (!fresh.has(claimKey(message.tenantId, message.messageId))) continue;
        byStream.set(message.streamName, [...(byStream.get(message.streamName) ?? []), message.event]);
      }
      for (const streamName of [...byStream.keys()].sort(compare)) {
        await this.eventStore.appendToStream(streamName, byStream.get(streamName)!, { expectedRevision: 'any' });
      }
      return fresh;
    });
  }
}

/** The ingest log for the configured store: one statement for PostgreSQL, append-then-commit otherwise. */
export function ingestLogFor(store: EventStore): IngestLog {
  return store instanceof PostgresEventStore ? new PostgresIngestLog(store) : new EventStoreIngestLog(store);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
