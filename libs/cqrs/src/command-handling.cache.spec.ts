import { PostgresEventStore } from '#eventstore/postgres';
import { countingReads, expectUnbrokenChain, ledger, recordedWaits, useStore, type Entry } from '../testing/ledger';
import { CommandRunner } from './command-handling';

/** Runners with a state cache (rewards'): decisions on remembered states, stale when another process wrote. */
describe('command runner with a state cache', () => {
  const storeOf = useStore('cached');
  let store: PostgresEventStore;
  beforeAll(() => (store = storeOf()));

  /** A runner with a cache, its reads counted and its waits recorded; and another process's runner. */
  function cachedRunner() {
    const counting = countingReads(store);
    const { waits, sleep } = recordedWaits();
    const runner = new CommandRunner(counting.store, ledger.codec(), { cachedStreams: 100, retry: { retries: 20 }, sleep });
    return { runner, reads: counting.reads, waits, elsewhere: new CommandRunner(store, ledger.codec()) };
  }
  const enter = (runner: CommandRunner, streamName: string, entry: Entry) =>
    runner.handle({ streamName, decider: ledger.decider, command: entry, context: ledger.context });

  test('a remembered state costs no read: only the first command of a stream reads it', async () => {
    const { runner, reads } = cachedRunner();
    for (let i = 0; i < 3; i++) await enter(runner, 'cache-a', { amount: 1, by: 'here' });
    expect(reads).toEqual({ whole: 1, tails: 0, many: 0 });
    expectUnbrokenChain(await store.readStream('cache-a'));
  });

  test('a rejection decided on a stale cached state is checked against the store, and the command decided again', async () => {
    const { runner, reads, waits, elsewhere } = cachedRunner();
    await enter(runner, 'cache-b', { amount: 5, by: 'here' });
    await enter(elsewhere, 'cache-b', { amount: 20, by: 'elsewhere' });
    // Remembered: 5. Stored: 25. The withdrawal is refused on the first and allowed on the second.
    expect(await enter(runner, 'cache-b', { amount: -10, by: 'here' })).toMatchObject({ accepted: true, nextExpectedRevision: 2n });
    expect(reads).toEqual({ whole: 1, tails: 1, many: 0 });
    expect(waits).toEqual([]);
    expectUnbrokenChain(await store.readStream('cache-b'));
  });

  test('a rejection the store confirms is answered after one read of the tail', async () => {
    const { runner, reads } = cachedRunner();
    await enter(runner, 'cache-c', { amount: 5, by: 'here' });
    expect(await enter(runner, 'cache-c', { amount: -10, by: 'here' })).toEqual({
      accepted: false,
      rejection: { kind: 'Overdrawn', balance: 5 },
    });
    expect(reads).toEqual({ whole: 1, tails: 1, many: 0 });
  });

  test('a conflict on a stale cached state reads only the tail, and the command lands after what was written elsewhere', async () => {
    const { runner, reads, waits, elsewhere } = cachedRunner();
    await enter(runner, 'cache-d', { amount: 5, by: 'here' });
    await enter(elsewhere, 'cache-d', { amount: 7, by: 'elsewhere' });
    expect(await enter(runner, 'cache-d', { amount: 1, by: 'here' })).toMatchObject({
      accepted: true,
      events: [{ data: { balance: 13 } }],
      nextExpectedRevision: 2n,
    });
    expect(reads).toEqual({ whole: 1, tails: 1, many: 0 });
    expect(waits).toHaveLength(1);
    // The cache learnt the stream's state with the retry: the next command reads nothing.
    await enter(runner, 'cache-d', { amount: 1, by: 'here' });
    expect(reads).toEqual({ whole: 1, tails: 1, many: 0 });
    expectUnbrokenChain(await store.readStream('cache-d'));
  });

  test("in one process, one stream's commands take turns: 30 at once meet no conflict and land in order", async () => {
    const { runner, waits } = cachedRunner();
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => enter(runner, 'cache-e', { amount: 1, by: `c${i}` })));
    expect(outcomes.every((outcome) => outcome.accepted)).toBe(true);
    expect(waits).toEqual([]);
    const stored = await store.readStream('cache-e');
    expect(stored.map((event) => event.data.by)).toEqual(Array.from({ length: 30 }, (_, i) => `c${i}`));
    expectUnbrokenChain(stored);
  });

  test('a load reads the tail of a remembered stream, and answers what is stored', async () => {
    const { runner, reads, elsewhere } = cachedRunner();
    await enter(runner, 'cache-f', { amount: 5, by: 'here' });
    await enter(elsewhere, 'cache-f', { amount: 2, by: 'elsewhere' });
    expect(await runner.load('cache-f', ledger.decider)).toEqual({ state: { balance: 7, amounts: [5, 2] }, revision: 1n });
    expect(reads).toEqual({ whole: 1, tails: 1, many: 0 });
  });

  test('a load told the revision the store answered moments ago reads only when what is remembered is behind it', async () => {
    const { runner, reads, elsewhere } = cachedRunner();
    await enter(runner, 'cache-h', { amount: 5, by: 'here' });
    // Remembered at revision 0, and the store is there too: no read.
    expect(await runner.load('cache-h', ledger.decider, 0n)).toEqual({ state: { balance: 5, amounts: [5] }, revision: 0n });
    expect(reads).toEqual({ whole: 1, tails: 0, many: 0 });
    // Another process wrote: told so, the load reads the tail.
    await enter(elsewhere, 'cache-h', { amount: 2, by: 'elsewhere' });
    expect(await runner.load('cache-h', ledger.decider, 1n)).toEqual({ state: { balance: 7, amounts: [5, 2] }, revision: 1n });
    expect(reads).toEqual({ whole: 1, tails: 1, many: 0 });
    // A stream the store did not hold: its initial state, unread; one it holds but this process never saw is read whole.
    expect(await runner.load('cache-i', ledger.decider, -1n)).toEqual({ state: ledger.decider.initialState(), revision: -1n });
    await enter(elsewhere, 'cache-j', { amount: 3, by: 'elsewhere' });
    expect(await runner.load('cache-j', ledger.decider, 0n)).toEqual({ state: { balance: 3, amounts: [3] }, revision: 0n });
    expect(reads).toEqual({ whole: 2, tails: 1, many: 0 });
  });

  test('a failed command leaves nothing half-decided behind: the stream is read afresh', async () => {
    const counting = countingReads(store);
    let failing = false;
    const flaky = Object.create(counting.store) as PostgresEventStore;
    flaky.appendToStream = (...args) => (failing ? Promise.reject(new Error('connection lost')) : counting.store.appendToStream(...args));
    const runner = new CommandRunner(flaky, ledger.codec(), { cachedStreams: 100 });
    await enter(runner, 'cache-g', { amount: 5, by: 'here' });
    failing = true;
    await expect(enter(runner, 'cache-g', { amount: 1, by: 'here' })).rejects.toThrow('connection lost');
    expect(await runner.load('cache-g', ledger.decider)).toEqual({ state: { balance: 5, amounts: [5] }, revision: 0n });
    expect(counting.reads).toEqual({ whole: 2, tails: 0, many: 0 });
  });
});
