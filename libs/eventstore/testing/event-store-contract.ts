import { randomUUID } from 'node:crypto';
import { comparePositions, WrongExpectedRevisionError, type EventStore, type ExpectedRevision } from '../src/event-store';
import {
  anEvent,
  eventually,
  events,
  expectActual,
  expectStrictlyIncreasing,
  ids,
  rejection,
  uniquePrefix,
  type EventStoreHarness,
} from './contract-support';
import { describeMultiStreamAppend } from './multi-stream-contract';
import { describeSubscriptionContract } from './subscription-contract';

export type { EventStoreHarness, HeldAppend } from './contract-support';

/**
 * The behaviour every EventStore adapter must show, declared as one jest `describe` block. Each
 * adapter's spec calls it with a harness; all tests write under unique stream names, so it also
 * runs against a long-lived shared server.
 */
export function describeEventStoreContract<S extends EventStore>(name: string, harness: EventStoreHarness<S>): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: S | undefined;
    const getStore = (): S => {
      if (!store) throw new Error('the store was not created');
      return store;
    };
    beforeAll(async () => {
      store = await harness.create();
    });
    afterAll(async () => {
      await store?.close();
    });

    describeAppendAndRead(getStore);
    describeExpectedRevisions(getStore);
    describeConcurrentAppends(getStore);
    describeMultiStreamAppend(getStore, harness);
    describeSubscriptionContract(getStore, harness);
  });
}

function describeAppendAndRead(getStore: () => EventStore): void {
  describe('append and read', () => {
    it('reads back what was appended, with revisions, positions and timestamps', async () => {
      const stream = uniquePrefix('roundtrip');
      const appended = [
        anEvent('Account.Opened', { owner: 'ada', tags: ['a', 'b'], nested: { ok: true, n: 1.5 } }, { causationId: 'c-1' }),
        anEvent('Account.Credited', { amount: 10, note: null }, { correlationId: 'x', traceparent: '00-ab' }),
        anEvent('Account.Closed', {}),
      ];
      const result = await getStore().appendToStream(stream, appended, { expectedRevision: 'no_stream' });
      const read = await getStore().readStream(stream);

      expect(result.nextExpectedRevision).toBe(2n);
      expect(
        read.map(({ id, streamName, revision, type, data, metadata }) => ({ id, streamName, revision, type, data, metadata })),
      ).toEqual(
        appended.map((event, index) => ({
          id: event.id,
          streamName: stream,
          revision: BigInt(index),
          type: event.type,
          data: event.data,
          metadata: event.metadata ?? {},
        })),
      );
      expectStrictlyIncreasing(read.map((event) => event.position));
      // Read-your-writes waits on this position, so it must not lie beyond the batch.
      expect(comparePositions(read[0]!.position, result.position)).toBeLessThanOrEqual(0);
      expect(comparePositions(result.position, read[2]!.position)).toBeLessThanOrEqual(0);
      for (const event of read) {
        expect(event.createdAt).toBeInstanceOf(Date);
        // Server and test clocks may differ a little; a wrong unit or epoch would be far off.
        expect(Math.abs(event.createdAt.getTime() - Date.now())).toBeLessThan(5 * 60_000);
      }
    });

    it('reads a stream from a revision, up to a maximum count', async () => {
      const stream = uniquePrefix('range');
      // More than ten, so revisions sorted as text instead of numbers would show.
      const appended = events(12);
      await getStore().appendToStream(stream, appended);

      expect(ids(await getStore().readStream(stream))).toEqual(ids(appended));
      expect(ids(await getStore().readStream(stream, { fromRevision: 8n, maxCount: 3 }))).toEqual(ids(appended.slice(8, 11)));
      expect(ids(await getStore().readStream(stream, { fromRevision: 9n }))).toEqual(ids(appended.slice(9)));
      expect(ids(await getStore().readStream(stream, { maxCount: 1 }))).toEqual(ids(appended.slice(0, 1)));
      expect(await getStore().readStream(stream, { fromRevision: 12n })).toEqual([]);
    });

    it('reads an empty list for a stream that does not exist', async () => {
      expect(await getStore().readStream(uniquePrefix('missing'))).toEqual([]);
    });

    it('gives events without an id a unique UUID', async () => {
      const stream = uniquePrefix('generated_ids');
      await getStore().appendToStream(stream, [
        { type: 'A', data: {} },
        { type: 'B', data: {} },
      ]);
      const read = await getStore().readStream(stream);
      expect(read.map((event) => event.type)).toEqual(['A', 'B']);
      for (const event of read) expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
      expect(read[0]!.id).not.toBe(read[1]!.id);
    });

    it('treats a retried append of the same event ids as already done', async () => {
      const stream = uniquePrefix('retry');
      await getStore().appendToStream(stream, events(1));
      const batch = events(2, 'Thing.Happened', 1);
      const first = await getStore().appendToStream(stream, batch, { expectedRevision: 0n });
      const retried = await getStore().appendToStream(stream, batch, { expectedRevision: 0n });

      expect(retried.nextExpectedRevision).toBe(first.nextExpectedRevision);
      expect((await getStore().readStream(stream)).length).toBe(3);
    });

    it('removes the oldest events of a stream committed before a time; reads and appends go on from there', async () => {
      const stream = uniquePrefix('retention');
      await getStore().appendToStream(stream, events(3));
      // Stored times are read back to the millisecond: the second append must come in a later one.
      const firstDone = Date.now();
      await eventually(async () => Date.now() > firstDone + 2, 'the clock moves on');
      await getStore().appendToStream(stream, events(2, 'Thing.Happened', 3), { expectedRevision: 2n });
      const before = (await getStore().readStream(stream))[3]!.createdAt;

      expect(await getStore().removeEventsBefore(stream, before, 2)).toBe(2);
      expect(await getStore().removeEventsBefore(stream, before, 2)).toBe(1);
      expect(await getStore().removeEventsBefore(stream, before, 2)).toBe(0);
      expect((await getStore().readStream(stream)).map((event) => event.revision)).toEqual([3n, 4n]);
      const next = await getStore().appendToStream(stream, events(1, 'Thing.Happened', 5), { expectedRevision: 4n });
      expect(next.nextExpectedRevision).toBe(5n);
      expect(await getStore().removeEventsBefore(uniquePrefix('no-such-stream'), before, 10)).toBe(0);
    });

    it('answers ping and reports a head position at or after the last append', async () => {
      await getStore().ping();
      const result = await getStore().appendToStream(uniquePrefix('head'), events(2));
      await eventually(async () => {
        const head = await getStore().headPosition();
        return head !== undefined && comparePositions(head, result.position) >= 0;
      }, 'head position reaches the append');
    });
  });
}

