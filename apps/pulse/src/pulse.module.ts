import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from 'pino';
import {
  adminTokenCheck,
  KeyDestructionListener,
  ParkedEventsAdmin,
  ParkedEventsController,
  PeriodicTask,
  projectionRunners,
  RuntimeLifecycle,
  type ProjectionRunner,
} from '#cqrs';
import { EXPORT_PART_SOURCE, ExportParts, ExportPartsController, exportPartSource, exportSections } from '#contracts';
import { MetricsRegistry, ReadinessChecks, SERVICE_LOGGER, TenantConcurrencyLimiter, TenantRateLimiter } from '#platform';
import { AudienceEvaluator } from './audiences/audience-evaluator';
import { AudiencesController, AudiencesStore, ComputedTraitsController } from './audiences/audiences.http';
import { ConsentGate } from './consent/consent-gate';
import { CONSENTS_PROJECTION, consentsProjection } from './consent/consent.projection';
import { TrackingPurposesController, TrackingPurposesStore } from './consent/tracking-purposes.http';
import { DestinationDeliveriesController } from './destinations/deliveries.http';
import { OUTBOX_PROJECTION } from './destinations/destination-routing';
import { DestinationsController } from './destinations/destinations.http';
import { destinationProviders, outboundDelivery, webhookSenderOf } from './destinations/outbound.wiring';
import { PROFILES_PROJECTION, profilesProjection } from './identity/profiles.projection';
import { LIVE_VIEWS, LiveController, LiveFeed } from './live/live.http';
import { LiveTickets } from './live/live-tickets';
import { ProfileReader } from './profiles/profile-reader';
import { pulseSection } from './profiles/export-section';
import { GroupReader } from './groups/group-reader';
import { GroupsController } from './groups/groups.http';
import { RetentionController } from './retention/retention.http';
import { TrackedEventsRetention } from './retention/retention.job';
import { PROFILE_READS, ProfilesController } from './profiles/profiles.http';
import type { PulseRuntime } from './pulse.runtime';
import { TenantKeys } from './tenants/tenant-keys';
import { pulseTenantsProjection } from './tenants/tenants.projection';
import { DedupeRetention } from './tracking/dedupe-retention';
import { GroupCommit } from './tracking/group-commit';
import { ingestLogFor } from './tracking/ingest-log';
import { TrackingHandler } from './tracking/tracking.handler';
import { RefusalBudget } from './tracking/refusal-budget';
import { PulsePublicUrl, TrackingRoutes } from './tracking/tracking.http';

/** The projection runners of this process's role (tenants, profiles, outbox), for the lifecycle and for tests that wait on them. */
export const PROJECTIONS = Symbol('PulseProjections');
/** The webhook delivery of a delivering role: the outbox projection and the tasks that send. */
const OUTBOUND = Symbol('PulseOutbound');
/** The retention job, in the roles that keep profiles (undefined in ingest). */
export const RETENTION = Symbol('PulseTrackedEventsRetention');

/**
 * Pulse in one of its roles (see PULSE_ROLE): ingest serves tracking, profile reads and the live
 * feed, and follows tenants (write keys); the projector only keeps profiles; `all` is both in one
 * process, where the profiles projection's lag is reported but does not gate readiness, since
 * nothing ingest answers waits on it.
 */
