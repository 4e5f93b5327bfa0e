import { createServer, type RequestListener, type Server } from 'node:http';
import { WebhookSender } from './webhook-sender';

describe('the webhook sender', () => {
  const servers: Server[] = [];
  const serve = async (listener: RequestListener) => {
    const server = createServer(listener);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  };
  const sender = new WebhookSender({
    policy: { allowedHosts: new Set(['127.0.0.1']) },
    connectTimeoutMs: 1000,
    totalTimeoutMs: 500,
    maxResponseBytes: 64 * 1024,
  });
  afterAll(async () => {
    sender.close();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('follows no redirect: a 3xx is the answer', async () => {
    let reached = 0;
    const elsewhere = await serve((_request, response) => {
      reached++;
      response.end('ok');
    });
    const redirecting = await serve((_request, response) => response.writeHead(307, { location: `${elsewhere}/` }).end());
    expect(await sender.post(`${redirecting}/hook`, {}, '{}')).toEqual({ kind: 'answered', status: 307, retryAfterMs: undefined });
    expect(reached).toBe(0);
  });

  test('reads at most the capped size of an endless answer, and reports Retry-After', async () => {
    let written = 0;
    const endless = await serve((_request, response) => {
      response.writeHead(429, { 'retry-after': '3' });
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const more = () => {
        while (written < 64 * 1024 * 1024 && response.write(chunk)) written += chunk.length;
        if (written < 64 * 1024 * 1024) response.once('drain', more);
      };
      more();
    });
    expect(await sender.post(`${endless}/hook`, {}, '{}')).toEqual({ kind: 'answered', status: 429, retryAfterMs: 3000 });
  });

  test('gives up on a receiver that never answers, at its deadline', async () => {
    const silent = await serve(() => undefined);
    expect(await sender.post(`${silent}/hook`, {}, '{}')).toMatchObject({
      kind: 'failed',
      refused: false,
      error: expect.stringMatching(/500 ms/),
    });
  });

  test('refuses forbidden literal addresses and http to hosts not allowed, without connecting', async () => {
    expect(await sender.post('https://169.254.169.254/latest/meta-data/', {}, '{}')).toMatchObject({ kind: 'failed', refused: true });
    expect(await sender.post('https://[::ffff:7f00:1]/', {}, '{}')).toMatchObject({ kind: 'failed', refused: true });
    expect(await sender.post('http://example.com/', {}, '{}')).toMatchObject({ kind: 'failed', refused: true });
  });

  test('sends the body and headers it is given, as JSON', async () => {
    const seen: { headers: Record<string, unknown>; body: string }[] = [];
    const receiver = await serve((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ headers: request.headers, body });
        response.writeHead(204).end();
      });
    });
    expect(await sender.post(`${receiver}/hook`, { 'webhook-id': 'msg_1' }, '{"a":1}')).toMatchObject({ kind: 'answered', status: 204 });
    expect(seen[0]).toMatchObject({ body: '{"a":1}', headers: { 'webhook-id': 'msg_1', 'content-type': 'application/json' } });
  });
});
