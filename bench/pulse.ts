import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import { loadPulseConfig } from '../apps/pulse/src/pulse.config';
import { PulseModule } from '../apps/pulse/src/pulse.module';
import { openPulseRuntime, pulseServiceOptions } from '../apps/pulse/src/pulse.runtime';
import { loadRegisterConfig } from '../apps/register/src/register.config';
import { RegisterModule } from '../apps/register/src/register.module';
import { openRegisterRuntime, registerServiceOptions } from '../apps/register/src/register.runtime';
import { eventLogTableDdl } from '#eventstore';
import { createServiceApp } from '#platform';
import { JsonClient } from './support/http-client';
import { median, runClosedLoops, sleep, wakeFromEnvironment, type Throughput } from './support/measure';
import { cores, perSecond, ratioVerdict, type ReportRow, type ScenarioResult } from './support/report';

export interface PulseBenchSettings {
  readonly repetitions: number;
  readonly windowMs: number;
  readonly warmUpMs: number;
  readonly log: (line: string) => void;
}

const BATCH_EVENTS = 100;
const BATCH_WORKERS = 8;
const SINGLE_WORKERS = 32;
const READ_WORKERS = 8;
const E2E_CAP_MS = 5_000;
// Enough probes that p99 is not simply the slowest one (with 50 it was).
const E2E_PROBES = 200;

/**
 * The raw ceiling inserts the same messages, 100 per statement on 8 connections, into a table with
 * exactly the columns, keys and indexes of the event log (as the foundation's append ceiling does):
 * what any event log must maintain, global order and one event per stream revision included. The
 * same INSERT into a table with neither of those two keys is measured once and reported beside it.
 */
export const RAW_DDL = [...eventLogTableDdl('bench_pulse_raw'), ...eventLogTableDdl('bench_pulse_raw_unkeyed', { logKeys: false })].join(
  ';\n',
);

/** Until the profiles projection has applied everything in the log (reads are measured on a settled read model). */
export async function profilesSettled(db: Client): Promise<void> {
  for (;;) {
    const { rows } = await db.query<{ settled: boolean }>(
      `SELECT coalesce((SELECT (c.commit_position, c.prepare_position) >= (h.transaction_id::text::bigint, h.seq)
         FROM projection_checkpoints c,
              (SELECT transaction_id, seq FROM es_events WHERE stream_name LIKE 'pulse.tracking-%' ORDER BY transaction_id DESC, seq DESC LIMIT 1) h
         WHERE c.projection = 'pulse.profiles'), false) AS settled`,
    );
    if (rows[0]?.settled) return;
    await sleep(50);
  }
}

export function trackMessage(serial: number): Record<string, unknown> {
  return {
    type: 'track',
    userId: `user-${serial % 5000}`,
    anonymousId: `anon-${serial % 7000}`,
    event: serial % 3 === 0 ? 'Email Opened' : 'Email Clicked',
    messageId: randomUUID(),
    properties: { campaign: 'spring-sale', link: 'https://shop.example/offers?id=42', email: `person${serial % 5000}@example.com` },
    context: {
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/133.0',
      library: { name: 'analytics-node', version: '3.1.0' },
    },
    timestamp: new Date().toISOString(),
  };
}

/**
 * Steady state: the people tracked are known, so their personal-data keys exist. The first message
 * of a new person also creates their key (one durable INSERT), which this primes.
 */
export async function primePeople(client: JsonClient, auth: Record<string, string>): Promise<void> {
  for (let first = 0; first < 5000; first += BATCH_EVENTS) {
    const batch = Array.from({ length: BATCH_EVENTS }, (_, i) => ({ ...trackMessage(first + i), userId: `user-${first + i}` }));
    const response = await client.post('/v1/batch', { batch }, auth);
    if (response.status !== 200) throw new Error(`priming batch answered ${response.status}`);
  }
}

/**
 * One multi-row INSERT of `messages` as MessageReceived rows of `stream` (revisions from `firstRevision`)
 * into a table shaped like the event log: the ceiling of pulse's batch rows.
 */
