/**
 * Streams.Read without a subscription: one stream or `$all`, either direction, bounded by count.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { EventLog, StoredEvent } from './event-log';
import { eventResponse, filterPredicate, streamIdentifier, streamNameOf, wantsStructuredIds } from './wire';

export type ReadCall = ServerWritableStream<ReadReq, ReadResp>;

/**
 * Writes with the transport's flow control: a large catch-up must wait for the client to drain
 * rather than buffer the whole log in memory. Settles `false` once the client has gone away.
 */
export class ResponseSink {
  private gone = false;
  private readonly goneListeners = new Set<() => void>();

  constructor(private readonly call: ReadCall) {
    call.on('cancelled', () => this.markGone());
    call.on('close', () => this.markGone());
  }

  get isGone(): boolean {
    return this.gone;
  }

  onGone(listener: () => void): () => void {
    this.goneListeners.add(listener);
    return () => this.goneListeners.delete(listener);
  }

  async send(message: ReadResp): Promise<boolean> {
    if (this.gone) return false;
    if (this.call.write(message)) return true;
    await new Promise<void>((resolve) => {
      const stopWaiting = this.onGone(done);
      this.call.once('drain', done);
      function done(): void {
        stopWaiting();
        resolve();
      }
    });
    return !this.gone;
  }

  end(): void {
    if (!this.gone) this.call.end();
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    for (const listener of [...this.goneListeners]) listener();
  }
}

export async function serveRead(sink: ResponseSink, log: EventLog, options: ReadReq.Options): Promise<void> {
  const limit = options.hasCount() ? BigInt(options.getCount()) : BigInt(Number.MAX_SAFE_INTEGER);
  const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
  const structuredIds = wantsStructuredIds(options);
  let events: Iterable<StoredEvent>;
  if (options.hasStream()) {
    const streamOptions = options.getStream()!;
    const streamName = streamNameOf(streamOptions.getStreamIdentifier());
    const stream = log.stream(streamName);
    if (!stream) {
      // Not a gRPC error: the protocol answers a missing stream with a message, then ends normally.
      const notFound = new ReadResp.StreamNotFound().setStreamIdentifier(streamIdentifier(streamName));
      await sink.send(new ReadResp().setStreamNotFound(notFound));
      sink.end();
      return;
    }
    const truncatedBefore = truncateBeforeOf(log, streamName);
    events = [...streamSlice(stream, streamOptions, backwards)].filter((event) => event.revision >= truncatedBefore);
  } else {
    events = allSlice(log, options.getAll()!, backwards);
  }
  const predicate = filterPredicate(options);
  let sent = 0n;
  for (const event of events) {
    if (sent >= limit) break;
    if (predicate && !predicate(event)) continue;
    if (!(await sink.send(eventResponse(event, structuredIds)))) return;
    sent++;
  }
  sink.end();
}

/**
 * A stream's `$tb` (truncate before), from the last `$metadata` event of its metadata stream `$$name`:
 * reads of the stream skip what lies before it, as the server's do (its scavenge removes them later).
 */
function truncateBeforeOf(log: EventLog, streamName: string): bigint {
  const metadata = log.stream(`$$${streamName}`)?.findLast((event) => event.type === '$metadata');
  if (!metadata) return 0n;
  const parsed = JSON.parse(Buffer.from(metadata.data).toString('utf8')) as { $tb?: number | string };
  return parsed.$tb === undefined ? 0n : BigInt(parsed.$tb);
}

function* streamSlice(stream: readonly StoredEvent[], options: ReadReq.Options.StreamOptions, backwards: boolean): Generator<StoredEvent> {
  const last = stream.length - 1;
  const Case = ReadReq.Options.StreamOptions.RevisionOptionCase;
  let from: number;
  switch (options.getRevisionOptionCase()) {
    case Case.REVISION: {
      const revision = BigInt(options.getRevision());
      const beyondEnd = revision > BigInt(last);
      if (backwards) from = beyondEnd ? last : Number(revision);
      else from = beyondEnd ? stream.length : Number(revision);
      break;
    }
    case Case.END:
      from = backwards ? last : stream.length;
      break;
    default:
      from = 0;
  }
  if (backwards) for (let index = from; index >= 0; index--) yield stream[index]!;
  else for (let index = from; index < stream.length; index++) yield stream[index]!;
}

/**
 * `$all` reads are live views of the log: forwards from a position includes the event at it,
 * backwards from a position excludes it, as on the server.
 */
function* allSlice(log: EventLog, options: ReadReq.Options.AllOptions, backwards: boolean): Generator<StoredEvent> {
  const Case = ReadReq.Options.AllOptions.AllOptionCase;
  let from: number;
  switch (options.getAllOptionCase()) {
    case Case.POSITION: {
      const index = log.indexAtOrAfter(BigInt(options.getPosition()!.getCommitPosition()));
      from = backwards ? index - 1 : index;
      break;
    }
    case Case.END:
      from = backwards ? log.length - 1 : log.length;
      break;
    default:
      from = backwards ? -1 : 0;
  }
  if (backwards) for (let index = from; index >= 0; index--) yield log.eventAt(index)!;
  else for (let index = from; index < log.length; index++) yield log.eventAt(index)!;
}
