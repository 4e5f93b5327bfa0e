import { Agent, request } from 'node:http';

export interface JsonResponse {
  readonly status: number;
  readonly body: unknown;
}

/**
 * A minimal JSON client over keep-alive sockets. The bench's clients run in the same process as
 * the service, so the client has to stay cheap: no retries, no redirects, one socket per worker.
 */
export class JsonClient {
  private readonly agent: Agent;

  constructor(
    private readonly baseUrl: string,
    maxSockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  post(path: string, body: object, headers: Record<string, string> = {}): Promise<JsonResponse> {
    const payload = Buffer.from(JSON.stringify(body));
    return this.send('POST', path, { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers }, payload);
  }

  get(path: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
    return this.send('GET', path, headers);
  }

  private send(method: string, path: string, headers: Record<string, string>, payload?: Buffer): Promise<JsonResponse> {
    const url = new URL(path, this.baseUrl);
    return new Promise((resolve, reject) => {
      const outgoing = request(url, { method, agent: this.agent, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text.length > 0 ? JSON.parse(text) : undefined;
          } catch {
            // A non-JSON answer (e.g. a proxy error page) is kept as text for the failure message.
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      });
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
