import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { NestPinoLogger, createLogger } from './logging';
import { createServiceApp } from './service-app';
import { LogCapture } from './testing/log-capture';
import { TinyServiceModule } from './testing/tiny-service';

const bearerToken = 'eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXN1YmplY3Q.c2lnbmF0dXJl';
const password = 'correct horse battery staple';
const sessionCookie = 'sid=5f1c0ffee5f1c0ffee';

describe('request logging', () => {
  let app: NestFastifyApplication;
  const logs = new LogCapture();

  beforeAll(async () => {
    app = await createServiceApp(TinyServiceModule, {
      serviceName: 'logging-test',
      logLevel: 'debug',
      logDestination: logs,
      shutdown: { drainDelayMs: 0 },
      processMetrics: false,
    });
  });

  afterAll(() => app.close());

  test('one JSON line per request with method, route, status, duration and request id, and no credentials', async () => {
    const registered = await request(app.getHttpServer())
      .post('/accounts?invite=tok_live_98765')
      .set('authorization', `Bearer ${bearerToken}`)
      .set('cookie', sessionCookie)
      .set('x-request-id', 'edge-4f2a')
      .send({ email: 'grace@example.com', password, profile: { displayName: 'Grace' } });
    expect(registered.status).toBe(201);
    expect(registered.headers['x-request-id']).toBe('edge-4f2a');

    const rejected = await request(app.getHttpServer())
      .post('/accounts')
      .set('authorization', `Bearer ${bearerToken}`)
      .send({ email: 'grace@example.com', password });
    expect(rejected.status).toBe(400);

    const line = logs.entries.find((entry) => entry.requestId === 'edge-4f2a');
    expect(line).toMatchObject({
      level: 'info',
      service: 'logging-test',
      method: 'POST',
      route: '/accounts',
      status: 201,
      msg: 'request completed',
    });
    expect(typeof line?.durationMs).toBe('number');

    for (const secret of [bearerToken, password, sessionCookie, 'tok_live_98765', 'grace@example.com']) {
      expect(logs.text).not.toContain(secret);
    }
  });

  test('an unusable request id header is replaced rather than logged', async () => {
    const response = await request(app.getHttpServer()).get('/ping').set('x-request-id', '"} forged {"level":"fatal');
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs.text).not.toContain('forged');
  });
});

describe('logger', () => {
  test('redacts sensitive fields in structured log calls, at any expected depth', () => {
    const capture = new LogCapture();
    const logger = createLogger({ serviceName: 'redact-test', level: 'info', destination: capture });
    logger.info(
      {
        password: 'p1-hunter2',
        account: { email: 'ada@example.com', credentials: { refreshToken: 'rt-secret', apiKey: 'key-secret' } },
        req: { headers: { authorization: 'Bearer abc.def', cookie: 'sid=1', 'user-agent': 'curl' } },
      },
      'structured',
    );
    logger.error({ err: new Error('connect ECONNREFUSED postgres://tessera:pg-secret@db:5432/accounts') }, 'boom');
    for (const secret of ['p1-hunter2', 'ada@example.com', 'rt-secret', 'key-secret', 'Bearer abc.def', 'sid=1', 'pg-secret']) {
      expect(capture.text).not.toContain(secret);
    }
    const [structured] = capture.entries;
    expect(structured).toMatchObject({
      level: 'info',
      service: 'redact-test',
      req: { headers: { 'user-agent': 'curl', authorization: '[redacted]' } },
    });
    expect(capture.text).toContain('postgres://tessera:[redacted]@db:5432/accounts');
  });

  test('Nest loggers write through pino with their context', () => {
    const capture = new LogCapture();
    const adapter = new NestPinoLogger(createLogger({ serviceName: 'nest-test', level: 'debug', destination: capture }));
    adapter.log('projection caught up', 'AccountsProjection');
    adapter.error('subscription dropped', 'Error: dropped\n    at Subscription.run (subscription.ts:1:1)', 'EventStore');
    adapter.warn({ event: 'slow query', password: 'never-logged' }, 'Postgres');
    const [info, error, warn] = capture.entries;
    expect(info).toMatchObject({ level: 'info', context: 'AccountsProjection', msg: 'projection caught up' });
    expect(error).toMatchObject({ level: 'error', context: 'EventStore', msg: 'subscription dropped' });
    expect(error?.stack).toContain('Subscription.run');
    expect(warn).toMatchObject({ level: 'warn', context: 'Postgres', event: 'slow query', password: '[redacted]' });
  });

  test('Nest Logger instances route to the adapter once installed', async () => {
    const capture = new LogCapture();
    const app = await createServiceApp(TinyServiceModule, { serviceName: 'nest-logger', logDestination: capture, processMetrics: false });
    try {
      new Logger('Accounts').log('account registered');
      expect(capture.entries).toContainEqual(
        expect.objectContaining({ context: 'Accounts', msg: 'account registered', service: 'nest-logger' }),
      );
    } finally {
      await app.close();
    }
  });

  test("Nest's start-up chatter (modules wired, routes mapped) is debug, not info: a newcomer's terminal shows what matters", async () => {
    const atInfo = new LogCapture();
    const quiet = await createServiceApp(TinyServiceModule, { serviceName: 'quiet', logDestination: atInfo, processMetrics: false });
    await quiet.close();
    expect(atInfo.entries.filter((entry) => /Mapped \{/.test(String(entry.msg)))).toEqual([]);
    expect(atInfo.entries.filter((entry) => entry.context === 'InstanceLoader')).toEqual([]);
    const atDebug = new LogCapture();
    const chatty = await createServiceApp(TinyServiceModule, {
      serviceName: 'chatty',
      logLevel: 'debug',
      logDestination: atDebug,
      processMetrics: false,
    });
    await chatty.close();
    expect(atDebug.entries).toContainEqual(
      expect.objectContaining({ level: 'debug', context: 'RouterExplorer', msg: expect.stringMatching(/Mapped \{/) }),
    );
  });

  test('pretty format: one readable line per record, with the service and the message, redacted like JSON', () => {
    const capture = new LogCapture();
    const logger = createLogger({ serviceName: 'pretty-test', level: 'info', format: 'pretty', destination: capture });
    logger.info({ requestId: 'r-1', password: 'p1-hunter2', account: { email: 'ada@example.com' } }, 'request completed');
    logger.warn('projection lagging');
    const lines = capture.text.split('\n').filter((line) => line.length > 0);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{2}:\d{2}:\d{2}\] INFO: pretty-test request completed .*"requestId":"r-1"/);
    expect(lines[1]).toMatch(/WARN: pretty-test projection lagging$/);
    expect(() => JSON.parse(lines[0]!)).toThrow();
    for (const secret of ['p1-hunter2', 'ada@example.com']) expect(capture.text).not.toContain(secret);
  });
});
