import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CommandRunner, EventCodec } from '#cqrs';
import { WrongExpectedRevisionError, type RecordedEvent } from '#eventstore';
import {
  ERASURE_SERVICES,
  ErasureRequested,
  emailReservationStreamFor,
  erasureStreamFor,
  type ErasureIdentities,
  type ErasureService,
} from '#contracts';
import { reservationDecider } from '../account/email-reservation';
import { ErasureLedger } from './erasure-ledger';
import { Clock, EmailIndex, EVENT_STORE, type EventStore, type TenantRef } from '../register.ports';

/** Whom an erasure request names, as the caller gave it (an e-mail in clear, only until it is indexed). */
export interface ErasureTarget {
  readonly userId?: string;
  readonly email?: string;
  readonly anonymousId?: string;
}

export interface ErasureStatus {
  readonly id: string;
  readonly requestedAt: string;
  readonly requestedBy: 'user' | 'tenant';
  readonly status: 'pending' | 'completed';
  readonly completedAt: string | null;
  readonly services: Record<ErasureService, { status: 'pending' } | { status: 'done'; completedAt: string }>;
}

/**
 * Erasure requests as a resource: the request is an event on its own stream (see
 * ERASURE_STREAM_PREFIX), each service appends its completion next to it, and the status is read
 * back from that stream. The request's id is derived from whom it names, so asking twice for the
 * same people is the same request; a person who signed up again after an erasure has a new account
 * id, hence a new request.
 */
@Injectable()
export class ErasureRequests {
  constructor(
    private readonly runner: CommandRunner,
    private readonly codec: EventCodec,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly emailIndex: EmailIndex,
    private readonly clock: Clock,
    private readonly ledger: ErasureLedger,
  ) {}

  /** Records the request (or finds the same one); `created` says which. */
  async request(
    tenant: TenantRef,
    target: ErasureTarget,
    requestedBy: 'user' | 'tenant',
    correlationId: string,
  ): Promise<{ id: string; created: boolean }> {
    const identities = await this.identitiesOf(tenant.tenantId, target);
    const id = erasureIdOf(tenant.tenantId, identities);
    const stream = erasureStreamFor(tenant.tenantId, id);
    // Asked before: the same request (once complete its key is gone, so it could not be sealed again anyway).
    if ((await this.store.readStream(stream, { maxCount: 1 })).length > 0) return { id, created: false };
    const now = this.clock.now();
    // In the ledger first: whatever the log holds, the ledger holds too, so a restore cannot outlive it.
    await this.ledger.record({ tenantId: tenant.tenantId, erasureId: id, requestedBy, requestedAt: now.toISOString(), ...identities });
    const event = await this.codec.encode(ErasureRequested({ erasureId: id, requestedBy, requestedAt: now.toISOString(), ...identities }), {
      tenantId: tenant.tenantId,
      correlationId,
      now,
    });
    try {
      await this.store.appendToStream(stream, [event], { expectedRevision: 'no_stream' });
      return { id, created: true };
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError) return { id, created: false };
      throw error;
    }
  }

  /** The request's status, or undefined when the tenant has no such request. */
  async status(tenantId: string, id: string): Promise<ErasureStatus | undefined> {
    return statusOf(id, await this.store.readStream(erasureStreamFor(tenantId, id)));
  }

  /**
   * Register's own accounts among the identities: a userId is one if it names an account, an
   * e-mail if an account holds its reservation. Tracked identities go as they are, an e-mail as
   * its blind index (which pulse keeps e-mail traits under too).
   */
  async identitiesOf(tenantId: string, target: ErasureTarget): Promise<ErasureIdentities> {
    const userIds = new Set<string>(target.userId === undefined ? [] : [target.userId]);
    const emailIndexes: string[] = [];
    if (target.email !== undefined) {
      const index = this.emailIndex.of(tenantId, target.email);
      emailIndexes.push(index);
      const { state } = await this.runner.load(emailReservationStreamFor(tenantId, index), reservationDecider);
      if (state.holder) userIds.add(state.holder);
    }
    return {
      userIds: [...userIds].sort(),
      anonymousIds: target.anonymousId === undefined ? [] : [target.anonymousId],
      emailIndexes,
    };
  }
}

/** A name-based UUID (version 8) of the tenant and the identities, so that the same request is one request. */
function erasureIdOf(tenantId: string, identities: ErasureIdentities): string {
  return nameBasedUuid(['tessera/erasure/v1', tenantId, identities.userIds, identities.anonymousIds, identities.emailIndexes]);
}

/** A version 8 UUID from a hash of the parts: the same parts, the same id. */
export function nameBasedUuid(parts: readonly unknown[]): string {
  const bytes = createHash('sha256').update(JSON.stringify(parts)).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Folds a request's stream into its status; only the fields in clear are read (the identities stay sealed). */
export function statusOf(id: string, recorded: readonly RecordedEvent[]): ErasureStatus | undefined {
  const request = recorded.find((event) => event.type === 'ErasureRequested');
  if (!request) return undefined;
  const done = new Map<string, string>();
  for (const event of recorded) {
    if (event.type !== 'ErasureCompleted') continue;
    const { service, completedAt } = event.data as { service: string; completedAt: string };
    if (!done.has(service)) done.set(service, completedAt);
  }
  const services = Object.fromEntries(
    ERASURE_SERVICES.map((service) => {
      const at = done.get(service);
      return [service, at ? { status: 'done' as const, completedAt: at } : { status: 'pending' as const }];
    }),
  ) as ErasureStatus['services'];
  const completed = ERASURE_SERVICES.every((service) => done.has(service));
  const data = request.data as { requestedAt: string; requestedBy: 'user' | 'tenant' };
  return {
    id,
    requestedAt: data.requestedAt,
    requestedBy: data.requestedBy,
    status: completed ? 'completed' : 'pending',
    completedAt: completed
      ? ERASURE_SERVICES.map((service) => done.get(service)!)
          .sort()
          .at(-1)!
      : null,
    services,
  };
}
