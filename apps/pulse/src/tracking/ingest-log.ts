import type { Pool } from 'pg';
import { inTransaction, newEventId, type EventStore, type EventToAppend, type TransactionalEventStore } from '#eventstore';
import { MessageReceived } from '#contracts';

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
 * A transactional store (PostgreSQL): claims and events in one statement (the store's SQL append
 * function, es_append_any, per stream), so both commit or neither does, in one round trip and without a transaction block. A
 * retried message is either already stored (dropped as a duplicate) or not at all: exactly once.
 * Claims are inserted in (tenant, id) order, so concurrent batches lock ids in one order and
 * queue instead of deadlocking.
 *
 * Nearly every claim is new, so a commit first runs claimAllAndAppend, which claims without
 * ON CONFLICT: a speculative insert per claim (the index probe, then a confirming WAL record) cost
 * about a tenth of PostgreSQL's work per event. When a claim is taken (a client's retry, or a
 * concurrent copy that committed first) that statement fails whole, leaving nothing behind, and the
 * commit runs claimNewAndAppend instead, which skips the stored ids. The claims run first (the
 * appends wait on their count), so a retried batch fails before appending anything: retries come
 * in bursts when the store is slow, and must not cost it a wasted append each.
 *
 * The messages come as arrays ($1 tenant, $2 messageId) and the events as one JSON array per
 * stream ($3 names, $4 arrays, in message order), so each stream's array goes to the append as it
 * came.
 */
const claimAllAndAppend = (appendAny: string) => `
  WITH claimed AS (
    INSERT INTO pulse_message_ids (tenant_id, message_id)
    SELECT k.tenant_id, k.message_id FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, message_id) ORDER BY 1, 2
    RETURNING 1
  ),
  appended AS (
    SELECT a.new_revision FROM ROWS FROM (unnest($3::text[]), jsonb_array_elements($4::jsonb)) AS s(stream_name, events)
    CROSS JOIN LATERAL ${appendAny}(s.stream_name, s.events) a
    WHERE (SELECT count(*) FROM claimed) > 0
  )
  SELECT count(*) AS streams FROM appended`;

/**
 * The same with duplicates skipped, returning the claims it made. $5 holds each message's stream
 * (ordinal into $3); only the arrays of streams that lost a message are taken apart and rebuilt.
 */
const claimNewAndAppend = (appendAny: string) => `
  WITH messages AS (
    SELECT k.tenant_id, k.message_id, k.stream, row_number() OVER (PARTITION BY k.stream ORDER BY k.ord) AS rank
    FROM unnest($1::uuid[], $2::text[], $5::int[]) WITH ORDINALITY AS k(tenant_id, message_id, stream, ord)
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
    FROM ROWS FROM (unnest($3::text[]), jsonb_array_elements($4::jsonb)) WITH ORDINALITY AS s(stream_name, events, ord)
  ),
  appended AS (
    SELECT a.new_revision FROM streams s CROSS JOIN LATERAL ${appendAny}(s.stream_name, s.events) a
    WHERE jsonb_array_length(s.events) > 0
  )
  SELECT c.tenant_id::text AS tenant_id, c.message_id FROM claimed c CROSS JOIN (SELECT count(*) FROM appended) done`;

const UNIQUE_VIOLATION = '23505';
const CLAIMS_KEY = 'pulse_message_ids_pkey';

export class PostgresIngestLog implements IngestLog {
  private readonly claimAllAndAppend: string;
  private readonly claimNewAndAppend: string;

  constructor(
    private readonly eventStore: EventStore,
    transactional: TransactionalEventStore,
  ) {
    this.claimAllAndAppend = claimAllAndAppend(transactional.appendAnyFunction);
    this.claimNewAndAppend = claimNewAndAppend(transactional.appendAnyFunction);
  }

  async store(pool: Pool, messages: readonly ClaimedMessage[]): Promise<Set<string>> {
    if (messages.length === 0) return new Set();
    const streams = new Map<string, { ordinal: number; events: object[] }>();
    for (const { streamName, event } of messages) {
      let stream = streams.get(streamName);
      if (!stream) streams.set(streamName, (stream = { ordinal: streams.size + 1, events: [] }));
      stream.events.push({ id: event.id ?? newEventId(), type: event.type, data: event.data, metadata: event.metadata ?? {} });
    }
    const values = [
      messages.map((message) => message.tenantId),
      messages.map((message) => message.messageId),
      [...streams.keys()],
      JSON.stringify([...streams.values()].map((stream) => stream.events)),
    ];
    let claimed: Set<string>;
    try {
      await pool.query({ name: 'pulse_claim_all_and_append', text: this.claimAllAndAppend, values });
      claimed = new Set(messages.map((message) => claimKey(message.tenantId, message.messageId)));
    } catch (error) {
      if (!isTakenClaim(error)) throw error;
      const { rows } = await pool.query<{ tenant_id: string; message_id: string }>({
        name: 'pulse_claim_new_and_append',
        text: this.claimNewAndAppend,
        values: [...values, messages.map((message) => streams.get(message.streamName)!.ordinal)],
      });
      claimed = new Set(rows.map((row) => claimKey(row.tenant_id, row.message_id)));
    }
    // Committed outside appendToStream: this process's subscriptions are told, or they would wait
    // for their next poll. A batch of duplicates only (a client's retry) appended nothing to tell.
    if (claimed.size > 0)
      this.eventStore.notifyCommitted?.([...streams.keys()].map((streamName) => ({ streamName, types: [MessageReceived.type] })));
    return claimed;
  }
}

function isTakenClaim(error: unknown): boolean {
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return code === UNIQUE_VIOLATION && constraint === CLAIMS_KEY;
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
    const sorted = [...messages].sort(
      (a, b) => compare(a.tenantId.toLowerCase(), b.tenantId.toLowerCase()) || compare(a.messageId, b.messageId),
    );
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

/** The ingest log for the configured store: one statement where the store is transactional (PostgreSQL), append-then-commit otherwise. */
export function ingestLogFor(store: EventStore): IngestLog {
  return store.transactional ? new PostgresIngestLog(store, store.transactional) : new EventStoreIngestLog(store);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
