import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { HostileCall } from './hostile-calls';
import type { ServiceName } from './four-services';

/** One call of the honest tenant. */
export interface Outcome {
  readonly kind: string;
  readonly status: number;
  readonly detail?: string;
}

/** One call of the hostile tenant, without its body (thousands of them, some of hundreds of KB). */
export interface HostileOutcome {
  readonly serial: number;
  readonly service: ServiceName;
  readonly route: string;
  readonly status: number;
  readonly problemJson: boolean;
  readonly messages?: HostileCall['messages'];
  readonly storesOnSuccess?: boolean;
  readonly error?: string;
}

/** Linux counts process CPU in ticks of 1/100 s. */
const TICKS_PER_SECOND = 100;

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return Number.NaN;
  }
}

function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  return { busy: total - fields[3]! - fields[4]!, total };
}

/**
 * Cores each named process used from now until the returned function is called, and the whole
 * machine's: on a shared 2-core host, what the rest took (PostgreSQL, other engineers' work) says
 * how loaded the window was.
 */
export function startCpuShares(pids: Record<string, number>): () => Record<string, number> {
  const began = performance.now();
  const machine = machineTicks();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processTicks(pid)]));
  return () => {
    const seconds = (performance.now() - began) / 1000;
    const now = machineTicks();
    const shares = Object.fromEntries(
      Object.entries(pids).map(([name, pid]) => [name, (processTicks(pid) - before[name]!) / TICKS_PER_SECOND / seconds]),
    );
    return { ...shares, machine: ((now.busy - machine.busy) / (now.total - machine.total)) * cpus().length };
  };
}

/** What happened, for the log: B's calls and lags, where the CPU went, A's calls by route and status. */
export function report(window: {
  seconds: number;
  honest: readonly Outcome[];
  lags: Record<string, number[]>;
  hostile: readonly HostileOutcome[];
  cores: Record<string, number>;
}): void {
  const { seconds, honest, lags, hostile, cores } = window;
  const count = <T>(items: readonly T[], key: (item: T) => string) =>
    [...items.reduce((counts, item) => counts.set(key(item), (counts.get(key(item)) ?? 0) + 1), new Map<string, number>())]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, n]) => `${name}: ${n}`);
  const lines = [
    `noisy neighbour: ${seconds.toFixed(1)} s, A sent ${hostile.length} calls (${(hostile.length / seconds).toFixed(0)}/s)`,
    `  cores used: ${Object.entries(cores)
      .map(([name, used]) => `${name} ${used.toFixed(2)}`)
      .join(', ')}`,
    `  B calls: ${count(honest, (o) => `${o.kind} ${o.status}`).join(', ')}`,
  ];
  for (const [kind, measured] of Object.entries(lags)) {
    const sorted = [...measured].sort((a, b) => a - b);
    const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]?.toFixed(0);
    lines.push(`  B lag, ${kind}: n ${sorted.length}, p50 ${at(50)} ms, p99 ${at(99)} ms, max ${at(100)} ms`);
  }
  lines.push('  A calls by route and status:', ...count(hostile, (o) => `${o.route} ${o.status}`).map((line) => `    ${line}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}
