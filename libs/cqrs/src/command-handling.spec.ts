import { WrongExpectedRevisionError } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { createTestDatabase } from '../../../test/support/database';
import { CommandRunner } from './command-handling';
import { accept, reject, type Decider } from './decider';
import { EventCodec, type PersonalDataSealer } from './event-codec';
import { defineEvent, EventRegistry, type EventOf } from './event-types';

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

const noPersonalData: PersonalDataSealer = { seal: async (_t, _s, data) => data, open: async (_t, data) => ({ data, erased: false }) };
const context = { tenantId: 't1', correlationId: 'c1', now: new Date('2026-11-23T12:00:00Z') };

describe('command runner', () => {
  let store: PostgresEventStore;
  let runner: CommandRunner;
  let reads = 0;

  beforeAll(async () => {
    store = await PostgresEventStore.connect(await createTestDatabase('commands'));
    await store.migrate();
    const codec = new EventCodec(new EventRegistry([SeatClaimed]), noPersonalData);
    // Counts reads through the real store, to show which path a command took.
    const counting = Object.create(store) as PostgresEventStore;
    counting.readStream = (...args: Parameters<PostgresEventStore['readStream']>) => {
      reads++;
      return store.readStream(...args);
    };
    runner = new CommandRunner(counting, codec);
  });
  afterAll(() => store.close());
  beforeEach(() => {
    reads = 0;
  });

  const claim = (streamName: string, holder: string, options: { expectNewStream?: boolean; retriesOnConflict?: number } = {}) =>
    runner.handle({ streamName, decider: seatDecider, command: { holder }, context, ...options });

  test('decides on the stream it read and appends at that revision', async () => {
    expect(await claim('seat-a', 'ada')).toMatchObject({ accepted: true, nextExpectedRevision: 0n });
    expect(await claim('seat-a', 'bob')).toEqual({ accepted: false, rejection: { kind: 'Taken', by: 'ada' } });
    expect(reads).toBe(2);
  });

  test('a new-stream hint appends without reading when the stream is new', async () => {
    const outcome = await claim('seat-b', 'ada', { expectNewStream: true });
    expect(outcome).toMatchObject({ accepted: true, nextExpectedRevision: 0n });
    expect(reads).toBe(0);
    expect((await store.readStream('seat-b')).map((event) => event.type)).toEqual(['SeatClaimed']);
  });

  test('a wrong new-stream hint falls back to reading, so the decision sees the real state', async () => {
    await claim('seat-c', 'ada');
    reads = 0;
    const outcome = await claim('seat-c', 'bob', { expectNewStream: true, retriesOnConflict: 0 });
    expect(outcome).toEqual({ accepted: false, rejection: { kind: 'Taken', by: 'ada' } });
    expect(reads).toBe(1);
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

  test('without retries, a lost race surfaces as a conflict', async () => {
    await claim('seat-e', 'ada');
    const racing = new CommandRunner(
      Object.assign(Object.create(store) as PostgresEventStore, { readStream: async () => [] }),
      new EventCodec(new EventRegistry([SeatClaimed]), noPersonalData),
    );
    await expect(
      racing.handle({ streamName: 'seat-e', decider: seatDecider, command: { holder: 'bob' }, context, retriesOnConflict: 0 }),
    ).rejects.toBeInstanceOf(WrongExpectedRevisionError);
  });
});
