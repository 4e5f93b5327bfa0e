import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { startPulseServices, trackMessage, type BenchTenant, type PulseBenchServices } from './pulse';
import { JsonClient } from './support/http-client';
import { percentileOfSorted, runClosedLoops, sleep } from './support/measure';
import { perSecond, ratioVerdict, type ReportRow, type ScenarioResult } from './support/report';

export interface WebhookBenchSettings {
  readonly windowMs: number;
  readonly log: (line: string) => void;
}

const MESSAGES_SINGLE = 4_000;
const MESSAGES_BATCHED = 20_000;
const BATCH = 100;
const LAG_RATE = 2_000;
const LAG_SECONDS = 8;
const RAW_WORKERS = 32;

/** A receiver that counts the messages it gets and, for those that carry it, how long after being tracked. */
async function startCountingReceiver() {
  const state = { messages: 0, lagsMs: [] as number[] };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batch?: { properties?: { trackedAt?: number } }[] };
      const messages = body.batch ?? [body as { properties?: { trackedAt?: number } }];
      state.messages += messages.length;
      const now = Date.now();
      for (const message of messages)
        if (typeof message.properties?.trackedAt === 'number') state.lagsMs.push(now - message.properties.trackedAt);
      response.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { state, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

async function destination(services: PulseBenchServices, tenant: BenchTenant, url: string, batching: object): Promise<void> {
  const created = await new JsonClient(services.url, 1).post(
    `/t/${tenant.slug}/destinations`,
    { name: 'bench', url, batching },
    { authorization: `Bearer ${tenant.apiKey}` },
  );
  if (created.status !== 201) throw new Error(`destination answered ${created.status}`);
}

/**
 * Webhooks out of pulse: messages delivered per second to a receiver on this machine (from the first
 * event tracked to the last delivered), one per request and in batches of 100, each next to the same
 * receiver taking plain POSTs of the same shape from the bench (the ceiling); then the delay from
 * tracking to delivery at 2,000 events/s.
 * Ingest runs in its own process role, delivery in the projector role, as deployed.
 */
export async function benchWebhooks(databaseUrl: string, settings: WebhookBenchSettings): Promise<ScenarioResult[]> {
  const services = await startPulseServices(databaseUrl, { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', OUTBOUND_CONCURRENCY: '64' });
  let deliverer: NestFastifyApplication | undefined;
  const receivers: Server[] = [];
  try {
    const pulse = new JsonClient(services.url, 8);
    const ingest = async (tenant: BenchTenant, count: number, extra: (serial: number) => object = () => ({})) => {
      const auth = { authorization: `Basic ${Buffer.from(`${tenant.writeKey}:`).toString('base64')}` };
      for (let first = 0; first < count; first += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, count - first) }, (_, i) => ({
          ...trackMessage(first + i),
          ...extra(first + i),
        }));
        const response = await pulse.post('/v1/batch', { batch }, auth);
        if (response.status !== 200) throw new Error(`batch answered ${response.status}`);
      }
    };
    const delivered = async (tenant: BenchTenant, count: number, batching: object) => {
      const receiver = await startCountingReceiver();
      receivers.push(receiver.server);
      await destination(services, tenant, receiver.url, batching);
      // From the first event tracked to the last delivered: ingest takes a fraction of it.
      const started = performance.now();
      await ingest(tenant, count);
      while (receiver.state.messages < count) await sleep(20);
      const perSecondDelivered = count / ((performance.now() - started) / 1000);
      const raw = new JsonClient(receiver.url, RAW_WORKERS);
      const body = batchingOf(batching) > 1 ? { batch: Array.from({ length: BATCH }, (_, i) => trackMessage(i)) } : trackMessage(0);
      const ceiling = await runClosedLoops(RAW_WORKERS, settings.windowMs, async () => {
        await raw.post('/hook', body);
        return batchingOf(batching) > 1 ? BATCH : 1;
      });
      return { figure: perSecondDelivered, ceiling: ceiling.perSecond };
    };

    deliverer = await services.startProjector();
    settings.log(`  ${MESSAGES_SINGLE} messages, one per request, tracked in batches of ${BATCH}`);
    const single = await delivered(await services.createTenant(), MESSAGES_SINGLE, { maxMessages: 1 });
    settings.log(`  ${MESSAGES_BATCHED} messages in batches of ${BATCH}`);
    const batched = await delivered(await services.createTenant(), MESSAGES_BATCHED, { maxMessages: BATCH, maxWaitMs: 100 });

    settings.log(`  tracked-to-delivered delay at ${LAG_RATE} events/s for ${LAG_SECONDS} s (batches of ${BATCH}, 100 ms wait)`);
    const lagTenant = await services.createTenant();
    const lagReceiver = await startCountingReceiver();
    receivers.push(lagReceiver.server);
    await destination(services, lagTenant, lagReceiver.url, { maxMessages: BATCH, maxWaitMs: 100 });
    const began = performance.now();
    for (let second = 0; second < LAG_SECONDS * (LAG_RATE / BATCH); second++) {
      const due = began + (second * 1000 * BATCH) / LAG_RATE;
      if (performance.now() < due) await sleep(due - performance.now());
      await ingest(lagTenant, BATCH, () => ({ messageId: randomUUID(), properties: { trackedAt: Date.now() } }));
    }
    const total = LAG_SECONDS * LAG_RATE;
    const deadline = performance.now() + 60_000;
    while (lagReceiver.state.messages < total && performance.now() < deadline) await sleep(20);
    const lags = [...lagReceiver.state.lagsMs].sort((a, b) => a - b);
    const p50 = percentileOfSorted(lags, 50);
    const p99 = percentileOfSorted(lags, 99);

    const rows: ReportRow[] = [
      {
        measure: 'webhooks delivered, one message per request',
        figure: perSecond(single.figure, 'msg'),
        ceiling: perSecond(single.ceiling, 'req'),
        ratio: (single.figure / single.ceiling).toFixed(2),
        target: '-',
        verdict: ratioVerdict(single.figure / single.ceiling, undefined),
        neighbours: '',
      },
      {
        measure: `webhooks delivered, batches of ${BATCH}`,
        figure: perSecond(batched.figure, 'msg'),
        ceiling: perSecond(batched.ceiling, 'msg'),
        ratio: (batched.figure / batched.ceiling).toFixed(2),
        target: '-',
        verdict: ratioVerdict(batched.figure / batched.ceiling, undefined),
        neighbours: '',
      },
      {
        measure: `webhook delay tracked to delivered at ${LAG_RATE} events/s, p50 / p99`,
        figure: `${p50.toFixed(0)} / ${p99.toFixed(0)} ms (${lags.length}/${total} arrived)`,
        ceiling: '-',
        ratio: '-',
        target: 'p99 < 1000 ms',
        verdict: p99 < 1000 && lags.length >= total ? 'pass' : 'FAIL',
        neighbours: '',
      },
    ];
    return [
      { id: 'webhooks', title: 'pulse webhooks', rows, details: { single, batched, lag: { p50, p99, arrived: lags.length, total } } },
    ];
  } finally {
    for (const server of receivers) {
      server.closeAllConnections();
      server.close();
    }
    await deliverer?.close();
    await services.pulse.close();
    await services.register.close();
  }
}

function batchingOf(batching: object): number {
  return (batching as { maxMessages?: number }).maxMessages ?? 1;
}
