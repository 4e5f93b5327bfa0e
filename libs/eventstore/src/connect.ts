import type { EventStore } from './event-store';
import { EsdbEventStore } from './esdb/esdb-event-store';
import { PostgresEventStore } from './postgres/postgres-event-store';

export interface EventStoreLocation {
  /** `esdb://...` selects EventStoreDB. */
  readonly eventstoreUrl?: string;
  /** Otherwise the event store lives in this PostgreSQL database. */
  readonly databaseUrl: string;
}

/** Opens the event store the configuration names, ready to use (PostgreSQL schema migrated). */
export async function connectEventStore(location: EventStoreLocation): Promise<EventStore> {
  if (location.eventstoreUrl) return new EsdbEventStore(location.eventstoreUrl);
  const store = await PostgresEventStore.connect(location.databaseUrl, { pool: { max: 20 } });
  await store.migrate();
  return store;
}
