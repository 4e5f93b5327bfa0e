import type { EntityManager } from 'typeorm';
import { undecodableReason, type EventCodec, type EventEnvelope, type Projection, type ProjectionRunner } from '#cqrs';
import { comparePositions, type AppendedEvents, type EventStore, type Position } from '#eventstore';
import type { PersonalDataCodec } from '#personal-data';
import type { ProgramDefinition, ProgramEvent } from '../program/program.events';
import { MEMBER_ID } from '../rewards.ports';
import { PROGRAM_STREAM_PREFIX, programStreamFor, walletStreamFor } from '../rewards.streams';
import { orderAmountOf, orderIdOf, REFUND_EVENTS, type ClawBack } from '../wallet/refund';
import type { WalletCommand } from '../wallet/wallet.decider';
import {
  earningSourceOf,
  erasedMemberOf,
  type EarningSource,
  MESSAGE_RECEIVED,
  SOURCE_STREAM_PREFIXES,
  USER_ERASED,
  USER_REGISTERED,
} from './tracked-events.contract';
import type { WalletBatches, WalletChange, WalletWork } from './wallet-batch';

/** The earning projection's name: its checkpoint row, its metrics' label, its parked events. */
export const EARNING_PROJECTION = 'rewards.earning';

/** Events per transaction: large enough that a backlog costs few commits, small enough to keep each short. */
const MAX_BATCH = 2000;

/**
 * Turns tracked events and sign-ups into wallet changes, and erasures into closed wallets, as a
 * checkpointed projection (`rewards.earning`). Each batch is planned in log order (a member's
 * commands stay in order, a program version applies from its own position on), then decided and
 * written wallet by wallet in one go (see WalletBatches). Exactly one effect per source event:
 * on PostgreSQL the wallet appends commit with the checkpoint; everywhere, every PointsEarned
 * carries its source id and a wallet refuses a source it has seen, so a replay (crash, second
 * replica, rebuild from the start) earns nothing twice.
 */
export class EarningProjection implements Projection {
  readonly name = EARNING_PROJECTION;
  readonly filter = {
    streamNamePrefixes: [...SOURCE_STREAM_PREFIXES, PROGRAM_STREAM_PREFIX],
    eventTypePrefixes: [MESSAGE_RECEIVED, USER_REGISTERED, USER_ERASED, 'ProgramPublished'],
  };
  readonly maxBatch = MAX_BATCH;
  /** Called with a batch's wallet changes once they are written, before the checkpoint commits (bench). */
  readonly effectListeners: ((sources: readonly EventEnvelope[], changes: readonly WalletChange[]) => void)[] = [];
  private readonly programs: ProgramsAsOf;

  constructor(
    private readonly wallets: WalletBatches,
    store: EventStore,
    codec: EventCodec,
    private readonly personalData: Pick<PersonalDataCodec, 'forget'>,
  ) {
    this.programs = new ProgramsAsOf(store, codec);
  }

  /** Another replica may have applied program versions this one never saw. */
  resumed(): void {
    this.programs.forget();
  }

  /** Answers the wallet events it appended (in the batch's transaction on PostgreSQL). */
  async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager): Promise<AppendedEvents[]> {
    const work = new Map<string, WalletWork & { items: WalletWork['items'][number][] }>();
    const erased: { tenantId: string; userId: string }[] = [];
    for (const envelope of envelopes) {
      if (envelope.streamName.startsWith(PROGRAM_STREAM_PREFIX)) {
        this.programs.published(envelope as EventEnvelope<ProgramEvent>);
        continue;
      }
      const command = await this.commandFor(envelope);
      if (!command) continue;
      if (command.type === 'Erase') erased.push({ tenantId: envelope.metadata.tenantId, userId: command.userId });
      const key = `${envelope.metadata.tenantId}.${command.userId}`;
      const wallet = work.get(key) ?? { tenantId: envelope.metadata.tenantId, userId: command.userId, items: [] };
      work.set(key, wallet);
      wallet.items.push({
        command,
        context: {
          tenantId: envelope.metadata.tenantId,
          correlationId: envelope.metadata.correlationId || envelope.id,
          causationId: envelope.id,
          now: envelope.createdAt,
        },
      });
    }
    const changes = await this.wallets.apply([...work.values()], tx);
    // Rewards' own copy of the person's key (when it keeps its key store apart from register's).
    for (const { tenantId, userId } of erased) await this.personalData.forget(tenantId, userId);
    for (const listener of this.effectListeners) listener(envelopes, changes);
    return changes.map(({ tenantId, userId, events }) => ({
      streamName: walletStreamFor(tenantId, userId),
      types: events.map((event) => event.type),
    }));
  }

  private async commandFor(envelope: EventEnvelope): Promise<WalletCommand | undefined> {
    const erasure = erasedMemberOf(envelope);
    if (erasure) return MEMBER_ID.test(erasure.userId) ? { type: 'Erase', userId: erasure.userId, now: envelope.createdAt } : undefined;
    const source = earningSourceOf(envelope);
    // An id with `@` (an e-mail) would put personal data in a stream name: such events earn nothing.
    if (!source || !MEMBER_ID.test(source.userId)) return undefined;
    const program = await this.programs.at(source.tenantId, envelope.position);
    const refund = refundOf(source);
    if (refund === null) return undefined;
    if (refund) return { ...refund, program, now: envelope.createdAt };
    return { type: 'Earn', userId: source.userId, source: source.source, program, now: envelope.createdAt };
  }
}

