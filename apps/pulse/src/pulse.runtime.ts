import { ServiceInfrastructure } from '#cqrs';
import type { EventStore } from '#eventstore';
import { OutboundTables1765300000000, outboundSettingsOf, type OutboundSettings } from '#outbound';
import { platformOptionsFromEnv, type ServiceOptions } from '#platform';
import { accountEvents, erasureEvents, exportEvents, LoginSucceeded, tenantEvents, trackingEvents } from '#contracts';
import { audienceEvents } from './audiences/audience.events';
import { destinationEvents } from './destinations/destination.events';
import { identityEvents } from './identity/identity.events';
import { pulseApi, pulseProjectorApi } from './pulse.api';
import type { PulseConfig } from './pulse.config';
import {
  PulseAudiences1765510000000,
  PulseAudienceBackfills1765510000001,
  PulseExportParts1765600000002,
  PulseExportsPending1765680000002,
  PulseConsentWithdrawals1765400000000,
  PulseGroups1765500000000,
  PulseRetention1765500000001,
  PulseConsentGrants1765500000002,
  PulseDedupeRetention1764000000000,
  PulseDestinations1765300000001,
  PulseReadModels1763900000000,
  PulseTenantKeys1765200000000,
} from './pulse.migrations';
import { trackingPurposeEvents } from './consent/tracking-purposes';
import { retentionEvents } from './retention/retention';
import type { DedupeRetentionSettings } from './tracking/dedupe-retention';
import type { GroupCommitSettings } from './tracking/group-commit';
import type { RefusalHold } from './tracking/refusal-budget';
import { liveTicketKeyOf } from './live/live-tickets';

/** What pulse runs on, opened by main (or a test) before the module is built. */
export interface PulseRuntime {
  readonly infrastructure: ServiceInfrastructure;
  readonly role: PulseConfig['PULSE_ROLE'];
  /** For connections of their own (LISTEN): the key destructions the ingest's key cache follows. */
  readonly databaseUrl: string;
  /** PostgreSQL (ingest exactly once) or EventStoreDB (ingest at least once, see EventStoreIngestLog). */
  readonly store: EventStore;
  readonly ingest: GroupCommitSettings;
  readonly dedupe: DedupeRetentionSettings;
  /** How often tenants' retention periods are applied. */
  readonly retentionIntervalMs: number;
  readonly maxMergesPerIdentifier: number;
  readonly maxProjectionLagMs: number;
  /** How often windowed computed traits expire (see AudienceEvaluator.sweep); 0 turns the sweep off. */
  readonly audienceSweepIntervalMs: number;
  /** The parked-events admin routes answer 404 without it. */
  readonly adminToken?: string;
  /** Per-tenant limits on the shared paths (see pulse.config.ts). */
  readonly fairness: PulseFairness;
  /** Where browsers reach pulse (PULSE_PUBLIC_URL). */
  readonly publicUrl: string;
  /** Signs live-view tickets; derived from the master key, so every replica accepts every other's. */
  readonly liveTicketKey: Buffer;
  readonly outbound: PulseOutbound;
}

/** How webhooks leave pulse (see #outbound). */
export type PulseOutbound = OutboundSettings;

export interface PulseFairness {
  /** Events per second and burst per tenant, or undefined for no rate. */
  readonly ingestRate?: { readonly ratePerSecond: number; readonly burst: number };
  /** Refused tracking calls per second and burst per tenant, or undefined for no budget. */
  readonly refusals?: { readonly ratePerSecond: number; readonly burst: number; readonly hold: RefusalHold };
  readonly profileReadsPerTenant: number;
  readonly liveViewsPerTenant: number;
}

/** Pulse's schema migrations, every release's (TypeORM runs them in the order of their timestamps). */
export const pulseMigrations = [
  PulseReadModels1763900000000,
  PulseDedupeRetention1764000000000,
  PulseTenantKeys1765200000000,
  OutboundTables1765300000000,
  PulseDestinations1765300000001,
  PulseConsentWithdrawals1765400000000,
  PulseGroups1765500000000,
  PulseRetention1765500000001,
  PulseConsentGrants1765500000002,
  PulseAudiences1765510000000,
  PulseAudienceBackfills1765510000001,
  PulseExportParts1765600000002,
  PulseExportsPending1765680000002,
];

