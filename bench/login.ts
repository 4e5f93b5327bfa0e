import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { Agent } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { verify as argon2Verify, hash } from '@node-rs/argon2';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import { loadLoginConfig } from '../apps/login/src/login.config';
import { LoginModule } from '../apps/login/src/login.module';
import { loginServiceOptions, openLoginRuntime } from '../apps/login/src/login.runtime';
import { TESSERA_API_AUDIENCE } from '../apps/login/src/oidc/provider-factory';
import { loadRegisterConfig } from '../apps/register/src/register.config';
import { RegisterModule } from '../apps/register/src/register.module';
import { openRegisterRuntime, registerServiceOptions } from '../apps/register/src/register.runtime';
import { ARGON2ID_OPTIONS } from '#contracts';
import { createServiceApp } from '#platform';
import { benchPasskeySignIns } from './login-passkeys';
import { BenchHttp, formOf, onToCode, openSignInPageOf } from './support/bench-browser';
import { benchTotpSignIns } from './login-totp';
import { runClosedLoops, type Throughput } from './support/measure';
import { pairedDetails, runPaired } from './support/paired';
import { cores, perSecond, ratioVerdict, type ScenarioResult } from './support/report';

export interface LoginBenchSettings {
  readonly repetitions: number;
  readonly windowMs: number;
  readonly warmUpMs: number;
  readonly log: (line: string) => void;
  /** Runs one part only (while working on it); all by default. */
  readonly only?: 'tokens' | 'sign-ins' | 'totp' | 'passkeys';
}

/** Same count as the sign-up bench: two libuv pools' worth of argon2id in flight. */
const CONCURRENCY = 8;
const TOKENS_TARGET = 1500;
const SIGN_IN_TARGET = 0.7;
/** Sign-in pages opened per second of window: above the argon2id rates measured on these machines (90 to 160/s). */
const PREPARED_PAGES_PER_SECOND = 200;
const PASSWORD = 'correct horse battery staple';
const REDIRECT_URI = 'http://localhost:9/callback';

/**
 * The token requests' HTTP client, on a thread of its own: an API client never shares login's event
 * loop, and in this process it would take half of it. Its CPU still counts (same process), and the
 * loops stay closed: each step is one request answered, its status checked on this side.
 */
const TOKEN_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, request } = require('node:http');
const agent = new Agent({ keepAlive: true, maxSockets: workerData.sockets, maxFreeSockets: workerData.sockets });
const url = new URL(workerData.url);
const body = Buffer.from(workerData.body);
const headers = { ...workerData.headers, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) };
parentPort.on('message', (id) => {
  const outgoing = request(url, { method: 'POST', agent, headers }, (response) => {
    const chunks = [];
    response.on('data', (chunk) => { if (response.statusCode !== 200) chunks.push(chunk); });
    response.on('end', () => parentPort.postMessage({ id, status: response.statusCode, body: Buffer.concat(chunks).toString('utf8').slice(0, 200) }));
  });
  outgoing.on('error', (error) => parentPort.postMessage({ id, status: 0, body: error.message }));
  outgoing.end(body);
});
`;

class TokenClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, (answer: { status: number; body: string }) => void>();
  private next = 0;

  constructor(url: string, form: Record<string, string>, headers: Record<string, string>, sockets: number) {
    this.worker = new Worker(TOKEN_CLIENT, {
      eval: true,
      workerData: { url, body: new URLSearchParams(form).toString(), headers, sockets },
    });
    this.worker.on('message', (answer: { id: number; status: number; body: string }) => {
      this.pending.get(answer.id)?.(answer);
      this.pending.delete(answer.id);
    });
  }

  async token(): Promise<number> {
    const id = this.next++;
    const answer = await new Promise<{ status: number; body: string }>((resolve) => {
      this.pending.set(id, resolve);
      this.worker.postMessage(id);
    });
    if (answer.status !== 200) throw new Error(`token refused: ${answer.status} ${answer.body}`);
    return 1;
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Register and login as main.ts builds them (production settings, logs built but dropped), on one database. */
async function startServices(databaseUrl: string) {
  const masterKey = randomBytes(32).toString('base64');
  const adminToken = randomBytes(32).toString('base64url');
  const quiet = { logDestination: { write: () => undefined } };
  const registerConfig = loadRegisterConfig({
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: masterKey,
    ADMIN_TOKEN: adminToken,
    SHUTDOWN_DRAIN_MS: '0',
    // The two-step row signs up hundreds of people from this one address.
    REGISTER_SIGNUPS_PER_ADDRESS: '1000000',
  });
  const register = await createServiceApp(RegisterModule.forRoot(await openRegisterRuntime(registerConfig)), {
    ...registerServiceOptions(registerConfig),
    ...quiet,
  });
  await register.listen(0, '127.0.0.1');
  const port = await freePort();
  const loginUrl = `http://127.0.0.1:${port}`;
  const loginConfig = loadLoginConfig({
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOGIN_PUBLIC_URL: loginUrl,
    DATABASE_URL: databaseUrl,
    TESSERA_MASTER_KEY: masterKey,
    ADMIN_TOKEN: adminToken,
    SHUTDOWN_DRAIN_MS: '0',
  });
  const login = await createServiceApp(LoginModule.forRoot(await openLoginRuntime(loginConfig)), {
    ...loginServiceOptions(loginConfig),
    ...quiet,
  });
  await login.listen(port, '127.0.0.1');
  const registerUrl = `http://127.0.0.1:${(register.getHttpServer().address() as AddressInfo).port}`;
  return { register, login, registerUrl, loginUrl, adminToken };
}

