import { ExpiringLruCache } from '#platform';
import { WrongExpectedRevisionError, type EventStore, type Position } from '#eventstore';
import type { CommandContext, Decider, DomainEvent, EventCodec } from '#cqrs';

export type Outcome<Event, Rejection> =
  | { readonly accepted: true; readonly events: readonly Event[]; readonly position?: Position }
  | { readonly accepted: false; readonly rejection: Rejection };

interface Entry {
  state: unknown;
  revision: bigint;
}

/**
 * Runs deciders against streams whose folded state it keeps in memory. Decisions are taken on the
 * cached state and appended with the cached revision, so a stale cache (another replica wrote)
 * cannot slip through: the store refuses the append, the cache reads the stream's tail and the
 * command is decided again. In this process, commands and reads of one stream take turns, which
 * turns 50 concurrent redemptions on one wallet into a queue instead of 50 retry storms.
 */
export class CachedStreams {
  private readonly entries: ExpiringLruCache<Entry>;
  private readonly turns = new Map<string, Promise<void>>();

  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    maxEntries = 50_000,
  ) {
    this.entries = new ExpiringLruCache(maxEntries, Number.POSITIVE_INFINITY);
  }

  async handle<Command, Event extends DomainEvent, State, Rejection>(request: {
    readonly streamName: string;
    readonly decider: Decider<Command, Event, State, Rejection>;
    readonly command: Command;
    readonly context: CommandContext;
    readonly retriesOnConflict?: number;
  }): Promise<Outcome<Event, Rejection>> {
    const { streamName, decider, command, context } = request;
    const retries = request.retriesOnConflict ?? 20;
    return this.inTurn(streamName, async () => {
      const entry = await this.entry(streamName, decider, false);
      for (let attempt = 0; ; attempt++) {
        const decision = decider.decide(command, entry.state as State);
        if (!decision.accepted) {
          // A rejection may rest on a stale cache (points earned on another replica): confirm it first.
          if (await this.catchUp(streamName, decider, entry)) continue;
          return decision;
        }
        if (decision.events.length === 0) return { accepted: true, events: [] };
        try {
          const toAppend = await this.codec.encodeAll(decision.events, context);
          const expectedRevision = entry.revision === -1n ? 'no_stream' : entry.revision;
          const result = await this.store.appendToStream(streamName, toAppend, { expectedRevision });
          let state = entry.state as State;
          for (const event of decision.events) state = decider.evolve(state, event);
          entry.state = state;
          entry.revision = result.nextExpectedRevision;
          return { accepted: true, events: decision.events, position: result.position };
        } catch (error) {
          if (!(error instanceof WrongExpectedRevisionError) || attempt >= retries) throw error;
          await this.catchUp(streamName, decider, entry);
        }
      }
    });
  }

  /** The stream's current state, read through the cache (its tail is always checked). */
  async load<Event extends DomainEvent, State>(
    streamName: string,
    decider: Pick<Decider<unknown, Event, State, unknown>, 'initialState' | 'evolve'>,
  ): Promise<{ state: State; revision: bigint }> {
    return this.inTurn(streamName, async () => {
      const entry = await this.entry(streamName, decider, true);
      return { state: entry.state as State, revision: entry.revision };
    });
  }

  private async entry<Event extends DomainEvent, State>(
    streamName: string,
    decider: Pick<Decider<unknown, Event, State, unknown>, 'initialState' | 'evolve'>,
    checkTail: boolean,
  ): Promise<Entry> {
    let entry = this.entries.get(streamName);
    if (entry) {
      if (checkTail) await this.catchUp(streamName, decider, entry);
      return entry;
    }
    entry = { state: decider.initialState(), revision: -1n };
    await this.catchUp(streamName, decider, entry);
    this.entries.set(streamName, entry);
    return entry;
  }

  /** Folds events appended after the entry's revision; true when there were any. */
  private async catchUp<Event extends DomainEvent, State>(
    streamName: string,
    decider: Pick<Decider<unknown, Event, State, unknown>, 'initialState' | 'evolve'>,
    entry: Entry,
  ): Promise<boolean> {
    const recorded = await this.store.readStream(streamName, { fromRevision: entry.revision + 1n });
    if (recorded.length === 0) return false;
    let state = entry.state as State;
    for (const event of recorded) {
      if (!this.codec.understands(event)) continue;
      state = decider.evolve(state, (await this.codec.decode<Event>(event)).event);
    }
    entry.state = state;
    entry.revision = recorded[recorded.length - 1]!.revision;
    return true;
  }

  private async inTurn<T>(streamName: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(streamName) ?? Promise.resolve();
    let done!: () => void;
    const gate = new Promise<void>((resolve) => (done = resolve));
    const mine = previous.then(() => gate);
    this.turns.set(streamName, mine);
    await previous;
    try {
      return await work();
    } catch (error) {
      // A half-folded or half-applied entry must not outlive the error.
      this.entries.delete(streamName);
      throw error;
    } finally {
      done();
      if (this.turns.get(streamName) === mine) this.turns.delete(streamName);
    }
  }
}
