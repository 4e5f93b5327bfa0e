import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { hashKey, TenantCreated, tenantStreamFor, trackingStreamFor, trackReceived } from '#contracts';
import { CampaignHandler } from '../apps/rewards/src/campaigns/campaign.handler';
import type { CampaignDefinition } from '../apps/rewards/src/campaigns/campaign.events';
import { CatalogHandler } from '../apps/rewards/src/catalog/catalog.handler';
import { Earning } from '../apps/rewards/src/earning/earning.projection';
import { ProgramHandler } from '../apps/rewards/src/program/program.handler';
import { loadRewardsConfig } from '../apps/rewards/src/rewards.config';
import { RewardsModule } from '../apps/rewards/src/rewards.module';
import { openRewardsRuntime, rewardsServiceOptions } from '../apps/rewards/src/rewards.runtime';
import { comparePositions, type EventStore, type EventToAppend, type Position } from '#eventstore';
import { ProjectionRunner, type EventCodec } from '#cqrs';
import { createServiceApp } from '#platform';
import { JsonClient } from './support/http-client';
import { percentileOfSorted, runClosedLoops, sleep, wakeFromEnvironment, type Throughput } from './support/measure';
import { startBenchPostgres } from './support/bench-postgres';
import { cores, formatTable, perSecond, type ScenarioResult } from './support/report';

export interface RewardsBenchSettings {
  readonly log: (line: string) => void;
  /** Tracked events in the earning backlog. */
  readonly earningEvents?: number;
  readonly windowMs?: number;
  readonly lagDurationMs?: number;
  readonly lagSettleMs?: number;
  /** `earning`: only the earning rows (R1, R1c), while working on earning. */
  readonly only?: 'earning';
}

const MEMBERS = 2_000;
const CONCURRENCY = 16;
const REWARDS = 20;
const EARNING_TARGET = 3_000;
const LAG_TARGET_P99_MS = 100;
/** Every 10 ms one append of 10 tracked events of 10 random members: 1,000 events/s in 100 commits/s. */
const LAG_TICK_MS = 10;
const LAG_EVENTS_PER_TICK = 10;

const grantProgram = {
  rules: [
    {
      id: 'grant',
      event: 'Grant',
      conditions: [],
      award: { kind: 'perAmount' as const, property: 'points', pointsPerUnit: 1, rounding: 'down' as const },
    },
  ],
  tiers: {
    periodMonths: 12,
    levels: [
      { name: 'bronze', threshold: 0 },
      { name: 'silver', threshold: 500 },
      { name: 'gold', threshold: 5_000 },
    ],
  },
  expiry: { monthsAfterEarning: 12 },
};

/** Five campaigns every Grant matches, each with its own kind of work: a multiplier, a budget, tiers, a schedule, limits. */
const FIVE_CAMPAIGNS: CampaignDefinition[] = (
  [
    { award: { bonus: 0, multiplier: 2, tierMultipliers: {} } },
    { award: { bonus: 5, multiplier: null, tierMultipliers: {} }, limits: { budget: 1_000_000_000 } },
    { award: { bonus: 0, multiplier: 1.25, tierMultipliers: { silver: 1.5, gold: 2 } } },
    {
      award: { bonus: 1, multiplier: null, tierMultipliers: {} },
      conditions: [{ property: 'points', op: 'gt', value: 0 }],
      schedule: { timeZone: 'Europe/Paris', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], hours: null },
    },
    { award: { bonus: 2, multiplier: null, tierMultipliers: {} }, limits: { perMemberAwards: 1_000, perMemberPoints: 1_000_000 } },
  ] as (Partial<Omit<CampaignDefinition, 'limits'>> & {
    award: CampaignDefinition['award'];
    limits?: Partial<CampaignDefinition['limits']>;
  })[]
).map((terms, n) => ({
  campaignId: `bench-${n}`,
  name: `Bench campaign ${n}`,
  event: 'Grant',
  sources: ['server', 'client'],
  conditions: [],
  validFrom: '2020-01-01T00:00:00.000Z',
  validUntil: null,
  schedule: null,
  ...terms,
  limits: { budget: null, perMemberAwards: null, perMemberPoints: null, firstOrders: null, ...terms.limits },
}));

