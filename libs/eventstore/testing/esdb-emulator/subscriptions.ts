/**
 * Streams.Read with subscription options on `$all`: confirmation, catch-up, then live.
 *
 * The server's catch-up and live phases hand over through a buffer of "missed" events; here both
 * phases walk the same append-only array with one cursor, which gives the guarantees that handover
 * exists to provide (every event exactly once, in log order) without its moving parts.
 */
import { randomUUID } from 'node:crypto';
import { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { EventLog } from './event-log';
import type { ResponseSink } from './reads';
import { eventResponse, filterPredicate, NotEmulated, wantsStructuredIds } from './wire';

/** The server's page size, which it also uses as the search window when the client sends `count`. */
const DEFAULT_SEARCH_WINDOW = 32;

export async function serveAllSubscription(sink: ResponseSink, log: EventLog, options: ReadReq.Options): Promise<void> {
  if (!options.hasAll()) throw new NotEmulated('the emulator only serves subscriptions to $all');
  const structuredIds = wantsStructuredIds(options);
  const predicate = filterPredicate(options);
  const checkpointInterval = checkpointIntervalOf(options);
  let cursor = startIndex(log, options.getAll()!);

  let wake: (() => void) | undefined;
  const stopListening = log.onAppended(() => wake?.());
  const stopWatching = sink.onGone(() => wake?.());
  try {
    const confirmation = new ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID());
    if (!(await sink.send(new ReadResp().setConfirmation(confirmation)))) return;

    let caughtUp = false;
    let examinedSinceCheckpoint = 0;
    while (!sink.isGone) {
      const event = log.eventAt(cursor);
      if (event) {
        cursor++;
        if (!predicate || predicate(event)) {
          if (!(await sink.send(eventResponse(event, structuredIds)))) return;
        }
        // A checkpoint tells a filtered subscriber how far the server has searched, so it can
        // resume from there even when nothing matched for a long stretch of the log.
        if (checkpointInterval !== undefined && ++examinedSinceCheckpoint >= checkpointInterval) {
          examinedSinceCheckpoint = 0;
          const position = event.position.toString();
          const checkpoint = new ReadResp.Checkpoint().setCommitPosition(position).setPreparePosition(position);
          if (!(await sink.send(new ReadResp().setCheckpoint(checkpoint)))) return;
        }
        continue;
      }
      if (!caughtUp) {
        caughtUp = true;
        if (!(await sink.send(new ReadResp().setCaughtUp(new ReadResp.CaughtUp())))) return;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stopListening();
    stopWatching();
  }
}

/** Subscriptions start strictly after the given position; `end` means "only what comes next". */
function startIndex(log: EventLog, options: ReadReq.Options.AllOptions): number {
  const Case = ReadReq.Options.AllOptions.AllOptionCase;
  switch (options.getAllOptionCase()) {
    case Case.POSITION:
      return log.indexAtOrAfter(BigInt(options.getPosition()!.getCommitPosition()) + 1n);
    case Case.END:
      return log.length;
    default:
      return 0;
  }
}

function checkpointIntervalOf(options: ReadReq.Options): number | undefined {
  if (!options.hasFilter()) return undefined;
  const filter = options.getFilter()!;
  const window = filter.hasMax() && filter.getMax() > 0 ? filter.getMax() : DEFAULT_SEARCH_WINDOW;
  return window * Math.max(1, filter.getCheckpointintervalmultiplier());
}
