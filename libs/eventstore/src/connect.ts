import type { Pool } from 'pg';
import type { EventStore } from './event-store';
import { EsdbEventStore } from './esdb/esdb-event-store';
import { PostgresEventStore } from './postgres/postgres-event-store';

export interface EventStoreLocation {
  /**
   * `esdb://...` selects EventStoreDB; `postgres://...` a PostgreSQL database of the log's own,
   * apart from the read models (it can then be backed up and restored apart, as EventStoreDB is).
   */
  readonly eventstoreUrl?: string;
  /** Otherwise the event store lives in this PostgreSQL database. */
  readonly databaseUrl: string;
  /** The service's pool on that database, which the store then shares instead of opening its own. */
  readonly pool?: Pool;
  /** Whether to create or update the PostgreSQL store's schema (default); false where a migrations Job does. */
  readonly migrate?: boolean;
  /** PostgreSQL store: hear other processes' appends at once rather than at the next poll (off unless asked). */
  readonly wakeOtherProcesses?: boolean;
}

/** Opens the event store the configuration names, ready to use (PostgreSQL schema migrated). */
export async function connectEventStore(location: EventStoreLocation): Promise<EventStore> {
  const { eventstoreUrl } = location;
  if (eventstoreUrl?.startsWith('esdb')) return new EsdbEventStore(eventstoreUrl);
  const wakeOtherProcesses = location.wakeOtherProcesses ?? false;
  const store =
    location.pool && !eventstoreUrl
      ? new PostgresEventStore(location.pool, { wakeOtherProcesses })
      : await PostgresEventStore.connect(eventstoreUrl ?? location.databaseUrl, {
          pool: { max: 20 },
          wakeOtherProcesses,
          ownDatabase: eventstoreUrl !== undefined,
        });
  if (location.migrate !== false) await store.migrate();
  return store;
}
