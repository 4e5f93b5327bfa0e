import type { EventStore, RecordedEvent } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { createTestDatabase } from '../../../test/support/database';
import { accept, reject, type Decider } from '../src/decider';
import { EventCodec, type PersonalDataSealer } from '../src/event-codec';
import { defineEvent, EventRegistry, type EventOf } from '../src/event-types';

/**
 * A ledger for the command-handling specs: each entry moves a balance that may not go below
 * zero, and records the balance it left, so a stream shows whether every decision saw the one
 * before it (see expectUnbrokenChain). Like a wallet, `evolve` hands its list of amounts on to the
 * next state instead of copying it: a state evolved twice, or by two holders, shows it.
 */
export const Entered = defineEvent<{ amount: number; balance: number; by: string }>()('Entered');
export type LedgerEvent = EventOf<typeof Entered>;
export interface LedgerState {
  readonly balance: number;
  readonly amounts: number[];
}
export interface Entry {
  readonly amount: number;
  readonly by: string;
}
export interface Overdrawn {
  readonly kind: 'Overdrawn';
  readonly balance: number;
}

const ledgerDecider: Decider<Entry, LedgerEvent, LedgerState, Overdrawn> = {
  initialState: () => ({ balance: 0, amounts: [] }),
  evolve: (state, event) => {
    state.amounts.push(event.data.amount);
    return { balance: event.data.balance, amounts: state.amounts };
  },
  decide: (entry, state) =>
    state.balance + entry.amount < 0
      ? reject({ kind: 'Overdrawn', balance: state.balance })
      : accept(Entered({ amount: entry.amount, balance: state.balance + entry.amount, by: entry.by })),
};

const noPersonalData: PersonalDataSealer = { seal: async (_t, _s, data) => data, open: async (_t, data) => ({ data, erased: false }) };

/** The ledger's decider, a codec for its events, and a context for its commands. */
export const ledger = {
  decider: ledgerDecider,
  codec: (): EventCodec => new EventCodec(new EventRegistry([Entered]), noPersonalData),
  context: { tenantId: 't1', correlationId: 'c1', now: new Date('2026-12-06T12:00:00Z') },
};

/** A migrated PostgreSQL store on a database of its own for the describe block it is called in. */
export function useStore(prefix: string): () => PostgresEventStore {
  let store: PostgresEventStore | undefined;
  beforeAll(async () => {
    store = await PostgresEventStore.connect(await createTestDatabase(prefix));
    await store.migrate();
  });
  afterAll(() => store?.close());
  return () => store!;
}

/** Every entry's balance is the balance before it plus its amount: no decision missed one before it. */
export function expectUnbrokenChain(recorded: readonly RecordedEvent[]): void {
  let balance = 0;
  for (const [index, event] of recorded.entries()) {
    const data = event.data as { amount: number; balance: number };
    expect({ revision: event.revision, balance: data.balance }).toEqual({ revision: BigInt(index), balance: balance + data.amount });
    balance = data.balance;
  }
}

/** Records each wait instead of waiting. */
export function recordedWaits(): { waits: number[]; sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

/** The store's reads, counted: which path a command took, through the real store. */
export function countingReads<S extends EventStore>(store: S): { store: S; reads: { whole: number; tails: number; many: number } } {
  const reads = { whole: 0, tails: 0, many: 0 };
  const counting = Object.create(store) as S;
  counting.readStream = (streamName, options) => {
    if ((options?.fromRevision ?? 0n) > 0n) reads.tails++;
    else reads.whole++;
    return store.readStream(streamName, options);
  };
  if (store.readStreams) {
    counting.readStreams = (names) => {
      reads.many++;
      return store.readStreams!(names);
    };
  }
  return { store: counting, reads };
}

/** The port alone, as a store without capabilities (EventStoreDB) offers it. */
export function withoutCapabilities(store: EventStore): EventStore {
  return {
    appendToStream: (streamName, events, options) => store.appendToStream(streamName, events, options),
    readStream: (streamName, options) => store.readStream(streamName, options),
    subscribeToAll: (options) => store.subscribeToAll(options),
    headPosition: () => store.headPosition(),
    removeEventsBefore: (streamName, before, maxCount) => store.removeEventsBefore(streamName, before, maxCount),
    ping: () => store.ping(),
    close: async () => undefined,
  };
}
