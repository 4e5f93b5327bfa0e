import type { Client } from 'pg';
import { eventLogTableDdl, newEventId, type EventToAppend, type ExpectedRevision, type JsonObject } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { runClosedLoops, sampleMetadata, samplePayload, type Throughput } from '../support/measure';
import { connectClient } from '../support/bench-postgres';
import { pairedDetails, runPaired } from '../support/paired';
import { cores, perSecond, ratioVerdict, type ScenarioResult } from '../support/report';

export interface AppendSettings {
  readonly repetitions: number;
  readonly windowMs: number;
  readonly warmUpMs: number;
  readonly log: (line: string) => void;
}

const BATCH_SIZE = 500;
const SINGLE_APPENDERS = 8;
const BATCHED_TARGET = 0.6;

/**
 * The ceiling's table is es_events' own definition (columns, the unique event id, the per-stream
 * revision and the global-order index), so the ceiling pays for what any event log must maintain
 * and the ratio isolates what the store adds on top: the es_streams row that serialises appenders of
 * a stream, the statement shape, the RETURNING of the position.
 */
const RAW_TABLE_DDL = eventLogTableDdl('bench_raw_events').join(';\n');

const RAW_COLUMNS = '(stream_name, stream_revision, event_id, type, data, metadata)';

function rawBatchStatement(rows: number): string {
  const tuples = Array.from({ length: rows }, (_, row) => {
    const first = row * 6;
    return `($${first + 1}, $${first + 2}, $${first + 3}, $${first + 4}, $${first + 5}, $${first + 6})`;
  });
  return `INSERT INTO bench_raw_events ${RAW_COLUMNS} VALUES ${tuples.join(', ')}`;
}

/** The same bodies on both sides: JSON encoding is part of either path's cost and must not differ. */
function sampleEvents(count: number): EventToAppend[] {
  return Array.from({ length: count }, (_, serial) => ({
    type: 'UserRegistered',
    data: samplePayload(serial) as JsonObject,
    metadata: sampleMetadata(serial) as JsonObject,
  }));
}

/** A name no earlier window used, so 'no_stream' holds and raw rows never hit the unique keys. */
let streamSerial = 0;
function freshStreamName(kind: string): string {
  return `bench-${kind}-${process.pid}-${++streamSerial}`;
}

export async function benchAppendThroughput(databaseUrl: string, settings: AppendSettings): Promise<ScenarioResult[]> {
  const setup = await connectClient(databaseUrl);
  const store = await PostgresEventStore.connect(databaseUrl, { pool: { max: SINGLE_APPENDERS } });
  const rawClients: Client[] = [];
  try {
    await store.migrate();
    await setup.query(RAW_TABLE_DDL);
    for (let i = 0; i < SINGLE_APPENDERS; i++) {
      rawClients.push(await connectClient(databaseUrl));
    }
    const batched = await benchBatched(store, rawClients[0]!, settings);
    const single = await benchSingle(store, rawClients, settings);
    return [batched, single];
  } finally {
    await Promise.all(rawClients.map((client) => client.end().catch(() => undefined)));
    await store.close().catch(() => undefined);
    await setup.end().catch(() => undefined);
  }
}

