import {
  comparePositions,
  matchesFilter,
  type AllSubscription,
  type EventFilter,
  type EventStore,
  type EventToAppend,
  type RecordedEvent,
} from '../src/event-store';
import {
  anEvent,
  EventReader,
  events,
  expectStreamOrder,
  expectStrictlyIncreasing,
  ids,
  subscribeFromHead,
  uniquePrefix,
  type EventStoreHarness,
} from './contract-support';

/** Subscriptions are closed whatever the test's outcome, so a failure does not leave pollers running. */
async function using<T>(subscription: AllSubscription, use: (reader: EventReader) => Promise<T>): Promise<T> {
  try {
    return await use(EventReader.of(subscription));
  } finally {
    await subscription.close();
  }
}

/** Each appended event arrived once, and nothing else did. */
function expectExactlyOnce(received: readonly RecordedEvent[], appended: readonly EventToAppend[]): void {
  expect(received.length).toBe(appended.length);
  expect(new Set(ids(received))).toEqual(new Set(ids(appended)));
}

/** `writers` writers, each appending `appends` small batches to its own stream at the same time. */
async function concurrentWriters(store: EventStore, prefix: string, writers: number, appends: number): Promise<EventToAppend[]> {
  const batches = await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      const written: EventToAppend[] = [];
      for (let n = 0; n < appends; n++) {
        const batch = events(1 + (n % 3), `Writer.Wrote`, written.length);
        await store.appendToStream(`${prefix}-w${writer}`, batch);
        written.push(...batch);
      }
      return written;
    }),
  );
  return batches.flat();
}

