import { ExpiringLruCache } from '#platform';
import type { ClientBase } from 'pg';
import type { DataSource, EntityManager, EntitySubscriberInterface, QueryRunner } from 'typeorm';
import type { CommandContext, EventCodec } from '#cqrs';
import {
  StreamsRefusedError,
  WrongExpectedRevisionError,
  type EventStore,
  type EventToAppend,
  type RecordedEvent,
  type TransactionalEventStore,
} from '#eventstore';
import { walletStreamFor } from '../rewards.streams';
import { walletDecider, type WalletCommand } from '../wallet/wallet.decider';
import type { WalletEvent } from '../wallet/wallet.events';
import type { WalletState } from '../wallet/wallet.state';

/** One member's commands of a batch, in log order. */
export interface WalletWork {
  readonly tenantId: string;
  readonly userId: string;
  readonly items: readonly { readonly command: WalletCommand; readonly context: CommandContext }[];
}

/** What a batch did to one wallet. */
export interface WalletChange {
  readonly tenantId: string;
  readonly userId: string;
  readonly events: readonly WalletEvent[];
}

interface Folded {
  state: WalletState;
  revision: bigint;
}

interface Decided {
  readonly stream: string;
  readonly work: WalletWork;
  /** The revision the decision was taken on: the append's expected revision. */
  readonly revision: bigint;
  readonly state: WalletState;
  readonly events: WalletEvent[];
  readonly toAppend: EventToAppend[];
}

const RETRIES_ON_CONFLICT = 20;
/** Wallet streams read at once when a batch touches wallets this process has not seen yet. */
const READ_CONCURRENCY = 16;

/**
 * Decides a whole batch of wallet commands and writes it, set-based: the wallets it touches are
 * folded (from memory, or read from the store when unknown), each wallet's commands are decided
 * in order on its state, and every wallet with something to append gets one append.
 *
 * On the PostgreSQL store the appends of all wallets are one statement inside the projection's
 * own transaction, so the wallet changes and the checkpoint commit or vanish together. On another
 * store (EventStoreDB) each wallet is appended on its own before the checkpoint commits; a crash
 * in between replays the batch, and the wallet's record of the source ids it has seen turns the
 * replay into nothing.
 *
 * A wallet leaves the in-memory cache while a batch decides on it (`evolve` reuses the state's
 * collections) and comes back only once its events are committed, so the cache never holds a
 * state the store does not: a rolled-back batch leaves its wallets to be read afresh.
 */
