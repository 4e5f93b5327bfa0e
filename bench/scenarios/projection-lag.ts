import { performance } from 'node:perf_hooks';
import { comparePositions, type EventStore, type Position } from '#eventstore';
import { PostgresEventStore } from '#eventstore/postgres';
import { startCpuMeter } from '../support/cpu-meter';
import { median, percentileOfSorted, sleep } from '../support/measure';
import { cores, type ReportRow, type ScenarioResult } from '../support/report';
import { countedEvents, ProjectionRig, type RiggedRunner } from './projection-rig';

export interface ProjectionLagSettings {
  readonly durationMs: number;
  /** Lag observed in this first part of the window is left out: the runner is still warming up. */
  readonly settleMs: number;
  readonly log: (line: string) => void;
}

/** Every 10 ms one append of 20 events to a random stream: 2,000 events/s in 100 commits/s. */
const TICK_MS = 10;
const EVENTS_PER_TICK = 20;
const OFFERED_PER_SECOND = EVENTS_PER_TICK * (1000 / TICK_MS);
const STREAMS = 2_000;
const CATCH_UP_EVENTS = 10_000;
const TARGET_P99_MS = 100;
const TIMELINE_SLOT_MS = 500;
const SUB_WINDOWS = 3;

interface Append {
  readonly sentAtMs: number;
  readonly ms: number;
}

interface PacedAppends {
  readonly appended: number;
  readonly failures: number;
  readonly seconds: number;
  readonly appends: readonly Append[];
  readonly last?: Position;
}

/**
 * Open-loop load: ticks fall due at fixed times whatever the store answers, so a slow append
 * cannot quietly lower the offered rate (a closed loop would hide exactly the backlog measured).
 */
async function paceAppends(store: EventStore, streamPrefix: string, durationMs: number): Promise<PacedAppends> {
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  const appends: Append[] = [];
  let appended = 0;
  let failures = 0;
  let last: Position | undefined;
  for (let tick = 0; tick * TICK_MS < durationMs; tick++) {
    const wait = started + tick * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const events = countedEvents(EVENTS_PER_TICK);
    const sentAtMs = performance.now();
    const append = store.appendToStream(`${streamPrefix}${Math.floor(Math.random() * STREAMS)}`, events, { expectedRevision: 'any' }).then(
      (result) => {
        appends.push({ sentAtMs, ms: performance.now() - sentAtMs });
        appended += events.length;
        if (!last || comparePositions(result.position, last) > 0) last = result.position;
      },
      () => {
        failures++;
      },
    );
    inFlight.add(append);
    void append.finally(() => inFlight.delete(append));
  }
  await Promise.all(inFlight);
  return { appended, failures, seconds: (performance.now() - started) / 1000, appends, last };
}

/**
 * The runner's capacity on this machine: a backlog written first, then drained from a standing
 * start. Batches are then as large as the runner allows, so this is the best rate it can reach.
 */
async function measureCatchUp(rig: ProjectionRig): Promise<{ perSecond: number; seconds: number; eventsPerBatch: number }> {
  const { runner, metrics, streamPrefix } = await rig.runnerAtHead('catch-up');
  let last: Position | undefined;
  let written = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (written < CATCH_UP_EVENTS) {
        written += EVENTS_PER_TICK;
        const stream = `${streamPrefix}${Math.floor(Math.random() * STREAMS)}`;
        const result = await rig.store.appendToStream(stream, countedEvents(EVENTS_PER_TICK), { expectedRevision: 'any' });
        if (!last || comparePositions(result.position, last) > 0) last = result.position;
      }
    }),
  );
  const started = performance.now();
  runner.start();
  try {
    if (last) await runner.waitFor(last, 120_000);
  } finally {
    await runner.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: metrics.samples.length / seconds, seconds, eventsPerBatch: metrics.samples.length / Math.max(1, metrics.batches) };
}

/**
 * Worst lag and worst append per half second: tells a steady backlog (lag climbing slot after
 * slot) from stalls (isolated spikes, often with a slow append in the same slot: a WAL flush).
 */