export function describeSubscriptionContract<S extends EventStore>(getStore: () => S, harness: EventStoreHarness<S>): void {
  describe('subscription to $all', () => {
    it('delivers one global order that agrees with every stream and keeps each append together', async () => {
      const store = getStore();
      const prefix = uniquePrefix('order');
      const subscription = await subscribeFromHead(store, { streamNamePrefixes: [prefix] });
      const batches: EventToAppend[][] = [];
      for (let round = 0; round < 5; round++) {
        const roundBatches = ['a', 'b', 'c'].map((stream, index) => ({ stream, batch: events(1 + ((round + index) % 3)) }));
        await Promise.all(roundBatches.map(({ stream, batch }) => store.appendToStream(`${prefix}-${stream}`, batch)));
        batches.push(...roundBatches.map(({ batch }) => batch));
      }
      const sentinel = anEvent('Sentinel');
      await store.appendToStream(`${prefix}-end`, [sentinel]);

      const received = await using(subscription, (reader) => reader.until(sentinel.id!));
      expectExactlyOnce(received, [...batches.flat(), sentinel]);
      expectStrictlyIncreasing(received.map((event) => event.position));
      expectStreamOrder(received);
      const order = ids(received);
      for (const batch of batches) {
        const start = order.indexOf(batch[0]!.id!);
        expect(order.slice(start, start + batch.length)).toEqual(ids(batch));
      }
      const stored = await store.readStream(`${prefix}-a`);
      expect(stored.map((event) => event.position)).toEqual(
        received.filter((event) => event.streamName === `${prefix}-a`).map((event) => event.position),
      );
    });

    it('catches up, then goes live, delivering every event from several writers exactly once', async () => {
      const store = getStore();
      const prefix = uniquePrefix('live');
      const head = await store.headPosition();
      const before = [...events(5), ...events(5)];
      await store.appendToStream(`${prefix}-a`, before.slice(0, 5));
      await store.appendToStream(`${prefix}-b`, before.slice(5));
      const subscription = store.subscribeToAll({ from: head ?? 'start', filter: { streamNamePrefixes: [prefix] } });

      await using(subscription, async (reader) => {
        expect(ids(await reader.take(before.length))).toEqual(ids(before));
        const sentinel = anEvent('Sentinel');
        const reading = reader.until(sentinel.id!);
        const live = await concurrentWriters(store, prefix, 4, 10);
        await store.appendToStream(`${prefix}-end`, [sentinel]);
        const received = await reading;
        expectExactlyOnce(received, [...live, sentinel]);
        expectStrictlyIncreasing(received.map((event) => event.position));
      });
    });

    it('resumes after a checkpoint with exactly the events that follow it', async () => {
      const store = getStore();
      const prefix = uniquePrefix('resume');
      const filter = { streamNamePrefixes: [prefix] };
      const subscription = await subscribeFromHead(store, filter);
      const appended = [...events(4), ...events(3), ...events(3)];
      await store.appendToStream(`${prefix}-a`, appended.slice(0, 4));
      await store.appendToStream(`${prefix}-b`, appended.slice(4, 7));
      await store.appendToStream(`${prefix}-a`, appended.slice(7));
      const all = await using(subscription, (reader) => reader.take(appended.length));

      const resumed = store.subscribeToAll({ from: all[3]!.position, filter });
      await using(resumed, async (reader) => {
        expect(await reader.take(6)).toEqual(all.slice(4));
        const sentinel = anEvent('Sentinel');
        await store.appendToStream(`${prefix}-end`, [sentinel]);
        expect(ids(await reader.until(sentinel.id!))).toEqual([sentinel.id]);
      });
    });

    it('filters by stream-name prefixes and by event-type prefixes', async () => {
      const store = getStore();
      const prefix = uniquePrefix('filter');
      const type = (name: string) => `T${prefix}.${name}`;
      const head = await store.headPosition();
      const appended: RecordedEventLike[] = [];
      const append = async (stream: string, types: string[]) => {
        const batch = types.map((name) => anEvent(type(name)));
        await store.appendToStream(`${prefix}-${stream}`, batch);
        appended.push(...batch.map((event) => ({ id: event.id!, streamName: `${prefix}-${stream}`, type: event.type })));
        return batch[batch.length - 1]!;
      };
      await append('order-1', ['Order.Placed', 'Order.Shipped']);
      await append('user-1', ['User.Registered']);
      await append('order-2', ['Order.Placed', 'Audit.Noted']);
      await append('user-2', ['User.Registered', 'Order.Placed']);

      const cases: [EventFilter, string, string][] = [
        [{ streamNamePrefixes: [`${prefix}-order`] }, 'order-1', 'Audit.Closed'],
        [{ streamNamePrefixes: [`${prefix}-user`, `${prefix}-order-2`] }, 'user-1', 'User.Closed'],
        [{ streamNamePrefixes: [prefix], eventTypePrefixes: [type('Order')] }, 'user-2', 'Order.Closed'],
        [{ eventTypePrefixes: [type('User'), type('Audit')] }, 'order-2', 'User.Closed'],
      ];
      for (const [filter, sentinelStream, sentinelType] of cases) {
        // Appended last and matching the filter, so anything wrongly delivered arrives before it.
        const sentinel = await append(sentinelStream, [sentinelType]);
        const expected = appended.filter((event) => matchesFilter(filter, event.streamName, event.type));
        const subscription = store.subscribeToAll({ from: head ?? 'start', filter });
        const received = await using(subscription, (reader) => reader.until(sentinel.id!));
        expect(received.map(({ id, streamName, type }) => ({ id, streamName, type }))).toEqual(expected);
      }
    });

    it('delivers every event exactly once while many writers commit concurrently', async () => {
      const store = getStore();
      const prefix = uniquePrefix('concurrent');
      const subscription = await subscribeFromHead(store, { streamNamePrefixes: [prefix] });
      await using(subscription, async (reader) => {
        const sentinel = anEvent('Sentinel');
        const reading = reader.until(sentinel.id!);
        const appended = await concurrentWriters(store, prefix, 8, 15);
        await store.appendToStream(`${prefix}-end`, [sentinel]);
        const received = await reading;
        expectExactlyOnce(received, [...appended, sentinel]);
        expectStrictlyIncreasing(received.map((event) => event.position));
        expectStreamOrder(received);
      });
    });

    it('close() ends an iteration that is waiting for events', async () => {
      const store = getStore();
      const prefix = uniquePrefix('close');
      const subscription = await subscribeFromHead(store, { streamNamePrefixes: [prefix] });
      const reader = EventReader.of(subscription);
      const first = anEvent('First');
      await store.appendToStream(`${prefix}-a`, [first]);
      expect(ids(await reader.take(1))).toEqual([first.id]);

      expect(await reader.next(50)).toBeUndefined();
      await subscription.close();
      expect(await reader.next()).toEqual({ done: true, value: undefined });
      expect(await reader.next()).toEqual({ done: true, value: undefined });
    });

    it('breaking out of for-await ends the subscription', async () => {
      const store = getStore();
      const prefix = uniquePrefix('break');
      const subscription = await subscribeFromHead(store, { streamNamePrefixes: [prefix] });
      await store.appendToStream(`${prefix}-a`, events(3));
      let seen = 0;
      for await (const event of subscription) {
        expect(event.revision).toBe(0n);
        seen++;
        break;
      }
      expect(seen).toBe(1);
      expect(await EventReader.of(subscription).next()).toEqual({ done: true, value: undefined });
      await subscription.close();
    });

    const hold = harness.holdOpenTransaction?.bind(harness);
    if (hold) {
      it('holds back later commits while an earlier append is uncommitted, then delivers all in order', async () => {
        const store = getStore();
        const prefix = uniquePrefix('held');
        const subscription = await subscribeFromHead(store, { streamNamePrefixes: [prefix] });
        await using(subscription, async (reader) => {
          const first = anEvent('First');
          await store.appendToStream(`${prefix}-first`, [first]);
          expect(ids(await reader.take(1))).toEqual([first.id]);

          const heldEvent = anEvent('Held');
          const held = await hold(store, `${prefix}-held`, [heldEvent]);
          const later = [anEvent('Later'), anEvent('Later')];
          try {
            const laterPosition = (await store.appendToStream(`${prefix}-later-1`, [later[0]!])).position;
            await store.appendToStream(`${prefix}-later-2`, [later[1]!]);
            expect(ids(await store.readStream(`${prefix}-later-2`))).toEqual([later[1]!.id]);

            // Committed, yet not delivered: delivering them now would mean skipping the held event.
            expect(await reader.next(300)).toBeUndefined();
            const head = await store.headPosition();
            expect(head && comparePositions(head, laterPosition)).toBe(-1);
          } finally {
            await held.commit();
          }
          const received = await reader.take(3);
          expect(ids(received)).toEqual(ids([heldEvent, ...later]));
          expectStrictlyIncreasing(received.map((event) => event.position));
        });
      });
    }
  });
}

type RecordedEventLike = Pick<RecordedEvent, 'id' | 'streamName' | 'type'>;