export class WalletBatches {
  private readonly cache: ExpiringLruCache<Folded>;
  /** States decided in a transaction that has not committed yet, by its query runner. */
  private readonly uncommitted = new Map<QueryRunner, Map<string, Folded>>();

  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    dataSource: DataSource,
    maxEntries = 50_000,
  ) {
    this.cache = new ExpiringLruCache(maxEntries, Number.POSITIVE_INFINITY);
    const settle = (queryRunner: QueryRunner, committed: boolean) => {
      const states = this.uncommitted.get(queryRunner);
      if (!states) return;
      this.uncommitted.delete(queryRunner);
      if (committed) for (const [stream, folded] of states) this.remember(stream, folded);
    };
    const subscriber: EntitySubscriberInterface = {
      afterTransactionCommit: (event) => settle(event.queryRunner, true),
      afterTransactionRollback: (event) => settle(event.queryRunner, false),
    };
    (dataSource.subscribers as EntitySubscriberInterface[]).push(subscriber);
  }

  /** Decides and writes every wallet's commands; answers what changed. */
  async apply(work: readonly WalletWork[], tx: EntityManager): Promise<WalletChange[]> {
    if (work.length === 0) return [];
    const transactional = this.store.transactional;
    const client = transactional
      ? (tx.queryRunner as unknown as { databaseConnection?: ClientBase } | undefined)?.databaseConnection
      : undefined;
    const folded = await this.take(work.map((each) => walletStreamFor(each.tenantId, each.userId)));
    const decided = await Promise.all(work.map((each) => this.decide(each, folded.get(walletStreamFor(each.tenantId, each.userId))!)));
    const written =
      transactional && client
        ? await this.appendInTransaction(transactional, client, tx.queryRunner!, decided)
        : await this.appendEach(decided);
    return written.filter((each) => each.events.length > 0).map(({ work: { tenantId, userId }, events }) => ({ tenantId, userId, events }));
  }

  private async appendInTransaction(
    store: TransactionalEventStore,
    client: ClientBase,
    queryRunner: QueryRunner,
    decided: Decided[],
  ): Promise<Decided[]> {
    for (let attempt = 0; ; attempt++) {
      const appending = decided.filter((each) => each.toAppend.length > 0);
      try {
        const results = await store.appendManyWithin(
          client,
          appending.map((each) => ({ streamName: each.stream, events: each.toAppend, expectedRevision: each.revision })),
        );
        const states = new Map<string, Folded>(decided.map((each) => [each.stream, { state: each.state, revision: each.revision }]));
        appending.forEach((each, index) => (states.get(each.stream)!.revision = results[index]!.nextExpectedRevision));
        this.uncommitted.set(queryRunner, states);
        return decided;
      } catch (error) {
        if (!(error instanceof StreamsRefusedError) || attempt >= RETRIES_ON_CONFLICT) throw error;
        // Someone else wrote those wallets (a redemption, another replica): decide them again on what is stored.
        const stored = await this.readAll(error.streamNames);
        for (const [index, each] of decided.entries()) {
          const folded = stored.get(each.stream);
          if (folded) decided[index] = await this.decide(each.work, folded);
        }
      }
    }
  }

  private async appendEach(decided: Decided[]): Promise<Decided[]> {
    return inParallel(decided, READ_CONCURRENCY, async (first) => {
      for (let attempt = 0, each = first; ; attempt++) {
        try {
          const revision =
            each.toAppend.length > 0
              ? (
                  await this.store.appendToStream(each.stream, each.toAppend, {
                    expectedRevision: each.revision === -1n ? 'no_stream' : each.revision,
                  })
                ).nextExpectedRevision
              : each.revision;
          this.remember(each.stream, { state: each.state, revision });
          return each;
        } catch (error) {
          if (!(error instanceof WrongExpectedRevisionError) || attempt >= RETRIES_ON_CONFLICT) throw error;
          each = await this.decide(each.work, await this.read(each.stream));
        }
      }
    });
  }

  private async decide(work: WalletWork, folded: Folded): Promise<Decided> {
    let state = folded.state;
    const events: WalletEvent[] = [];
    const toAppend: EventToAppend[] = [];
    for (const { command, context } of work.items) {
      const decision = walletDecider.decide(command, state);
      if (!decision.accepted || decision.events.length === 0) continue;
      for (const event of decision.events) state = walletDecider.evolve(state, event);
      events.push(...decision.events);
      toAppend.push(...(await this.codec.encodeAll(decision.events, context)));
    }
    return { stream: walletStreamFor(work.tenantId, work.userId), work, revision: folded.revision, state, events, toAppend };
  }

  /** Takes the wallets out of the cache, reading the ones it does not hold. */
  private async take(streams: readonly string[]): Promise<Map<string, Folded>> {
    const folded = new Map<string, Folded>();
    const missing: string[] = [];
    for (const stream of streams) {
      const cached = this.cache.get(stream);
      if (cached) {
        this.cache.delete(stream);
        folded.set(stream, cached);
      } else missing.push(stream);
    }
    for (const [stream, read] of await this.readAll(missing)) folded.set(stream, read);
    return folded;
  }

  /** Folds wallets from the store: in one query on PostgreSQL, a few at a time elsewhere. */
  private async readAll(streams: readonly string[]): Promise<Map<string, Folded>> {
    const folded = new Map<string, Folded>();
    if (this.store.readStreams) {
      for (const [stream, recorded] of await this.store.readStreams(streams)) folded.set(stream, await this.fold(recorded));
    } else {
      const read = await inParallel(streams, READ_CONCURRENCY, (stream) => this.read(stream));
      streams.forEach((stream, index) => folded.set(stream, read[index]!));
    }
    return folded;
  }

  private async read(stream: string): Promise<Folded> {
    return this.fold(await this.store.readStream(stream));
  }

  private async fold(recorded: readonly RecordedEvent[]): Promise<Folded> {
    let state = walletDecider.initialState();
    for (const event of recorded) {
      if (this.codec.understands(event)) state = walletDecider.evolve(state, (await this.codec.decode<WalletEvent>(event)).event);
    }
    return { state, revision: recorded.length > 0 ? recorded[recorded.length - 1]!.revision : -1n };
  }

  private remember(stream: string, folded: Folded): void {
    this.cache.set(stream, folded);
  }
}

/** Maps with at most `limit` calls in flight, answers in input order. */
async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
