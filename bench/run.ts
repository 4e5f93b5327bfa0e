import 'reflect-metadata';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { benchLogin } from './login';
import { benchNoisyNeighbour } from './noisy-neighbour';
import { benchPulse } from './pulse';
import { benchRewards } from './rewards';
import { benchWebhooks } from './webhooks';
import { benchAudiences } from './audiences';
import { benchAppendThroughput } from './scenarios/append-throughput';
import { benchProjectionLag } from './scenarios/projection-lag';
import { benchSignUps } from './scenarios/sign-ups';
import { startBenchPostgres, type BenchPostgres } from './support/bench-postgres';
import { startCpuMeter } from './support/cpu-meter';
import { formatTable, writeResults, type ScenarioResult } from './support/report';

/**
 * Tessera's bench: `npm run bench` (foundation, then each service). Every figure is printed next to a ceiling measured
 * in the same run on the same machine, because absolute rates on a shared 2-core box say more about
 * the neighbours than about the code; see bench/README.md for how to read the ratios.
 */

/** Short windows, repeated: the median of three resists one noisy window better than one long run. */
const REPETITIONS = 3;
/**
 * The argon2id ceilings (sign-ups, sign-ins) swing by up to a third between windows a minute apart
 * on this host (memory-hard hashing meets the neighbours' memory traffic), so their ratios take
 * the median of five pairs.
 */
const ARGON2_REPETITIONS = 5;
const APPEND_WINDOW_MS = 3_000;
const SIGN_UP_WINDOW_MS = 4_000;
const WARM_UP_MS = 1_000;
const LAG_DURATION_MS = 10_000;
const LAG_SETTLE_MS = 1_000;

// Compiled to dist/bench/run.js; results belong in the source tree's bench/results.
const RESULTS_DIR = join(__dirname, '..', '..', 'bench', 'results');

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const SCENARIOS = ['append', 'sign-ups', 'lag', 'login', 'pulse', 'rewards', 'noisy', 'webhooks', 'audiences'] as const;

function loginPart(value: string | undefined): 'tokens' | 'sign-ins' | 'totp' | 'passkeys' | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'tokens' || value === 'sign-ins' || value === 'totp' || value === 'passkeys') return value;
  throw new Error(`BENCH_LOGIN_ONLY must be tokens, sign-ins, totp or passkeys, not ${value}`);
}