function describeExpectedRevisions(getStore: () => EventStore): void {
  const append = (stream: string, expectedRevision: ExpectedRevision, count = 1) =>
    getStore().appendToStream(stream, events(count), { expectedRevision });

  describe('expected revision', () => {
    it("'any' appends whether or not the stream exists", async () => {
      const stream = uniquePrefix('any');
      expect((await append(stream, 'any', 2)).nextExpectedRevision).toBe(1n);
      expect((await append(stream, 'any')).nextExpectedRevision).toBe(2n);
      expect((await getStore().readStream(stream)).map((event) => event.revision)).toEqual([0n, 1n, 2n]);
    });

    it("'no_stream' appends only to a stream that does not exist", async () => {
      const stream = uniquePrefix('no_stream');
      expect((await append(stream, 'no_stream')).nextExpectedRevision).toBe(0n);
      const error = await rejection(append(stream, 'no_stream'));
      expect(error.streamName).toBe(stream);
      expect(error.expected).toBe('no_stream');
      expectActual(error, 0n);
      expect((await getStore().readStream(stream)).length).toBe(1);
    });

    it("'stream_exists' appends only to a stream that exists", async () => {
      const stream = uniquePrefix('stream_exists');
      const error = await rejection(append(stream, 'stream_exists'));
      expectActual(error, -1n);
      expect(await getStore().readStream(stream)).toEqual([]);
      await append(stream, 'no_stream');
      expect((await append(stream, 'stream_exists', 2)).nextExpectedRevision).toBe(2n);
    });

    it('an exact revision appends only when it is the last revision of the stream', async () => {
      const stream = uniquePrefix('exact');
      expectActual(await rejection(append(stream, 0n)), -1n);
      await append(stream, 'no_stream', 2);
      expect((await append(stream, 1n, 3)).nextExpectedRevision).toBe(4n);

      const stale = await rejection(append(stream, 1n));
      expect(stale.expected).toBe(1n);
      expectActual(stale, 4n);
      expectActual(await rejection(append(stream, 9n)), 4n);
      expect((await getStore().readStream(stream)).length).toBe(5);
    });

    it('an empty append changes nothing, reports the current revision and still checks the expectation', async () => {
      const stream = uniquePrefix('empty');
      await append(stream, 'any', 3);
      expect((await getStore().appendToStream(stream, [], { expectedRevision: 'any' })).nextExpectedRevision).toBe(2n);
      expect((await getStore().appendToStream(stream, [], { expectedRevision: 2n })).nextExpectedRevision).toBe(2n);
      await rejection(getStore().appendToStream(stream, [], { expectedRevision: 0n }));
      await rejection(getStore().appendToStream(stream, [], { expectedRevision: 'no_stream' }));
      expect((await getStore().readStream(stream)).length).toBe(3);
    });
  });
}