export async function insertRawMessages(
  client: Client,
  table: string,
  stream: string,
  firstRevision: number,
  messages: readonly Record<string, unknown>[],
): Promise<void> {
  const values: unknown[] = [];
  const tuples = messages.map((message, i) => {
    values.push(stream, firstRevision + i, randomUUID(), 'MessageReceived', JSON.stringify(message), JSON.stringify({ tenantId: 'bench' }));
    return `($${i * 6 + 1}, $${i * 6 + 2}, $${i * 6 + 3}, $${i * 6 + 4}, $${i * 6 + 5}, $${i * 6 + 6})`;
  });
  await client.query(
    `INSERT INTO ${table} (stream_name, stream_revision, event_id, type, data, metadata) VALUES ${tuples.join(', ')}`,
    values,
  );
}

export interface BenchTenant {
  readonly id: string;
  readonly slug: string;
  readonly writeKey: string;
  readonly apiKey: string;
}

export interface PulseBenchServices {
  /** Pulse in its ingest role, as deployments run it: tracking and profile reads, no profiles projection. */
  readonly pulse: NestFastifyApplication;
  /** Starts pulse's projector role (its own deployment in production) on the same database. */
  startProjector(): Promise<NestFastifyApplication>;
  readonly register: NestFastifyApplication;
  readonly url: string;
  /** A tenant created through register's admin API, once pulse takes its write key. */
  createTenant(): Promise<BenchTenant>;
}

async function listen(app: NestFastifyApplication): Promise<string> {
  await app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
}

/** Register (to create tenants the real way) and pulse, as main.ts builds them, on one database; `env` adds to pulse's. */
export async function startPulseServices(databaseUrl: string, env: Record<string, string> = {}): Promise<PulseBenchServices> {
  const masterKey = randomBytes(32).toString('base64');
  const adminToken = randomBytes(32).toString('base64url');
  const silent = { write: () => undefined };
  const common = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: masterKey,
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN_MS: '0',
    ...wakeFromEnvironment(),
  };
  const registerConfig = loadRegisterConfig({ ...common, NODE_ENV: 'development', ADMIN_TOKEN: adminToken });
  const register = await createServiceApp(RegisterModule.forRoot(await openRegisterRuntime(registerConfig)), {
    ...registerServiceOptions(registerConfig),
    logDestination: silent,
  });
  const registerUrl = await listen(register);
  const startPulse = async (role: string) => {
    const config = loadPulseConfig({ ...common, ...env, PULSE_ROLE: role });
    const app = await createServiceApp(PulseModule.forRoot(await openPulseRuntime(config)), {
      ...pulseServiceOptions(config),
      logDestination: silent,
    });
    return { app, url: await listen(app) };
  };
  const { app: pulse, url } = await startPulse('ingest');
  const createTenant = async (): Promise<BenchTenant> => {
    const slug = `bench-${randomBytes(3).toString('hex')}`;
    const created = await new JsonClient(registerUrl, 1).post(
      '/admin/tenants',
      { slug, name: 'Bench' },
      { authorization: `Bearer ${adminToken}` },
    );
    const { id, writeKey, apiKey } = created.body as { id: string; writeKey: string; apiKey: string };
    for (let i = 0; ; i++) {
      const settings = await fetch(`${url}/v1/projects/${writeKey}/settings`);
      if (settings.status === 200) break;
      if (i > 500) throw new Error('pulse never learnt the bench tenant');
      await sleep(20);
    }
    return { id, slug, writeKey, apiKey };
  };
  return { pulse, startProjector: async () => (await startPulse('projector')).app, register, url, createTenant };
}

