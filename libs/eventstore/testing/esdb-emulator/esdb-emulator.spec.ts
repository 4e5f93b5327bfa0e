/**
 * The emulator as the real `@eventstore/db-client` sees it. These pin down the protocol details
 * the adapter relies on, in the client's own terms.
 */
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  eventTypeFilter,
  jsonEvent,
  START,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { credentials, Metadata } from '@grpc/grpc-js';
import { StreamsClient } from '@eventstore/db-client/generated/streams_grpc_pb';
import { ReadReq, type ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { Empty, StreamIdentifier } from '@eventstore/db-client/generated/shared_pb';
import { parseUUID } from '@eventstore/db-client/dist/utils/grpcUUID';
import { startEsdbEmulator, type EsdbEmulator } from './index';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

async function take<T>(source: AsyncIterable<T>, count: number): Promise<T[]> {
  const items: T[] = [];
  if (count === 0) return items;
  for await (const item of source) {
    items.push(item);
    if (items.length === count) break;
  }
  return items;
}

describe.each([
  { path: 'BatchAppend', batchAppend: true },
  { path: 'Append (server without ServerFeatures)', batchAppend: false },
])('EventStoreDB emulator, writes through $path', ({ batchAppend }) => {
  let emulator: EsdbEmulator;
  let client: EventStoreDBClient;

  beforeEach(async () => {
    emulator = await startEsdbEmulator({ batchAppend });
    client = EventStoreDBClient.connectionString(emulator.url);
  });
  afterEach(async () => {
    await client.dispose();
    await emulator.stop();
  });

  it('stores JSON events with their id, type, data, custom metadata and creation time', async () => {
    const before = Date.now();
    const id = '3F2504E0-4F89-41D3-9A0C-0305E82C3301';
    const result = await client.appendToStream('order-1', [
      jsonEvent({ id, type: 'OrderPlaced', data: { total: 12 }, metadata: { causationId: 'c-1' } }),
      jsonEvent({ type: 'OrderPaid', data: { method: 'card' } }),
    ]);
    const after = Date.now();

    expect(result.nextExpectedRevision).toBe(1n);
    const events = (await collect(client.readStream('order-1'))).map((resolved) => resolved.event!);
    expect(events.map((event) => [event.id, event.type, event.revision, event.data, event.metadata, event.isJson])).toEqual([
      [id.toLowerCase(), 'OrderPlaced', 0n, { total: 12 }, { causationId: 'c-1' }, true],
      [expect.any(String), 'OrderPaid', 1n, { method: 'card' }, undefined, true],
    ]);
    for (const event of events) {
      expect(event.created.getTime()).toBeGreaterThanOrEqual(before);
      expect(event.created.getTime()).toBeLessThanOrEqual(after);
    }
    expect(result.position).toEqual(events[1]!.position);
  });

  it('raises WrongExpectedVersionError with the actual revision', async () => {
    await client.appendToStream('cart-1', [jsonEvent({ type: 'Opened', data: {} })]);

    const stale = client.appendToStream('cart-1', [jsonEvent({ type: 'Closed', data: {} })], { expectedRevision: 5n });
    await expect(stale).rejects.toBeInstanceOf(WrongExpectedVersionError);
    await expect(stale).rejects.toMatchObject({ streamName: 'cart-1', expectedVersion: 5n, actualVersion: 0n });

    const again = client.appendToStream('cart-1', [jsonEvent({ type: 'Opened', data: {} })], { expectedRevision: 'no_stream' });
    await expect(again).rejects.toMatchObject({ expectedVersion: 'no_stream', actualVersion: 0n });

    const missing = client.appendToStream('cart-2', [jsonEvent({ type: 'Closed', data: {} })], { expectedRevision: 'stream_exists' });
    await expect(missing).rejects.toMatchObject({ expectedVersion: 'stream_exists', actualVersion: 'no_stream' });
  });

  it('lets exactly one of many concurrent writers win each expected revision', async () => {
    await client.appendToStream('counter', [jsonEvent({ type: 'Created', data: {} })]);
    const writers = Array.from({ length: 25 }, (_, writer) =>
      client.appendToStream('counter', [jsonEvent({ type: 'Incremented', data: { writer } })], { expectedRevision: 0n }),
    );
    const outcomes = await Promise.allSettled(writers);

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const losers = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(losers.every((loser) => loser.reason instanceof WrongExpectedVersionError)).toBe(true);
    expect(await collect(client.readStream('counter'))).toHaveLength(2);
  });

  it('recognises a retried write by its event ids', async () => {
    const events = [jsonEvent({ type: 'A', data: {} }), jsonEvent({ type: 'B', data: {} })];
    const first = await client.appendToStream('retry', events, { expectedRevision: 'no_stream' });
    const retry = await client.appendToStream('retry', events, { expectedRevision: 'no_stream' });

    expect(retry).toEqual(first);
    expect(await collect(client.readStream('retry'))).toHaveLength(2);
  });
});

describe('EventStoreDB emulator, reads and subscriptions', () => {
  let emulator: EsdbEmulator;
  let client: EventStoreDBClient;

  beforeAll(async () => {
    emulator = await startEsdbEmulator();
    client = EventStoreDBClient.connectionString(emulator.url);
    await client.appendToStream(
      'user-1',
      [1, 2, 3].map((n) => jsonEvent({ type: 'UserTouched', data: { n } })),
    );
    await client.appendToStream('order-1', [jsonEvent({ type: 'OrderPlaced', data: {} })]);
    await client.appendToStream('user-2', [jsonEvent({ type: 'UserRegistered', data: {} })]);
  });
  afterAll(async () => {
    await client.dispose();
    await emulator.stop();
  });

  it('answers a missing stream with StreamNotFoundError', async () => {
    await expect(collect(client.readStream('nobody'))).rejects.toBeInstanceOf(StreamNotFoundError);
  });

  it('reads a stream forwards and backwards from a revision, bounded by maxCount', async () => {
    const revisions = async (options: Parameters<EventStoreDBClient['readStream']>[1]) =>
      (await collect(client.readStream('user-1', options))).map((resolved) => resolved.event!.revision);

    expect(await revisions({ fromRevision: 1n })).toEqual([1n, 2n]);
    expect(await revisions({ fromRevision: 1n, maxCount: 1 })).toEqual([1n]);
    expect(await revisions({ direction: BACKWARDS, fromRevision: END })).toEqual([2n, 1n, 0n]);
    expect(await revisions({ direction: BACKWARDS, fromRevision: 1n })).toEqual([1n, 0n]);
    expect(await revisions({ fromRevision: 9n })).toEqual([]);
  });

  it('reads $all with system events, forwards from a position inclusive and backwards exclusive', async () => {
    const all = (await collect(client.readAll())).map((resolved) => resolved.event!);
    expect(all.slice(0, 3).every((event) => event.streamId.startsWith('$'))).toBe(true);
    const user = all.filter((event) => !event.streamId.startsWith('$'));
    expect(user.map((event) => event.streamId)).toEqual(['user-1', 'user-1', 'user-1', 'order-1', 'user-2']);

    const pivot = user[3]!.position!;
    const forwards = await collect(client.readAll({ fromPosition: pivot, maxCount: 2 }));
    expect(forwards.map((resolved) => resolved.event!.streamId)).toEqual(['order-1', 'user-2']);
    const backwards = await collect(client.readAll({ fromPosition: pivot, direction: BACKWARDS, maxCount: 1 }));
    expect(backwards.map((resolved) => resolved.event!.revision)).toEqual([2n]);
    const last = await collect(client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1 }));
    expect(last[0]!.event!.streamId).toBe('user-2');
  });

  it('subscribes to $all strictly after a position, catches up, then goes live', async () => {
    const user = (await collect(client.readAll())).map((resolved) => resolved.event!).filter((event) => !event.streamId.startsWith('$'));
    const subscription = client.subscribeToAll({ fromPosition: user[1]!.position! });
    const confirmed = new Promise((resolve) => subscription.once('confirmation', resolve));
    const caughtUp = new Promise((resolve) => subscription.once('caughtUp', resolve));
    const received = take(subscription as AsyncIterable<AllStreamResolvedEvent>, 4);

    await confirmed;
    await caughtUp;
    await client.appendToStream('live-1', [jsonEvent({ type: 'Happened', data: {} })]);
    const events = (await received).map((resolved) => `${resolved.event!.streamId}@${resolved.event!.revision}`);
    await subscription.unsubscribe();

    expect(events).toEqual(['user-1@2', 'order-1@0', 'user-2@0', 'live-1@0']);
  });

  it('filters by stream-name prefix and by event-type regex, with checkpoints', async () => {
    const checkpoints: Position[] = [];
    const byStream = client.subscribeToAll({
      fromPosition: START,
      filter: streamNameFilter({
        prefixes: ['user-'],
        maxSearchWindow: 1,
        checkpointInterval: 2,
        checkpointReached: (_s, p) => void checkpoints.push(p),
      }),
    });
    const streams = (await take(byStream as AsyncIterable<ResolvedEvent>, 4)).map((resolved) => resolved.event!.streamId);
    await byStream.unsubscribe();
    expect(streams).toEqual(['user-1', 'user-1', 'user-1', 'user-2']);
    expect(checkpoints.length).toBeGreaterThan(0);
    const sorted = [...checkpoints].sort((a, b) => (a.commit < b.commit ? -1 : a.commit > b.commit ? 1 : 0));
    expect(checkpoints).toEqual(sorted);

    const byType = client.subscribeToAll({ fromPosition: START, filter: eventTypeFilter({ regex: '^User(Registered|Touched)$' }) });
    const types = (await take(byType as AsyncIterable<ResolvedEvent>, 4)).map((resolved) => resolved.event!.type);
    await byType.unsubscribe();
    expect(types).toEqual(['UserTouched', 'UserTouched', 'UserTouched', 'UserRegistered']);
  });

  it('encodes event ids in the structured form when asked to', async () => {
    const stored = (await collect(client.readStream('order-1')))[0]!.event!;
    const raw = new StreamsClient(emulator.url.replace(/^esdb:\/\/|\?.*$/g, ''), credentials.createInsecure());
    const streamOptions = new ReadReq.Options.StreamOptions()
      .setStreamIdentifier(new StreamIdentifier().setStreamName(Buffer.from('order-1')))
      .setStart(new Empty());
    const options = new ReadReq.Options()
      .setStream(streamOptions)
      .setCount('1')
      .setNoFilter(new Empty())
      .setUuidOption(new ReadReq.Options.UUIDOption().setStructured(new Empty()));
    const responses = await collect<ReadResp>(raw.read(new ReadReq().setOptions(options), new Metadata()));
    raw.close();

    const id = responses[0]!.getEvent()!.getEvent()!.getId()!;
    expect(id.hasStructured()).toBe(true);
    expect(parseUUID(id)).toBe(stored.id);
  });
});
