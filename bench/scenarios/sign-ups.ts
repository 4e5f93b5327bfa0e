import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { hash } from '@node-rs/argon2';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadRegisterConfig } from '../../apps/register/src/register.config';
import { RegisterModule } from '../../apps/register/src/register.module';
import { openRegisterRuntime, registerServiceOptions } from '../../apps/register/src/register.runtime';
import { ARGON2ID_OPTIONS } from '#contracts';
import { createServiceApp } from '#platform';
import { JsonClient } from '../support/http-client';
import { runClosedLoops } from '../support/measure';
import { pairedDetails, runPaired } from '../support/paired';
import { cores, perSecond, ratioVerdict, type ScenarioResult } from '../support/report';

export interface SignUpSettings {
  readonly repetitions: number;
  readonly windowMs: number;
  readonly warmUpMs: number;
  readonly log: (line: string) => void;
}

/**
 * Twice libuv's default pool of 4 threads: 4 hashes run while 4 more wait, so the CPU never idles
 * between hashes on the ceiling side, and on the sign-up side there is always a request ready to
 * hash while others are in PostgreSQL. Both sides use the same count.
 */
const CONCURRENCY = 8;
const TARGET = 0.7;
const PASSWORD = 'correct horse battery staple';

interface RunningRegister {
  readonly url: string;
  readonly app: NestFastifyApplication;
  readonly adminToken: string;
}

/**
 * Register as main.ts builds it (info-level request logs built and serialised, then dropped),
 * listening on an ephemeral loopback port so requests pay for real HTTP parsing and sockets.
 * Verification mails go to the in-memory dev mailbox (NODE_ENV=development, as production
 * requires SMTP): SMTP delivery runs off the request path and is not part of this figure.
 */
async function startRegister(databaseUrl: string): Promise<RunningRegister> {
  const adminToken = randomBytes(32).toString('base64url');
  const config = loadRegisterConfig({
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
    ADMIN_TOKEN: adminToken,
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN_MS: '0',
    // One client signing up at full rate is what the per-address limit exists to refuse; the
    // per-tenant hash budget keeps its default (8, this scenario's concurrency).
    REGISTER_SIGNUPS_PER_ADDRESS: '1000000',
  });
  const runtime = await openRegisterRuntime(config);
  let app: NestFastifyApplication;
  try {
    // Log lines are still built and serialised, as in production; only the write is dropped.
    app = await createServiceApp(RegisterModule.forRoot(runtime), {
      ...registerServiceOptions(config),
      logDestination: { write: () => undefined },
    });
  } catch (error) {
    await runtime.infrastructure.close().catch(() => undefined);
    throw error;
  }
  try {
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, app, adminToken };
}

export async function benchSignUps(databaseUrl: string, settings: SignUpSettings): Promise<ScenarioResult> {
  const register = await startRegister(databaseUrl);
  const client = new JsonClient(register.url, CONCURRENCY);
  try {
    const slug = `bench-${randomBytes(3).toString('hex')}`;
    const created = await client.post('/admin/tenants', { slug, name: 'Bench tenant' }, { authorization: `Bearer ${register.adminToken}` });
    if (created.status !== 201) throw new Error(`tenant creation failed: ${created.status} ${JSON.stringify(created.body)}`);

    let serial = 0;
    let firstRefusal: string | undefined;
    const signUp = async (): Promise<number> => {
      const email = `person${++serial}.${process.pid}@bench.example`;
      const response = await client.post(`/t/${slug}/users`, { email, password: PASSWORD });
      if (response.status !== 201) {
        firstRefusal ??= `${response.status} ${JSON.stringify(response.body)}`;
        throw new Error(`sign-up refused: ${firstRefusal}`);
      }
      return 1;
    };
    const hashPassword = async (): Promise<number> => {
      await hash(PASSWORD, ARGON2ID_OPTIONS);
      return 1;
    };

    const summary = await runPaired({
      label: 'sign-ups',
      repetitions: settings.repetitions,
      warmUp: async () => {
        await runClosedLoops(CONCURRENCY, settings.warmUpMs, hashPassword);
        await runClosedLoops(CONCURRENCY, settings.warmUpMs, signUp);
      },
      ceiling: () => runClosedLoops(CONCURRENCY, settings.windowMs, hashPassword),
      figure: () => runClosedLoops(CONCURRENCY, settings.windowMs, signUp),
      log: settings.log,
    });
    if (firstRefusal) settings.log(`  sign-ups: first refusal was ${firstRefusal}`);
    return {
      id: 'sign-ups',
      title: `Sign-ups over HTTP vs argon2id hashes, ${CONCURRENCY} concurrent`,
      rows: [
        {
          measure: `3. sign-ups x${CONCURRENCY}`,
          figure: perSecond(summary.medianFigure, 'sign-ups'),
          ceiling: `${perSecond(summary.medianCeiling, 'hashes')} argon2id`,
          ratio: summary.medianRatio.toFixed(3),
          target: `>= ${TARGET}`,
          verdict: ratioVerdict(summary.medianRatio, TARGET),
          neighbours: cores(summary.neighbourCores),
        },
      ],
      details: {
        concurrency: CONCURRENCY,
        argon2id: ARGON2ID_OPTIONS,
        libuvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
        ...pairedDetails(summary),
        target: TARGET,
        firstRefusal: firstRefusal ?? null,
      },
    };
  } finally {
    client.close();
    await register.app.close().catch((error: unknown) => settings.log(`  register did not close cleanly: ${String(error)}`));
  }
}
