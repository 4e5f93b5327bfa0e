import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { hostileTrackingCall, trackingRequest } from '../../test/support/hostile-tracking';

/**
 * The hostile tenant of the noisy-neighbour bench, on a thread of its own (an attacker does not
 * share pulse's event loop): the same generated calls as the noisy-neighbour test (control
 * characters, extreme numbers and dates, deep nesting, huge strings, wrong types, valid-but-absurd
 * values), sent by `loops` keep-alive connections, each the moment the last was answered, between
 * a 'start' and a 'stop' message. It answers 'stop' with the statuses it was given.
 */
export interface PoisonSetup {
  readonly url: string;
  readonly writeKey: string;
  readonly seed: number;
  readonly calls: number;
  readonly loops: number;
}

export interface PoisonWindow {
  readonly sent: number;
  /** Answers by HTTP status (0: the connection failed). */
  readonly statuses: Record<string, number>;
}

const setup = workerData as PoisonSetup;

/**
 * Each generated call serialised once, split where its fresh message ids go: an attacker builds its
 * payloads ahead, so the bench's CPU goes to pulse and not to re-serialising megabytes per call.
 */
interface PreparedCall {
  readonly path: string;
  readonly short: boolean;
  /** The body's text around its fresh ids: parts.length - 1 ids, filled in per call. */
  readonly parts: readonly string[];
}

const marker = `fresh-${randomBytes(8).toString('hex')}`;
const calls: PreparedCall[] = fc.sample(hostileTrackingCall, { seed: setup.seed, numRuns: setup.calls }).map((generated) => {
  const { path, body } = trackingRequest(generated, setup.writeKey, () => marker);
  return { path, short: generated.short, parts: body.split(marker) };
});
const agent = new Agent({ keepAlive: true, maxSockets: setup.loops, maxFreeSockets: setup.loops });
const basic = `Basic ${Buffer.from(`${setup.writeKey}:`).toString('base64')}`;
let serial = 0;
let running = false;

function send(): Promise<number> {
  const n = serial++;
  const call = calls[n % calls.length]!;
  const payload = Buffer.from(call.parts.reduce((body, part, i) => `${body}poison-${n}-${i - 1}${part}`));
  const headers: Record<string, string> = {
    'content-type': call.short ? 'text/plain' : 'application/json',
    'content-length': String(payload.length),
    ...(call.short ? {} : { authorization: basic }),
  };
  return new Promise((resolve) => {
    const outgoing = request(new URL(call.path, setup.url), { method: 'POST', agent, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
      response.on('error', () => resolve(0));
    });
    outgoing.on('error', () => resolve(0));
    outgoing.end(payload);
  });
}

async function window(): Promise<PoisonWindow> {
  const statuses: Record<string, number> = {};
  let sent = 0;
  await Promise.all(
    Array.from({ length: setup.loops }, async () => {
      while (running) {
        const status = await send();
        statuses[status] = (statuses[status] ?? 0) + 1;
        sent++;
      }
    }),
  );
  return { sent, statuses };
}

let current: Promise<PoisonWindow> | undefined;
parentPort!.on('message', (command: 'start' | 'stop') => {
  if (command === 'start') {
    running = true;
    current = window();
  } else {
    running = false;
    void current?.then((result) => parentPort!.postMessage(result));
  }
});
parentPort!.postMessage('ready');
