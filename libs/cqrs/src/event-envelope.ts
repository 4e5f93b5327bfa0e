import type { JsonObject, Position } from '#eventstore';
import type { DomainEvent } from './event-types';

/** Metadata every Tessera event carries, whoever wrote it. */
export interface EventMetadata {
  readonly tenantId: string;
  readonly schemaVersion: number;
  /** The request or process the event belongs to, for tracing across services. */
  readonly correlationId: string;
  /** The id of the event or command that caused this one. */
  readonly causationId: string;
  /** When the fact happened according to the domain (the command's clock). */
  readonly occurredAt: string;
}

/** A stored event decoded for a reader: upcast to the current version, personal data opened. */
export interface EventEnvelope<E extends DomainEvent = DomainEvent> {
  readonly id: string;
  readonly streamName: string;
  readonly revision: bigint;
  readonly position: Position;
  readonly createdAt: Date;
  readonly event: E;
  readonly metadata: EventMetadata;
  /** True when the personal data of this event was erased (its subject's key destroyed). */
  readonly erased: boolean;
  /**
   * True when the personal fields were left sealed (still under `$personal` in the data) for a
   * reader that opens them itself, only when it needs them; `erased` is then not known yet.
   */
  readonly sealed?: boolean;
}

/** Context a command runs in: who it is for and how to trace it. */
export interface CommandContext {
  readonly tenantId: string;
  readonly correlationId: string;
  readonly causationId?: string;
  readonly now: Date;
}

/**
 * A stored event that no reader of this version can make sense of, whatever it retries: metadata
 * without a tenant, a schema version that is not a version, data that is not a JSON object. The
 * reason names what is wrong and never quotes the event's content (it may hold personal data).
 */
export class UndecodableEventError extends Error {
  override readonly name = 'UndecodableEventError';
  constructor(readonly reason: string) {
    super(`undecodable event: ${reason}`);
  }
}

export function metadataOf(raw: JsonObject): EventMetadata {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UndecodableEventError('event metadata is not a JSON object');
  const tenantId = raw.tenantId;
  if (typeof tenantId !== 'string' || tenantId === '') throw new UndecodableEventError('event metadata lacks tenantId');
  const schemaVersion = raw.schemaVersion ?? 1;
  if (typeof schemaVersion !== 'number' || !Number.isInteger(schemaVersion) || schemaVersion < 1) {
    throw new UndecodableEventError('event metadata has a schemaVersion that is not a positive integer');
  }
  return {
    tenantId,
    schemaVersion,
    correlationId: typeof raw.correlationId === 'string' ? raw.correlationId : '',
    causationId: typeof raw.causationId === 'string' ? raw.causationId : '',
    occurredAt: typeof raw.occurredAt === 'string' ? raw.occurredAt : '',
  };
}
