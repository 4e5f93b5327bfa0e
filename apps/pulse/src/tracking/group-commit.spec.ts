import type { Pool } from 'pg';
import { GroupCommit, type EncodedMessage } from './group-commit';
import { claimKey, type ClaimedMessage, type IngestLog } from './ingest-log';

const TENANT = '00000000-0000-4000-8000-000000000001';

/** An ingest log whose commits finish when the test says so; every id is new. */
class HeldIngestLog implements IngestLog {
  readonly commits: { messages: readonly ClaimedMessage[]; finish(): void }[] = [];
  inFlight = 0;
  mostInFlight = 0;

  store(_pool: Pool, messages: readonly ClaimedMessage[]): Promise<Set<string>> {
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    return new Promise((resolve) => {
      this.commits.push({
        messages,
        finish: () => {
          this.inFlight--;
          resolve(new Set(messages.map((message) => claimKey(message.tenantId, message.messageId))));
        },
      });
    });
  }
}

let serial = 0;
function messages(count: number): EncodedMessage[] {
  return Array.from({ length: count }, () => ({ messageId: `m-${serial++}`, event: { type: 'MessageReceived', data: {} } }));
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('group commit', () => {
  const settings = { maxQueuedEvents: 1000, maxBatchEvents: 500, writers: 2, extraWriterMinEvents: 64 };

  test('single calls wait for the commit in flight and go in together, instead of a second small commit beside it', async () => {
    const log = new HeldIngestLog();
    const commit = new GroupCommit({} as Pool, log, settings);
    const first = commit.submit(TENANT, messages(1));
    const rest = Array.from({ length: 30 }, () => commit.submit(TENANT, messages(1)));
    await settle();
    expect(log.commits.map((c) => c.messages.length)).toEqual([1]);
    expect(commit.waitingEvents).toBe(30);
    log.commits[0]!.finish();
    expect(await first).toEqual({ stored: 1, duplicates: 0 });
    await settle();
    expect(log.commits.map((c) => c.messages.length)).toEqual([1, 30]);
    log.commits[1]!.finish();
    expect(await Promise.all(rest)).toEqual(Array(30).fill({ stored: 1, duplicates: 0 }));
    expect(log.mostInFlight).toBe(1);
  });

  test('batches, and enough single calls, start a second commit beside the first', async () => {
    const log = new HeldIngestLog();
    const commit = new GroupCommit({} as Pool, log, settings);
    const batches = [commit.submit(TENANT, messages(100)), commit.submit(TENANT, messages(100))];
    await settle();
    expect(log.commits.map((c) => c.messages.length)).toEqual([100, 100]);
    expect(log.mostInFlight).toBe(2);
    for (const held of log.commits) held.finish();
    await Promise.all(batches);

    const singles = Array.from({ length: 128 }, () => commit.submit(TENANT, messages(1)));
    await settle();
    // The first call started a commit alone; the next 63 were too few for another, the 64th made enough.
    expect(log.commits.slice(2).map((c) => c.messages.length)).toEqual([1, 64]);
    expect(commit.waitingEvents).toBe(63);
    log.commits[2]!.finish();
    log.commits[3]!.finish();
    await settle();
    expect(log.commits.slice(2).map((c) => c.messages.length)).toEqual([1, 64, 63]);
    log.commits[4]!.finish();
    expect(await Promise.all(singles)).toEqual(Array(128).fill({ stored: 1, duplicates: 0 }));
  });

  test('refuses with 503 and Retry-After once the bounded queue is full, and stores what it accepted', async () => {
    const log = new HeldIngestLog();
    const commit = new GroupCommit({} as Pool, log, { ...settings, maxQueuedEvents: 150 });
    const accepted = [commit.submit(TENANT, messages(100)), commit.submit(TENANT, messages(100)), commit.submit(TENANT, messages(100))];
    await settle();
    expect(commit.waitingEvents).toBe(100);
    await expect(commit.submit(TENANT, messages(100))).rejects.toMatchObject({ status: 503, headers: { 'Retry-After': '1' } });
    for (const held of log.commits) held.finish();
    await settle();
    for (const held of log.commits.slice(2)) held.finish();
    expect(await Promise.all(accepted)).toEqual(Array(3).fill({ stored: 100, duplicates: 0 }));
  });
});
