import { StreamsRefusedError, WrongExpectedRevisionError, type EventStore, type StreamAppend } from '../src/event-store';
import { events, ids, rejection, uniquePrefix, type EventStoreHarness } from './contract-support';

/**
 * `appendToStreamsExpecting`: offered exactly by the adapters that say they can, and then all or
 * nothing — both streams take their events, or (a stale revision on either) neither does.
 */
export function describeMultiStreamAppend(getStore: () => EventStore, harness: EventStoreHarness): void {
  describe('atomic append to several streams at expected revisions', () => {
    it(`is ${harness.appendsToStreamsAtomically ? '' : 'not '}offered`, () => {
      expect(typeof getStore().appendToStreamsExpecting).toBe(harness.appendsToStreamsAtomically ? 'function' : 'undefined');
    });
    if (!harness.appendsToStreamsAtomically) return;
    const appendTogether = (appends: readonly StreamAppend[]) => getStore().appendToStreamsExpecting!(appends);

    /** A stream with `count` events already, and a name for one that does not exist. */
    async function twoStreams(count: number) {
      const existing = uniquePrefix('together_a');
      await getStore().appendToStream(existing, events(count));
      return { existing, fresh: uniquePrefix('together_b') };
    }

    it('appends to every stream at its revision, in one commit, results in the order given', async () => {
      const { existing, fresh } = await twoStreams(2);
      const [debit, credit] = [events(1, 'Debited'), events(2, 'Credited')];
      const results = await appendTogether([
        { streamName: existing, expectedRevision: 1n, events: debit },
        { streamName: fresh, expectedRevision: -1n, events: credit },
      ]);
      expect(results.map((result) => result.nextExpectedRevision)).toEqual([2n, 1n]);
      expect(results[0]!.position.commit).toBe(results[1]!.position.commit);
      expect(ids((await getStore().readStream(existing)).slice(2))).toEqual(ids(debit));
      expect(ids(await getStore().readStream(fresh))).toEqual(ids(credit));
    });

    it.each([
      ['the first stream', 0],
      ['the second stream', 1],
      ['both streams', 2],
    ])('a stale revision on %s appends nothing to either and names the stream', async (_which, stale) => {
      const { existing, fresh } = await twoStreams(3);
      const other = uniquePrefix('together_c');
      await getStore().appendToStream(other, events(1));
      const error = await rejection(
        appendTogether([
          { streamName: existing, expectedRevision: stale === 0 || stale === 2 ? 1n : 2n, events: events(1, 'Debited') },
          { streamName: other, expectedRevision: stale === 1 || stale === 2 ? -1n : 0n, events: events(1, 'Credited') },
          { streamName: fresh, expectedRevision: -1n, events: events(1, 'Noted') },
        ]),
      );
      expect(error).toBeInstanceOf(StreamsRefusedError);
      expect([...(error as StreamsRefusedError).streamNames].sort()).toEqual(
        (stale === 2 ? [existing, other] : [stale === 0 ? existing : other]).sort(),
      );
      expect((await getStore().readStream(existing)).length).toBe(3);
      expect((await getStore().readStream(other)).length).toBe(1);
      expect(await getStore().readStream(fresh)).toEqual([]);
    });

    it('of racing pairs at the same revisions exactly one lands, whole', async () => {
      const { existing, fresh } = await twoStreams(1);
      const pairs = Array.from({ length: 10 }, (_, writer) => [
        events(1, `Writer${writer}.Debited`),
        events(1, `Writer${writer}.Credited`),
      ]);
      const outcomes = await Promise.allSettled(
        pairs.map(([debit, credit]) =>
          appendTogether([
            { streamName: existing, expectedRevision: 0n, events: debit! },
            { streamName: fresh, expectedRevision: -1n, events: credit! },
          ]),
        ),
      );
      const winners = outcomes.flatMap((outcome, writer) => (outcome.status === 'fulfilled' ? [writer] : []));
      expect(winners).toHaveLength(1);
      for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(WrongExpectedRevisionError);
      const [debit, credit] = pairs[winners[0]!]!;
      expect(ids((await getStore().readStream(existing)).slice(1))).toEqual(ids(debit!));
      expect(ids(await getStore().readStream(fresh))).toEqual(ids(credit!));
    });
  });
}