/** A track call as pulse records it: properties sealed under the member's key, opened again by earning. */
const tracked = (codec: EventCodec, tenantId: string, userId: string): Promise<EventToAppend> =>
  codec.encode(trackReceived({ userId, event: 'Grant', properties: { points: 100 }, messageId: randomUUID(), at: new Date() }), {
    tenantId,
    correlationId: 'bench',
    now: new Date(),
  });
const memberId = (n: number) => `bench-member-${n}`;
/** Pulse's partition streams of a tenant's traffic, members interleaved. */
const shardStream = (tenantId: string, shard: number) => trackingStreamFor(tenantId, shard);
const SHARDS = 16;

/**
 * Rewards under load, next to the event store's own append rate in the same run:
 *  - earning: a backlog of tracked events turned into wallet changes (subscription throughput);
 *  - redemptions per second over HTTP, each by a different member than the ones in flight;
 *  - earning lag (tracked event appended → its points committed) at 1,000 events/s, p50 / p99.
 * The ceiling is single-event appends with an expected revision by 16 concurrent writers: what
 * each earning (one wallet append) and each redemption step costs at least.
 */
export async function benchRewards(databaseUrl: string, settings: RewardsBenchSettings): Promise<ScenarioResult[]> {
  const log = settings.log;
  const windowMs = settings.windowMs ?? 4_000;
  const config = loadRewardsConfig({
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
    REWARDS_EXPIRY_INTERVAL_MS: '0',
    REWARDS_RECOVERY_AFTER_MS: '0',
    SHUTDOWN_DRAIN_MS: '0',
    LOG_LEVEL: 'silent',
    ...wakeFromEnvironment(),
  });
  const runtime = await openRewardsRuntime(config);
  let app: NestFastifyApplication | undefined;
  try {
    app = await createServiceApp(RewardsModule.forRoot(runtime), {
      ...rewardsServiceOptions(config),
      logDestination: { write: () => undefined },
    });
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address() as { port: number };
    const store = runtime.infrastructure.eventStore;
    const earning = app.get(Earning);
    await earning.runner.stop();

    const apiKey = `tsk_${randomBytes(32).toString('base64url')}`;
    const tenantId = randomUUID();
    const slug = `bench-${process.pid}`;
    const context = { tenantId, correlationId: 'bench', now: new Date() };
    await store.appendToStream(
      tenantStreamFor(slug),
      [
        await runtime.infrastructure.codec.encode(
          TenantCreated({
            tenantId,
            slug,
            name: 'Bench',
            apiKeyHash: hashKey(apiKey),
            writeKeyHash: hashKey('unused'),
            createdAt: context.now.toISOString(),
          }),
          context,
        ),
      ],
      { expectedRevision: 'no_stream' },
    );
    await app.get(ProgramHandler).publish(grantProgram, context);

    log('  ceiling: single-event appends, 16 writers');
    const ceiling = await appendCeiling(store, windowMs);
    log(
      `    ${perSecond(ceiling.perSecond, 'events')}, append p50 ${ceiling.stepMs.p50.toFixed(1)} ms, p99 ${ceiling.stepMs.p99.toFixed(1)} ms`,
    );

    const backlog = settings.earningEvents ?? 20_000;
    const measureEarning = async (tenant: string) => {
      const last = await appendBacklog(store, runtime.infrastructure.codec, tenant, backlog);
      const started = performance.now();
      earning.runner.start();
      await earning.runner.waitFor(last, 300_000);
      const seconds = (performance.now() - started) / 1000;
      await earning.runner.stop();
      log(`    ${perSecond(backlog / seconds, 'events')} (${seconds.toFixed(1)} s)`);
      return { seconds, perSecond: backlog / seconds };
    };
    log(`  earning: ${backlog} tracked events, ${MEMBERS} members interleaved, backlog then subscription`);
    const plain = await measureEarning(tenantId);
    const [earningSeconds, earningRate] = [plain.seconds, plain.perSecond];
    // The same backlog for another tenant (fresh wallets, the same program) with five campaigns matching every event.
    const campaignTenant = randomUUID();
    const campaignContext = { ...context, tenantId: campaignTenant };
    await app.get(ProgramHandler).publish(grantProgram, campaignContext);
    for (const campaign of FIVE_CAMPAIGNS)
      await app.get(CampaignHandler).change({ type: 'Create', campaign, now: context.now }, campaignContext);
    log(`  earning with five active campaigns: the same backlog for a tenant whose every event matches five campaigns`);
    const withCampaigns = await measureEarning(campaignTenant);
    const campaignRow = {
      measure: 'R1c. earning with five active campaigns',
      figure: perSecond(withCampaigns.perSecond, 'events'),
      ceiling: `${perSecond(earningRate, 'events')} without (R1)`,
      ratio: (withCampaigns.perSecond / earningRate).toFixed(2),
      target: `>= ${EARNING_TARGET.toLocaleString('en-US')}/s`,
      verdict: withCampaigns.perSecond >= EARNING_TARGET ? ('pass' as const) : ('FAIL' as const),
      neighbours: '?',
    };
    if (settings.only === 'earning')
      return [
        {
          id: 'rewards',
          title: 'Rewards: earning with and without campaigns',
          rows: [
            {
              ...campaignRow,
              measure: 'R1. earning events end to end',
              figure: perSecond(earningRate, 'events'),
              ceiling: '-',
              ratio: '-',
              verdict: earningRate >= EARNING_TARGET ? 'pass' : 'FAIL',
            },
            campaignRow,
          ],
          details: { earning: plain, earningWithCampaigns: withCampaigns },
        },
      ];
    earning.runner.start();

    // Each phase starts with the read models caught up, so it does not pay for the previous one's backlog.
    const readModels = app.get(ProjectionRunner);
    await settled(readModels);
    log('  redemptions over HTTP, distinct members in flight');
    const redemptions = await redeemLoop(app, `http://127.0.0.1:${address.port}`, slug, apiKey, context, windowMs);
    log(
      `    ${perSecond(redemptions.perSecond, 'redemptions')}, p99 ${redemptions.stepMs.p99.toFixed(1)} ms, failures ${redemptions.failures}`,
    );

    await settled(readModels);
    log('  earning lag at 1,000 events/s');
    const lag = await earningLag(
      store,
      runtime.infrastructure.codec,
      earning,
      tenantId,
      settings.lagDurationMs ?? 10_000,
      settings.lagSettleMs ?? 1_000,
    );
    log(
      `    points appended: p50 ${lag.effect.p50.toFixed(1)} ms, p99 ${lag.effect.p99.toFixed(1)} ms; checkpointed: p50 ${lag.p50.toFixed(1)} ms, p99 ${lag.p99.toFixed(1)} ms over ${lag.samples} events (${lag.offeredPerSecond.toFixed(0)} offered/s); ${lag.batches} batches, median ${lag.batchSizeP50} events, max ${lag.batchSizeMax}; this process used ${lag.processCores.toFixed(2)} cores`,
    );

    const ceilingText = `${perSecond(ceiling.perSecond, 'appends')} x${CONCURRENCY}`;
    return [
      {
        id: 'rewards',
        title: 'Rewards: earning, redemptions, earning lag',
        rows: [
          {
            measure: 'R1. earning events end to end',
            figure: perSecond(earningRate, 'events'),
            ceiling: ceilingText,
            ratio: (earningRate / ceiling.perSecond).toFixed(2),
            target: `>= ${EARNING_TARGET.toLocaleString('en-US')}/s`,
            verdict: earningRate >= EARNING_TARGET ? 'pass' : 'FAIL',
            neighbours: cores(ceiling.cpu.othersCores),
          },
          campaignRow,
          {
            measure: 'R2. redemptions, distinct members',
            figure: perSecond(redemptions.perSecond, 'redemptions'),
            ceiling: ceilingText,
            ratio: (redemptions.perSecond / ceiling.perSecond).toFixed(2),
            target: 'report only (4 appends each)',
            verdict: 'info',
            neighbours: cores(redemptions.cpu.othersCores),
          },
          {
            measure: 'R3. earning lag p99 @1,000/s',
            figure: `${lag.p99.toFixed(1)} ms`,
            ceiling: `p50 ${lag.p50.toFixed(1)}, effect p99 ${lag.effect.p99.toFixed(1)} ms`,
            ratio: '-',
            target: `< ${LAG_TARGET_P99_MS} ms`,
            verdict: lag.p99 < LAG_TARGET_P99_MS ? 'pass' : 'FAIL',
            neighbours: '?',
          },
        ],
        details: {
          members: MEMBERS,
          concurrency: CONCURRENCY,
          ceiling,
          earning: { events: backlog, seconds: earningSeconds, perSecond: earningRate },
          earningWithCampaigns: { events: backlog, campaigns: FIVE_CAMPAIGNS.length, ...withCampaigns },
          redemptions,
          lag,
        },
      },
    ];
  } finally {
    await app?.close().catch(() => undefined);
    await runtime.infrastructure.close().catch(() => undefined);
  }
}