/** `npm run bench -- lag` runs one scenario while working on it; the full run is what gets reported. */
function selectedScenarios(args: readonly string[]): Set<string> {
  const unknown = args.filter((arg) => !(SCENARIOS as readonly string[]).includes(arg));
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
  return new Set(args.length > 0 ? args : SCENARIOS);
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const selected = selectedScenarios(process.argv.slice(2));
  log(
    `tessera bench (foundation): ${cpus().length} cores, node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  let postgres: BenchPostgres | undefined;
  const stopPostgres = (): Promise<void> => postgres?.stop() ?? Promise.resolve();
  // Ctrl-C must not leave a PostgreSQL server and its directory behind.
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    log(`\n${signal}: stopping PostgreSQL and removing its directory`);
    // Connections the running scenario still holds fail as the server stops; that must not cut the clean-up short.
    process.on('uncaughtException', () => undefined);
    process.on('unhandledRejection', () => undefined);
    stopPostgres().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log('starting PostgreSQL (fsync on, synchronous_commit on)...');
    postgres = await startBenchPostgres();
    const server = await postgres.describe();
    log(
      `  PostgreSQL ${server.server_version}: ${Object.entries(server)
        .filter(([name]) => name !== 'server_version')
        .map(([n, v]) => `${n}=${v}`)
        .join(', ')}`,
    );

    const results: ScenarioResult[] = [];
    const timings: Record<string, number> = {};
    const errors: string[] = [];
    /**
     * A scenario that throws (say, a service another change broke) is reported as a failed row,
     * and the others still run: one broken piece should not cost the figures of the rest.
     */
    const run = async (name: string, work: () => Promise<ScenarioResult[]>): Promise<void> => {
      if (interrupted) return;
      log(`\n${name}`);
      log(
        `  PostgreSQL quiet after ${(await settlePostgres(postgres!)).toFixed(1)} s (checkpoint, then under ${QUIET_POSTGRES_CORES} cores)`,
      );
      const began = Date.now();
      try {
        results.push(...(await work()));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        errors.push(`${name}: ${message}`);
        log(`  ERROR ${error instanceof Error ? (error.stack ?? message) : message}`);
        results.push({
          id: name,
          title: name,
          rows: [{ measure: name, figure: 'error', ceiling: '-', ratio: '-', target: '-', verdict: 'FAIL', neighbours: '' }],
          details: { error: message },
        });
      } finally {
        timings[name] = (Date.now() - began) / 1000;
      }
    };
    const database = (name: string): Promise<string> => postgres!.createDatabase(name);

    if (selected.has('append')) {
      const settings = { repetitions: REPETITIONS, windowMs: APPEND_WINDOW_MS, warmUpMs: WARM_UP_MS, log };
      await run('1-2. append throughput', async () => benchAppendThroughput(await database('bench_append'), settings));
    }
    if (selected.has('sign-ups')) {
      const settings = { repetitions: ARGON2_REPETITIONS, windowMs: SIGN_UP_WINDOW_MS, warmUpMs: WARM_UP_MS, log };
      await run('3. sign-ups vs argon2id', async () => [await benchSignUps(await database('bench_register'), settings)]);
    }
    if (selected.has('lag')) {
      const settings = { durationMs: LAG_DURATION_MS, settleMs: LAG_SETTLE_MS, log };
      await run('4. projection lag', async () => [await benchProjectionLag(await database('bench_projection'), settings)]);
    }
    const serviceSettings = { repetitions: REPETITIONS, windowMs: SIGN_UP_WINDOW_MS, warmUpMs: WARM_UP_MS, log };
    if (selected.has('login'))
      await run('5. login', async () =>
        benchLogin(await database('bench_login'), {
          ...serviceSettings,
          repetitions: ARGON2_REPETITIONS,
          // BENCH_LOGIN_ONLY=tokens|sign-ins|totp|passkeys runs one part while working on it.
          only: loginPart(process.env.BENCH_LOGIN_ONLY),
        }),
      );
    if (selected.has('pulse')) await run('6. pulse', async () => benchPulse(await database('bench_pulse'), serviceSettings));
    if (selected.has('rewards')) {
      const settings = { log, lagDurationMs: LAG_DURATION_MS, lagSettleMs: LAG_SETTLE_MS };
      await run('7. rewards', async () => benchRewards(await database('bench_rewards'), settings));
    }
    if (selected.has('noisy'))
      await run('8. noisy neighbour', async () => benchNoisyNeighbour(await database('bench_noisy'), serviceSettings));
    if (selected.has('webhooks'))
      await run('9. webhooks', async () => benchWebhooks(await database('bench_webhooks'), { windowMs: SIGN_UP_WINDOW_MS, log }));
    if (selected.has('audiences'))
      await run('10. audiences', async () =>
        benchAudiences(await database('bench_audiences'), {
          ...serviceSettings,
          settle: () => settlePostgres(postgres!),
          checkpoint: () => postgres!.checkpoint(),
        }),
      );

    // An interrupted run has no figures worth keeping, and must not replace foundation-latest.json.
    if (interrupted) return 130;
    log(`\n${formatTable(results)}\n`);
    const failed = results.flatMap((result) => result.rows).filter((row) => row.verdict === 'FAIL');
    const file = writeResults(
      RESULTS_DIR,
      {
        bench: 'foundation',
        startedAt: startedAt.toISOString(),
        durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
        machine: {
          cores: cpus().length,
          cpuModel: cpus()[0]?.model,
          memoryBytes: totalmem(),
          loadAverageAtStart: loadavg(),
          node: process.version,
        },
        postgres: server,
        method: {
          repetitions: REPETITIONS,
          appendWindowMs: APPEND_WINDOW_MS,
          signUpWindowMs: SIGN_UP_WINDOW_MS,
          warmUpMs: WARM_UP_MS,
          lagDurationMs: LAG_DURATION_MS,
          lagSettleMs: LAG_SETTLE_MS,
          ratio: 'median over repetitions of figure/ceiling, each pair measured back to back, the order alternating',
          lagRatio: 'offered events/s divided by the runner catch-up rate measured in the same run (its utilisation)',
          cores: 'CPU per window from /proc: this process, the bench PostgreSQL (postmaster and children), everything else',
        },
        scenarios: [...selected],
        phaseSeconds: timings,
        results,
        failed: failed.map((row) => row.measure),
        errors,
      },
      startedAt,
    );
    log(`results: ${file}`);
    log(failed.length === 0 ? 'all targets met' : `missed: ${failed.map((row) => row.measure).join('; ')}`);
    // Missing a target is a finding to report, not a crash: only errors fail the command.
    return errors.length === 0 ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopPostgres().catch((error: unknown) => log(`could not stop PostgreSQL cleanly: ${String(error)}`));
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

const QUIET_POSTGRES_CORES = 0.05;

/**
 * The previous scenario leaves dirty pages and autovacuum work behind; measured windows would pay
 * for them (seen: PostgreSQL at half a core during ES256 windows that never touch it). A
 * checkpoint, then half-second looks at its CPU until it is quiet, for at most 30 s.
 */
async function settlePostgres(postgres: BenchPostgres): Promise<number> {
  const began = performance.now();
  await postgres.checkpoint();
  for (let look = 0; look < 60; look++) {
    const meter = startCpuMeter();
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (meter().postgresCores < QUIET_POSTGRES_CORES) break;
  }
  return (performance.now() - began) / 1000;
}
