import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { primePeople, startPulseServices, trackMessage, type PulseBenchSettings } from './pulse';
import { JsonClient } from './support/http-client';
import { median, runClosedLoops, sleep, type Throughput } from './support/measure';
import { pairedDetails, runPaired } from './support/paired';
import type { PoisonSetup, PoisonWindow } from './support/poison-sender';
import { cores, perSecond, ratioVerdict, type ReportRow, type ScenarioResult } from './support/report';

/** The same windows as pulse's own rows. */
export type NoisyNeighbourBenchSettings = PulseBenchSettings;

/** Tenant B: the batch and workers of pulse's own /v1/batch figure, so the two rows read alike. */
const HONEST_WORKERS = 8;
const BATCH_EVENTS = 100;
/** Tenant A: connections sending poison, each the moment the last was answered. */
const POISON_LOOPS = 16;
const POISON_CALLS = 2_000;
/** The noisy-neighbour test's seed: the same generated calls. */
const POISON_SEED = 18;
const THROUGHPUT_TARGET = 0.8;
const P99_TARGET = 2;

/** The hostile tenant's sender thread (support/poison-sender.ts), started and stopped around a window. */
class PoisonSender {
  private constructor(private readonly worker: Worker) {}

  static async start(setup: PoisonSetup): Promise<PoisonSender> {
    const worker = new Worker(join(__dirname, 'support', 'poison-sender.js'), { workerData: setup });
    await new Promise<void>((ready, failed) => {
      worker.once('message', () => ready());
      worker.once('error', failed);
    });
    return new PoisonSender(worker);
  }

  /** Runs `work` while A sends poison; A starts first and stops once `work` is done. */
  async during<T>(work: () => Promise<T>): Promise<{ result: T; poison: PoisonWindow }> {
    this.worker.postMessage('start');
    const result = await work();
    const poison = new Promise<PoisonWindow>((done) => this.worker.once('message', done));
    this.worker.postMessage('stop');
    return { result, poison: await poison };
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

/**
 * No tenant slows another: tenant B's tracking (/v1/batch, 100 events, 8 closed loops) while
 * tenant A, with its write key, sends the noisy-neighbour test's generated poison (control
 * characters, extreme numbers and dates, deep nesting, huge strings, wrong types) at full rate
 * from a thread of its own, next to B alone in the same run, the windows alternating. Pulse runs
 * as its ingest process does. Target: B keeps at least 0.8 of its throughput alone, and its p99
 * stays under twice its p99 alone.
 */
export async function benchNoisyNeighbour(databaseUrl: string, settings: NoisyNeighbourBenchSettings): Promise<ScenarioResult[]> {
  const services = await startPulseServices(databaseUrl);
  const honest = await services.createTenant();
  const hostile = await services.createTenant();
  const client = new JsonClient(services.url, HONEST_WORKERS);
  const auth = { authorization: `Basic ${Buffer.from(`${honest.writeKey}:`).toString('base64')}` };
  const poison = await PoisonSender.start({
    url: services.url,
    writeKey: hostile.writeKey,
    seed: POISON_SEED,
    calls: POISON_CALLS,
    loops: POISON_LOOPS,
  });
  try {
    let serial = 0;
    const postBatch = async () => {
      const batch = Array.from({ length: BATCH_EVENTS }, () => trackMessage(serial++));
      const response = await client.post('/v1/batch', { batch }, auth);
      if (response.status !== 200) throw new Error(`B's batch answered ${response.status}`);
      return BATCH_EVENTS;
    };
    settings.log('  priming: one message per person of B (creates their data keys)');
    await primePeople(client, auth);
    const poisonWindows: PoisonWindow[] = [];
    const beside = async (): Promise<Throughput> => {
      const { result, poison: window } = await poison.during(() => runClosedLoops(HONEST_WORKERS, settings.windowMs, postBatch));
      poisonWindows.push(window);
      settings.log(`    A: ${describePoison(window, result.seconds)}`);
      return result;
    };
    const summary = await runPaired({
      label: "B's /v1/batch beside A's poison | B alone",
      repetitions: settings.repetitions,
      warmUp: async () => {
        await runClosedLoops(HONEST_WORKERS, settings.warmUpMs, postBatch);
        await poison.during(() => sleep(settings.warmUpMs));
      },
      figure: beside,
      ceiling: () => runClosedLoops(HONEST_WORKERS, settings.windowMs, postBatch),
      log: settings.log,
    });
    const p99Beside = median(summary.runs.map((run) => run.figure.stepMs.p99));
    const p99Alone = median(summary.runs.map((run) => run.ceiling.stepMs.p99));
    const p99Ratio = median(summary.runs.map((run) => run.figure.stepMs.p99 / run.ceiling.stepMs.p99));
    const poisonRate = median(poisonWindows.map((window, i) => window.sent / summary.runs[i]!.figure.seconds));
    const rows: ReportRow[] = [
      {
        measure: "noisy neighbour: B's /v1/batch beside A's poison",
        figure: perSecond(summary.medianFigure, 'events'),
        ceiling: `${perSecond(summary.medianCeiling, 'events')} B alone`,
        ratio: summary.medianRatio.toFixed(2),
        target: `>= ${THROUGHPUT_TARGET}`,
        verdict: ratioVerdict(summary.medianRatio, THROUGHPUT_TARGET),
        neighbours: cores(summary.neighbourCores),
      },
      {
        measure: "noisy neighbour: B's p99 beside A / alone",
        figure: `${p99Beside.toFixed(1)} ms`,
        ceiling: `${p99Alone.toFixed(1)} ms B alone`,
        ratio: p99Ratio.toFixed(2),
        target: `< ${P99_TARGET}x`,
        verdict: p99Ratio < P99_TARGET ? 'pass' : 'FAIL',
        neighbours: '',
      },
      {
        measure: "noisy neighbour: A's poison, full rate",
        figure: perSecond(poisonRate, 'calls'),
        ceiling: '-',
        ratio: '-',
        target: '-',
        verdict: 'info',
        neighbours: '',
      },
    ];
    return [
      {
        id: 'noisy-neighbour',
        title: 'pulse: tenant B beside tenant A sending poison',
        rows,
        details: {
          ...pairedDetails(summary),
          p99Beside,
          p99Alone,
          p99Ratio,
          poisonWindows,
          poisonSeed: POISON_SEED,
          poisonLoops: POISON_LOOPS,
        },
      },
    ];
  } finally {
    client.close();
    await poison.close();
    await services.pulse.close();
    await services.register.close();
  }
}

function describePoison(window: PoisonWindow, seconds: number): string {
  const answers = Object.entries(window.statuses)
    .map(([status, n]) => `${status}: ${((n / window.sent) * 100).toFixed(0)}%`)
    .join(', ');
  return `${Math.round(window.sent / seconds)} calls/s (${answers})`;
}