async function startEchoServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"success":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Alternates figure and ceiling windows, so drift on a shared machine hits both alike. */
async function paired(settings: PulseBenchSettings, figure: () => Promise<Throughput>, ceiling: () => Promise<Throughput>) {
  const runs: { figure: Throughput; ceiling: Throughput }[] = [];
  for (let i = 0; i < settings.repetitions; i++) {
    if (i % 2 === 0) {
      const f = await figure();
      runs.push({ figure: f, ceiling: await ceiling() });
    } else {
      const c = await ceiling();
      runs.push({ figure: await figure(), ceiling: c });
    }
  }
  return {
    runs,
    figure: median(runs.map((run) => run.figure.perSecond)),
    ceiling: median(runs.map((run) => run.ceiling.perSecond)),
    ratio: median(runs.map((run) => run.figure.perSecond / run.ceiling.perSecond)),
    p50: median(runs.map((run) => run.figure.stepMs.p50)),
    p99: median(runs.map((run) => run.figure.stepMs.p99)),
    neighbours: median(runs.map((run) => run.figure.cpu.othersCores)),
  };
}

/**
 * Pulse's ingest: /v1/batch events/s next to a raw multi-row INSERT, single /v1/track requests/s
 * next to a bare HTTP echo server, profile reads and ingest-to-profile latency. Every acknowledgement
 * measured here is durable (the events are committed in the event store, fsync on).
 *
 * Deployments run ingest and the profiles projector as separate processes (PULSE_ROLE), so ingest
 * is measured first on its own; then the projector starts, and its catch-up rate over everything
 * ingested so far, ingest sharing the machine with it, reads and end-to-end latency follow.
 */