function timeline(rigged: RiggedRunner, started: number, appends: readonly Append[]): Record<string, unknown> {
  const slot = (atMs: number): number => Math.max(0, Math.floor((atMs - started) / TIMELINE_SLOT_MS));
  const maxLagMs: number[] = [];
  const maxAppendMs: number[] = [];
  for (const sample of rigged.metrics.samples)
    maxLagMs[slot(sample.atMs)] = Math.max(maxLagMs[slot(sample.atMs)] ?? 0, Math.round(sample.lagMs));
  for (const append of appends)
    maxAppendMs[slot(append.sentAtMs)] = Math.max(maxAppendMs[slot(append.sentAtMs)] ?? 0, Math.round(append.ms));
  return { slotMs: TIMELINE_SLOT_MS, maxLagMs: Array.from(maxLagMs, (v) => v ?? 0), maxAppendMs: Array.from(maxAppendMs, (v) => v ?? 0) };
}

/**
 * The measured part of the window cut in SUB_WINDOWS equal slices, each with its own p99: the
 * steady load repeated three times, so the headline can be a median like every other figure here.
 */
function subWindowP99s(samples: readonly { atMs: number; lagMs: number }[], from: number, to: number): number[] {
  const width = (to - from) / SUB_WINDOWS;
  return Array.from({ length: SUB_WINDOWS }, (_, index) => {
    const start = from + index * width;
    // The last slice also takes the events committed while the backlog drained after the load stopped.
    const end = index === SUB_WINDOWS - 1 ? Number.POSITIVE_INFINITY : start + width;
    const lags = samples.filter((sample) => sample.atMs >= start && sample.atMs < end).map((sample) => sample.lagMs);
    return percentileOfSorted(
      lags.sort((a, b) => a - b),
      99,
    );
  });
}

interface LagVariant {
  readonly key: string;
  readonly label: string;
  /** Whether the writer shares the runner's pool, and so wakes its subscription directly. */
  readonly sharedPool: boolean;
}

const VARIANTS: readonly LagVariant[] = [
  { key: 'in-process', label: 'writer shares the runner pool: each append wakes the subscription', sharedPool: true },
  {
    key: 'polling',
    label: 'writer on its own pool, as another replica or service: the subscription finds events by polling',
    sharedPool: false,
  },
];

async function measureLag(rig: ProjectionRig, databaseUrl: string, variant: LagVariant, settings: ProjectionLagSettings) {
  const rigged = await rig.runnerAtHead(variant.key);
  const writer = variant.sharedPool ? rig.store : await PostgresEventStore.connect(databaseUrl, { pool: { max: 20 } });
  const meter = startCpuMeter();
  const started = performance.now();
  let paced: PacedAppends;
  try {
    rigged.runner.start();
    paced = await paceAppends(writer, rigged.streamPrefix, settings.durationMs);
    if (paced.last) await rigged.runner.waitFor(paced.last, 60_000);
  } finally {
    await rigged.runner.stop();
    if (writer !== rig.store) await writer.close();
  }
  const cpu = meter();
  const settled = (samples: readonly { atMs: number; lagMs: number }[]): number[] =>
    samples
      .filter((sample) => sample.atMs - started >= settings.settleMs)
      .map((sample) => sample.lagMs)
      .sort((a, b) => a - b);
  const lags = settled(rigged.metrics.samples);
  const seen = settled(rigged.metrics.seenSamples);
  const windowP99s = subWindowP99s(rigged.metrics.samples, started + settings.settleMs, started + settings.durationMs);
  const appendMs = paced.appends.map((append) => append.ms).sort((a, b) => a - b);
  return {
    label: variant.label,
    p50Ms: percentileOfSorted(lags, 50),
    /** The headline: median of the sub-windows' p99s, so one burst from a neighbour does not decide it. */
    p99Ms: median(windowP99s),
    subWindowP99sMs: windowP99s,
    wholeWindowP99Ms: percentileOfSorted(lags, 99),
    maxMs: lags[lags.length - 1] ?? Number.NaN,
    samples: lags.length,
    seenInApplyMs: { p50: percentileOfSorted(seen, 50), p99: percentileOfSorted(seen, 99) },
    appendedPerSecond: paced.appended / paced.seconds,
    appendFailures: paced.failures,
    appendRoundTripMs: { p50: percentileOfSorted(appendMs, 50), p99: percentileOfSorted(appendMs, 99) },
    eventsPerBatch: rigged.metrics.samples.length / Math.max(1, rigged.metrics.batches),
    cores: cpu,
    timeline: timeline(rigged, started, paced.appends),
  };
}

