import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createServiceApp } from '../../../libs/platform/src/service-app';
import { createTestDatabase } from '../../../test/support/database';
import { startRegister, type RegisterHarness } from '../../register/test/register-harness';
import { loadPulseConfig } from '../src/pulse.config';
import { PROJECTIONS, PulseModule } from '../src/pulse.module';
import type { ProjectionRunner } from '../../../libs/cqrs/src/projection-runner';
import { openPulseRuntime, pulseServiceOptions, type PulseRuntime } from '../src/pulse.runtime';

export interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly apiKey: string;
  readonly writeKey: string;
}

export interface PulseHarness {
  readonly app: NestFastifyApplication;
  readonly runtime: PulseRuntime;
  readonly register: RegisterHarness;
  readonly databaseUrl: string;
  readonly masterKey: string;
  /** Pulse listening on an ephemeral port, for real clients. */
  readonly url: string;
  http(): ReturnType<typeof request>;
  /** A tenant created through register, once pulse accepts its write key. */
  createTenant(): Promise<Tenant>;
  /** Resolves once pulse's profiles include everything stored so far. */
  profilesCaughtUp(): Promise<void>;
  /** Every MessageReceived stored for the tenant, as (messageId → count). */
  storedMessageIds(tenantId: string): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** Register and pulse on one fresh database with one master key, built the way main.ts builds them. */
export async function startPulse(env: Record<string, string> = {}): Promise<PulseHarness> {
  const databaseUrl = env.DATABASE_URL ?? (await createTestDatabase('pulse'));
  const masterKey = env.TESSERA_MASTER_KEY ?? randomBytes(32).toString('base64');
  const register = await startRegister({ DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey });
  const config = loadPulseConfig({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKey, SHUTDOWN_DRAIN_MS: '0', LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1', ...env });
  const runtime = await openPulseRuntime(config);
  const app = await createServiceApp(PulseModule.forRoot(runtime), { ...pulseServiceOptions(config), processMetrics: false });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  const http = () => request(app.getHttpServer());
  return {
    app,
    runtime,
    register,
    databaseUrl,
    masterKey,
    url,
    http,
    async createTenant() {
      const tenant = (await register.createTenant()) as Tenant;
      await eventually(async () => (await http().get(`/v1/projects/${tenant.writeKey}/settings`)).status === 200);
      return tenant;
    },
    async profilesCaughtUp() {
      // The last event the profiles projection consumes; later events of other streams never reach it.
      const { rows } = await runtime.infrastructure.pool.query<{ commit: string; prepare: string }>(
        `SELECT transaction_id::text AS commit, seq::text AS prepare FROM es_events
         WHERE stream_name LIKE 'pulse.tracking-%' OR stream_name LIKE 'register.account-%'
         ORDER BY transaction_id DESC, seq DESC LIMIT 1`,
      );
      if (!rows[0]) return;
      const runners = app.get<ProjectionRunner[]>(PROJECTIONS);
      const profiles = runners.find((runner) => runner.name === 'pulse.profiles')!;
      await profiles.waitFor({ commit: BigInt(rows[0].commit), prepare: BigInt(rows[0].prepare) });
    },
    async storedMessageIds(tenantId) {
      const { rows } = await runtime.infrastructure.pool.query<{ message_id: string; n: string }>(
        `SELECT data->>'messageId' AS message_id, count(*)::text AS n FROM es_events
         WHERE stream_name LIKE $1 AND type = 'MessageReceived' GROUP BY 1`,
        [`pulse.tracking-${tenantId}.%`],
      );
      return new Map(rows.map((row) => [row.message_id, Number(row.n)]));
    },
    async close() {
      await app.close();
      await register.close();
    },
  };
}

export async function eventually(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function basic(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}
