import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../apps/login/test/login-harness';
import { toolOnPath } from './observability';

/**
 * A real Prometheus server (Debian's prometheus package) on 127.0.0.1 and a free port, scraping
 * the given targets every second with the given rule files, its data in a scratch directory.
 */

export interface ScrapeJob {
  /** The job label: the name the ServiceMonitors and PodMonitor give each process in a cluster. */
  readonly job: string;
  /** host:port */
  readonly target: string;
}

export interface PrometheusServer {
  readonly url: string;
  /** GET /api/v1/<path>, the `data` of a success, or an error naming Prometheus's answer. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  /** What it logged, for a failure's story. */
  readonly log: readonly string[];
  close(): Promise<void>;
}

export async function startPrometheus(jobs: readonly ScrapeJob[], ruleFiles: readonly string[]): Promise<PrometheusServer> {
  const binary = toolOnPath('prometheus');
  const scratch = mkdtempSync(join(tmpdir(), 'tessera-prometheus-'));
  const config = join(scratch, 'prometheus.yml');
  // JSON is YAML: no serializer needed. honor_labels as the ServiceMonitors set it: the processes'
  // own `service` label wins.
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: ruleFiles,
      scrape_configs: jobs.map(({ job, target }) => ({
        job_name: job,
        metrics_path: '/metrics',
        honor_labels: true,
        static_configs: [{ targets: [target] }],
      })),
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(scratch, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      // Lookback short enough that a stopped series leaves instant queries within seconds.
      '--query.lookback-delta=30s',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log: string[] = [];
  const keep = (line: string) => {
    if (log.length < 500) log.push(line);
  };
  createInterface({ input: child.stdout! }).on('line', keep);
  createInterface({ input: child.stderr! }).on('line', keep);
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${log.join('\n')}`);
      const ready = await fetch(`${url}/-/ready`).then(
        (response) => response.status === 200,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`prometheus was not ready within 30 s:\n${log.join('\n')}`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url,
    log,
    close,
    async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
      const response = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
      const body = (await response.json()) as { status: string; data?: T; error?: string; errorType?: string };
      if (body.status !== 'success')
        throw new Error(`prometheus /api/v1/${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
      return body.data as T;
    },
  };
}
