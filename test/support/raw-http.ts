import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface RawRequest {
  readonly method: string;
  /** An absolute http:// URL, its path and query already percent-encoded. */
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/**
 * Keep-alive HTTP through `node:http`, for clients that send a great many requests from the same
 * process as the services they call (fetch costs about twice the CPU a request). Bodies go out
 * byte for byte as given; an event stream (the live view) is answered with its status and headers,
 * then closed.
 */
export class RawHttp {
  private readonly agent: Agent;

  constructor(maxSockets: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  send(call: RawRequest): Promise<RawAnswer> {
    const payload = call.body === undefined ? undefined : Buffer.from(call.body);
    const headers = { ...call.headers, ...(payload ? { 'content-length': String(payload.length) } : {}) };
    return new Promise((resolve, reject) => {
      const outgoing = request(call.url, { method: call.method, agent: this.agent, headers }, (response) => {
        if (String(response.headers['content-type']).startsWith('text/event-stream')) {
          response.destroy();
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString() }),
        );
      });
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