async function benchBatched(store: PostgresEventStore, raw: Client, settings: AppendSettings): Promise<ScenarioResult> {
  const events = sampleEvents(BATCH_SIZE);
  const statement = { name: 'bench_raw_batch', text: rawBatchStatement(BATCH_SIZE) };

  const rawBatch = async (): Promise<number> => {
    const stream = freshStreamName('raw-batch');
    const values: unknown[] = [];
    events.forEach((event, revision) => {
      values.push(stream, revision, newEventId(), event.type, JSON.stringify(event.data), JSON.stringify(event.metadata));
    });
    await raw.query({ ...statement, values });
    return BATCH_SIZE;
  };
  const storeBatch = async (): Promise<number> => {
    await store.appendToStream(freshStreamName('store-batch'), events, { expectedRevision: 'no_stream' });
    return BATCH_SIZE;
  };

  // One connection on both sides: the appendToStream calls run one at a time, and so does the pool of the store below.
  const summary = await runPaired({
    label: 'append batched',
    repetitions: settings.repetitions,
    warmUp: async () => {
      await runClosedLoops(1, settings.warmUpMs, rawBatch);
      await runClosedLoops(1, settings.warmUpMs, storeBatch);
    },
    ceiling: () => runClosedLoops(1, settings.windowMs, rawBatch),
    figure: () => runClosedLoops(1, settings.windowMs, storeBatch),
    log: settings.log,
  });
  return {
    id: 'append-batched',
    title: `Append throughput, ${BATCH_SIZE} events per call, 1 connection`,
    rows: [
      {
        measure: `1. append ${BATCH_SIZE}/call`,
        figure: perSecond(summary.medianFigure, 'events'),
        ceiling: `${perSecond(summary.medianCeiling, 'rows')} raw INSERT`,
        ratio: summary.medianRatio.toFixed(3),
        target: `>= ${BATCHED_TARGET}`,
        verdict: ratioVerdict(summary.medianRatio, BATCHED_TARGET),
        neighbours: cores(summary.neighbourCores),
      },
    ],
    details: {
      batchSize: BATCH_SIZE,
      connections: 1,
      payloadBytes: JSON.stringify(events[0]!.data).length,
      ...pairedDetails(summary),
      target: BATCHED_TARGET,
    },
  };
}

async function benchSingle(store: PostgresEventStore, rawClients: Client[], settings: AppendSettings): Promise<ScenarioResult> {
  const [event] = sampleEvents(1) as [EventToAppend];
  const statement = { name: 'bench_raw_single', text: `INSERT INTO bench_raw_events ${RAW_COLUMNS} VALUES ($1, $2, $3, $4, $5, $6)` };

  // Each worker owns a stream for the whole window, as a command appends to its aggregate's stream.
  const rawStreams = rawClients.map(() => ({ name: '', revision: 0 }));
  const storeStreams = rawClients.map(() => ({ name: '', expected: 'no_stream' as ExpectedRevision }));
  const freshWindow = (): void => {
    for (const stream of rawStreams) Object.assign(stream, { name: freshStreamName('raw-single'), revision: 0 });
    for (const stream of storeStreams) Object.assign(stream, { name: freshStreamName('store-single'), expected: 'no_stream' });
  };

  const rawInsert = async (worker: number): Promise<number> => {
    const stream = rawStreams[worker]!;
    const values = [stream.name, stream.revision++, newEventId(), event.type, JSON.stringify(event.data), JSON.stringify(event.metadata)];
    await rawClients[worker]!.query({ ...statement, values });
    return 1;
  };
  const storeAppend = async (worker: number): Promise<number> => {
    const stream = storeStreams[worker]!;
    const result = await store.appendToStream(stream.name, [event], { expectedRevision: stream.expected });
    stream.expected = result.nextExpectedRevision;
    return 1;
  };
  const window = (durationMs: number, step: (worker: number) => Promise<number>): Promise<Throughput> => {
    freshWindow();
    return runClosedLoops(SINGLE_APPENDERS, durationMs, step);
  };

  const summary = await runPaired({
    label: 'append single',
    repetitions: settings.repetitions,
    warmUp: async () => {
      await window(settings.warmUpMs, rawInsert);
      await window(settings.warmUpMs, storeAppend);
    },
    ceiling: () => window(settings.windowMs, rawInsert),
    figure: () => window(settings.windowMs, storeAppend),
    log: settings.log,
  });
  return {
    id: 'append-single',
    title: `Append throughput, 1 event per call, ${SINGLE_APPENDERS} concurrent appenders`,
    rows: [
      {
        measure: `2. append 1/call x${SINGLE_APPENDERS}`,
        figure: perSecond(summary.medianFigure, 'events'),
        ceiling: `${perSecond(summary.medianCeiling, 'rows')} raw INSERT`,
        ratio: summary.medianRatio.toFixed(3),
        target: 'report only',
        verdict: 'info',
        neighbours: cores(summary.neighbourCores),
      },
    ],
    details: { concurrency: SINGLE_APPENDERS, ...pairedDetails(summary) },
  };
}
