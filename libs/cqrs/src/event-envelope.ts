import type { JsonObject, Position } from '../../eventstore/src/event-store';
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
}

/** Context a command runs in: who it is for and how to trace it. */
export interface CommandContext {
  readonly tenantId: string;
  readonly correlationId: string;
  readonly causationId?: string;
  readonly now: Date;
}

export function metadataOf(raw: JsonObject): EventMetadata {
  const tenantId = raw.tenantId;
  if (typeof tenantId !== 'string') throw new Error('event metadata lacks tenantId');
  return {
    tenantId,
    schemaVersion: typeof raw.schemaVersion === 'number' ? raw.schemaVersion : 1,
    correlationId: typeof raw.correlationId === 'string' ? raw.correlationId : '',
    causationId: typeof raw.causationId === 'string' ? raw.causationId : '',
    occurredAt: typeof raw.occurredAt === 'string' ? raw.occurredAt : '',
  };
}