export async function benchProjectionLag(databaseUrl: string, settings: ProjectionLagSettings): Promise<ScenarioResult> {
  const rig = await ProjectionRig.open(databaseUrl, settings.log);
  try {
    const capacity = await measureCatchUp(rig);
    settings.log(
      `  runner catch-up capacity: ${Math.round(capacity.perSecond)} events/s (${CATCH_UP_EVENTS} events in ${capacity.seconds.toFixed(1)} s, ${capacity.eventsPerBatch.toFixed(0)} events/batch)`,
    );
    const details: Record<string, unknown> = {
      tickMs: TICK_MS,
      eventsPerTick: EVENTS_PER_TICK,
      offeredPerSecond: OFFERED_PER_SECOND,
      streams: STREAMS,
      measuredAs:
        'as the runner observes it: Date.now() right after the batch transaction commits minus the event createdAt (now() of the appending transaction)',
      catchUp: { events: CATCH_UP_EVENTS, ...capacity },
      targetP99Ms: TARGET_P99_MS,
    };
    const rows: ReportRow[] = [];
    for (const [index, variant] of VARIANTS.entries()) {
      const lag = await measureLag(rig, databaseUrl, variant, settings);
      details[variant.key] = lag;
      const utilisation = lag.appendedPerSecond / capacity.perSecond;
      settings.log(
        `  projection lag, ${variant.key}: p50 ${lag.p50Ms.toFixed(1)} ms, p99 ${lag.subWindowP99sMs.map((p) => p.toFixed(0)).join(' / ')} ms in ${SUB_WINDOWS} slices ` +
          `(${lag.wholeWindowP99Ms.toFixed(0)} ms over the window), max ${lag.maxMs.toFixed(1)} ms; ` +
          `appended ${Math.round(lag.appendedPerSecond)}/s (append p50 ${lag.appendRoundTripMs.p50.toFixed(1)} / p99 ${lag.appendRoundTripMs.p99.toFixed(1)} ms, ${lag.appendFailures} failed), ` +
          `already ${lag.seenInApplyMs.p50.toFixed(1)} / ${lag.seenInApplyMs.p99.toFixed(1)} ms old when applied (p50 / p99), ` +
          `${lag.eventsPerBatch.toFixed(1)} events/batch, cores: bench ${lag.cores.processCores.toFixed(2)}, pg ${lag.cores.postgresCores.toFixed(2)}, others ${lag.cores.othersCores.toFixed(2)}`,
      );
      const number = `4${'ab'[index]}`;
      rows.push(
        {
          measure: `${number}. lag p99 (median of ${SUB_WINDOWS}), ${variant.key}`,
          figure: `${lag.p99Ms.toFixed(1)} ms`,
          ceiling: `runner ${Math.round(capacity.perSecond).toLocaleString('en-US')} events/s`,
          ratio: `${utilisation.toFixed(3)} load`,
          target: `< ${TARGET_P99_MS} ms`,
          verdict: lag.p99Ms < TARGET_P99_MS && lag.appendFailures === 0 ? 'pass' : 'FAIL',
          neighbours: cores(lag.cores.othersCores),
        },
        {
          measure: `${number}. lag p50 / whole-window p99 / max`,
          figure: `${lag.p50Ms.toFixed(0)} / ${lag.wholeWindowP99Ms.toFixed(0)} / ${lag.maxMs.toFixed(0)} ms`,
          ceiling: `append p99 ${lag.appendRoundTripMs.p99.toFixed(1)} ms`,
          ratio: '-',
          target: 'report only',
          verdict: 'info',
          neighbours: '',
        },
      );
    }
    return { id: 'projection-lag', title: `Projection lag at a paced ${OFFERED_PER_SECOND} events/s`, rows, details };
  } finally {
    await rig.close();
  }
}
