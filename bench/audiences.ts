import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import { insertRawMessages, primePeople, profilesSettled, RAW_DDL, startPulseServices, trackMessage, type BenchTenant } from './pulse';
import { JsonClient } from './support/http-client';
import { percentileOfSorted, runClosedLoops, sleep } from './support/measure';
import { pairedDetails, runPaired, type CpuPerUnit } from './support/paired';
import { cores, perSecond, ratioVerdict, type ReportRow, type ScenarioResult } from './support/report';

export interface AudienceBenchSettings {
  readonly repetitions: number;
  readonly windowMs: number;
  readonly warmUpMs: number;
  readonly log: (line: string) => void;
  /** Checkpoints and waits until PostgreSQL is idle; answers the seconds it took. */
  readonly settle: () => Promise<number>;
  /** CHECKPOINT: writes every dirty page out, so the next page touched starts a new cycle of full-page images. */
  readonly checkpoint: () => Promise<void>;
}

const BATCH_EVENTS = 100;
const BATCH_WORKERS = 8;
const PROBES = 200;
const PROBE_CAP_MS = 5_000;
/**
 * The saturating phase's webhooks (one request per event, 150,000–220,000 of them) drain at about
 * 450 a second here: minutes, not more.
 */
const DRAIN_CAP_MS = 600_000;

/** Computed traits over the bench's own messages (trackMessage: Email Opened / Email Clicked, campaign). */
const TRAITS = [
  { key: 'opens_30d', definition: { kind: 'count', event: 'Email Opened', windowDays: 30 } },
  { key: 'clicks_30d', definition: { kind: 'count', event: 'Email Clicked', windowDays: 30 } },
  { key: 'last_campaign', definition: { kind: 'last', event: 'Email Opened', property: 'campaign' } },
  { key: 'first_open', definition: { kind: 'firstSeen', event: 'Email Opened' } },
];
const AUDIENCES = [
  { key: 'openers', name: 'Opened', rule: { computed: 'first_open', op: 'exists' } },
  { key: 'engaged', name: 'Engaged', rule: { computed: 'opens_30d', op: 'gte', value: 3 } },
  { key: 'clickers', name: 'Clickers', rule: { computed: 'clicks_30d', op: 'gte', value: 5 } },
  {
    key: 'both',
    name: 'Opened and clicked',
    rule: {
      and: [
        { computed: 'opens_30d', op: 'gte', value: 1 },
        { computed: 'clicks_30d', op: 'gte', value: 1 },
      ],
    },
  },
  { key: 'spring', name: 'Spring campaign', rule: { computed: 'last_campaign', op: 'eq', value: 'spring-sale' } },
];

async function startReceiver(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(204).end());
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

async function configure(url: string, tenant: BenchTenant, receiverUrl: string): Promise<void> {
  const client = new JsonClient(url, 1);
  const auth = { authorization: `Bearer ${tenant.apiKey}` };
  const calls: [string, object][] = [
    [`/t/${tenant.slug}/destinations`, { name: 'bench', url: receiverUrl }],
    ...TRAITS.map((trait): [string, object] => [`/t/${tenant.slug}/computed-traits`, trait]),
    ...AUDIENCES.map((audience): [string, object] => [`/t/${tenant.slug}/audiences`, audience]),
  ];
  for (const [path, body] of calls) {
    const response = await client.post(path, body, auth);
    if (response.status !== 201) throw new Error(`${path} answered ${response.status}`);
  }
}

const cpuPhrase = (cpu: CpuPerUnit) =>
  `${(cpu.benchProcessMs * 1000).toFixed(0)} + ${(cpu.postgresMs * 1000).toFixed(0)} µs (services + PG)`;

/**
 * Audiences in pulse as deployed (ingest and projector roles, here in the bench process): /v1/batch
 * of a tenant with one webhook destination and five audiences over four computed traits, against
 * /v1/batch of a tenant with neither in the same run (the projector follows both), then against the
 * raw multi-row INSERT ceiling with the CPU each event and each row cost; then how long after a
 * tracking call is acknowledged its profile's membership has changed (an Audience Entered).
 */
