import { Agent, get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { runService, type RunningService } from './service-app';
import { ServiceLifecycle, shutdownService } from './shutdown';
import { LogCapture } from './testing/log-capture';
import { RequestGate, TinyServiceModule } from './testing/tiny-service';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A plain GET over a fresh connection (`agent: false`) or over a keep-alive pool. */
function get(url: string, agent: Agent | false = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.on('error', reject);
    }).on('error', reject);
  });
}

describe('graceful shutdown of a listening service', () => {
  const agents: Agent[] = [];
  const keepAliveAgent = (): Agent => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    return agent;
  };
  let running: RunningService | undefined;

  afterEach(async () => {
    agents.splice(0).forEach((agent) => agent.destroy());
    await running?.stop();
  });

  test('drains: readiness 503 during the delay, in-flight request completes, then connections are refused', async () => {
    const logs = new LogCapture();
    running = await runService(TinyServiceModule, {
      serviceName: 'drain-test',
      logDestination: logs,
      processMetrics: false,
      http: { host: '127.0.0.1', port: 0 },
      // Long enough for a loopback request to land inside it; the test never waits it out on purpose.
      shutdown: { drainDelayMs: 1500, inFlightTimeoutMs: 30000 },
    });
    const { app, url } = running;
    const gate = app.get(RequestGate);
    const lifecycle = app.get(ServiceLifecycle);

    // A pooled keep-alive connection, idle when the stop begins: it must not hold the server open.
    const pooled = keepAliveAgent();
    expect((await get(`${url}/ping`, pooled)).status).toBe(200);
    expect((await get(`${url}/health/ready`, pooled)).status).toBe(200);

    const slow = get(`${url}/slow`, keepAliveAgent());
    await gate.entered;

    // What the SIGTERM handler runs (it then exits the process, which a test must not do).
    const stopping = shutdownService(app, 'SIGTERM');

    const duringDrain = await get(`${url}/health/ready`, pooled);
    expect(duringDrain.status).toBe(503);
    expect(JSON.parse(duringDrain.body)).toMatchObject({ status: 'error', error: { lifecycle: { state: 'draining' } } });
    // Pooled clients are told to reconnect, which sends them to another replica.
    expect(duringDrain.headers.connection).toBe('close');
    expect((await get(`${url}/ping`)).status).toBe(200);
    // So are clients of handlers that write the raw response, which skip Fastify's onSend.
    const raw = await get(`${url}/raw`, keepAliveAgent());
    expect(raw).toMatchObject({ status: 200, body: 'raw' });
    expect(raw.headers.connection).toBe('close');

    await lifecycle.reached('closing');
    await expect(get(`${url}/ping`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    gate.release();
    const answered = await slow;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toEqual({ done: true });
    expect(answered.headers.connection).toBe('close');

    await stopping;
    expect(lifecycle.phase).toBe('stopped');
    expect(gate.journal).toEqual(['slow request answered', 'resources released']);
    await expect(get(`${url}/ping`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    const messages = logs.entries.map((entry) => entry.msg);
    expect(messages).toEqual(expect.arrayContaining(['draining: readiness now fails', 'listener closed, releasing resources', 'stopped']));
    expect(messages).not.toContain('in-flight requests outlived the shutdown timeout and were cut');
  });

  test('cuts requests still running when the in-flight timeout expires, then releases resources', async () => {
    const logs = new LogCapture();
    running = await runService(TinyServiceModule, {
      serviceName: 'cut-test',
      logDestination: logs,
      processMetrics: false,
      http: { host: '127.0.0.1', port: 0 },
      shutdown: { drainDelayMs: 0, inFlightTimeoutMs: 200 },
    });
    const { app, url } = running;
    const gate = app.get(RequestGate);
    try {
      const stuck = get(`${url}/slow`);
      await gate.entered;
      await shutdownService(app, 'SIGTERM');
      await expect(stuck).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(gate.journal).toEqual(['resources released']);
      expect(logs.entries).toContainEqual(
        expect.objectContaining({ level: 'warn', msg: 'in-flight requests outlived the shutdown timeout and were cut' }),
      );
    } finally {
      gate.release();
    }
  });
});
