import type { EventStore, RecordedEvent } from '#eventstore';
import { fold, type Decider } from './decider';
import type { EventCodec } from './event-codec';
import type { EventEnvelope } from './event-envelope';
import type { DomainEvent } from './event-types';

export type Evolving<Event extends DomainEvent, State> = Pick<Decider<unknown, Event, State, unknown>, 'initialState' | 'evolve'>;

/** A stream's state as command handling knows it: folded up to `revision` (-1n: no stream yet). */
export interface Known<State> {
  readonly state: State;
  readonly revision: bigint;
  /** Read from the store during this call: a rejection decided on it is the store's answer. */
  readonly confirmed: boolean;
  /** Taken to be a new stream without a read: a conflict then proves the hint wrong, not a race lost. */
  readonly hinted?: boolean;
}

/** Streams read at once when the store cannot read several in one round trip. */
const READ_CONCURRENCY = 16;

/** Reads streams and folds them with a decider's `evolve`, whole or from where a state left off. */
export class StreamReader {
  constructor(
    private readonly store: EventStore,
    private readonly codec: EventCodec,
    /** Pass over event types the codec does not know instead of failing the read (rewards' streams). */
    private readonly passOverUnknownEvents: boolean,
  ) {}

  /** The whole stream, folded, with the envelopes it was folded from. */
  async whole<Event extends DomainEvent, State>(
    streamName: string,
    decider: Evolving<Event, State>,
  ): Promise<Known<State> & { envelopes: EventEnvelope<Event>[] }> {
    const recorded = await this.store.readStream(streamName);
    const envelopes = await this.decode<Event>(recorded);
    return { ...this.folded(decider, envelopes, decider.initialState(), recorded, -1n), envelopes };
  }

  /**
   * The events appended after `known`, folded onto its state (which is used up when there are
   * any, see fold). `changed` says whether there were.
   */
  async tail<Event extends DomainEvent, State>(
    streamName: string,
    decider: Evolving<Event, State>,
    known: Known<State>,
  ): Promise<{ known: Known<State>; changed: boolean }> {
    const recorded = await this.store.readStream(streamName, { fromRevision: known.revision + 1n });
    if (recorded.length === 0) return { known: { state: known.state, revision: known.revision, confirmed: true }, changed: false };
    return { known: this.folded(decider, await this.decode<Event>(recorded), known.state, recorded, known.revision), changed: true };
  }

  /** Several whole streams: in one round trip where the store can (readStreams), a few at a time otherwise. */
  async many<Event extends DomainEvent, State>(
    streamNames: readonly string[],
    decider: Evolving<Event, State>,
  ): Promise<Map<string, Known<State>>> {
    const known = new Map<string, Known<State>>();
    if (streamNames.length === 0) return known;
    if (this.store.readStreams) {
      const streams = await this.store.readStreams(streamNames);
      await Promise.all(
        streamNames.map(async (name) => {
          const recorded = streams.get(name) ?? [];
          known.set(name, this.folded(decider, await this.decode<Event>(recorded), decider.initialState(), recorded, -1n));
        }),
      );
      return known;
    }
    const read = await inParallel(streamNames, READ_CONCURRENCY, (name) => this.whole(name, decider));
    streamNames.forEach((name, index) => known.set(name, { state: read[index]!.state, revision: read[index]!.revision, confirmed: true }));
    return known;
  }

  private folded<Event extends DomainEvent, State>(
    decider: Evolving<Event, State>,
    envelopes: readonly EventEnvelope<Event>[],
    from: State,
    recorded: readonly RecordedEvent[],
    revisionBefore: bigint,
  ): Known<State> {
    const state = fold(
      decider,
      envelopes.map((envelope) => envelope.event),
      from,
    );
    return { state, revision: recorded.length > 0 ? recorded[recorded.length - 1]!.revision : revisionBefore, confirmed: true };
  }

  private decode<Event extends DomainEvent>(recorded: readonly RecordedEvent[]): Promise<EventEnvelope<Event>[]> {
    const readable = this.passOverUnknownEvents ? recorded.filter((event) => this.codec.understands(event)) : recorded;
    return Promise.all(readable.map((event) => this.codec.decode<Event>(event)));
  }
}

/** Maps with at most `limit` calls in flight; answers in input order. */
export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
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