function describeConcurrentAppends(getStore: () => EventStore): void {
  const APPENDERS = 20;

  describe('concurrent appends to one stream', () => {
    it.each<[string, ExpectedRevision, number]>([
      ['an exact revision', 0n, 1],
      ["'no_stream'", 'no_stream', 0],
    ])(`with %s, exactly one of ${APPENDERS} racing appenders wins`, async (_rule, expectedRevision, existing) => {
      const stream = uniquePrefix('race');
      if (existing > 0) await getStore().appendToStream(stream, events(existing));
      const batches = Array.from({ length: APPENDERS }, (_, writer) => events(2, `Writer${writer}.Wrote`));
      const outcomes = await Promise.allSettled(batches.map((batch) => getStore().appendToStream(stream, batch, { expectedRevision })));

      const winners = outcomes.flatMap((outcome, writer) => (outcome.status === 'fulfilled' ? [writer] : []));
      expect(winners.length).toBe(1);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(WrongExpectedRevisionError);
      }
      const read = await getStore().readStream(stream);
      expect(ids(read.slice(existing))).toEqual(ids(batches[winners[0]!]!));
      expect(read.map((event) => event.revision)).toEqual(read.map((_, index) => BigInt(index)));
    });

    it('appenders retrying on conflict end with every event exactly once and no gaps', async () => {
      const stream = uniquePrefix('retrying');
      const writers = 8;
      const perWriter = 5;
      const written = await Promise.all(
        Array.from({ length: writers }, (_, writer) => appendOneByOne(getStore(), stream, writer, perWriter)),
      );

      const read = await getStore().readStream(stream);
      expect(read.map((event) => event.revision)).toEqual(Array.from({ length: writers * perWriter }, (_, index) => BigInt(index)));
      expect(new Set(ids(read))).toEqual(new Set(written.flat()));
      for (const writerIds of written) {
        const order = read.filter((event) => writerIds.includes(event.id)).map((event) => event.id);
        expect(order).toEqual(writerIds);
      }
    });
  });
}

/** Read the last revision, append after it, and on a conflict read again: the usual command loop. */
async function appendOneByOne(store: EventStore, stream: string, writer: number, count: number): Promise<string[]> {
  const written: string[] = [];
  for (let n = 0; n < count; n++) {
    const event = { id: randomUUID(), type: 'Counter.Incremented', data: { writer, n } };
    for (let attempt = 0; ; attempt++) {
      if (attempt > 500) throw new Error(`writer ${writer} never won a revision`);
      const current = await store.readStream(stream);
      const last = current[current.length - 1];
      try {
        await store.appendToStream(stream, [event], { expectedRevision: last ? last.revision : 'no_stream' });
        break;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
      }
    }
    written.push(event.id);
  }
  return written;
}