@Module({})
export class PulseModule {
  static forRoot(runtime: PulseRuntime): DynamicModule {
    const ingest = runtime.role !== 'projector' ? ingestParts(runtime) : undefined;
    const audiences = runtime.role !== 'ingest' ? audienceEvaluatorOf(runtime) : undefined;
    const profiles = audiences ? profilesProjection(profilesDeps(runtime, audiences)) : undefined;
    // Webhooks go out from the processes that keep profiles (projector, or all-in-one): ingest stays lean.
    const delivers = runtime.role !== 'ingest';
    const sender = webhookSenderOf(runtime);
    const { infrastructure, store } = runtime;
    const exportParts = new ExportParts('pulse_export_parts', infrastructure.personalData);
    // Sections are written where profiles are kept, and served by whichever process answers HTTP.
    const exportSection = profiles
      ? exportSections({
          service: 'pulse',
          parts: exportParts,
          store,
          codec: infrastructure.codec,
          personalData: infrastructure.personalData,
          dataSource: infrastructure.dataSource,
          gather: pulseSection(infrastructure.personalData),
        })
      : undefined;
    const projections = [
      ...(ingest ? [pulseTenantsProjection, consentsProjection] : []),
      ...(profiles ? [profiles] : []),
      ...(exportSection ? [exportSection.projection] : []),
    ];
    return {
      module: PulseModule,
      controllers: [
        ...(ingest
          ? [
              ProfilesController,
              GroupsController,
              LiveController,
              TrackingPurposesController,
              RetentionController,
              DestinationsController,
              DestinationDeliveriesController,
              ComputedTraitsController,
              AudiencesController,
            ]
          : []),
        ParkedEventsController,
        // Sections are served where the API is (the projector writes them, one database).
        ...(ingest ? [ExportPartsController] : []),
      ],
      providers: [
        { provide: EXPORT_PART_SOURCE, useValue: exportPartSource('pulse', exportParts, infrastructure) },
        ...(ingest?.providers ?? []),
        ...(ingest ? destinationProviders(runtime, sender) : []),
        {
          provide: OUTBOUND,
          inject: [MetricsRegistry, SERVICE_LOGGER],
          useFactory: (metrics: MetricsRegistry, logger: Logger) =>
            delivers ? outboundDelivery(runtime, sender, metrics, logger) : undefined,
        },
        {
          provide: RETENTION,
          inject: [MetricsRegistry],
          useFactory: (metrics: MetricsRegistry) =>
            profiles ? new TrackedEventsRetention(infrastructure.pool, store, infrastructure.commands, metrics) : undefined,
        },
        {
          provide: PROJECTIONS,
          inject: [MetricsRegistry, SERVICE_LOGGER, OUTBOUND],
          useFactory: (metrics: MetricsRegistry, logger: Logger, outbound?: ReturnType<typeof outboundDelivery>) =>
            projectionRunners(
              [...projections, ...(outbound ? [outbound.projection] : [])],
              { store, codec: infrastructure.codec, dataSource: infrastructure.dataSource },
              metrics,
              logger,
            ),
        },
        {
          provide: ParkedEventsAdmin,
          inject: [PROJECTIONS],
          useFactory: (runners: ProjectionRunner[]) => {
            const tenants = new TenantKeys(infrastructure.pool);
            return new ParkedEventsAdmin({
              requireAdmin: adminTokenCheck(runtime.adminToken),
              tenantIdOf: async (slug) => (await tenants.bySlug(slug))?.tenantId,
              // Both roles list every projection's (one database); each retries only what it runs.
              projections: [pulseTenantsProjection.name, CONSENTS_PROJECTION, PROFILES_PROJECTION, OUTBOX_PROJECTION, 'pulse.exports'],
              runners,
              dataSource: infrastructure.dataSource,
            });
          },
        },
        {
          provide: RuntimeLifecycle,
          inject: [ReadinessChecks, PROJECTIONS, SERVICE_LOGGER, OUTBOUND, RETENTION],
          useFactory: (
            checks: ReadinessChecks,
            runners: ProjectionRunner[],
            logger: Logger,
            outbound?: ReturnType<typeof outboundDelivery>,
            retention?: TrackedEventsRetention,
          ) => {
            const outbox = runners.filter((runner) => runner.name === OUTBOX_PROJECTION);
            const followers = runners.filter((runner) => runner.name !== OUTBOX_PROJECTION);
            // Ingest answers with tenant keys alone: a lagging consents projection shows in metrics, and
            // stops withdrawn purposes a little later, rather than taking tracking out of rotation.
            // Nor does a long export take the projector out of rotation.
            const gatesReadiness = (runner: ProjectionRunner) =>
              runner.name !== exportSection?.projection.name &&
              (runtime.role === 'projector' || (runner.name !== profiles?.name && runner.name !== CONSENTS_PROJECTION));
            return new RuntimeLifecycle(checks, {
              infrastructure,
              followers: followers.filter(gatesReadiness),
              ungatedFollowers: followers.filter((runner) => !gatesReadiness(runner)),
              maxLagMs: runtime.maxProjectionLagMs,
              tasks: [
                ...(ingest?.tasks(logger) ?? []),
                ...outbox,
                ...(outbound?.tasks ?? []),
                ...(exportSection ? [exportSection.writer.reportingTo((fields, message) => logger.warn(fields, message))] : []),
                ...(retention
                  ? [new PeriodicTask('tracked-events-retention', runtime.retentionIntervalMs, () => retention.run(), logger)]
                  : []),
                ...(audiences
                  ? [
                      new PeriodicTask(
                        'audience-sweep',
                        runtime.audienceSweepIntervalMs,
                        () => audiences.sweep(infrastructure.dataSource, new Date()),
                        logger,
                      ),
                    ]
                  : []),
                // An erased person's cached key goes at once, so the ingest suppresses their tracking from then on.
                new KeyDestructionListener(infrastructure.personalData, runtime.databaseUrl, (fields, message) =>
                  logger.warn(fields, message),
                ),
              ],
              // Accepted tracking calls are flushed to the store before anything closes.
              drain: ingest ? () => ingest.commit.drain() : undefined,
              release: [async () => sender.close()],
            });
          },
        },
      ],
    };
  }
}

