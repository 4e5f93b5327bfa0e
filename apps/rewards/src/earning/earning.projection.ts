import type { EntityManager } from 'typeorm';
import {
  appendFromProjection,
  type CommandRunner,
  type EventCodec,
  type EventEnvelope,
  type Projection,
  type ProjectionRunner,
} from '#cqrs';
import type { AppendedEvents, EventStore } from '#eventstore';
import type { PersonalDataCodec } from '#personal-data';
import { erasureCompletion, erasureStreamFor } from '#contracts';
import type { CampaignEvent } from '../campaigns/campaign.events';
import type { ProgramDefinition, ProgramEvent } from '../program/program.events';
import { MEMBER_ID } from '../rewards.ports';
import { CAMPAIGNS_STREAM_PREFIX, PROGRAM_STREAM_PREFIX, programStreamFor, walletStreamFor } from '../rewards.streams';
import { orderAmountOf, orderIdOf, REFUND_EVENTS, type ClawBack } from '../wallet/refund';
import type { WalletCommand } from '../wallet/wallet.decider';
import {
  earningSourceOf,
  erasureOf,
  ERASURE_REQUESTED,
  type EarningSource,
  MESSAGE_RECEIVED,
  SOURCE_STREAM_PREFIXES,
  USER_ERASED,
  USER_REGISTERED,
} from './tracked-events.contract';
import { TenantStreamAsOf } from './as-of-log';
import { CampaignBudgets, type BatchBudgets } from './campaign-budgets';
import { WalletBatches, type WalletChange, type WalletWork } from './wallet-batch';

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
    streamNamePrefixes: [...SOURCE_STREAM_PREFIXES, PROGRAM_STREAM_PREFIX, CAMPAIGNS_STREAM_PREFIX],
    eventTypePrefixes: [
      MESSAGE_RECEIVED,
      USER_REGISTERED,
      USER_ERASED,
      ERASURE_REQUESTED,
      'ProgramPublished',
      'CampaignCreated',
      'CampaignStopped',
      'CampaignArchived',
    ],
  };
  readonly maxBatch = MAX_BATCH;
  /** Called with a batch's wallet changes once they are written, before the checkpoint commits (bench). */
  readonly effectListeners: ((sources: readonly EventEnvelope[], changes: readonly WalletChange[]) => void)[] = [];
  private readonly programs: TenantStreamAsOf<ProgramEvent, ProgramDefinition | undefined>;
  private readonly wallets: WalletBatches;
  private readonly campaigns: CampaignBudgets;

  constructor(
    commands: CommandRunner,
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    private readonly personalData: Pick<PersonalDataCodec, 'forget'>,
  ) {
    this.wallets = new WalletBatches(commands);
    this.campaigns = new CampaignBudgets(commands, store, codec);
    this.programs = new TenantStreamAsOf<ProgramEvent, ProgramDefinition | undefined>(store, codec, programStreamFor, {
      initialState: () => undefined,
      evolve: (_program, event) => definitionOf(event),
    });
  }

  /** Another replica may have applied program versions and campaign changes this one never saw. */
  resumed(): void {
    this.programs.forget();
    this.campaigns.forget();
  }

  /** Answers the wallet events it appended (in the batch's transaction on PostgreSQL). */
  async applyBatch(envelopes: readonly EventEnvelope[], tx: EntityManager): Promise<AppendedEvents[]> {
    const work = new Map<string, WalletWork & { items: WalletWork['items'][number][] }>();
    const erased: { tenantId: string; userId: string }[] = [];
    const budgets = this.campaigns.batch();
    const requests: EventEnvelope[] = [];
    for (const envelope of envelopes) {
      if (envelope.streamName.startsWith(PROGRAM_STREAM_PREFIX)) {
        this.programs.published(envelope as EventEnvelope<ProgramEvent>);
        continue;
      }
      if (envelope.streamName.startsWith(CAMPAIGNS_STREAM_PREFIX)) {
        this.campaigns.published(envelope as EventEnvelope<CampaignEvent>);
        continue;
      }
      const erasure = erasureOf(envelope);
      if (erasure?.erasureId !== undefined) requests.push(envelope);
      for (const command of erasure ? erasuresOf(erasure.userIds, envelope.createdAt) : [await this.commandFor(envelope, budgets)]) {
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
    }
    const changes = await this.wallets.apply([...work.values()], tx);
    const last = envelopes[envelopes.length - 1]!;
    const spent = await budgets.spend(changes, { tenantId: '', correlationId: last.id, causationId: last.id, now: last.createdAt }, tx);
    // Rewards' own copy of the person's key (when it keeps its key store apart from register's).
    for (const { tenantId, userId } of erased) await this.personalData.forget(tenantId, userId);
    for (const listener of this.effectListeners) listener(envelopes, changes);
    const appended: AppendedEvents[] = [
      ...changes.map(({ tenantId, userId, events }) => ({
        streamName: walletStreamFor(tenantId, userId),
        types: events.map((event) => event.type),
      })),
      ...spent,
    ];
    for (const request of requests) {
      const done = await this.reportDone(request, tx);
      if (done) appended.push(done);
    }
    return appended;
  }

  /** Rewards' part of an erasure request is done (its wallets closed in this batch): said on the request's stream. */
  private async reportDone(request: EventEnvelope, tx: EntityManager): Promise<AppendedEvents | undefined> {
    const { tenantId } = request.metadata;
    const erasureId = String((request.event.data as { erasureId: string }).erasureId);
    const now = new Date();
    const completion = await this.codec.encode(erasureCompletion(erasureId, 'rewards', now), {
      tenantId,
      correlationId: request.metadata.correlationId || request.id,
      causationId: request.id,
      now,
    });
    return appendFromProjection(this.store, tx, erasureStreamFor(tenantId, erasureId), [completion]);
  }

  private async commandFor(envelope: EventEnvelope, budgets: BatchBudgets): Promise<WalletCommand | undefined> {
    const source = earningSourceOf(envelope);
    // An id with `@` (an e-mail) would put personal data in a stream name: such events earn nothing.
    if (!source || !MEMBER_ID.test(source.userId)) return undefined;
    const program = await this.programs.at(source.tenantId, envelope.position);
    const refund = refundOf(source);
    if (refund === null) return undefined;
    if (refund) return { ...refund, program, now: envelope.createdAt };
    const campaigns = await budgets.offersFor(source.tenantId, envelope.position, source.source, program, envelope.createdAt);
    return { type: 'Earn', userId: source.userId, source: source.source, program, campaigns, now: envelope.createdAt };
  }
}

/** The wallets to close: only ids a wallet can have (an e-mail or other stray id never opened one). */
function erasuresOf(userIds: readonly string[], now: Date): WalletCommand[] {
  return userIds.filter((userId) => MEMBER_ID.test(userId)).map((userId) => ({ type: 'Erase' as const, userId, now }));
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
