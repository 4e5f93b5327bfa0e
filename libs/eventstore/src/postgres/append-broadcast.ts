import { randomUUID } from 'node:crypto';
import { Client, type ClientConfig } from 'pg';
import type { AppendedEvents } from '../event-store';
import type { AppendSignal, AppendSummary } from './subscription';

export const APPEND_CHANNEL = 'tessera_es_appended';

/** NOTIFY payloads must stay under 8000 bytes; past this the summary says "something" instead. */
const MAX_PAYLOAD_BYTES = 7_000;
const RECONNECT_MS = 1_000;

/** What crosses the channel: who sent it, and which stream categories and event types were appended. */
interface Announcement {
  readonly from: string;
  readonly categories?: readonly string[];
  readonly types?: readonly string[];
}

/**
 * Tells the subscriptions of other processes on the same database that this process committed
 * appends, so a projector in another pod reads them within a round trip instead of at its next
 * idle poll (up to `maxPollMs`). Each poll hop of a multi-process chain (tracking → profiles →
 * audience entered → destination) used to add up to that delay.
 *
 * The announcement is a NOTIFY of its own, sent after the append committed and never inside the
 * append's transaction: a NOTIFY in the appending transaction would take PostgreSQL's cluster-wide
 * notify lock at every commit and serialise all appends. Announcements are coalesced (one in
 * flight per process and at most one per `intervalMs`), summarised to stream categories and event
 * types (a receiver may wake for nothing, never sleep through something it wants), and lost ones
 * cost only latency: subscriptions still poll. Behind a transaction-pooling PgBouncer LISTEN
 * receives nothing, which leaves exactly that polling.
 */
export class AppendBroadcast {
  private readonly origin = randomUUID();
  private client?: Client;
  private connecting?: Promise<Client | undefined>;
  private retryAt = 0;
  private users = 0;
  private readonly pendingCategories = new Set<string>();
  private readonly pendingTypes = new Set<string>();
  private pendingUnknown = false;
  private pending = false;
  private sending = false;
  private lastSentAt = -Infinity;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly connection: ClientConfig,
    private readonly signal: AppendSignal,
    private readonly intervalMs: number,
  ) {}

  /** A store starts using the broadcast: it listens from now until the last user releases it. */
  retain(): void {
    this.users++;
    if (this.users === 1) void this.connect();
  }

  async release(): Promise<void> {
    this.users = Math.max(0, this.users - 1);
    if (this.users > 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client ?? (await this.connecting);
    this.client = undefined;
    this.connecting = undefined;
    await client?.end().catch(() => undefined);
  }

  /** Called once an append of this process committed; `appended` undefined means "something". */
  publish(appended?: AppendedEvents): void {
    if (this.users === 0) return;
    if (!appended) this.pendingUnknown = true;
    else if (!appended.streamName.startsWith('$')) {
      this.pendingCategories.add(categoryOf(appended.streamName));
      for (const type of appended.types) if (!type.startsWith('$')) this.pendingTypes.add(type);
    } else return;
    this.pending = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.sending || this.timer || !this.pending) return;
    const wait = this.lastSentAt + this.intervalMs - performance.now();
    if (wait <= 0) void this.send();
    else this.timer = setTimeout(() => ((this.timer = undefined), void this.send()), wait);
  }

  private async send(): Promise<void> {
    const payload = this.takePending();
    this.sending = true;
    this.lastSentAt = performance.now();
    try {
      const client = await this.connect();
      await client?.query('SELECT pg_notify($1, $2)', [APPEND_CHANNEL, payload]);
    } catch {
      // Lost announcements cost latency only; the connection's error handler reconnects.
    } finally {
      this.sending = false;
      this.schedule();
    }
  }

  private takePending(): string {
    const announcement: Announcement = this.pendingUnknown
      ? { from: this.origin }
      : { from: this.origin, categories: [...this.pendingCategories], types: [...this.pendingTypes] };
    this.pendingCategories.clear();
    this.pendingTypes.clear();
    this.pendingUnknown = false;
    this.pending = false;
    const payload = JSON.stringify(announcement);
    return Buffer.byteLength(payload) <= MAX_PAYLOAD_BYTES ? payload : JSON.stringify({ from: this.origin });
  }

  private connect(): Promise<Client | undefined> {
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    if (this.users === 0 || performance.now() < this.retryAt) return Promise.resolve(undefined);
    this.connecting = this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<Client | undefined> {
    const client = new Client({ ...this.connection, keepAlive: true });
    const lost = (): void => {
      if (this.client === client) this.client = undefined;
      this.retryAt = performance.now() + RECONNECT_MS;
      void client.end().catch(() => undefined);
      // Reconnect so that this process hears others again, not only when it next appends.
      if (this.users > 0) setTimeout(() => void this.connect(), RECONNECT_MS).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (notice) => {
      if (notice.channel !== APPEND_CHANNEL || !notice.payload) return;
      const summary = summaryOf(notice.payload, this.origin);
      if (summary !== 'own') this.signal.notify(summary);
    });
    try {
      await client.connect();
      await client.query(ANNOUNCER_SETTINGS);
      await client.query(`LISTEN ${APPEND_CHANNEL}`);
    } catch {
      lost();
      return undefined;
    }
    if (this.users === 0) {
      await client.end().catch(() => undefined);
      return undefined;
    }
    this.client = client;
    return client;
  }
}

/**
 * Set on the broadcast's own connection. A NOTIFY is a transaction with an id of its own, and a commit
 * with `synchronous_commit` on waits for its WAL flush (an fsync) while that id is still running:
 * every subscription reads only below the oldest running transaction (see PAGE_STATEMENT), so each
 * announcement held every reader back by one fsync, 200 times a second at 1,000 appends/s (rewards'
 * earning lag p99 went from 50 to 148 ms with the wake-up on). An announcement needs no durability:
 * a lost one costs latency only.
 */
export const ANNOUNCER_SETTINGS = 'SET synchronous_commit = off';

/** A stream's category: its name up to the first '-' (`pulse.messages-acme` → `pulse.messages-`). */
export function categoryOf(streamName: string): string {
  const dash = streamName.indexOf('-');
  return dash < 0 ? streamName : streamName.slice(0, dash + 1);
}

/** What another process announced, as the signal reads it; 'own' for this process's echo. */
export function summaryOf(payload: string, origin: string): AppendSummary | undefined | 'own' {
  let parsed: Partial<Announcement>;
  try {
    parsed = JSON.parse(payload) as Partial<Announcement>;
  } catch {
    return undefined;
  }
  if (parsed.from === origin) return 'own';
  if (!Array.isArray(parsed.categories) || !Array.isArray(parsed.types)) return undefined;
  return { categories: parsed.categories.map(String), types: parsed.types.map(String) };
}
