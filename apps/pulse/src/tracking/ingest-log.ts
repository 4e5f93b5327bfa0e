import type { PoolClient } from 'pg';
import type { EventStore, EventToAppend } from '../../../../libs/eventstore/src/event-store';
import { PostgresEventStore } from '../../../../libs/eventstore/src/postgres/postgres-event-store';

/**
 * Where the group commit appends a batch, while its PostgreSQL transaction (holding the batch's
 * messageId claims) is open on `client`. The group commit commits that transaction right after a
 * successful append and rolls it back when the append fails.
 */
export interface IngestLog {
  append(client: PoolClient, streamName: string, events: readonly EventToAppend[]): Promise<void>;
}

/**
 * The PostgreSQL event store: the events are written in the same transaction as the messageId
 * claims, so both commit or neither does. A retried message is either already stored (dropped as a
 * duplicate) or not at all: exactly once.
 */
export class PostgresIngestLog implements IngestLog {
  constructor(private readonly store: PostgresEventStore) {}

  async append(client: PoolClient, streamName: string, events: readonly EventToAppend[]): Promise<void> {
    await this.store.appendWithin(client, streamName, events, { expectedRevision: 'any' });
  }
}

/**
 * Any other event store (EventStoreDB): the claims are written in PostgreSQL, the events are
 * appended to the store while that transaction is still open, then the claims commit; a failed
 * append rolls the claims back, so nothing is recorded and the client's retry is stored.
 *
 * At-least-once window: when the append succeeded but the PostgreSQL COMMIT then fails (the
 * database or the connection goes away in between), the events are in the store while their
 * messageIds are not recorded. The same happens to a commit that spans several tenants when one
 * tenant's append succeeded and a later one failed. The client got a 503 and retries, and the
 * retry is stored again: a duplicate, never a loss. Concurrent copies of one batch still dedupe, because the second claim
 * waits on the first one's uncommitted row until the first transaction ends.
 */
export class EventStoreIngestLog implements IngestLog {
  constructor(private readonly store: EventStore) {}

  async append(_client: PoolClient, streamName: string, events: readonly EventToAppend[]): Promise<void> {
    await this.store.appendToStream(streamName, events, { expectedRevision: 'any' });
  }
}

/** The ingest log for the configured store: in-transaction for PostgreSQL, append-then-commit otherwise. */
export function ingestLogFor(store: EventStore): IngestLog {
  return store instanceof PostgresEventStore ? new PostgresIngestLog(store) : new EventStoreIngestLog(store);
}
