import type { Pool } from 'pg';
import { GroupCommit, type EncodedMessage } from './group-commit';
import { claimKey, type ClaimedMessage, type IngestLog } from './ingest-log';

const TENANT = '00000000-0000-4000-8000-000000000001';
const NOISY = '00000000-0000-4000-8000-00000000000a';
const QUIET = '00000000-0000-4000-8000-00000000000b';

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

  test('a commit takes the tenants in turn, each one’s submissions in order, instead of first come first served', async () => {
    const log = new HeldIngestLog();
    const commit = new GroupCommit({} as Pool, log, { ...settings, writers: 1, maxBatchEvents: 100 });
    const tenantOf = (held: { messages: readonly ClaimedMessage[] }) => (held.messages[0]!.tenantId === NOISY ? 'noisy' : 'quiet');
    const noisy = Array.from({ length: 4 }, () => commit.submit(NOISY, messages(100)));
    const quiet = [commit.submit(QUIET, messages(100)), commit.submit(QUIET, messages(100))];
    for (let served = 0; served < 6; served++) {
      await settle();
      log.commits[served]!.finish();
    }
    await Promise.all([...noisy, ...quiet]);
    // The first noisy submission was alone when it started; from then on the two take turns.
    expect(log.commits.map(tenantOf)).toEqual(['noisy', 'noisy', 'quiet', 'noisy', 'quiet', 'noisy']);
  });

  test('past half full, a tenant holding more than its share gets 429 with Retry-After, while a tenant with nothing waiting gets in', async () => {
    const log = new HeldIngestLog();
    const commit = new GroupCommit({} as Pool, log, { ...settings, writers: 1, maxQueuedEvents: 600 });
    const accepted = Array.from({ length: 4 }, () => commit.submit(NOISY, messages(100)));
    await settle();
    // One in flight, three waiting: 300 events, half the queue, all of them the noisy tenant's.
    expect(commit.waitingEvents).toBe(300);
    await expect(commit.submit(NOISY, messages(100))).rejects.toMatchObject({ status: 429, headers: { 'Retry-After': '1' } });
    accepted.push(commit.submit(QUIET, messages(100)));
    // Two tenants waiting: a third of the queue each, one third free for a newcomer.
    await expect(commit.submit(NOISY, messages(1))).rejects.toMatchObject({ status: 429 });
    accepted.push(commit.submit(QUIET, messages(100)));
    await expect(commit.submit(QUIET, messages(1))).rejects.toMatchObject({ status: 429 });
    // The one in flight, then the five waiting in one commit.
    for (let served = 0; served < 2; served++) {
      await settle();
      log.commits[served]!.finish();
    }
    expect(await Promise.all(accepted)).toEqual(Array(6).fill({ stored: 100, duplicates: 0 }));
    expect(log.commits.map((held) => held.messages.length)).toEqual([100, 500]);
  });

  test('a commit the store refuses for good is stored in halves, and only the submission it refuses is refused (422)', async () => {
    const refused = new Set<string>();
    const log: IngestLog = {
      async store(_pool, claimed) {
        if (claimed.some((message) => refused.has(message.messageId))) throw Object.assign(new Error('refused'), { code: '23514' });
        return new Set(claimed.map((message) => claimKey(message.tenantId, message.messageId)));
      },
    };
    const commit = new GroupCommit({} as Pool, log, { ...settings, writers: 1 });
    const bad = messages(2);
    refused.add(bad[1]!.messageId);
    const answers = [messages(3), messages(1), bad, messages(2), messages(5)].map((batch, index) =>
      commit.submit(index % 2 === 0 ? NOISY : QUIET, batch).then(
        (outcome) => outcome.stored,
        (error: { status: number }) => error.status,
      ),
    );
    expect(await Promise.all(answers)).toEqual([3, 1, 422, 2, 5]);
  });
});
