import { eventually } from '#platform/testing';
import { randomUUID } from 'node:crypto';
import { startEsdbEmulator, type EsdbEmulator } from '../../testing/esdb-emulator/index';
import { describeEventStoreContract } from '../../testing/event-store-contract';
import { WrongExpectedRevisionError, type EventStore, type RecordedEvent } from '../event-store';
import { EsdbEventStore } from './esdb-event-store';

const realServerUrl = process.env.EVENTSTORE_TEST_URL;

interface Target {
  url(): string;
}

/** Collects what a subscription delivers until `count` events arrived, then leaves the loop. */
async function take(store: EventStore, count: number, options: Parameters<EventStore['subscribeToAll']>[0]) {
  const events: RecordedEvent[] = [];
  for await (const event of store.subscribeToAll(options)) {
    events.push(event);
    if (events.length === count) break;
  }
  return events;
}

/**
 * Adapter behaviour beyond the shared contract. Stream names are unique per test so the same
 * tests can run against a shared, long-lived real server.
 */
function describeAdapterBehaviour(target: Target): void {
  let store: EsdbEventStore;
  let prefix: string;

  beforeEach(() => {
    store = new EsdbEventStore(target.url());
    prefix = `t${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  });
  afterEach(async () => {
    await store.close();
  });

  it('declares none of the capabilities it lacks, so callers take their stream-by-stream paths', () => {
    const port: EventStore = store;
    expect([port.readStreams, port.transactional, port.startStreams, port.appendToStreams]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('round-trips ids, data, metadata and creation time, and reports the last event position', async () => {
    const id = randomUUID();
    const before = Date.now();
    const result = await store.appendToStream(`${prefix}-a`, [
      { id, type: 'Opened', data: { n: 1 }, metadata: { correlationId: 'c' } },
      { type: 'Touched', data: { n: 2 } },
    ]);

    const events = await store.readStream(`${prefix}-a`);
    expect(events.map((e) => [e.id, e.streamName, e.revision, e.type, e.data, e.metadata])).toEqual([
      [id, `${prefix}-a`, 0n, 'Opened', { n: 1 }, { correlationId: 'c' }],
      [expect.any(String), `${prefix}-a`, 1n, 'Touched', { n: 2 }, {}],
    ]);
    expect(events[0]!.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(result).toEqual({ nextExpectedRevision: 1n, position: events[1]!.position });
  });

  it('maps wrong expected versions to WrongExpectedRevisionError with the actual revision', async () => {
    const stream = `${prefix}-b`;
    await store.appendToStream(stream, [{ type: 'Opened', data: {} }], { expectedRevision: 'no_stream' });

    await expect(store.appendToStream(stream, [{ type: 'X', data: {} }], { expectedRevision: 3n })).rejects.toEqual(
      new WrongExpectedRevisionError(stream, 3n, 0n),
    );
    await expect(store.appendToStream(stream, [{ type: 'X', data: {} }], { expectedRevision: 'no_stream' })).rejects.toMatchObject({
      name: 'WrongExpectedRevisionError',
      streamName: stream,
      expected: 'no_stream',
      actual: 0n,
    });
    await expect(
      store.appendToStream(`${prefix}-missing`, [{ type: 'X', data: {} }], { expectedRevision: 'stream_exists' }),
    ).rejects.toMatchObject({ expected: 'stream_exists', actual: -1n });
    await expect(store.appendToStream(`${prefix}-missing`, [{ type: 'X', data: {} }], { expectedRevision: 0n })).rejects.toBeInstanceOf(
      WrongExpectedRevisionError,
    );
  });

  it('reads a missing stream as empty and honours fromRevision and maxCount', async () => {
    expect(await store.readStream(`${prefix}-none`)).toEqual([]);
    await store.appendToStream(
      `${prefix}-c`,
      [0, 1, 2, 3].map((n) => ({ type: 'N', data: { n } })),
    );

    const slice = await store.readStream(`${prefix}-c`, { fromRevision: 1n, maxCount: 2 });
    expect(slice.map((event) => event.data)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await store.readStream(`${prefix}-c`, { maxCount: 0 })).toEqual([]);
  });

  it('applies stream-name and event-type prefixes together, one of them on the client', async () => {
    const type = (name: string) => `${prefix}.${name}`;
    await store.appendToStream(`${prefix}-user-1`, [
      { type: type('UserRegistered'), data: { n: 1 } },
      { type: type('OrderPlaced'), data: { n: 2 } },
    ]);
    await store.appendToStream(`${prefix}-order-1`, [{ type: type('UserRegistered'), data: { n: 3 } }]);
    await store.appendToStream(`${prefix}-user-2`, [
      { type: type('UserEmailChanged'), data: { n: 4 } },
      { type: type('UserRegistered'), data: { n: 5 } },
    ]);

    const both = await take(store, 3, {
      filter: { streamNamePrefixes: [`${prefix}-user-`], eventTypePrefixes: [type('UserReg'), type('UserEmail')] },
    });
    expect(both.map((event) => event.data)).toEqual([{ n: 1 }, { n: 4 }, { n: 5 }]);

    const byType = await take(store, 3, { filter: { eventTypePrefixes: [type('UserRegistered')] } });
    expect(byType.map((event) => event.data)).toEqual([{ n: 1 }, { n: 3 }, { n: 5 }]);
  });

  it('delivers strictly after `from`, then live events, and stops when closed while waiting', async () => {
    const first = await store.appendToStream(`${prefix}-d`, [{ type: 'One', data: {} }]);
    await store.appendToStream(`${prefix}-d`, [{ type: 'Two', data: {} }]);

    const subscription = store.subscribeToAll({ from: first.position, filter: { streamNamePrefixes: [`${prefix}-`] } });
    const received: string[] = [];
    let announce: (() => void) | undefined;
    const consuming = (async () => {
      for await (const event of subscription) {
        received.push(event.type);
        announce?.();
      }
    })();

    const liveArrived = new Promise<void>((resolve) => (announce = () => received.includes('Three') && resolve()));
    await store.appendToStream(`${prefix}-d`, [{ type: 'Three', data: {} }]);
    await liveArrived;
    await subscription.close();
    await consuming;

    expect(received).toEqual(['Two', 'Three']);
  });
}

describe('EventStoreDB adapter on the emulator', () => {
  let emulator: EsdbEmulator;

  beforeAll(async () => {
    emulator = await startEsdbEmulator();
  });
  afterAll(async () => {
    await emulator.stop();
  });

  describeEventStoreContract('EventStoreDB adapter on the emulator', {
    create: async () => new EsdbEventStore(emulator.url),
    appendsToStreamsAtomically: false,
  });

  describe('adapter behaviour', () => describeAdapterBehaviour({ url: () => emulator.url }));

  // Servers before 21.10 have no BatchAppend; the client then writes through Append instead.
  describe('on a server without BatchAppend', () => {
    let legacy: EsdbEmulator;
    beforeAll(async () => {
      legacy = await startEsdbEmulator({ batchAppend: false });
    });
    afterAll(async () => {
      await legacy.stop();
    });

    describeEventStoreContract('EventStoreDB adapter on the emulator, writing through Append', {
      create: async () => new EsdbEventStore(legacy.url),
      appendsToStreamsAtomically: false,
    });
  });

  describe('on a fresh server', () => {
    let fresh: EsdbEmulator;
    let store: EsdbEventStore;

    beforeEach(async () => {
      fresh = await startEsdbEmulator();
      store = new EsdbEventStore(fresh.url, { pingTimeoutMs: 2_000 });
    });
    afterEach(async () => {
      await store.close();
      await fresh.stop();
    });

    it('has no head position while $all holds only system events, then the last event', async () => {
      expect(await store.headPosition()).toBeUndefined();
      await store.appendToStream('a', [{ type: 'A', data: {} }]);
      const last = await store.appendToStream('b', [{ type: 'B', data: {} }]);
      expect(await store.headPosition()).toEqual(last.position);
    });

    it('never delivers system events', async () => {
      await store.appendToStream('a', [{ type: 'A', data: {} }]);
      const [event] = await take(store, 1, {});
      expect(event!.streamName).toBe('a');
    });

    it('lets go of the server subscription when the consumer breaks out of the loop', async () => {
      await store.appendToStream('a', [{ type: 'A', data: {} }]);
      await take(store, 1, {});
      await eventually(() => expect(fresh.openSubscriptions()).toBe(0));
    });

    it('abandons a quiet subscription at once: return() settles the pending read as done', async () => {
      const iterator = store.subscribeToAll()[Symbol.asyncIterator]();
      const pending = iterator.next();
      await eventually(() => expect(fresh.openSubscriptions()).toBe(1));

      await iterator.return!();

      expect(await pending).toEqual({ done: true, value: undefined });
      await eventually(() => expect(fresh.openSubscriptions()).toBe(0));
    });

    it('ends open subscriptions when the store closes', async () => {
      const subscription = store.subscribeToAll();
      const consuming = (async () => {
        for await (const _ of subscription);
      })();
      await eventually(() => expect(fresh.openSubscriptions()).toBe(1));
      await store.close();
      await consuming;
      await eventually(() => expect(fresh.openSubscriptions()).toBe(0));
    });

    it('answers ping while the server is up and fails once it is gone', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      await fresh.stop();
      await expect(store.ping()).rejects.toThrow();
    });
  });
});

if (realServerUrl) {
  describe('EventStoreDB adapter on a real server (EVENTSTORE_TEST_URL)', () => {
    describeEventStoreContract('EventStoreDB adapter on a real server', {
      create: async () => new EsdbEventStore(realServerUrl),
      appendsToStreamsAtomically: false,
    });
    describe('adapter behaviour', () => describeAdapterBehaviour({ url: () => realServerUrl }));
  });
}
