import { randomBytes, randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { tenantStreamFor } from '#contracts';
import { createServiceApp } from '#platform';
import { createTestDatabase } from './database';
import { signTestToken } from '../../apps/register/src/access/testing/test-tokens';
import { BackgroundWork } from '../../apps/register/src/background-work';
import { DevMailbox } from '../../apps/register/src/mail/mailer';
import { loadRegisterConfig, type RegisterConfig } from '../../apps/register/src/register.config';
import { RegisterModule, type RegisterRuntime } from '../../apps/register/src/register.module';
import { openRegisterRuntime, registerServiceOptions } from '../../apps/register/src/register.runtime';
import { tenantDecider } from '../../apps/register/src/tenants/tenant.decider';

export interface RegisterHarness {
  readonly app: NestFastifyApplication;
  readonly config: RegisterConfig;
  readonly runtime: RegisterRuntime;
  readonly mailbox: DevMailbox;
  readonly adminToken: string;
  http(): ReturnType<typeof request>;
  createTenant(slug?: string): Promise<{ id: string; slug: string; apiKey: string; writeKey: string }>;
  /** Many tenants at once through register's own decider and command runner: what POST /admin/tenants appends, minus the HTTP and the keys. */
  appendTenants(slugs: readonly string[]): Promise<void>;
  signUp(slug: string, email: string, extra?: object): Promise<{ id: string }>;
  tokenFor(tenantId: string, userId: string): Promise<string>;
  /** The token in the newest mail to `to` whose subject matches, once background mail work is done. */
  mailedToken(to: string, subject: RegExp): Promise<string>;
  /** Waits for mails and other work started after answering. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export const STRONG_PASSWORD = 'correct horse battery staple';

const GENEROUS_LIMITS: Record<string, string> = {
  REGISTER_SIGNUPS_PER_ADDRESS: '1000000',
  REGISTER_SIGNUPS_PER_EMAIL: '1000000',
  REGISTER_RESETS_PER_ADDRESS: '1000000',
  REGISTER_RESETS_PER_EMAIL: '1000000',
  REGISTER_TOKEN_ATTEMPTS_PER_ADDRESS: '1000000',
  REGISTER_TOKEN_ATTEMPTS_PER_ACCOUNT: '1000000',
  REGISTER_HASHES_PER_TENANT: '1000',
};

/** Register on a fresh database of the test PostgreSQL, built the way main.ts builds it. */
export async function startRegister(env: Record<string, string> = {}): Promise<RegisterHarness> {
  const adminToken = randomBytes(24).toString('base64url');
  const testTokenSecret = randomBytes(32).toString('base64url');
  const config = loadRegisterConfig({
    NODE_ENV: 'test',
    DATABASE_URL: env.DATABASE_URL ?? (await createTestDatabase('register')),
    TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
    ADMIN_TOKEN: adminToken,
    // Register trusting login (LOGIN_PUBLIC_URL) takes no test tokens.
    ...(env.LOGIN_PUBLIC_URL ? {} : { REGISTER_TEST_TOKEN_SECRET: testTokenSecret }),
    SHUTDOWN_DRAIN_MS: '0',
    LOG_LEVEL: 'silent',
    // Every test talks from 127.0.0.1, many sign up dozens of people in parallel: the request
    // limits and the per-tenant hash budget are out of the way unless a test sets them.
    ...GENEROUS_LIMITS,
    ...env,
  });
  const runtime = await openRegisterRuntime(config);
  const app = await createServiceApp(RegisterModule.forRoot(runtime), { ...registerServiceOptions(config), processMetrics: false });
  const mailbox = runtime.mailer as DevMailbox;
  const http = () => request(app.getHttpServer());
  const harness: RegisterHarness = {
    app,
    config,
    runtime,
    mailbox,
    adminToken,
    http,
    async createTenant(slug = `t-${randomBytes(4).toString('hex')}`) {
      const response = await http()
        .post('/admin/tenants')
        .set('authorization', `Bearer ${adminToken}`)
        .send({ slug, name: `Tenant ${slug}` });
      if (response.status !== 201) throw new Error(`tenant creation failed: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body;
    },
    async appendTenants(slugs) {
      const commands = runtime.infrastructure.commands;
      for (let i = 0; i < slugs.length; i += 50) {
        await Promise.all(
          slugs.slice(i, i + 50).map((slug) => {
            const tenantId = randomUUID();
            const now = new Date();
            return commands.handle({
              streamName: tenantStreamFor(slug),
              decider: tenantDecider,
              command: {
                type: 'CreateTenant',
                tenantId,
                slug,
                name: `Tenant ${slug}`,
                apiKeyHash: 'x'.repeat(64),
                writeKeyHash: 'y'.repeat(64),
                now,
              },
              context: { tenantId, correlationId: randomUUID(), now },
            });
          }),
        );
      }
    },
    async signUp(slug, email, extra = {}) {
      const response = await http()
        .post(`/t/${slug}/users`)
        .send({ email, password: STRONG_PASSWORD, ...extra });
      if (response.status !== 201) throw new Error(`sign-up failed: ${response.status} ${JSON.stringify(response.body)}`);
      return response.body;
    },
    tokenFor: (tenantId, userId) => signTestToken(testTokenSecret, { tenantId, userId }),
    async mailedToken(to, subject) {
      await app.get(BackgroundWork).idle();
      const mail = mailbox.list(to).find((m) => subject.test(m.subject));
      // "code: X", or "code\u00a0: X" in French.
      const token = mail && /code[\s\u00a0]?: (\S+)/u.exec(mail.text)?.[1];
      if (!token) throw new Error(`no mail to ${to} matching ${subject}`);
      return token;
    },
    settled: () => app.get(BackgroundWork).idle(),
    close: () => app.close(),
  };
  return harness;
}
