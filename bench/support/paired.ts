import { CORES } from './cpu-meter';
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
  readonly figureCpu: CpuPerUnit;
  readonly ceilingCpu: CpuPerUnit;
  /** Median over all windows of the cores used by neither this process nor its PostgreSQL. */
  readonly neighbourCores: number;
}

/**
 * CPU milliseconds one unit costs in this process, in the bench's PostgreSQL, and on the whole
 * machine (which includes whatever the neighbours ran). When the machine is saturated, figure and
 * ceiling differ by the extra CPU a unit of the figure costs, which is where to look for savings.
 */
export interface CpuPerUnit {
  readonly machineMs: number;
  readonly benchProcessMs: number;
  readonly postgresMs: number;
}

function cpuPerUnit(window: Throughput): CpuPerUnit {
  return {
    machineMs: (window.cpu.machineBusy * CORES * 1000) / window.perSecond,
    benchProcessMs: (window.cpu.processCores * 1000) / window.perSecond,
    postgresMs: (window.cpu.postgresCores * 1000) / window.perSecond,
  };
}

function medianCpuPerUnit(windows: readonly Throughput[]): CpuPerUnit {
  const each = windows.map(cpuPerUnit);
  return {
    machineMs: median(each.map((c) => c.machineMs)),
    benchProcessMs: median(each.map((c) => c.benchProcessMs)),
    postgresMs: median(each.map((c) => c.postgresMs)),
  };
}

function describeCpu(cpu: CpuPerUnit): string {
  return `${cpu.benchProcessMs.toFixed(3)} bench process + ${cpu.postgresMs.toFixed(3)} PostgreSQL (${cpu.machineMs.toFixed(3)} machine)`;
}

export interface PairedPlan {
  readonly label: string;
  readonly repetitions: number;
  /** Unmeasured rounds of both sides first: JIT, prepared statements, caches, connection set-up. */
  readonly warmUp: () => Promise<void>;
  readonly ceiling: () => Promise<Throughput>;
  readonly figure: () => Promise<Throughput>;
  /**
   * Run, untimed, before every window of either side: where the windows write heavily, a CHECKPOINT,
   * so that each window starts at the same point of PostgreSQL's checkpoint cycle.
   */
  readonly beforeEachWindow?: () => Promise<void>;
  readonly log: (line: string) => void;
}

/**
 * Alternates which side runs first in each repetition, so a drift of the machine over the run (a
 * checkpoint, a neighbour waking up, a table growing) does not always land on the same side.
 */
export async function runPaired(plan: PairedPlan): Promise<PairedSummary> {
  await plan.warmUp();
  const measure = async (side: () => Promise<Throughput>) => {
    await plan.beforeEachWindow?.();
    return side();
  };
  const runs: PairedRun[] = [];
  for (let repetition = 0; repetition < plan.repetitions; repetition++) {
    let ceiling: Throughput;
    let figure: Throughput;
    if (repetition % 2 === 0) {
      ceiling = await measure(plan.ceiling);
      figure = await measure(plan.figure);
    } else {
      figure = await measure(plan.figure);
      ceiling = await measure(plan.ceiling);
    }
    const run = { ceiling, figure, ratio: figure.perSecond / ceiling.perSecond };
    runs.push(run);
    plan.log(
      `  ${plan.label} #${repetition + 1}: figure ${describe(figure)} | ceiling ${describe(ceiling)} | ratio ${run.ratio.toFixed(2)}`,
    );
  }
  const figureCpu = medianCpuPerUnit(runs.map((run) => run.figure));
  const ceilingCpu = medianCpuPerUnit(runs.map((run) => run.ceiling));
  plan.log(`  ${plan.label}: CPU ms per unit (medians): figure ${describeCpu(figureCpu)}; ceiling ${describeCpu(ceilingCpu)}`);
  return {
    runs,
    figureCpu,
    ceilingCpu,
    neighbourCores: median(runs.flatMap((run) => [run.figure.cpu.othersCores, run.ceiling.cpu.othersCores])),
    medianFigure: median(runs.map((run) => run.figure.perSecond)),
    medianCeiling: median(runs.map((run) => run.ceiling.perSecond)),
    medianRatio: median(runs.map((run) => run.ratio)),
  };
}

/** Rate, step latency and CPU shares of a window, in one short phrase for the progress log. */
function describe(window: Throughput): string {
  const { cpu } = window;
  const failures = window.failures > 0 ? `, ${window.failures} failed` : '';
  return (
    `${round(window.perSecond)}/s (step p50 ${window.stepMs.p50.toFixed(1)} ms; cores: bench ${cpu.processCores.toFixed(2)}, ` +
    `pg ${cpu.postgresCores.toFixed(2)}, others ${cpu.othersCores.toFixed(2)}${failures})`
  );
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
    cores: throughput.cpu,
  });
  return {
    medianFigurePerSecond: summary.medianFigure,
    medianCeilingPerSecond: summary.medianCeiling,
    medianRatio: summary.medianRatio,
    cpuMsPerUnit: { figure: summary.figureCpu, ceiling: summary.ceilingCpu },
    runs: summary.runs.map((run) => ({ ratio: run.ratio, figure: window(run.figure), ceiling: window(run.ceiling) })),
  };
}
