import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BalancerStats {
  /** Requests proxied to each backend that answered them, by backend URL. */
  readonly servedBy: ReadonlyMap<string, number>;
  /** Requests answered by backends that were dispatched after `signalled(url)`: the drain window in use. */
  readonly servedAfterSignal: number;
  /** Requests the balancer could not deliver (no ready backend, connection refused or reset). */
  readonly proxyErrors: number;
}

/**
 * A round-robin HTTP proxy on 127.0.0.1 that routes only to backends whose readiness endpoint
 * last answered 200, re-probing every `probeIntervalMs`: the way kube-proxy follows a Service's
 * ready endpoints; like a readiness probe with a failureThreshold, a backend leaves the rotation
 * only after `failureThreshold` failed probes in a row. It never retries a failed request, so a replica that drops one shows up as a
 * failure at the client, as it would behind a real Service.
 */
export class ReadinessLoadBalancer {
  private readonly backends = new Map<string, { ready: boolean; failures: number }>();
  private readonly signalledBackends = new Set<string>();
  private readonly served = new Map<string, number>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private server?: Server;
  private prober?: NodeJS.Timeout;
  private next = 0;
  private errors = 0;
  private afterSignal = 0;

  constructor(private readonly options: { readinessPath: string; probeIntervalMs: number; failureThreshold: number }) {}

  /** Starts listening; resolves with the balancer's base URL. */
  async start(): Promise<string> {
    const server = createServer((req, res) => this.forward(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.prober = setInterval(() => void this.probeAll(), this.options.probeIntervalMs);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Adds a backend; like a new pod, it receives traffic only once its readiness probe passes. */
  add(url: string): void {
    this.backends.set(url, { ready: false, failures: 0 });
  }

  /** Notes that the backend was told to stop, to count what it still served while draining. */
  signalled(url: string): void {
    this.signalledBackends.add(url);
  }

  /** Forgets a backend whose process has exited (the endpoint object is deleted). */
  remove(url: string): void {
    this.backends.delete(url);
  }

  isReady(url: string): boolean {
    return this.backends.get(url)?.ready ?? false;
  }

  stats(): BalancerStats {
    return { servedBy: new Map(this.served), servedAfterSignal: this.afterSignal, proxyErrors: this.errors };
  }

  async stop(): Promise<void> {
    clearInterval(this.prober);
    this.agent.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async probeAll(): Promise<void> {
    await Promise.all(
      [...this.backends.entries()].map(async ([url, state]) => {
        if (await probe(`${url}${this.options.readinessPath}`, this.options.probeIntervalMs * 5)) {
          state.failures = 0;
          state.ready = true;
        } else {
          state.failures += 1;
          if (state.failures >= this.options.failureThreshold) state.ready = false;
        }
      }),
    );
  }

  private pick(): string | undefined {
    const ready = [...this.backends.entries()].filter(([, state]) => state.ready).map(([url]) => url);
    if (ready.length === 0) return undefined;
    this.next = (this.next + 1) % ready.length;
    return ready[this.next];
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const backend = this.pick();
    if (!backend) {
      this.fail(res, 'no ready backend');
      req.resume();
      return;
    }
    const draining = this.signalledBackends.has(backend);
    const target = new URL(req.url ?? '/', backend);
    const upstream = request(target, { method: req.method, headers: req.headers, agent: this.agent }, (answer) => {
      this.served.set(backend, (this.served.get(backend) ?? 0) + 1);
      if (draining) this.afterSignal += 1;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => this.fail(res, `${backend}: ${error.message}`));
    req.pipe(upstream);
  }

  private fail(res: ServerResponse, reason: string): void {
    this.errors += 1;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' });
    res.end(`balancer: ${reason}`);
  }
}

function probe(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // A fresh connection per probe, as the kubelet makes: a pooled one could outlive the listener.
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
