import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { bareHost, ForbiddenAddressError, guardedLookup, isForbiddenAddress, type AddressPolicy } from './address-policy';

export interface SenderOptions {
  readonly policy: AddressPolicy;
  /** Until the TCP (and TLS) connection is up. */
  readonly connectTimeoutMs: number;
  /** The whole exchange, response body included. */
  readonly totalTimeoutMs: number;
  /** Bytes of the response body read at most; the rest is dropped (we only keep the status). */
  readonly maxResponseBytes: number;
}

export const DEFAULT_SENDER: Omit<SenderOptions, 'policy'> = {
  connectTimeoutMs: 5000,
  totalTimeoutMs: 15_000,
  maxResponseBytes: 64 * 1024,
};

/** What a receiver answered, or why nothing was answered. Never the response body: it is the receiver's. */
export type SendOutcome =
  | { readonly kind: 'answered'; readonly status: number; readonly retryAfterMs?: number }
  | { readonly kind: 'failed'; readonly error: string; readonly refused: boolean };

/**
 * POSTs one webhook. No redirect is followed (a 3xx is an answer like any other, and a redirect to
 * an internal address is the classic way around an SSRF check); the address is checked at connect
 * time; the body read is capped and every step has a deadline, so a receiver that trickles bytes
 * holds a slot for at most `totalTimeoutMs`.
 */
export class WebhookSender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(private readonly options: SenderOptions) {
    const lookup = guardedLookup(options.policy);
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16, lookup });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, lookup });
  }

  post(target: string, headers: Record<string, string>, body: string): Promise<SendOutcome> {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return Promise.resolve({ kind: 'failed', error: 'the destination URL does not parse', refused: true });
    }
    const host = bareHost(url);
    // A literal address never reaches the agent's lookup: check it here.
    if (isIP(host) !== 0 && !this.options.policy.allowedHosts.has(host) && isForbiddenAddress(host)) {
      return Promise.resolve({ kind: 'failed', error: new ForbiddenAddressError(host, host).message, refused: true });
    }
    const secure = url.protocol === 'https:';
    if (!secure && !(url.protocol === 'http:' && this.options.policy.allowedHosts.has(host))) {
      return Promise.resolve({ kind: 'failed', error: 'only https is allowed to this host', refused: true });
    }
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: SendOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(total);
        resolve(outcome);
      };
      const request = (secure ? https : http).request(url, {
        method: 'POST',
        agent: secure ? this.httpsAgent : this.httpAgent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      });
      const total = setTimeout(() => {
        request.destroy();
        finish({ kind: 'failed', error: `no complete answer within ${this.options.totalTimeoutMs} ms`, refused: false });
      }, this.options.totalTimeoutMs);
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connect = setTimeout(() => {
          request.destroy();
          finish({ kind: 'failed', error: `no connection within ${this.options.connectTimeoutMs} ms`, refused: false });
        }, this.options.connectTimeoutMs);
        socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(connect));
        socket.once('close', () => clearTimeout(connect));
      });
      request.on('error', (error: Error & { code?: string }) => {
        const refused = error instanceof ForbiddenAddressError;
        finish({ kind: 'failed', error: refused ? error.message : `${error.code ?? error.name}: connection failed`, refused });
      });
      request.on('response', (response) => {
        let read = 0;
        const answered = () =>
          finish({ kind: 'answered', status: response.statusCode ?? 0, retryAfterMs: retryAfterMs(response.headers['retry-after']) });
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          // Enough to know the receiver answered; the rest of a large body is not worth the wait.
          if (read > this.options.maxResponseBytes) {
            answered();
            response.destroy();
          }
        });
        response.on('end', answered);
        response.on('error', answered);
      });
      request.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Retry-After as seconds or an HTTP date (RFC 9110), in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