async function settled(projection: ProjectionRunner): Promise<void> {
  for (let quiet = 0; quiet < 5;) {
    await sleep(100);
    quiet = projection.lagSeconds() === 0 ? quiet + 1 : 0;
  }
}

async function appendCeiling(store: EventStore, windowMs: number): Promise<Throughput> {
  const streams = Array.from({ length: CONCURRENCY }, (_, worker) => ({ name: `bench-ceiling-${process.pid}-${worker}`, revision: -1n }));
  return runClosedLoops(CONCURRENCY, windowMs, async (worker) => {
    const stream = streams[worker]!;
    const event: EventToAppend = {
      id: randomUUID(),
      type: 'BenchCeiling',
      data: { points: 100 },
      metadata: { tenantId: 'ceiling', schemaVersion: 1 },
    };
    const result = await store.appendToStream(stream.name, [event], {
      expectedRevision: stream.revision === -1n ? 'no_stream' : stream.revision,
    });
    stream.revision = result.nextExpectedRevision;
    return 1;
  });
}

/**
 * Tracked events as pulse would have appended them, 500 per append, members in round robin: every
 * batch the processor reads touches as many different wallets as it can (its worst case).
 */
async function appendBacklog(store: EventStore, codec: EventCodec, tenantId: string, events: number): Promise<Position> {
  let last: Position | undefined;
  let serial = 0;
  while (serial < events) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, events - serial) }, () => tracked(codec, tenantId, memberId(serial++ % MEMBERS))),
    );
    last = (await store.appendToStream(shardStream(tenantId, serial % SHARDS), batch, { expectedRevision: 'any' })).position;
  }
  return last!;
}