/**
 * An `Order Refunded` / `Order Returned` call as the clawback it asks for; undefined for any other
 * event, null for one that takes nothing back: sent by a client source (a write key anyone can copy
 * must not take a member's points away either), without an order id, or with a `total` that is no
 * amount (a refund of everything is one that names no total, never one whose total is garbled).
 */
function refundOf({ userId, source }: EarningSource): Omit<ClawBack, 'program' | 'now'> | null | undefined {
  const cause = Object.hasOwn(REFUND_EVENTS, source.name) ? REFUND_EVENTS[source.name] : undefined;
  if (!cause) return undefined;
  const orderId = orderIdOf(source.properties);
  const amount = orderAmountOf(source.properties);
  if (source.kind !== 'server' || orderId === undefined || amount === null) return null;
  return { type: 'ClawBack', userId, refundId: source.id, orderId, cause, amount: amount ?? null, fingerprint: 'tracked' };
}

/**
 * Each tenant's program as of a position in the log: events earn under the version published
 * before them, also when a batch holds a new version, and also when a restarted runner replays
 * events from before a version it has already seen.
 */
class ProgramsAsOf {
  private readonly byTenant = new Map<string, { program?: ProgramDefinition; since: Position }>();

  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
  ) {}

  /** What was learnt from the log can be stale once events were applied elsewhere; read again. */
  forget(): void {
    this.byTenant.clear();
  }

  published(envelope: EventEnvelope<ProgramEvent>): void {
    this.byTenant.set(envelope.metadata.tenantId, { program: definitionOf(envelope.event), since: envelope.position });
  }

  async at(tenantId: string, position: Position): Promise<ProgramDefinition | undefined> {
    const known = this.byTenant.get(tenantId);
    if (known && comparePositions(known.since, position) < 0) return known.program;
    let found: { program?: ProgramDefinition; since: Position } = { since: { commit: 0n, prepare: 0n } };
    for (const recorded of await this.store.readStream(programStreamFor(tenantId))) {
      if (comparePositions(recorded.position, position) >= 0) break;
      if (!this.codec.understands(recorded)) continue;
      const decoded = await this.codec.decode<ProgramEvent>(recorded).catch((error: unknown) => {
        // Passed over as the runner passes over it in the log (and records it there), rather than
        // failing every batch that needs this tenant's program.
        if (undecodableReason(error)) return undefined;
        throw error;
      });
      if (decoded) found = { program: definitionOf(decoded.event), since: recorded.position };
    }
    // A replay asks about the past: remember the answer only if it is not older than what is known,
    // or later events would earn under a version that was already replaced.
    if (!known || comparePositions(found.since, known.since) >= 0) this.byTenant.set(tenantId, found);
    return found.program;
  }
}

function definitionOf(event: ProgramEvent): ProgramDefinition {
  const { version: _version, publishedAt: _publishedAt, ...program } = event.data;
  return program;
}

/** The earning projection with the runner that feeds it: what tests and the bench wait on. */
export class Earning {
  constructor(
    readonly runner: ProjectionRunner,
    readonly projection: EarningProjection,
  ) {}
}
