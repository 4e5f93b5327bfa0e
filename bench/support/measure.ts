import { performance } from 'node:perf_hooks';
import { startCpuMeter, type CpuShare } from './cpu-meter';

/** What one timed window achieved: `units` (rows, events, sign-ups) over `seconds`. */
export interface Throughput {
  readonly units: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Operations that threw; a non-zero count makes the window suspect, so it is reported. */
  readonly failures: number;
  /** Where the CPU went during the window: the answer to "what is the bottleneck". */
  readonly cpu: CpuShare;
  /** Duration of one step (a call, a request), in milliseconds. */
  readonly stepMs: { readonly p50: number; readonly p99: number };
}

/** What closed loops did in their window, before the CPU it cost is known (see closedLoops). */
export interface LoopsRun {
  readonly units: number;
  readonly seconds: number;
  readonly failures: number;
  readonly stepDurations: number[];
}

/**
 * Runs `workers` closed loops until `durationMs` has passed. Each call of `step` reports how many
 * units it completed. The window ends when the last in-flight step finishes, so a slow final step
 * is counted in both the units and the time instead of being cut off.
 */
export async function runClosedLoops(workers: number, durationMs: number, step: (worker: number) => Promise<number>): Promise<Throughput> {
  return measuredWindow(() => closedLoops(workers, durationMs, step));
}

/**
 * The loops of runClosedLoops without the CPU meter, for a thread that runs its own clients (the
 * meter stays with the process that reads the figure: see measuredWindow).
 */
export async function closedLoops(workers: number, durationMs: number, step: (worker: number) => Promise<number>): Promise<LoopsRun> {
  const started = performance.now();
  const deadline = started + durationMs;
  let units = 0;
  let failures = 0;
  let firstError: unknown;
  const stepDurations: number[] = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (performance.now() < deadline) {
        const stepStarted = performance.now();
        try {
          // Not `units += await step()`: that reads `units` before the await and loses the other workers' updates.
          const completed = await step(worker);
          units += completed;
          stepDurations.push(performance.now() - stepStarted);
        } catch (error) {
          failures++;
          firstError ??= error;
          // A persistent failure must not spin the loop and burn the window it is supposed to measure.
          if (failures > 50) throw firstError;
        }
      }
    }),
  );
  return { units, seconds: (performance.now() - started) / 1000, failures, stepDurations };
}

/** A window of loops (run here or on another thread) with the CPU the machine spent meanwhile. */
export async function measuredWindow(run: () => Promise<LoopsRun>): Promise<Throughput> {
  const cpu = startCpuMeter();
  const { units, seconds, failures, stepDurations } = await run();
  const cpuShare = cpu();
  const sorted = [...stepDurations].sort((a, b) => a - b);
  const stepMs = { p50: percentileOfSorted(sorted, 50), p99: percentileOfSorted(sorted, 99) };
  return { units, seconds, perSecond: units / seconds, failures, cpu: cpuShare, stepMs };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of an already sorted list. */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A ~600-byte event body of the kind sign-ups and profile changes carry. Built once and varied per
 * row by the caller, so JSON generation costs the same on both sides of a comparison.
 */
export function samplePayload(serial: number): Record<string, unknown> {
  return {
    userId: `0190f3a2-7c1e-7b4d-9e2a-${serial.toString(16).padStart(12, '0')}`,
    emailIndex: 'b64:Qm9va2tlZXBpbmcgaXMgYSBkaXNjaXBsaW5lLCBub3QgYSBmZWF0dXJl',
    profile: { givenName: 'Ada', familyName: 'Lovelace', locale: 'en-GB', phone: null },
    consents: [
      { purpose: 'newsletter', policyVersion: '2024-11-01' },
      { purpose: 'analytics', policyVersion: '2024-11-01' },
    ],
    verificationTokenHash: 'sha256:3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea',
    verificationExpiresAt: '2025-01-03T10:15:30.000Z',
    source: { channel: 'web', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0', ip: '203.0.113.7' },
    note: 'registration event',
  };
}

export function sampleMetadata(serial: number): Record<string, unknown> {
  return {
    tenantId: '0190f3a2-0000-7000-8000-000000000001',
    schemaVersion: 1,
    correlationId: `corr-${serial}`,
    causationId: `corr-${serial}`,
    occurredAt: '2025-01-01T10:15:30.000Z',
  };
}

/**
 * The services' cross-process wake-up as the environment asks for it (`EVENTSTORE_WAKE=notify npm
 * run bench -- audiences`), so both settings can be measured from one build; unset, the services' default.
 */
export function wakeFromEnvironment(): { EVENTSTORE_WAKE?: string } {
  const wake = process.env.EVENTSTORE_WAKE;
  return wake ? { EVENTSTORE_WAKE: wake } : {};
}
