import { DataSource, type EntityManager } from 'typeorm';
import type { EventStore } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { createTestDatabase } from '../../../test/support/database';
import { countingReads, expectUnbrokenChain, ledger, recordedWaits, withoutCapabilities, type Entry } from '../testing/ledger';
import { CommandRunner } from './command-handling';

const stores: [string, (store: PostgresEventStore) => EventStore][] = [
  ["a transactional store (PostgreSQL): every stream in one statement, inside the caller's transaction", (store) => store],
  ['a store without capabilities (EventStoreDB): stream by stream, at once', withoutCapabilities],
];

describe.each(stores)('command runner batches on %s', (_store, view) => {
  const transactional = view === stores[0]![1];
  let store: PostgresEventStore;
  let dataSource: DataSource;
  let prefix = 0;

  beforeAll(async () => {
    const url = await createTestDatabase('batches');
    store = await PostgresEventStore.connect(url);
    await store.migrate();
    dataSource = await new DataSource({ type: 'postgres', url }).initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await store.close();
  });

  /** A runner with a cache (as rewards' earning has), its reads counted and its waits recorded. */
  function batchRunner() {
    const counting = countingReads(view(store));
    const { waits, sleep } = recordedWaits();
    const runner = new CommandRunner(counting.store, ledger.codec(), { cachedStreams: 100, retry: { retries: 20 }, sleep });
    const streams = (...names: string[]) => names.map((name) => `${++prefix}-${name}`);
    return { runner, reads: counting.reads, waits, streams };
  }
  const work = (streamName: string, ...entries: Entry[]) => ({
    streamName,
    commands: entries.map((command) => ({ command, context: ledger.context })),
  });
  const batch = (runner: CommandRunner, tx: EntityManager, ...streams: ReturnType<typeof work>[]) =>
    runner.handleBatch({ decider: ledger.decider, work: streams, transaction: tx });
  const inTransaction = <T>(apply: (tx: EntityManager) => Promise<T>) => dataSource.transaction(apply);
  const entered = async (streamName: string) => (await store.readStream(streamName)).map((event) => event.data.amount);

  test("decides each stream's commands in order on its state; a rejected command appends nothing; answers what changed", async () => {
    const { runner, streams } = batchRunner();
    const [a, b] = streams('a', 'b');
    const changes = await inTransaction((tx) =>
      batch(
        runner,
        tx,
        work(a!, { amount: 5, by: 'x' }, { amount: -10, by: 'x' }, { amount: 1, by: 'x' }),
        work(b!, { amount: -1, by: 'x' }),
      ),
    );
    expect(changes.map(({ work: { streamName }, events }) => [streamName, events.map((event) => event.data.balance)])).toEqual([
      [a, [5, 6]],
    ]);
    expect([await entered(a!), await entered(b!)]).toEqual([[5, 1], []]);
  });

  test('a batch with one conflicting stream: the others are stored as decided, the conflicting one decided again on what the winner wrote', async () => {
    const { runner, reads, waits, streams } = batchRunner();
    const [x, y, z] = streams('x', 'y', 'z');
    await inTransaction((tx) =>
      batch(runner, tx, work(x!, { amount: 1, by: 'x' }), work(y!, { amount: 1, by: 'y' }), work(z!, { amount: 1, by: 'z' })),
    );
    const before = { ...reads };
    await new CommandRunner(store, ledger.codec()).handle({
      streamName: x!,
      decider: ledger.decider,
      command: { amount: 10, by: 'elsewhere' },
      context: ledger.context,
    });
    // x's remembered state (balance 1) is stale; its two entries are decided again on 11.
    const changes = await inTransaction((tx) =>
      batch(
        runner,
        tx,
        work(x!, { amount: 2, by: 'x' }, { amount: 3, by: 'x' }),
        work(y!, { amount: 2, by: 'y' }),
        work(z!, { amount: 2, by: 'z' }),
      ),
    );
    expect(changes.find((change) => change.work.streamName === x)!.events.map((event) => event.data.balance)).toEqual([13, 16]);
    expect([await entered(x!), await entered(y!), await entered(z!)]).toEqual([
      [1, 10, 2, 3],
      [1, 2],
      [1, 2],
    ]);
    for (const stream of [x, y, z]) expectUnbrokenChain(await store.readStream(stream!));
    expect(waits).toHaveLength(1);
    // Only x read again, and whole: deciding its second entry had already moved its state on.
    expect({ whole: reads.whole - before.whole, tails: reads.tails - before.tails, many: reads.many - before.many }).toEqual(
      transactional ? { whole: 0, tails: 0, many: 1 } : { whole: 1, tails: 0, many: 0 },
    );
  });

  test('the cache never holds a state whose transaction rolled back, and learns the states of one that committed', async () => {
    const { runner, reads, waits, streams } = batchRunner();
    const [s] = streams('s');
    await expect(
      inTransaction(async (tx) => {
        await batch(runner, tx, work(s!, { amount: 4, by: 'rolled back' }));
        throw new Error('the checkpoint could not move');
      }),
    ).rejects.toThrow('the checkpoint could not move');
    // The store refuses to roll back what it has no transaction for: only the transactional one drops the entry.
    expect(await entered(s!)).toEqual(transactional ? [] : [4]);
    const before = { ...reads };
    const changes = await inTransaction((tx) => batch(runner, tx, work(s!, { amount: 1, by: 'committed' })));
    expect(changes[0]!.events.map((event) => event.data.balance)).toEqual(transactional ? [1] : [5]);
    expect(waits).toEqual([]);
    expect(reads.many + reads.whole - before.many - before.whole).toBe(transactional ? 1 : 0);
    // Committed: the next batch decides on what the cache learnt, without a read.
    const after = { ...reads };
    await inTransaction((tx) => batch(runner, tx, work(s!, { amount: 1, by: 'committed' })));
    expect(reads).toEqual(after);
    expectUnbrokenChain(await store.readStream(s!));
  });

  test('a state a batch decides on is its own: a single command never sees what a rolled-back batch did to it', async () => {
    const { runner, streams } = batchRunner();
    const [s] = streams('own');
    await inTransaction((tx) => batch(runner, tx, work(s!, { amount: 5, by: 'x' })));
    await inTransaction(async (tx) => {
      // Two entries: deciding the second evolves the remembered state itself.
      await batch(runner, tx, work(s!, { amount: 1, by: 'x' }, { amount: 1, by: 'x' }));
      if (transactional) throw new Error('rolled back');
    }).catch(() => undefined);
    await runner.handle({ streamName: s!, decider: ledger.decider, command: { amount: 2, by: 'y' }, context: ledger.context });
    const amounts = transactional ? [5, 2] : [5, 1, 1, 2];
    expect(await runner.load(s!, ledger.decider)).toEqual({
      state: { balance: amounts.reduce((a, b) => a + b), amounts },
      revision: BigInt(amounts.length - 1),
    });
    expect(await entered(s!)).toEqual(amounts);
  });

  test('of a batch of remembered and unknown streams, only the unknown ones are read, in one read', async () => {
    const { runner, reads, streams } = batchRunner();
    const [known, fresh] = streams('known', 'fresh');
    await inTransaction((tx) => batch(runner, tx, work(known!, { amount: 3, by: 'x' })));
    const before = { ...reads };
    await inTransaction((tx) => batch(runner, tx, work(known!, { amount: 1, by: 'x' }), work(fresh!, { amount: 1, by: 'x' })));
    expect(reads.many + reads.whole - before.many - before.whole).toBe(1);
    expect([await entered(known!), await entered(fresh!)]).toEqual([[3, 1], [1]]);
  });
});
