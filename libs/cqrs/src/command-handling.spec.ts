import { WrongExpectedRevisionError, type EventStore } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { countingReads, expectUnbrokenChain, ledger, recordedWaits, useStore, type Entry } from '../testing/ledger';
import { CommandRunner } from './command-handling';
import { conflictDelayMs, DEFAULT_CONFLICT_RETRY } from './conflict-retry';
import { accept, reject, type Decider } from './decider';
import { defineEvent, EventRegistry, type EventOf } from './event-types';
import { EventCodec } from './event-codec';

/** A seat that one holder claims; a second claim is refused. */
const SeatClaimed = defineEvent<{ holder: string }>()('SeatClaimed');
type SeatEvent = EventOf<typeof SeatClaimed>;
type Claim = { readonly holder: string };
const seatDecider: Decider<Claim, SeatEvent, { holder?: string }, { kind: 'Taken'; by: string }> = {
  initialState: () => ({}),
  evolve: (_state, event) => ({ holder: event.data.holder }),
  decide: (command, state) =>
    state.holder ? reject({ kind: 'Taken', by: state.holder }) : accept(SeatClaimed({ holder: command.holder })),
};
const seatCodec = () =>
  new EventCodec(new EventRegistry([SeatClaimed]), {
    seal: async (_t, _s, data) => data,
    open: async (_t, data) => ({ data, erased: false }),
  });

describe('command runner: one command on one stream', () => {
  let store: PostgresEventStore;
  let runner: CommandRunner;
  let reads: ReturnType<typeof countingReads>['reads'];

  const storeOf = useStore('commands');
  beforeAll(() => {
    store = storeOf();
    const counting = countingReads(store);
    reads = counting.reads;
    runner = new CommandRunner(counting.store, seatCodec());
  });
  beforeEach(() => {
    Object.assign(reads, { whole: 0, tails: 0, many: 0 });
  });

  const claim = (streamName: string, holder: string, options: { expectNewStream?: boolean; retriesOnConflict?: number } = {}) =>
    runner.handle({ streamName, decider: seatDecider, command: { holder }, context: ledger.context, ...options });

  test('decides on the stream it read and appends at that revision', async () => {
    expect(await claim('seat-a', 'ada')).toMatchObject({ accepted: true, nextExpectedRevision: 0n });
    expect(await claim('seat-a', 'bob')).toEqual({ accepted: false, rejection: { kind: 'Taken', by: 'ada' } });
    expect(reads.whole).toBe(2);
  });

  test('a new-stream hint appends without reading when the stream is new', async () => {
    const outcome = await claim('seat-b', 'ada', { expectNewStream: true });
    expect(outcome).toMatchObject({ accepted: true, nextExpectedRevision: 0n });
    expect(reads).toEqual({ whole: 0, tails: 0, many: 0 });
    expect((await store.readStream('seat-b')).map((event) => event.type)).toEqual(['SeatClaimed']);
  });

  test('a wrong new-stream hint falls back to reading, so the decision sees the real state', async () => {
    await claim('seat-c', 'ada');
    Object.assign(reads, { whole: 0, tails: 0 });
    const outcome = await claim('seat-c', 'bob', { expectNewStream: true, retriesOnConflict: 0 });
    expect(outcome).toEqual({ accepted: false, rejection: { kind: 'Taken', by: 'ada' } });
    expect(reads.whole).toBe(1);
    expect(await store.readStream('seat-c')).toHaveLength(1);
  });

  test('concurrent claims with the hint: exactly one holder, every other claim refused', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => claim('seat-d', `person-${i}`, { expectNewStream: true, retriesOnConflict: 3 })),
    );
    const winners = outcomes.filter((outcome) => outcome.accepted);
    expect(winners).toHaveLength(1);
    const events = await store.readStream('seat-d');
    expect(events).toHaveLength(1);
    const holder = (events[0]!.data as { holder: string }).holder;
    for (const outcome of outcomes.filter((o) => !o.accepted))
      expect(outcome).toEqual({ accepted: false, rejection: { kind: 'Taken', by: holder } });
  });

  test('storeWith stores a decision in the caller’s write at the revision decided on; refused there, it is decided again and offered again', async () => {
    await claim('seat-w', 'ada');
    // A seat anyone may claim again: every claim is an event.
    const anyone = { ...seatDecider, decide: (command: Claim) => accept(SeatClaimed({ holder: command.holder })) };
    const offered: { events: string[]; expectedRevision: bigint }[] = [];
    let raced = false;
    const outcome = await runner.handle({
      streamName: 'seat-w',
      decider: anyone,
      command: { holder: 'bob' },
      context: ledger.context,
      retriesOnConflict: 1,
      storeWith: async ({ events, append }) => {
        offered.push({ events: events.map((event) => event.data.holder), expectedRevision: append.expectedRevision });
        // The first time, another writer gets there first: the caller's guarded write is refused.
        if (!raced) {
          raced = true;
          await runner.handle({ streamName: 'seat-w', decider: anyone, command: { holder: 'cy' }, context: ledger.context });
          throw new WrongExpectedRevisionError('seat-w', append.expectedRevision);
        }
        return store.appendToStream(append.streamName, append.events, { expectedRevision: append.expectedRevision });
      },
    });
    expect(offered).toEqual([
      { events: ['bob'], expectedRevision: 0n },
      { events: ['bob'], expectedRevision: 1n },
    ]);
    expect(outcome).toMatchObject({ accepted: true, nextExpectedRevision: 2n });
    expect((await store.readStream('seat-w')).map((event) => (event.data as { holder: string }).holder)).toEqual(['ada', 'cy', 'bob']);
  });

  test('storeWith answering undefined has the decision appended as usual', async () => {
    const outcome = await runner.handle({
      streamName: 'seat-u',
      decider: seatDecider,
      command: { holder: 'ada' },
      context: ledger.context,
      storeWith: async () => undefined,
    });
    expect(outcome).toMatchObject({ accepted: true, nextExpectedRevision: 0n });
    expect(await store.readStream('seat-u')).toHaveLength(1);
  });

  test('without retries, a lost race surfaces as a conflict', async () => {
    await claim('seat-e', 'ada');
    const racing = new CommandRunner(
      Object.assign(Object.create(store) as PostgresEventStore, { readStream: async () => [] }),
      seatCodec(),
    );
    await expect(
      racing.handle({
        streamName: 'seat-e',
        decider: seatDecider,
        command: { holder: 'bob' },
        context: ledger.context,
        retriesOnConflict: 0,
      }),
    ).rejects.toBeInstanceOf(WrongExpectedRevisionError);
  });
});

