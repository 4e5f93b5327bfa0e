import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';

export const CORES = cpus().length;

/** Linux reports process CPU in clock ticks of 1/100 s on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * Where the CPU went during a window, in cores (1.0 = one core busy for the whole window). On a
 * shared 2-core machine `othersCores` says how much the neighbours took: a window in which they
 * took a core measures them as much as Tessera.
 */
export interface CpuShare {
  /** Busy share of all cores of the machine, 0..1 (iowait counts as idle). */
  readonly machineBusy: number;
  /** This process: event loop, libuv pool (argon2id), native threads. */
  readonly processCores: number;
  /** The bench's PostgreSQL: postmaster, backends (live and exited), WAL writer, checkpointer. */
  readonly postgresCores: number;
  /** Everything else on the machine: neighbours, the kernel's own threads. */
  readonly othersCores: number;
}

let postmasterPid: number | undefined;

/** Tells the meter which PostgreSQL to account for; without it PostgreSQL counts as "others". */
export function meterPostgres(pid: number | undefined): void {
  postmasterPid = pid;
}

/** Jiffies since boot: busy and total over all cores, from the first line of /proc/stat. */
function machineJiffies(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((sum, value) => sum + value, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may itself contain spaces). */
function statFields(pid: string | number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * Ticks used by the postmaster and its children. Exited backends are included through the
 * postmaster's cutime/cstime, because the postmaster reaps them; a backend that exits during the
 * window is then counted once, on one side or the other.
 */
function postgresTicks(): number | undefined {
  if (postmasterPid === undefined) return undefined;
  const own = statFields(postmasterPid);
  if (!own) return undefined;
  // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields && Number(fields[1]) === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks;
}

/** Starts measuring CPU; the returned function reports the shares used since. */
export function startCpuMeter(): () => CpuShare {
  const machineBefore = machineJiffies();
  const postgresBefore = postgresTicks();
  const processBefore = process.cpuUsage();
  const wallBefore = performance.now();
  return () => {
    const machineAfter = machineJiffies();
    const postgresAfter = postgresTicks();
    const processUsed = process.cpuUsage(processBefore);
    const wallSeconds = (performance.now() - wallBefore) / 1000;
    const machineBusy =
      machineBefore && machineAfter && machineAfter.total > machineBefore.total
        ? (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)
        : Number.NaN;
    const processCores = (processUsed.user + processUsed.system) / 1e6 / wallSeconds;
    const postgresCores =
      postgresBefore !== undefined && postgresAfter !== undefined
        ? (postgresAfter - postgresBefore) / TICKS_PER_SECOND / wallSeconds
        : Number.NaN;
    return {
      machineBusy,
      processCores,
      postgresCores,
      othersCores: Math.max(0, machineBusy * CORES - processCores - (postgresCores || 0)),
    };
  };
}
