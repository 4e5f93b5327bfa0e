import { Pool } from 'pg';
import { createTestDatabase } from '../../../../test/support/database';
import { anEvent, uniquePrefix } from '../../testing/contract-support';
import type { RecordedEvent } from '../event-store';
import { AppendBroadcast, APPEND_CHANNEL, categoryOf, summaryOf } from './append-broadcast';
import { PostgresEventStore, type PostgresConnectOptions } from './postgres-event-store';
import { AppendSignal } from './subscription';

const never = new AbortController().signal;
const SHORT_MS = 30;

describe('what other processes announce', () => {
  it('names a stream by its category, up to the first dash', () => {
    expect(categoryOf('pulse.messages-acme-1')).toBe('pulse.messages-');
    expect(categoryOf('audit')).toBe('audit');
  });

  it("ignores this process's own echo and reads anything unexpected as 'something was appended'", () => {
    expect(summaryOf(JSON.stringify({ from: 'me', categories: [], types: [] }), 'me')).toBe('own');
    expect(summaryOf(JSON.stringify({ from: 'you', categories: ['a-'], types: ['T'] }), 'me')).toEqual({
      categories: ['a-'],
      types: ['T'],
    });
    expect(summaryOf(JSON.stringify({ from: 'you' }), 'me')).toBeUndefined();
    expect(summaryOf('not json', 'me')).toBeUndefined();
  });

  it('wakes a subscription whose prefix lies inside or around an announced category, of a type it takes', async () => {
    const signal = new AppendSignal();
    const oneAccount = { streamNamePrefixes: ['register.account-42'], eventTypePrefixes: ['User'] };
    const allRegister = { streamNamePrefixes: ['register.'] };
    const waiting = [signal.wait(signal.current, 60_000, never, oneAccount), signal.wait(signal.current, 60_000, never, allRegister)];
    signal.notify({ categories: ['register.account-'], types: ['UserRegistered'] });
    await expect(Promise.all(waiting)).resolves.toEqual(['appended', 'appended']);
  });

  it('leaves asleep a subscription whose streams or types were not announced', async () => {
    const signal = new AppendSignal();
    const accounts = { streamNamePrefixes: ['register.account-'], eventTypePrefixes: ['User'] };
    const waiting = signal.wait(signal.current, SHORT_MS, never, accounts);
    signal.notify({ categories: ['pulse.messages-'], types: ['UserRegistered'] });
    signal.notify({ categories: ['register.account-'], types: ['EmailVerified', '$metadata'] });
    await expect(waiting).resolves.toBe('idle');
  });
});

describe('AppendBroadcast between two processes on one database', () => {
  let url: string;
  const opened: PostgresEventStore[] = [];
  let watcher: Pool;

  beforeAll(async () => {
    url = await createTestDatabase('esbroadcast');
    watcher = new Pool({ connectionString: url, max: 1 });
  });
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()));
    await watcher.end();
  });

  /** Each store on its own pool stands for a process: they share nothing in memory. */
  async function process(options: PostgresConnectOptions): Promise<PostgresEventStore> {
    const store = await PostgresEventStore.connect(url, options);
    opened.push(store);
    await store.migrate();
    return store;
  }

  async function listeners(): Promise<number> {
    const { rows } = await watcher.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = $1`,
      [`LISTEN ${APPEND_CHANNEL}`],
    );
    return rows[0]!.n;
  }

  async function untilListening(count: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((await listeners()) < count) {
      if (Date.now() > deadline) throw new Error(`fewer than ${count} listeners`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The subscription's next event, or 'asleep' if it is still waiting after `ms`. */
  function nextWithin(iterator: AsyncIterator<RecordedEvent>, ms: number): Promise<RecordedEvent | 'asleep'> {
    return Promise.race([
      iterator.next().then((result) => result.value as RecordedEvent),
      new Promise<'asleep'>((resolve) => setTimeout(() => resolve('asleep'), ms).unref()),
    ]);
  }

  // The reader polls only every minute: an event it gets sooner came from the announcement.
  const slowPolling = { minPollMs: 60_000, maxPollMs: 60_000, wakeOtherProcesses: true };

  it("wakes another process's subscription as soon as an append commits, without waiting for its poll", async () => {
    const reader = await process(slowPolling);
    const writer = await process({ wakeOtherProcesses: true });
    await untilListening(2);
    const stream = uniquePrefix('orders') + '-1';
    const subscription = reader.subscribeToAll({ filter: { streamNamePrefixes: [stream] } })[Symbol.asyncIterator]();
    const first = nextWithin(subscription, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await writer.appendToStream(stream, [anEvent('OrderPlaced')]);
    const delivered = await first;
    expect(delivered).not.toBe('asleep');
    expect((delivered as RecordedEvent).streamName).toBe(stream);
    await subscription.return?.();
  });

  it('stays with polling when the writer does not announce', async () => {
    const reader = await process(slowPolling);
    const writer = await process({ wakeOtherProcesses: false });
    const stream = uniquePrefix('quiet') + '-1';
    const subscription = reader.subscribeToAll({ filter: { streamNamePrefixes: [stream] } })[Symbol.asyncIterator]();
    const first = nextWithin(subscription, 1_500);
    // Let the reader reach the head of the log and start its minute-long wait before the append.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await writer.appendToStream(stream, [anEvent('OrderPlaced')]);
    await expect(first).resolves.toBe('asleep');
    await subscription.return?.();
  });

  it('announces without waiting for a WAL flush, so an announcement never holds back what readers can see', async () => {
    // Readers see only transactions older than the oldest one running, and a NOTIFY is a transaction:
    // committed durably, it stayed running for an fsync per announcement (see ANNOUNCER_SETTINGS).
    await watcher.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET synchronous_commit = on`);
    const broadcast = new AppendBroadcast({ connectionString: url }, new AppendSignal(), 5);
    broadcast.retain();
    try {
      const before = await listeners();
      await untilListening(before + 1);
      // The broadcast's own connection, the one that sends every NOTIFY.
      const client = (broadcast as unknown as { client: { query(sql: string): Promise<{ rows: { synchronous_commit: string }[] }> } })
        .client;
      expect((await client.query('SHOW synchronous_commit')).rows[0]!.synchronous_commit).toBe('off');
    } finally {
      await broadcast.release();
    }
  });

  it('lets go of its connection when the last store on the pool closes', async () => {
    const before = await listeners();
    const store = await process({ wakeOtherProcesses: true });
    await untilListening(before + 1);
    await store.close();
    expect(await listeners()).toBe(before);
  });
});