describe('command runner: retry on conflict', () => {
  const storeOf = useStore('conflicts');
  let store: PostgresEventStore;
  beforeAll(() => (store = storeOf()));

  const enter = (runner: CommandRunner, streamName: string, entry: Entry, retriesOnConflict?: number) =>
    runner.handle({ streamName, decider: ledger.decider, command: entry, context: ledger.context, retriesOnConflict });

  /** The store, on which another writer enters `amount` first before each of the first `times` appends to `stream`. */
  function overtaken(stream: string, times: number, amount = 10): EventStore {
    const rival = new CommandRunner(store, ledger.codec());
    let left = times;
    const racing = Object.create(store) as PostgresEventStore;
    racing.appendToStream = async (streamName, events, options) => {
      if (streamName === stream && left-- > 0) await enter(rival, stream, { amount, by: 'rival' }, 0);
      return store.appendToStream(streamName, events, options);
    };
    return racing;
  }

  test('two writers racing on one stream: the loser decides again on what the winner wrote, and both land in order', async () => {
    const { waits, sleep } = recordedWaits();
    const runner = new CommandRunner(overtaken('race-a', 1), ledger.codec(), { sleep });
    const outcome = await enter(runner, 'race-a', { amount: 5, by: 'writer' });
    expect(outcome).toMatchObject({
      accepted: true,
      events: [{ data: { amount: 5, balance: 15, by: 'writer' } }],
      nextExpectedRevision: 1n,
    });
    const stored = await store.readStream('race-a');
    expect(stored.map((event) => event.data.by)).toEqual(['rival', 'writer']);
    expectUnbrokenChain(stored);
    expect(waits).toHaveLength(1);
  });

  test('each retry first waits a jittered backoff within its bound; past the last one the conflict surfaces', async () => {
    const { waits, sleep } = recordedWaits();
    const retry = { retries: 4, baseDelayMs: 8, maxDelayMs: 20 };
    const runner = new CommandRunner(overtaken('race-b', 10), ledger.codec(), { sleep, retry, random: () => 0.75 });
    await expect(enter(runner, 'race-b', { amount: 5, by: 'writer' })).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    expect(waits).toEqual([1, 2, 3, 4].map((n) => conflictDelayMs(retry, n, 0.75)));
    expect(waits).toEqual([6, 12, 15, 15]);
    // Five tries, each overtaken: nothing of the writer's stored, every rival entry kept.
    expect((await store.readStream('race-b')).map((event) => event.data.by)).toEqual(Array(5).fill('rival'));
  });

  test('the retries a command allows are its own: 0 surfaces the first conflict, without waiting', async () => {
    const { waits, sleep } = recordedWaits();
    const runner = new CommandRunner(overtaken('race-c', 1), ledger.codec(), { sleep });
    await expect(enter(runner, 'race-c', { amount: 5, by: 'writer' }, 0)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    expect(waits).toEqual([]);
    expect(DEFAULT_CONFLICT_RETRY.retries).toBe(3);
  });

  test('a decision taken again on what the winner wrote may be a rejection: answered as such, nothing appended', async () => {
    await enter(new CommandRunner(store, ledger.codec()), 'race-d', { amount: 10, by: 'owner' });
    const runner = new CommandRunner(overtaken('race-d', 1, -5), ledger.codec(), { sleep: async () => undefined });
    expect(await enter(runner, 'race-d', { amount: -10, by: 'writer' })).toEqual({
      accepted: false,
      rejection: { kind: 'Overdrawn', balance: 5 },
    });
    expect((await store.readStream('race-d')).map((event) => event.data.by)).toEqual(['owner', 'rival']);
  });

  test('many writers in many processes on one stream: every entry lands once, each decided on the one before', async () => {
    const writers = Array.from({ length: 6 }, () => new CommandRunner(store, ledger.codec(), { retry: { retries: 50 } }));
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let i = 0; i < 5; i++) await enter(writer, 'race-many', { amount: 1, by: `w${w}` });
      }),
    );
    const stored = await store.readStream('race-many');
    expect(stored).toHaveLength(30);
    expectUnbrokenChain(stored);
  });
});
