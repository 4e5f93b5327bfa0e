import { median, type Throughput } from './measure';

/** One repetition: the figure and its ceiling, measured back to back on the same machine. */
export interface PairedRun {
  readonly ceiling: Throughput;
  readonly figure: Throughput;
  /** figure / ceiling of this repetition. */
  readonly ratio: number;
}

export interface PairedSummary {
  readonly runs: readonly PairedRun[];
  readonly medianFigure: number;
  readonly medianCeiling: number;
  /**
   * Median of the per-repetition ratios, not the ratio of the medians: each pair shares whatever
   * the noisy neighbours were doing at that moment, so dividing within a pair cancels most of it.
   */
  readonly medianRatio: number;
}

export interface PairedPlan {
  readonly label: string;
  readonly repetitions: number;
  /** Unmeasured rounds of both sides first: JIT, prepared statements, caches, connection set-up. */
  readonly warmUp: () => Promise<void>;
  readonly ceiling: () => Promise<Throughput>;
  readonly figure: () => Promise<Throughput>;
  readonly log: (line: string) => void;
}

/**
 * Alternates which side runs first in each repetition, so a drift of the machine over the run (a
 * checkpoint, a neighbour waking up, a table growing) does not always land on the same side.
 */
export async function runPaired(plan: PairedPlan): Promise<PairedSummary> {
  await plan.warmUp();
  const runs: PairedRun[] = [];
  for (let repetition = 0; repetition < plan.repetitions; repetition++) {
    let ceiling: Throughput;
    let figure: Throughput;
    if (repetition % 2 === 0) {
      ceiling = await plan.ceiling();
      figure = await plan.figure();
    } else {
      figure = await plan.figure();
      ceiling = await plan.ceiling();
    }
    const run = { ceiling, figure, ratio: figure.perSecond / ceiling.perSecond };
    runs.push(run);
    plan.log(
      `  ${plan.label} #${repetition + 1}: figure ${describe(figure)} | ceiling ${describe(ceiling)} | ratio ${run.ratio.toFixed(2)}`,
    );
  }
  return {
    runs,
    medianFigure: median(runs.map((run) => run.figure.perSecond)),
    medianCeiling: median(runs.map((run) => run.ceiling.perSecond)),
    medianRatio: median(runs.map((run) => run.ratio)),
  };
}

/** Rate, step latency and CPU shares of a window, in one short phrase for the progress log. */
function describe(window: Throughput): string {
  const busy = Number.isNaN(window.cpu.machineBusy) ? '?' : `${Math.round(window.cpu.machineBusy * 100)}%`;
  const failures = window.failures > 0 ? `, ${window.failures} failed` : '';
  return `${round(window.perSecond)}/s (step p50 ${window.stepMs.p50.toFixed(1)} ms, machine ${busy} busy, bench process ${window.cpu.processCores.toFixed(2)} cores${failures})`;
}

export function round(value: number): number {
  return value >= 100 ? Math.round(value) : Math.round(value * 10) / 10;
}

/** Every repetition in full, for the JSON file: rates, step latencies and where the CPU went. */
export function pairedDetails(summary: PairedSummary): Record<string, unknown> {
  const window = (throughput: Throughput) => ({
    perSecond: throughput.perSecond,
    units: throughput.units,
    seconds: throughput.seconds,
    failures: throughput.failures,
    stepMs: throughput.stepMs,
    machineBusy: throughput.cpu.machineBusy,
    benchProcessCores: throughput.cpu.processCores,
  });
  return {
    medianFigurePerSecond: summary.medianFigure,
    medianCeilingPerSecond: summary.medianCeiling,
    medianRatio: summary.medianRatio,
    runs: summary.runs.map((run) => ({ ratio: run.ratio, figure: window(run.figure), ceiling: window(run.ceiling) })),
  };
}