async function postJson(url: string, body: object, token?: string): Promise<{ status: number; body: Record<string, string> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json().catch(() => ({}))) as Record<string, string> };
}

/**
 * Login's two figures, each next to its ceiling measured in the same run: client-credentials JWTs
 * (ES256) per second vs ES256 signatures per second on this core, and password sign-ins (the
 * whole hosted flow: authorize, sign-in page, form post, consent, through to the code) vs argon2id
 * verifications per second.
 */
export async function benchLogin(databaseUrl: string, settings: LoginBenchSettings): Promise<ScenarioResult[]> {
  const services = await startServices(databaseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2, maxFreeSockets: CONCURRENCY * 2 });
  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  let closeTokenClient = async (): Promise<unknown> => undefined;
  try {
    const slug = `bench-${randomBytes(3).toString('hex')}`;
    const tenant = await postJson(`${services.registerUrl}/admin/tenants`, { slug, name: 'Bench tenant' }, services.adminToken);
    if (tenant.status !== 201) throw new Error(`tenant creation failed: ${tenant.status}`);
    const emails = Array.from({ length: CONCURRENCY }, (_, i) => `signer${i}@bench.example`);
    for (const email of emails) {
      const user = await postJson(`${services.registerUrl}/t/${slug}/users`, { email, password: PASSWORD });
      if (user.status !== 201) throw new Error(`sign-up failed: ${user.status}`);
    }
    for (let i = 0; ; i++) {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM login_credentials');
      if (rows[0]!.n >= emails.length) break;
      if (i > 500) throw new Error('login did not learn the bench users');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const service = await postJson(
      `${services.loginUrl}/admin/tenants/${slug}/clients`,
      { name: 'svc', type: 'confidential', grantTypes: ['client_credentials'] },
      services.adminToken,
    );
    const app = await postJson(
      `${services.loginUrl}/admin/tenants/${slug}/clients`,
      { name: 'app', type: 'public', redirectUris: [REDIRECT_URI] },
      services.adminToken,
    );
    if (service.status !== 201 || app.status !== 201) throw new Error('client registration failed');

    // Client credentials ------------------------------------------------------------------------
    const basic = `Basic ${Buffer.from(`${service.body.clientId}:${service.body.clientSecret}`).toString('base64')}`;
    const tokenClient = new TokenClient(
      `${services.loginUrl}/t/${slug}/token`,
      { grant_type: 'client_credentials', resource: TESSERA_API_AUDIENCE },
      { authorization: basic },
      CONCURRENCY,
    );
    closeTokenClient = () => tokenClient.close();
    const token = () => tokenClient.token();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const claims = Buffer.from(
      JSON.stringify({ iss: services.loginUrl, aud: TESSERA_API_AUDIENCE, jti: randomBytes(16).toString('base64url') }),
    );
    const es256 = async (): Promise<number> => {
      sign('sha256', claims, { key, dsaEncoding: 'ieee-p1363' });
      return 1;
    };
    const skip = {
      medianFigure: Number.NaN,
      medianCeiling: Number.NaN,
      medianRatio: Number.NaN,
      neighbourCores: Number.NaN,
      runs: [],
    } as unknown as Awaited<ReturnType<typeof runPaired>>;
    const tokens =
      settings.only && settings.only !== 'tokens'
        ? skip
        : await runPaired({
            label: 'client-credentials',
            repetitions: settings.repetitions,
            warmUp: async () => {
              await runClosedLoops(1, settings.warmUpMs, es256);
              await runClosedLoops(CONCURRENCY, settings.warmUpMs, token);
            },
            // One core signs for the service's one event loop: the same budget on both sides.
            ceiling: () => runClosedLoops(1, settings.windowMs, es256),
            figure: () => runClosedLoops(CONCURRENCY, settings.windowMs, token),
            log: settings.log,
          });

    // Password sign-ins ---------------------------------------------------------------------------
    /** A browser that followed the client's authorization request to the sign-in page. */
    const openSignInPage = async (): Promise<{ browser: BenchHttp; form: { action: string; csrf: string } }> => {
      const { browser, page } = await openSignInPageOf(agent, services.loginUrl, {
        slug,
        clientId: app.body.clientId!,
        redirectUri: REDIRECT_URI,
      });
      return { browser, form: formOf(page.body) };
    };
    /** The form post through to the code: the sign-in the target is set for. */
    const submitPassword = async ({ browser, form }: Awaited<ReturnType<typeof openSignInPage>>, worker: number): Promise<number> => {
      const answer = await browser.send('POST', form.action, { form: { csrf: form.csrf, email: emails[worker]!, password: PASSWORD } });
      if (answer.status !== 303) throw new Error(`sign-in refused: ${answer.status}`);
      return onToCode(browser, answer.location!, REDIRECT_URI);
    };
    const wholeSignIn = async (worker: number): Promise<number> => submitPassword(await openSignInPage(), worker);
    /**
     * Sign-in pages opened before the window (untimed, CONCURRENCY at a time), so the window counts
     * form posts through to the code only. More than the fastest argon2id rate seen here could use.
     */
    const postsThroughToCode = async (): Promise<Throughput> => {
      const pages: Awaited<ReturnType<typeof openSignInPage>>[] = [];
      const wanted = Math.ceil((PREPARED_PAGES_PER_SECOND * settings.windowMs) / 1000);
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (pages.length < wanted) pages.push(await openSignInPage());
        }),
      );
      // Past the pages opened before, a page is opened inside the window: counted against the figure, never failing it.
      return runClosedLoops(CONCURRENCY, settings.windowMs, async (worker) =>
        submitPassword(pages.pop() ?? (await openSignInPage()), worker),
      );
    };
    const storedHash = await hash(PASSWORD, ARGON2ID_OPTIONS);
    const verifyPassword = async (): Promise<number> => {
      if (!(await argon2Verify(storedHash, PASSWORD))) throw new Error('argon2id verify failed');
      return 1;
    };
    const signIns =
      settings.only && settings.only !== 'sign-ins'
        ? skip
        : await runPaired({
            label: 'sign-ins (form post to code)',
            repetitions: settings.repetitions,
            warmUp: async () => {
              await runClosedLoops(CONCURRENCY, settings.warmUpMs, verifyPassword);
              await runClosedLoops(CONCURRENCY, settings.warmUpMs, wholeSignIn);
            },
            ceiling: () => runClosedLoops(CONCURRENCY, settings.windowMs, verifyPassword),
            figure: postsThroughToCode,
            log: settings.log,
          });
    const wholeFlows =
      settings.only && settings.only !== 'sign-ins'
        ? skip
        : await runPaired({
            label: 'sign-ins (whole flow)',
            repetitions: settings.repetitions,
            warmUp: async () => undefined,
            ceiling: () => runClosedLoops(CONCURRENCY, settings.windowMs, verifyPassword),
            figure: () => runClosedLoops(CONCURRENCY, settings.windowMs, wholeSignIn),
            log: settings.log,
          });

    const results: (() => ScenarioResult)[] = [
      () => ({
        id: 'login-client-credentials',
        title: `Client-credentials JWTs over HTTP (${CONCURRENCY} concurrent, client on its own thread) vs ES256 signatures on one core`,
        rows: [
          {
            measure: `5. client-credentials tokens x${CONCURRENCY}`,
            figure: perSecond(tokens.medianFigure, 'tokens'),
            ceiling: `${perSecond(tokens.medianCeiling, 'signatures')} ES256`,
            ratio: tokens.medianRatio.toFixed(2),
            target: `>= ${TOKENS_TARGET}/s`,
            verdict: tokens.medianFigure >= TOKENS_TARGET ? 'pass' : 'FAIL',
            neighbours: cores(tokens.neighbourCores),
          },
        ],
        details: {
          concurrency: CONCURRENCY,
          client: 'worker thread of the bench process',
          ...pairedDetails(tokens),
          target: TOKENS_TARGET,
        },
      }),
      () => ({
        id: 'login-sign-ins',
        title: `Password sign-ins, form post through to the code, pages opened before the window (${CONCURRENCY} concurrent) vs argon2id verifications; the whole hosted flow beside it`,
        rows: [
          {
            measure: `6. password sign-ins x${CONCURRENCY}`,
            figure: perSecond(signIns.medianFigure, 'sign-ins'),
            ceiling: `${perSecond(signIns.medianCeiling, 'verifications')} argon2id`,
            ratio: signIns.medianRatio.toFixed(2),
            target: `>= ${SIGN_IN_TARGET}`,
            verdict: ratioVerdict(signIns.medianRatio, SIGN_IN_TARGET),
            neighbours: cores(signIns.neighbourCores),
          },
          {
            measure: `   whole flow (authorize, page, post, code) x${CONCURRENCY}`,
            figure: perSecond(wholeFlows.medianFigure, 'sign-ins'),
            ceiling: `${perSecond(wholeFlows.medianCeiling, 'verifications')} argon2id`,
            ratio: wholeFlows.medianRatio.toFixed(2),
            target: '-',
            verdict: 'info',
            neighbours: cores(wholeFlows.neighbourCores),
          },
        ],
        details: {
          concurrency: CONCURRENCY,
          argon2id: ARGON2ID_OPTIONS,
          ...pairedDetails(signIns),
          target: SIGN_IN_TARGET,
          wholeFlow: pairedDetails(wholeFlows),
        },
      }),
    ];
    const [tokenResult, signInResult] = results;
    /** What the TOTP and passkey rows share: the running services, the tenant, its client and a way to sign people up. */
    const shared = {
      login: services.login as NestFastifyApplication,
      loginUrl: services.loginUrl,
      pool,
      agent,
      slug,
      tenantId: tenant.body.id!,
      clientId: app.body.clientId!,
      redirectUri: REDIRECT_URI,
      concurrency: CONCURRENCY,
      repetitions: settings.repetitions,
      windowMs: settings.windowMs,
      warmUpMs: settings.warmUpMs,
      log: settings.log,
      signUp: async (email: string) => {
        const user = await postJson(`${services.registerUrl}/t/${slug}/users`, { email, password: PASSWORD });
        if (user.status !== 201) throw new Error(`sign-up failed: ${user.status}`);
      },
    };
    const totp = () => benchTotpSignIns({ ...shared, registerUrl: services.registerUrl, password: PASSWORD, verifyPassword });
    const passkeys = () => benchPasskeySignIns(shared);
    if (settings.only === 'tokens') return [tokenResult!()];
    if (settings.only === 'sign-ins') return [signInResult!()];
    if (settings.only === 'totp') return [await totp()];
    if (settings.only === 'passkeys') return [await passkeys()];
    return [tokenResult!(), signInResult!(), await totp(), await passkeys()];
  } finally {
    await closeTokenClient().catch(() => undefined);
    agent.destroy();
    await pool.end().catch(() => undefined);
    await (services.login as NestFastifyApplication).close().catch(() => undefined);
    await services.register.close().catch(() => undefined);
  }
}
