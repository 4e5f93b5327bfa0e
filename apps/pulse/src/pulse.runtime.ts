import { ServiceInfrastructure } from '#cqrs';
import type { EventStore } from '#eventstore';
import { platformOptionsFromEnv, type ServiceOptions } from '#platform';
import { accountEvents, LoginSucceeded, tenantEvents, trackingEvents } from '#contracts';
import { identityEvents } from './identity/identity.events';
import { pulseApi, pulseProjectorApi } from './pulse.api';
import type { PulseConfig } from './pulse.config';
import { PulseDedupeRetention1764000000000, PulseReadModels1763900000000, PulseTenantKeys1765200000000 } from './pulse.schema';
import type { DedupeRetentionSettings } from './tracking/dedupe-retention';
import type { GroupCommitSettings } from './tracking/group-commit';

/** What pulse runs on, opened by main (or a test) before the module is built. */
export interface PulseRuntime {
  readonly infrastructure: ServiceInfrastructure;
  readonly role: PulseConfig['PULSE_ROLE'];
  /** PostgreSQL (ingest exactly once) or EventStoreDB (ingest at least once, see EventStoreIngestLog). */
  readonly store: EventStore;
  readonly ingest: GroupCommitSettings;
  readonly dedupe: DedupeRetentionSettings;
  readonly maxMergesPerIdentifier: number;
  readonly maxProjectionLagMs: number;
  /** The parked-events admin routes answer 404 without it. */
  readonly adminToken?: string;
}

export async function openPulseRuntime(config: PulseConfig): Promise<PulseRuntime> {
  const infrastructure = await ServiceInfrastructure.connect({
    service: 'pulse',
    databaseUrl: config.DATABASE_URL,
    eventstoreUrl: config.EVENTSTORE_URL,
    masterKey: config.TESSERA_MASTER_KEY,
    entities: [],
    migrations: [PulseReadModels1763900000000, PulseDedupeRetention1764000000000, PulseTenantKeys1765200000000],
    // Pulse reads login's sign-ins (as "Signed In") but none of login's other events.
    events: [...trackingEvents, ...identityEvents, ...tenantEvents, ...accountEvents, LoginSucceeded],
  });
  return {
    infrastructure,
    role: config.PULSE_ROLE,
    store: infrastructure.eventStore,
    ingest: {
      maxQueuedEvents: config.INGEST_MAX_QUEUED_EVENTS,
      maxBatchEvents: config.INGEST_MAX_BATCH_EVENTS,
      writers: config.INGEST_WRITERS,
      extraWriterMinEvents: config.INGEST_EXTRA_WRITER_MIN_EVENTS,
    },
    dedupe: { windowMs: config.PULSE_DEDUPE_WINDOW_MS, intervalMs: config.PULSE_DEDUPE_PRUNE_INTERVAL_MS },
    maxMergesPerIdentifier: config.IDENTITY_MAX_PROFILES_PER_IDENTIFIER,
    maxProjectionLagMs: config.READY_MAX_PROJECTION_LAG_MS,
    adminToken: config.ADMIN_TOKEN,
  };
}

export function pulseServiceOptions(config: PulseConfig): ServiceOptions {
  return { serviceName: 'pulse', api: config.PULSE_ROLE === 'projector' ? pulseProjectorApi : pulseApi, ...platformOptionsFromEnv(config) };
}