export async function benchAudiences(databaseUrl: string, settings: AudienceBenchSettings): Promise<ScenarioResult[]> {
  const services = await startPulseServices(databaseUrl, { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' });
  const receiver = await startReceiver();
  let projector: NestFastifyApplication | undefined;
  const raw = await Promise.all(
    Array.from({ length: BATCH_WORKERS }, async () => {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    }),
  );
  try {
    await raw[0]!.query(RAW_DDL);
    const [withAudiences, alone] = [await services.createTenant(), await services.createTenant()];
    await configure(services.url, withAudiences, receiver.url);
    projector = await services.startProjector();
    const pulseClient = new JsonClient(services.url, BATCH_WORKERS);
    const basic = (tenant: BenchTenant) => ({ authorization: `Basic ${Buffer.from(`${tenant.writeKey}:`).toString('base64')}` });
    settings.log('  priming both tenants: one message per person');
    await primePeople(pulseClient, basic(withAudiences));
    await primePeople(pulseClient, basic(alone));
    let serial = 0;
    const batchTo = (tenant: BenchTenant) => async () => {
      const batch = Array.from({ length: BATCH_EVENTS }, () => trackMessage(serial++));
      const response = await pulseClient.post('/v1/batch', { batch }, basic(tenant));
      if (response.status !== 200) throw new Error(`batch answered ${response.status}`);
      return BATCH_EVENTS;
    };
    const revisions = raw.map(() => 0);
    const rawInsert = async (worker: number) => {
      const rows = Array.from({ length: BATCH_EVENTS }, () => trackMessage(serial++));
      await insertRawMessages(raw[worker]!, 'bench_pulse_raw', `bench-raw-${worker}`, revisions[worker]!, rows);
      revisions[worker]! += rows.length;
      return BATCH_EVENTS;
    };
    const figure = () => runClosedLoops(BATCH_WORKERS, settings.windowMs, batchTo(withAudiences));
    const warmUp = async () => {
      await runClosedLoops(BATCH_WORKERS, settings.warmUpMs, batchTo(withAudiences));
      await runClosedLoops(BATCH_WORKERS, settings.warmUpMs, batchTo(alone));
    };
    const againstAlone = await runPaired({
      label: '/v1/batch with a destination and 5 audiences vs alone',
      repetitions: settings.repetitions,
      warmUp,
      figure,
      ceiling: () => runClosedLoops(BATCH_WORKERS, settings.windowMs, batchTo(alone)),
      beforeEachWindow: settings.checkpoint,
      log: settings.log,
    });
    const againstRaw = await runPaired({
      label: '/v1/batch with a destination and 5 audiences vs raw INSERT',
      repetitions: settings.repetitions,
      warmUp: async () => undefined,
      figure,
      ceiling: () => runClosedLoops(BATCH_WORKERS, settings.windowMs, rawInsert),
      beforeEachWindow: settings.checkpoint,
      log: settings.log,
    });

    settings.log('  projector catching up, then membership changes from ingest');
    await profilesSettled(raw[0]!);
    // The saturating phase left the destination a backlog (every event is a request of its own),
    // which drains for minutes. Probed first while it drains, on the same tenant: what a person's
    // membership change waits behind a flood's webhooks (reported, no target).
    const backlog = await pendingDeliveries(raw[0]!);
    settings.log(`  ${backlog} deliveries pending after the saturating phase; probing while they drain`);
    const duringDrain = await membershipLatencies(pulseClient, withAudiences, raw[0]!);
    const drained = await deliveriesDrained(raw[0]!);
    settings.log(`  deliveries drained in ${drained.seconds.toFixed(0)} s (${drained.left} left, at most ${DRAIN_CAP_MS / 1000} s)`);
    // The target's probes measure a change's latency on a running system, not behind the saturating
    // phase's aftermath: its webhooks, then the checkpoint and autovacuum of the millions of rows it wrote.
    settings.log(
      `  PostgreSQL settled for ${(await settings.settle()).toFixed(1)} s (checkpoint, then until under 0.05 cores, at most 30 s)`,
    );
    const changes = await membershipLatencies(pulseClient, withAudiences, raw[0]!);
    const p99 = percentileOfSorted(changes, 99);
    const latencyPhrase = (sorted: number[]) => {
      const high = percentileOfSorted(sorted, 99);
      return `${percentileOfSorted(sorted, 50).toFixed(1)} / ${high >= PROBE_CAP_MS ? `>= ${PROBE_CAP_MS}` : high.toFixed(1)} ms`;
    };
    const rows: ReportRow[] = [
      {
        measure: 'pulse /v1/batch, 1 destination + 5 audiences, vs ingest alone (same run)',
        figure: perSecond(againstAlone.medianFigure, 'events'),
        ceiling: perSecond(againstAlone.medianCeiling, 'events'),
        ratio: againstAlone.medianRatio.toFixed(2),
        target: '>= 0.8',
        verdict: ratioVerdict(againstAlone.medianRatio, 0.8),
        neighbours: cores(againstAlone.neighbourCores),
      },
      {
        measure: 'pulse /v1/batch with audiences vs raw INSERT; CPU per event vs per row',
        figure: `${perSecond(againstRaw.medianFigure, 'events')}, ${cpuPhrase(againstRaw.figureCpu)}`,
        ceiling: `${perSecond(againstRaw.medianCeiling, 'rows')}, ${cpuPhrase(againstRaw.ceilingCpu)}`,
        ratio: againstRaw.medianRatio.toFixed(2),
        target: '-',
        verdict: 'info',
        neighbours: cores(againstRaw.neighbourCores),
      },
      {
        measure: 'audience membership change from ingest p50 / p99',
        figure: latencyPhrase(changes),
        ceiling: '-',
        ratio: '-',
        target: 'p99 < 100 ms',
        verdict: p99 < 100 ? 'pass' : 'FAIL',
        neighbours: '',
      },
      {
        measure: `  the same while the tenant's ${backlog} pending webhooks drain`,
        figure: latencyPhrase(duringDrain),
        ceiling: '-',
        ratio: '-',
        target: '-',
        verdict: 'info',
        neighbours: '',
      },
    ];
    return [
      {
        id: 'audiences',
        title: 'pulse audiences',
        rows,
        details: {
          againstAlone: pairedDetails(againstAlone),
          againstRaw: pairedDetails(againstRaw),
          membershipChangeMs: changes,
          membershipChangeWhileDrainingMs: duringDrain,
          deliveryBacklog: { pending: backlog, ...drained },
        },
      },
    ];
  } finally {
    await Promise.all(raw.map((client) => client.end()));
    await new Promise((resolve) => receiver.server.close(resolve));
    receiver.server.closeAllConnections();
    await projector?.close();
    await services.pulse.close();
    await services.register.close();
  }
}

async function pendingDeliveries(db: Client): Promise<number> {
  const { rows } = await db.query<{ pending: string }>(`SELECT count(*) AS pending FROM outbound_deliveries WHERE state = 'pending'`);
  return Number(rows[0]?.pending ?? 0);
}

/**
 * Waits until the destination's backlog is delivered, at most DRAIN_CAP_MS. Asks only whether one is
 * pending while it waits: counting 100,000 rows twice a second would load the drain it times.
 */
async function deliveriesDrained(db: Client): Promise<{ seconds: number; left: number }> {
  const started = performance.now();
  const anyPending = async () => (await db.query(`SELECT 1 FROM outbound_deliveries WHERE state = 'pending' LIMIT 1`)).rowCount! > 0;
  while ((await anyPending()) && performance.now() - started < DRAIN_CAP_MS) await sleep(500);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, left: await pendingDeliveries(db) };
}

/**
 * From sending a person's first Email Opened (acknowledged once durable) to their profile being in
 * `openers` (its membership row committed with the Audience Entered message), one probe at a time.
 */
async function membershipLatencies(client: JsonClient, tenant: BenchTenant, db: Client): Promise<number[]> {
  const auth = { authorization: `Basic ${Buffer.from(`${tenant.writeKey}:`).toString('base64')}` };
  const latencies: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    const userId = `probe-${randomUUID()}`;
    const started = performance.now();
    await client.post('/v1/track', { userId, event: 'Email Opened', properties: { campaign: 'probe' }, messageId: randomUUID() }, auth);
    while (performance.now() - started < PROBE_CAP_MS) {
      // By the tables' keys: without the tenant the lookup scanned every identity each 2 ms, and the
      // probe's own load (a core of PostgreSQL) was part of what it measured.
      const { rowCount } = await db.query(
        `SELECT 1 FROM pulse_identities i JOIN pulse_audience_members m ON m.tenant_id = i.tenant_id AND m.profile_id = i.profile_id
         WHERE i.tenant_id = $1 AND i.kind = 'userId' AND i.value = $2 AND m.audience_key = 'openers' AND m.member`,
        [tenant.id, userId],
      );
      if (rowCount) break;
      await sleep(2);
    }
    latencies.push(Math.min(PROBE_CAP_MS, performance.now() - started));
  }
  return latencies.sort((a, b) => a - b);
}