async function redeemLoop(
  app: NestFastifyApplication,
  baseUrl: string,
  slug: string,
  apiKey: string,
  context: { tenantId: string; correlationId: string; now: Date },
  windowMs: number,
) {
  const catalog = app.get(CatalogHandler);
  const rewardIds: string[] = [];
  for (let i = 0; i < REWARDS; i++) {
    const { rewardId } = await catalog.create(
      { name: `Bench ${i}`, cost: 1, stock: 10_000_000, perMemberLimit: null, validFrom: new Date(0).toISOString(), validUntil: null },
      context,
    );
    rewardIds.push(rewardId);
  }
  const client = new JsonClient(baseUrl, CONCURRENCY);
  let next = 0;
  try {
    return await runClosedLoops(CONCURRENCY, windowMs, async () => {
      const n = next++;
      const response = await client.post(
        `/t/${slug}/members/${memberId(n % MEMBERS)}/redemptions`,
        { rewardId: rewardIds[n % REWARDS] },
        { authorization: `Bearer ${apiKey}`, 'idempotency-key': randomUUID() },
      );
      if (response.status !== 201) throw new Error(`redemption answered ${response.status}: ${JSON.stringify(response.body)}`);
      return 1;
    });
  } finally {
    client.close();
  }
}

/**
 * Open loop: appends fall due on a fixed schedule whatever the projection does, so a backlog shows
 * as lag. "Checkpointed" is when the runner has committed the append's position (its points
 * included); "effect" is when the batch's wallet appends were written, before that commit.
 */