export async function openPulseRuntime(config: PulseConfig): Promise<PulseRuntime> {
  const infrastructure = await ServiceInfrastructure.connect({
    service: 'pulse',
    poolSize: config.DATABASE_POOL_SIZE,
    migrate: config.MIGRATE,
    wakeOtherProcesses: config.EVENTSTORE_WAKE === 'notify',
    databaseUrl: config.DATABASE_URL,
    eventstoreUrl: config.EVENTSTORE_URL,
    masterKey: config.TESSERA_MASTER_KEY,
    entities: [],
    migrations: pulseMigrations,
    // Pulse reads login's sign-ins (as "Signed In") but none of login's other events.
    events: [
      ...trackingEvents,
      ...identityEvents,
      ...destinationEvents,
      ...tenantEvents,
      ...accountEvents,
      ...erasureEvents,
      ...exportEvents,
      LoginSucceeded,
      ...trackingPurposeEvents,
      ...retentionEvents,
      ...audienceEvents,
    ],
  });
  return {
    infrastructure,
    role: config.PULSE_ROLE,
    databaseUrl: config.DATABASE_URL,
    store: infrastructure.eventStore,
    ingest: {
      maxQueuedEvents: config.INGEST_MAX_QUEUED_EVENTS,
      maxBatchEvents: config.INGEST_MAX_BATCH_EVENTS,
      writers: config.INGEST_WRITERS,
      extraWriterMinEvents: config.INGEST_EXTRA_WRITER_MIN_EVENTS,
    },
    dedupe: { windowMs: config.PULSE_DEDUPE_WINDOW_MS, intervalMs: config.PULSE_DEDUPE_PRUNE_INTERVAL_MS },
    retentionIntervalMs: config.PULSE_RETENTION_INTERVAL_MS,
    maxMergesPerIdentifier: config.IDENTITY_MAX_PROFILES_PER_IDENTIFIER,
    maxProjectionLagMs: config.READY_MAX_PROJECTION_LAG_MS,
    audienceSweepIntervalMs: config.AUDIENCE_SWEEP_INTERVAL_MS,
    adminToken: config.ADMIN_TOKEN,
    fairness: {
      ingestRate:
        config.INGEST_TENANT_EVENTS_PER_SECOND > 0
          ? {
              ratePerSecond: config.INGEST_TENANT_EVENTS_PER_SECOND,
              burst: config.INGEST_TENANT_EVENTS_BURST ?? config.INGEST_TENANT_EVENTS_PER_SECOND,
            }
          : undefined,
      refusals:
        config.INGEST_TENANT_REFUSALS_PER_SECOND > 0
          ? {
              ratePerSecond: config.INGEST_TENANT_REFUSALS_PER_SECOND,
              burst: config.INGEST_TENANT_REFUSALS_BURST,
              hold: {
                ms: config.INGEST_TENANT_REFUSALS_HOLD_MS,
                maxHeldPerTenant: config.INGEST_TENANT_REFUSALS_MAX_HELD,
                maxHeldBytesPerTenant: config.INGEST_TENANT_REFUSALS_MAX_HELD_BYTES,
              },
            }
          : undefined,
      profileReadsPerTenant: config.PROFILES_TENANT_CONCURRENCY,
      liveViewsPerTenant: config.LIVE_TENANT_MAX_VIEWS,
    },
    publicUrl: config.PULSE_PUBLIC_URL ?? `http://localhost:${config.PORT}`,
    liveTicketKey: liveTicketKeyOf(config.TESSERA_MASTER_KEY),
    outbound: outboundSettingsOf(config),
  };
}

export function pulseServiceOptions(config: PulseConfig): ServiceOptions {
  return { serviceName: 'pulse', api: config.PULSE_ROLE === 'projector' ? pulseProjectorApi : pulseApi, ...platformOptionsFromEnv(config) };
}