export async function benchPulse(databaseUrl: string, settings: PulseBenchSettings): Promise<ScenarioResult[]> {
  const services = await startPulseServices(databaseUrl);
  const tenant = await services.createTenant();
  let projector: NestFastifyApplication | undefined;
  const echo = await startEchoServer();
  const raw = await Promise.all(
    Array.from({ length: BATCH_WORKERS }, async () => {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    }),
  );
  try {
    await raw[0]!.query(RAW_DDL);
    const auth = { authorization: `Basic ${Buffer.from(`${tenant.writeKey}:`).toString('base64')}` };
    const pulseClient = new JsonClient(services.url, SINGLE_WORKERS);
    const echoClient = new JsonClient(echo.url, SINGLE_WORKERS);
    let serial = 0;
    const postBatch = async () => {
      const batch = Array.from({ length: BATCH_EVENTS }, () => trackMessage(serial++));
      const response = await pulseClient.post('/v1/batch', { batch }, auth);
      if (response.status !== 200) throw new Error(`batch answered ${response.status}`);
      return BATCH_EVENTS;
    };
    const revisions = raw.map(() => 0);
    const rawInsertInto = (table: string) => async (worker: number) => {
      const rows = Array.from({ length: BATCH_EVENTS }, () => trackMessage(serial++));
      await insertRawMessages(raw[worker]!, table, `bench-raw-${worker}`, revisions[worker]!, rows);
      revisions[worker]! += rows.length;
      return BATCH_EVENTS;
    };
    const rawInsert = rawInsertInto('bench_pulse_raw');
    const postTrack = async () => {
      const { type: _type, ...message } = trackMessage(serial++);
      const response = await pulseClient.post('/v1/track', message, auth);
      if (response.status !== 200) throw new Error(`track answered ${response.status}`);
      return 1;
    };
    const postEcho = async () => {
      const { type: _type, ...message } = trackMessage(serial++);
      await echoClient.post('/v1/track', message, auth);
      return 1;
    };

    settings.log('  priming: one message per person (creates their data keys)');
    await primePeople(pulseClient, auth);
    settings.log('  warming up');
    await runClosedLoops(BATCH_WORKERS, settings.warmUpMs, postBatch);
    settings.log('  /v1/batch (100 events) vs raw multi-row INSERT');
    const batch = await paired(
      settings,
      () => runClosedLoops(BATCH_WORKERS, settings.windowMs, postBatch),
      () => runClosedLoops(BATCH_WORKERS, settings.windowMs, rawInsert),
    );
    settings.log("  raw INSERT into a table without the event log's keys (for reference)");
    const unkeyed = await runClosedLoops(BATCH_WORKERS, settings.windowMs, rawInsertInto('bench_pulse_raw_unkeyed'));
    // As the batch windows have theirs: the first single window after the batch windows ran at a
    // third to a half of the others (sockets to open, code paths to compile, garbage to collect).
    settings.log('  warming up single calls');
    await runClosedLoops(SINGLE_WORKERS, settings.warmUpMs, postTrack);
    await runClosedLoops(SINGLE_WORKERS, settings.warmUpMs, postEcho);
    settings.log('  single /v1/track vs bare HTTP echo');
    const single = await paired(
      settings,
      () => runClosedLoops(SINGLE_WORKERS, settings.windowMs, postTrack),
      () => runClosedLoops(SINGLE_WORKERS, settings.windowMs, postEcho),
    );

    const {
      rows: [ingested],
    } = await raw[0]!.query<{ events: number }>(`SELECT count(*)::int AS events FROM es_events WHERE stream_name LIKE 'pulse.tracking-%'`);
    settings.log(`  profiles projector catching up with the ${ingested!.events} events ingested so far`);
    // From before the projector starts: its start-up (a second or so) counts against its rate.
    const catchUpStarted = performance.now();
    projector = await services.startProjector();
    await profilesSettled(raw[0]!);
    const catchUp = { events: ingested!.events, seconds: (performance.now() - catchUpStarted) / 1000 };
    const projectedPerSecond = catchUp.events / catchUp.seconds;
    settings.log('  /v1/batch vs raw INSERT with the projector running on the same machine');
    const shared = await paired(
      settings,
      () => runClosedLoops(BATCH_WORKERS, settings.windowMs, postBatch),
      () => runClosedLoops(BATCH_WORKERS, settings.windowMs, rawInsert),
    );

    settings.log('  profiles catching up, then profile reads and ingest-to-profile latency');
    const settling = performance.now();
    await profilesSettled(raw[0]!);
    const settleSeconds = (performance.now() - settling) / 1000;
    const headers = { authorization: `Bearer ${tenant.apiKey}` };
    const reads = await runClosedLoops(READ_WORKERS, settings.windowMs, async () => {
      const response = await pulseClient.get(`/t/${tenant.slug}/profiles/userId/user-${Math.floor(Math.random() * 5000)}`, headers);
      if (response.status !== 200 && response.status !== 404) throw new Error(`profile answered ${response.status}`);
      return 1;
    });
    const endToEnd: number[] = [];
    for (let i = 0; i < E2E_PROBES; i++) {
      const userId = `e2e-${randomUUID()}`;
      const started = performance.now();
      await pulseClient.post('/v1/track', { userId, event: 'Probe', messageId: randomUUID() }, auth);
      // Capped: behind a backlog the projection may need minutes, and the row says so either way.
      while (performance.now() - started < E2E_CAP_MS) {
        const response = await pulseClient.get(`/t/${tenant.slug}/profiles/userId/${userId}`, headers);
        if (response.status === 200) break;
        await sleep(2);
      }
      endToEnd.push(Math.min(E2E_CAP_MS, performance.now() - started));
    }
    endToEnd.sort((a, b) => a - b);
    const e2eP50 = endToEnd[Math.floor(endToEnd.length / 2)]!;
    const e2eP99 = endToEnd[Math.min(endToEnd.length - 1, Math.ceil(endToEnd.length * 0.99) - 1)]!;
    const peakRssMb = process.resourceUsage().maxRSS / 1024;

    const rows: ReportRow[] = [
      {
        measure: 'pulse /v1/batch (100/batch), durable, ingest process',
        figure: perSecond(batch.figure, 'events'),
        ceiling: perSecond(batch.ceiling, 'rows'),
        ratio: batch.ratio.toFixed(2),
        target: '>= 0.6',
        verdict: ratioVerdict(batch.ratio, 0.6),
        neighbours: cores(batch.neighbours),
      },
      {
        measure: "raw INSERT without the log's keys (reference)",
        figure: '-',
        ceiling: perSecond(unkeyed.perSecond, 'rows'),
        ratio: (batch.figure / unkeyed.perSecond).toFixed(2),
        target: '-',
        verdict: 'info',
        neighbours: cores(unkeyed.cpu.othersCores),
      },
      {
        measure: 'pulse /v1/batch latency p50 / p99',
        figure: `${batch.p50.toFixed(1)} / ${batch.p99.toFixed(1)} ms`,
        ceiling: '-',
        ratio: '-',
        target: '-',
        verdict: 'info',
        neighbours: '',
      },
      {
        measure: 'pulse single /v1/track, durable, ingest process',
        figure: perSecond(single.figure, 'req'),
        ceiling: perSecond(single.ceiling, 'req'),
        ratio: single.ratio.toFixed(2),
        target: '>= 0.3',
        verdict: ratioVerdict(single.ratio, 0.3),
        neighbours: cores(single.neighbours),
      },
      {
        measure: 'pulse single /v1/track p50 / p99',
        figure: `${single.p50.toFixed(1)} / ${single.p99.toFixed(1)} ms`,
        ceiling: '-',
        ratio: '-',
        target: 'p99 < 50 ms',
        verdict: single.p99 < 50 ? 'pass' : 'FAIL',
        neighbours: '',
      },
      {
        measure: 'pulse profiles projector, catching up',
        figure: perSecond(projectedPerSecond, 'events'),
        ceiling: perSecond(batch.ceiling, 'rows'),
        ratio: (projectedPerSecond / batch.ceiling).toFixed(2),
        target: '-',
        verdict: 'info',
        neighbours: '',
      },
      {
        measure: 'pulse /v1/batch, projector on the same machine',
        figure: perSecond(shared.figure, 'events'),
        ceiling: perSecond(shared.ceiling, 'rows'),
        ratio: shared.ratio.toFixed(2),
        target: '-',
        verdict: 'info',
        neighbours: cores(shared.neighbours),
      },
      {
        measure: 'pulse profiles caught up after those windows',
        figure: `${settleSeconds.toFixed(1)} s`,
        ceiling: '-',
        ratio: '-',
        target: '-',
        verdict: 'info',
        neighbours: '',
      },
      {
        measure: 'pulse profile read p50 / p99',
        figure: `${reads.stepMs.p50.toFixed(1)} / ${reads.stepMs.p99.toFixed(1)} ms`,
        ceiling: '-',
        ratio: '-',
        target: 'p99 < 20 ms',
        verdict: reads.stepMs.p99 < 20 ? 'pass' : 'FAIL',
        neighbours: cores(reads.cpu.othersCores),
      },
      {
        measure: 'pulse ingest to profile p50 / p99',
        figure: `${e2eP50.toFixed(1)} / ${e2eP99 >= E2E_CAP_MS ? `>= ${E2E_CAP_MS}` : e2eP99.toFixed(1)} ms`,
        ceiling: '-',
        ratio: '-',
        target: 'p99 < 200 ms',
        verdict: e2eP99 < 200 ? 'pass' : 'FAIL',
        neighbours: '',
      },
      {
        measure: 'pulse bench process peak RSS',
        figure: `${peakRssMb.toFixed(0)} MB`,
        ceiling: '-',
        ratio: '-',
        target: '-',
        verdict: 'info',
        neighbours: '',
      },
    ];
    return [
      {
        id: 'pulse',
        title: 'pulse ingest',
        rows,
        details: { batch, unkeyed, single, catchUp, shared, settleSeconds, reads, endToEndMs: endToEnd, peakRssMb },
      },
    ];
  } finally {
    await Promise.all(raw.map((client) => client.end()));
    await new Promise((resolve) => echo.server.close(resolve));
    echo.server.closeAllConnections();
    await projector?.close();
    await services.pulse.close();
    await services.register.close();
  }
}