async function earningLag(store: EventStore, codec: EventCodec, earning: Earning, tenantId: string, durationMs: number, settleMs: number) {
  const lags: number[] = [];
  const started = performance.now();
  const batchSizes: number[] = [];
  const effectLags: number[] = [];
  const effectSentAt = new Map<string, number>();
  const onEffect = (sources: readonly { id: string }[]) => {
    const now = performance.now();
    batchSizes.push(sources.length);
    for (const source of sources) {
      const sent = effectSentAt.get(source.id);
      if (sent === undefined) continue;
      effectSentAt.delete(source.id);
      if (sent - started >= settleMs) effectLags.push(now - sent);
    }
  };
  earning.projection.effectListeners.push(onEffect);
  const cpuBefore = process.cpuUsage();
  let offered = 0;
  const inFlight = new Set<Promise<unknown>>();
  let last: Position | undefined;
  try {
    for (let tick = 0; tick * LAG_TICK_MS < durationMs; tick++) {
      const wait = started + tick * LAG_TICK_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const events = await Promise.all(
        Array.from({ length: LAG_EVENTS_PER_TICK }, () => tracked(codec, tenantId, memberId(Math.floor(Math.random() * MEMBERS)))),
      );
      const sent = performance.now();
      for (const event of events) effectSentAt.set(event.id!, sent);
      offered += events.length;
      const append = store
        .appendToStream(shardStream(tenantId, tick % SHARDS), events, { expectedRevision: 'any' })
        .then(async (result) => {
          if (!last || comparePositions(result.position, last) > 0) last = result.position;
          await earning.runner.waitFor(result.position, 120_000);
          const committed = performance.now();
          if (sent - started >= settleMs) for (let i = 0; i < events.length; i++) lags.push(committed - sent);
        });
      inFlight.add(append);
      void append.finally(() => inFlight.delete(append));
    }
    await Promise.all(inFlight);
    if (last) await earning.runner.waitFor(last, 120_000);
  } finally {
    earning.projection.effectListeners.splice(earning.projection.effectListeners.indexOf(onEffect), 1);
  }
  lags.sort((a, b) => a - b);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const processCores = (cpu.user + cpu.system) / 1e6 / seconds;
  batchSizes.sort((a, b) => a - b);
  effectLags.sort((a, b) => a - b);
  const effect = { p50: percentileOfSorted(effectLags, 50), p99: percentileOfSorted(effectLags, 99) };
  return {
    effect,
    processCores,
    batches: batchSizes.length,
    batchSizeP50: percentileOfSorted(batchSizes, 50),
    batchSizeMax: batchSizes[batchSizes.length - 1] ?? 0,
    samples: lags.length,
    offeredPerSecond: offered / Math.min(seconds, durationMs / 1000),
    p50: percentileOfSorted(lags, 50),
    p99: percentileOfSorted(lags, 99),
    max: lags[lags.length - 1] ?? 0,
  };
}

/** `node dist/bench/rewards.js`: this scenario alone, on its own embedded PostgreSQL. */
if (require.main === module) {
  void (async () => {
    const postgres = await startBenchPostgres();
    try {
      const results = await benchRewards(await postgres.createDatabase('bench_rewards'), {
        log: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(`\n${formatTable(results)}\n`);
    } finally {
      await postgres.stop();
    }
  })().catch((error: unknown) => {
    process.stderr.write(`rewards bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