/** What the ingest role runs: tracking behind group commit, profile reads, the live feed, dedupe pruning. */
function ingestParts(runtime: PulseRuntime) {
  const { infrastructure, store } = runtime;
  const commit = new GroupCommit(infrastructure.pool, ingestLogFor(store), runtime.ingest);
  const { fairness } = runtime;
  const ingestRate = fairness.ingestRate ? new TenantRateLimiter(fairness.ingestRate) : undefined;
  const live = new LiveFeed(store, infrastructure.codec);
  const retention = new DedupeRetention(infrastructure.pool, runtime.dedupe);
  return {
    commit,
    providers: [
      { provide: GroupCommit, useValue: commit },
      { provide: TenantKeys, useValue: new TenantKeys(infrastructure.pool) },
      {
        provide: ConsentGate,
        inject: [MetricsRegistry],
        useFactory: (metrics: MetricsRegistry) => new ConsentGate(infrastructure.pool, infrastructure.commands, metrics),
      },
      {
        provide: TrackingHandler,
        inject: [ConsentGate],
        useFactory: (consent: ConsentGate) => new TrackingHandler(infrastructure.codec, commit, ingestRate, consent),
      },
      { provide: TrackingPurposesStore, useValue: new TrackingPurposesStore(infrastructure.commands) },
      { provide: AudiencesStore, useValue: new AudiencesStore(infrastructure.commands, infrastructure.pool) },
      { provide: PulsePublicUrl, useValue: new PulsePublicUrl(runtime.publicUrl) },
      {
        provide: RefusalBudget,
        useValue: fairness.refusals
          ? new RefusalBudget(new TenantRateLimiter(fairness.refusals), fairness.refusals.hold)
          : new RefusalBudget(),
      },
      { provide: PROFILE_READS, useValue: new TenantConcurrencyLimiter(fairness.profileReadsPerTenant) },
      { provide: LIVE_VIEWS, useValue: new TenantConcurrencyLimiter(fairness.liveViewsPerTenant) },
      { provide: LiveTickets, useValue: new LiveTickets(runtime.liveTicketKey) },
      { provide: GroupReader, useValue: new GroupReader(infrastructure.pool, infrastructure.personalData) },
      {
        provide: ProfileReader,
        useValue: new ProfileReader(infrastructure.pool, infrastructure.personalData, infrastructure.blindIndexKey),
      },
      { provide: LiveFeed, useValue: live },
      { provide: DedupeRetention, useValue: retention },
      TrackingRoutes,
    ],
    tasks: (logger: Logger) => [live, new PeriodicTask('dedupe-prune', runtime.dedupe.intervalMs, () => retention.prune(), logger)],
  };
}

function audienceEvaluatorOf(runtime: PulseRuntime): AudienceEvaluator {
  const { infrastructure } = runtime;
  return new AudienceEvaluator({ store: runtime.store, codec: infrastructure.codec, personalData: infrastructure.personalData });
}

function profilesDeps(runtime: PulseRuntime, audiences: AudienceEvaluator) {
  const { infrastructure } = runtime;
  return {
    audiences,
    store: runtime.store,
    codec: infrastructure.codec,
    personalData: infrastructure.personalData,
    blindIndexKey: infrastructure.blindIndexKey,
    maxMergesPerIdentifier: runtime.maxMergesPerIdentifier,
  };
}
