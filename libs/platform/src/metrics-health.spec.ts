import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { MetricsRegistry } from './metrics';
import { createServiceApp } from './service-app';
import { ServiceLifecycle } from './shutdown';
import { LogCapture } from './testing/log-capture';
import { SwitchableDependency, TinyServiceModule } from './testing/tiny-service';

describe('metrics', () => {
  let app: NestFastifyApplication;

  beforeAll(async () => {
    app = await createServiceApp(TinyServiceModule, {
      serviceName: 'metrics-test',
      logDestination: new LogCapture(),
      shutdown: { drainDelayMs: 0 },
    });
  });

  afterAll(() => app.close());

  test('GET /metrics exposes the HTTP duration histogram by route template after a request', async () => {
    await request(app.getHttpServer()).get('/ping').expect(200);
    await request(app.getHttpServer()).get('/unknown/abc123').expect(404);
    const response = await request(app.getHttpServer()).get('/metrics');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(response.text).toContain('# TYPE http_server_request_duration_seconds histogram');
    expect(response.text).toMatch(
      /http_server_request_duration_seconds_count\{[^}]*method="GET"[^}]*route="\/ping"[^}]*status_code="200"[^}]*\} 1/,
    );
    // Unmatched paths collapse into one label value instead of one series per path.
    expect(response.text).toMatch(/route="unmatched",status_code="404"/);
    expect(response.text).not.toContain('abc123');
  });

  test('process metrics and metrics registered by other providers are exposed, labelled by service', async () => {
    const response = await request(app.getHttpServer()).get('/metrics');
    expect(response.text).toContain('process_cpu_user_seconds_total');
    expect(response.text).toContain('nodejs_eventloop_lag_seconds');
    expect(response.text).toMatch(/projection_lag_events\{projection="accounts",service="metrics-test"\} 3/);
  });

  test('each app has its own registry, so a second app in the same process starts cleanly', async () => {
    const second = await createServiceApp(TinyServiceModule, { serviceName: 'metrics-test-2', logDestination: new LogCapture() });
    try {
      const response = await request(second.getHttpServer()).get('/metrics').expect(200);
      expect(response.text).toContain('service="metrics-test-2"');
      expect(response.text).not.toContain('service="metrics-test"');
    } finally {
      await second.close();
    }
  });
});

describe('health', () => {
  let app: NestFastifyApplication;

  beforeEach(async () => {
    app = await createServiceApp(TinyServiceModule, {
      serviceName: 'health-test',
      logDestination: new LogCapture(),
      shutdown: { drainDelayMs: 0 },
      processMetrics: false,
      readinessChecks: [SwitchableDependency],
    });
  });

  afterEach(() => app.close());

  test('/health/live answers while the process runs', async () => {
    const response = await request(app.getHttpServer()).get('/health/live');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'ok' });
  });

  test('/health/ready aggregates registered checks: 200 when all pass, 503 naming the failing one', async () => {
    const ready = await request(app.getHttpServer()).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ok',
      details: {
        lifecycle: { status: 'up', state: 'serving' },
        eventstore: { status: 'up', position: 42 },
        'projections lag': { status: 'up', maxLag: 3 },
      },
    });

    app.get(SwitchableDependency).healthy = false;
    const notReady = await request(app.getHttpServer()).get('/health/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({
      status: 'error',
      error: { eventstore: { status: 'down', reason: 'connection refused' } },
      info: { 'projections lag': { status: 'up' } },
    });

    app.get(SwitchableDependency).healthy = true;
    await request(app.getHttpServer()).get('/health/ready').expect(200);
  });

  test('readiness is a metric: the last verdict, each check, and every change of verdict counted (flapping alerts read it)', async () => {
    const probe = (status: number) => request(app.getHttpServer()).get('/health/ready').expect(status);
    const exposition = () => app.get(MetricsRegistry).exposition();
    await probe(200);
    expect(await exposition()).toMatch(/tessera_readiness_changes_total\{[^}]*\} 0\n/);
    app.get(SwitchableDependency).healthy = false;
    await probe(503);
    expect(await exposition()).toMatch(/tessera_ready\{[^}]*\} 0\n/);
    expect(await exposition()).toMatch(/tessera_readiness_check_up\{check="eventstore"[^}]*\} 0\n/);
    app.get(SwitchableDependency).healthy = true;
    await probe(200);
    await probe(200);
    const after = await exposition();
    expect(after).toMatch(/tessera_ready\{[^}]*\} 1\n/);
    expect(after).toMatch(/tessera_readiness_check_up\{check="eventstore"[^}]*\} 1\n/);
    expect(after).toMatch(/tessera_readiness_changes_total\{[^}]*\} 2\n/);
  });

  test('a check that throws fails readiness without exposing its error', async () => {
    app.get(SwitchableDependency).check = async () => {
      throw new Error('password authentication failed for user "tessera"');
    };
    const response = await request(app.getHttpServer()).get('/health/ready');
    expect(response.status).toBe(503);
    expect(response.body.error.eventstore).toEqual({ status: 'down', reason: 'check failed' });
    expect(response.text).not.toContain('password');
  });

  test('/health/ready answers 503 once the replica is draining, even with healthy dependencies', async () => {
    app.get(ServiceLifecycle).advanceTo('draining');
    const response = await request(app.getHttpServer()).get('/health/ready');
    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ status: 'error', error: { lifecycle: { status: 'down', state: 'draining' } } });
    await request(app.getHttpServer()).get('/health/live').expect(200);
  });
});
