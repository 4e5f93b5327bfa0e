export {
  type BatchRequest,
  type CommandOutcome,
  CommandRunner,
  type CommandRunnerOptions,
  type StreamChange,
  type StreamCommand,
  type StreamWork,
  transactionClientOf,
} from './command-handling';
export { type ConflictRetry, conflictDelayMs, DEFAULT_CONFLICT_RETRY } from './conflict-retry';
export { type Decider, type Decision, accept, fold, reject } from './decider';
export { EventCodec, type PersonalDataSealer } from './event-codec';
export { type CommandContext, type EventEnvelope } from './event-envelope';
export { type DomainEvent, type EventDefinition, type EventOf, EventRegistry, defineEvent } from './event-types';
export { PeriodicTask } from './periodic-task';
export { ProjectionMetrics } from './projection-metrics';
export { type Projection, type ProjectionLogger } from './projection';
export { appendFromProjection } from './projection-appends';
export { KeyDestructionListener } from './key-destruction-listener';
export { type ClassifiedFailure, type FailureClass, classifyFailure, undecodableReason } from './projection-failures';
export { ProjectionRunner, type RetryOutcome } from './projection-runner';
export { CHECKPOINTS_DDL, migrateProjectionTables } from './projection-tables';
export { type ParkedEventView } from './parked-events';
export { ParkedEventsAdmin, ParkedEventsController, type ParkedEventsWiring, adminTokenCheck, parkedEventsApi } from './parked-events.http';
export { type BackgroundTask, RuntimeLifecycle, projectionRunners } from './runtime-lifecycle';
export { serviceEnvSchema } from './service-config';
export { ServiceInfrastructure } from './service-infrastructure';
