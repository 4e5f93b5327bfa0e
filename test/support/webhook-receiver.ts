import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';

/** One request the receiver took, with what the reference library said of its signature. */
export interface ReceivedWebhook {
  readonly webhookId: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly json: Record<string, unknown>;
  /** The secrets (of those the test gave) whose signature verified. */
  readonly verifiedWith: readonly string[];
  /** What the receiver answered. */
  readonly status: number;
}

/** What the receiver answers to its n-th request (0-based): a status and headers, or 'hold' to never answer until released. */
export type Answer = { readonly status: number; readonly headers?: Record<string, string>; readonly delayMs?: number } | 'hold';

/**
 * A webhook receiver on 127.0.0.1, as a tenant's server would be: it checks every signature with
 * the Standard Webhooks reference library (`standardwebhooks`), keeps what it got, and answers
 * what the test tells it to.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private answer: (n: number) => Answer = () => ({ status: 200 });
  private requests = 0;
  private readonly held: { response: ServerResponse; index: number }[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private secrets: readonly string[],
  ) {}

  static async start(secrets: readonly string[] = []): Promise<WebhookReceiver> {
    const started: { receiver?: WebhookReceiver } = {};
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => started.receiver!.take(request.headers, Buffer.concat(chunks).toString('utf8'), response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    started.receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/hook`, secrets);
    return started.receiver;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** The secrets to verify with (the one a destination returned, and after a rotation the new one). */
  trust(...secrets: string[]): void {
    this.secrets = secrets;
  }

  answerWith(answer: (n: number) => Answer): void {
    this.requests = 0;
    this.answer = answer;
  }

  /** Answers 200 to every request held so far. */
  release(): void {
    for (const { response, index } of this.held.splice(0)) {
      this.received[index] = { ...this.received[index]!, status: 200 };
      response.writeHead(200).end();
    }
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** Messages acknowledged (2xx), each request's batch flattened, in the order they arrived. */
  delivered(): Record<string, unknown>[] {
    return this.received
      .filter((each) => each.status >= 200 && each.status < 300)
      .flatMap((each) => (Array.isArray(each.json.batch) ? (each.json.batch as Record<string, unknown>[]) : [each.json]));
  }

  /** Resolves once `condition` holds of what was received. */
  async until(condition: (received: readonly ReceivedWebhook[]) => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this.received)) {
      if (Date.now() > deadline) throw new Error(`receiver: condition not met within ${timeoutMs} ms (${this.received.length} requests)`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private take(headers: IncomingHttpHeaders, body: string, response: ServerResponse): void {
    const answer = this.answer(this.requests++);
    const verifiedWith = this.secrets.filter((secret) => {
      try {
        new Webhook(secret).verify(body, headers as Record<string, string>);
        return true;
      } catch {
        return false;
      }
    });
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(body) as Record<string, unknown>;
    } catch {
      // Kept as received: the test sees an empty object.
    }
    const status = answer === 'hold' ? 0 : answer.status;
    this.received.push({ webhookId: String(headers['webhook-id']), headers, body, json, verifiedWith, status });
    if (answer === 'hold') this.held.push({ response, index: this.received.length - 1 });
    else {
      const respond = () => response.writeHead(answer.status, answer.headers ?? {}).end(answer.status < 300 ? 'ok' : 'no');
      if (answer.delayMs) setTimeout(respond, answer.delayMs);
      else respond();
    }
    for (const wake of this.waiters.splice(0)) wake();
  }
}
