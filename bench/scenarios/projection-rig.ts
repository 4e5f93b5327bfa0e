import { performance } from 'node:perf_hooks';
import { Registry, type Histogram, type LabelValues } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import {
  CHECKPOINTS_DDL,
  defineEvent,
  EventCodec,
  EventRegistry,
  ProjectionMetrics,
  ProjectionRunner,
  type EventDefinition,
  type EventEnvelope,
  type PersonalDataSealer,
  type Projection,
} from '#cqrs';
import type { EventToAppend, JsonObject } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { sampleMetadata, samplePayload } from '../support/measure';

const BenchCounted = defineEvent<{ serial: number }>()('BenchCounted');

/** The bench events carry no personal data, so the personal-data layer must never be reached. */
const noPersonalData: PersonalDataSealer = {
  seal: () => Promise.reject(new Error('bench events have no personal data')),
  open: () => Promise.reject(new Error('bench events have no personal data')),
};

let serial = 0;

/** Events of the size sign-ups write, each distinguishable so none is deduplicated anywhere. */
export function countedEvents(count: number): EventToAppend[] {
  return Array.from({ length: count }, () => {
    serial++;
    return {
      type: BenchCounted.type,
      data: { ...samplePayload(serial), serial } as JsonObject,
      metadata: sampleMetadata(serial) as JsonObject,
    };
  });
}

/**
 * The runner reports each event's lag to `lag.observe` right after the batch's transaction has
 * committed (commit time minus the event's createdAt). Recording those exact values, instead of
 * reading the histogram's coarse buckets, gives true percentiles of the lag as the runner sees it.
 */
export class RecordingMetrics extends ProjectionMetrics {
  readonly samples: { atMs: number; lagMs: number }[] = [];
  /**
   * The same lag taken inside `apply`, before the batch commits: the part of the lag spent before
   * the runner had the event (append commit, visibility, polling) as opposed to applying and committing.
   */
  readonly seenSamples: { atMs: number; lagMs: number }[] = [];
  batches = 0;

  constructor(registry: Registry) {
    super(registry);
    const observe = this.lag.observe.bind(this.lag) as (labels: LabelValues<'projection'>, value: number) => void;
    this.lag.observe = ((labels: LabelValues<'projection'>, seconds: number) => {
      this.samples.push({ atMs: performance.now(), lagMs: seconds * 1000 });
      observe(labels, seconds);
    }) as Histogram<'projection'>['observe'];
    const inc = this.applied.inc.bind(this.applied) as (labels: LabelValues<'projection'>, value?: number) => void;
    // The runner counts applied events once per committed batch: counting the calls counts the batches.
    this.applied.inc = ((labels: LabelValues<'projection'>, value?: number) => {
      this.batches++;
      inc(labels, value);
    }) as typeof this.applied.inc;
  }
}

/** The trivial read model: one counter row per stream, upserted per event. */
function counterProjection(name: string, streamPrefix: string, metrics: RecordingMetrics): Projection {
  return {
    name,
    filter: { streamNamePrefixes: [streamPrefix] },
    async apply(envelope: EventEnvelope, tx: EntityManager) {
      metrics.seenSamples.push({ atMs: performance.now(), lagMs: Date.now() - envelope.createdAt.getTime() });
      await tx.query(
        `INSERT INTO bench_stream_counters (stream_name, events, last_revision) VALUES ($1, 1, $2)
         ON CONFLICT (stream_name) DO UPDATE SET events = bench_stream_counters.events + 1, last_revision = excluded.last_revision`,
        [envelope.streamName, envelope.revision.toString()],
      );
    },
  };
}

export interface RiggedRunner {
  readonly runner: ProjectionRunner;
  readonly metrics: RecordingMetrics;
  /** Streams whose names start with this are the ones the runner projects. */
  readonly streamPrefix: string;
}

/**
 * An event store and a read-model database set up the way ServiceInfrastructure sets them up
 * (store pool of 20, TypeORM pool of 10), without the personal-data layer the bench does not need.
 */
export class ProjectionRig {
  private constructor(
    readonly store: PostgresEventStore,
    private readonly dataSource: DataSource,
    private readonly codec: EventCodec,
    private readonly log: (line: string) => void,
  ) {}

  static async open(databaseUrl: string, log: (line: string) => void): Promise<ProjectionRig> {
    const store = await PostgresEventStore.connect(databaseUrl, { pool: { max: 20 } });
    const dataSource = new DataSource({
      type: 'postgres',
      url: databaseUrl,
      entities: [],
      synchronize: false,
      logging: false,
      extra: { max: 10 },
    });
    try {
      await store.migrate();
      await dataSource.initialize();
      await dataSource.query(CHECKPOINTS_DDL);
      await dataSource.query(`CREATE TABLE IF NOT EXISTS bench_stream_counters (
        stream_name text PRIMARY KEY, events bigint NOT NULL, last_revision bigint NOT NULL)`);
    } catch (error) {
      if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
      await store.close().catch(() => undefined);
      throw error;
    }
    // The registry's typing currently refuses concrete event definitions; the codec only looks them up by type.
    const codec = new EventCodec(new EventRegistry([BenchCounted] as unknown as EventDefinition<string, never>[]), noPersonalData);
    return new ProjectionRig(store, dataSource, codec, log);
  }

  /**
   * A runner (not yet started) for its own stream prefix, checkpointed at the store's head so it
   * does not first replay what earlier measurements wrote.
   */
  async runnerAtHead(key: string): Promise<RiggedRunner> {
    const streamPrefix = `bench-lag-${key}-`;
    const metrics = new RecordingMetrics(new Registry());
    const projection = counterProjection(`bench.counters.${key}`, streamPrefix, metrics);
    const head = await this.store.headPosition();
    if (head) {
      await this.dataSource.query(
        'INSERT INTO projection_checkpoints (projection, commit_position, prepare_position) VALUES ($1, $2, $3)',
        [projection.name, head.commit.toString(), head.prepare.toString()],
      );
    }
    const runner = new ProjectionRunner(projection, this.store, this.codec, this.dataSource, metrics, {
      warn: (message, fields) => this.log(`  runner: ${message} ${JSON.stringify(fields ?? {})}`),
    });
    return { runner, metrics, streamPrefix };
  }

  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy().catch(() => undefined);
    await this.store.close().catch(() => undefined);
  }
}
