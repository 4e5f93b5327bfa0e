import { ServiceInfrastructure } from '../../../libs/cqrs/src/service-infrastructure';
import { PostgresEventStore } from '../../../libs/eventstore/src/postgres/postgres-event-store';
import type { ServiceOptions } from '../../../libs/platform/src/service-app';
import { accountEvents } from '../../register/src/account/account.events';
import { tenantEvents } from '../../register/src/tenants/tenant.events';
import { identityEvents } from './identity/identity.events';
import type { PulseConfig } from './pulse.config';
import { PulseReadModels1763900000000 } from './pulse.schema';
import { trackingEvents } from './tracking/tracking.events';

/** What pulse runs on, opened by main (or a test) before the module is built. */
export interface PulseRuntime {
  readonly infrastructure: ServiceInfrastructure;
  readonly store: PostgresEventStore;
  readonly ingest: { maxQueuedEvents: number; maxBatchEvents: number; writers: number };
  readonly maxMergesPerIdentifier: number;
  readonly maxProjectionLagMs: number;
}

export async function openPulseRuntime(config: PulseConfig): Promise<PulseRuntime> {
  const infrastructure = await ServiceInfrastructure.connect({
    service: 'pulse',
    databaseUrl: config.DATABASE_URL,
    eventstoreUrl: config.EVENTSTORE_URL,
    masterKey: config.TESSERA_MASTER_KEY,
    entities: [],
    migrations: [PulseReadModels1763900000000],
    events: [...trackingEvents, ...identityEvents, ...tenantEvents, ...accountEvents],
  });
  const store = infrastructure.eventStore;
  if (!(store instanceof PostgresEventStore)) {
    await infrastructure.close();
    // Exactly-once ingest commits the messageId record and the events in one PostgreSQL transaction.
    throw new Error('EVENTSTORE_URL: pulse ingests into the PostgreSQL event store only (EventStoreDB ingest is not built yet)');
  }
  return {
    infrastructure,
    store,
    ingest: { maxQueuedEvents: config.INGEST_MAX_QUEUED_EVENTS, maxBatchEvents: config.INGEST_MAX_BATCH_EVENTS, writers: config.INGEST_WRITERS },
    maxMergesPerIdentifier: config.IDENTITY_MAX_PROFILES_PER_IDENTIFIER,
    maxProjectionLagMs: config.READY_MAX_PROJECTION_LAG_MS,
  };
}

export function pulseServiceOptions(config: PulseConfig): ServiceOptions {
  return {
    serviceName: 'pulse',
    logLevel: config.LOG_LEVEL,
    http: { host: config.HOST, port: config.PORT, bodyLimitBytes: config.BODY_LIMIT_BYTES, trustProxy: config.TRUST_PROXY },
    shutdown: { drainDelayMs: config.SHUTDOWN_DRAIN_MS },
  };
}
