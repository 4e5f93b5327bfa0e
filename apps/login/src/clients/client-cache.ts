import { Client, type Pool } from 'pg';
import { ExpiringLruCache } from '#platform';
import type { BackgroundTask } from '#cqrs';
import type { OidcPayload } from '../oidc/postgres-adapter';

/** A client as the read model holds it: oidc-provider's metadata, the secret's hash, whether it is disabled. */
export interface StoredClient {
  readonly metadata: OidcPayload;
  /** SHA-256 of the secret, as bytes (decoded once here rather than on every token request). */
  readonly secretDigest: Buffer | null;
  readonly disabled: boolean;
}

/**
 * OAuth clients of every tenant, read from login_clients and remembered (least recently used
 * first out), because every token request looks its client up and clients change rarely.
 * Caching is on only while ClientChangeListener hears the read model's change notices; a load
 * that overlaps a change is served but not remembered, so it cannot bring back a stale row.
 */
export class ClientCache {
  private readonly entries: ExpiringLruCache<StoredClient>;
  private generation = 0;
  private live = false;

  constructor(
    private readonly pool: Pool,
    capacity: number,
  ) {
    this.entries = new ExpiringLruCache(capacity, Number.POSITIVE_INFINITY);
  }

  async find(tenantId: string, clientId: string): Promise<StoredClient | undefined> {
    const key = `${tenantId}|${clientId}`;
    const cached = this.entries.get(key);
    if (cached) return cached;
    const generation = this.generation;
    const { rows } = await this.pool.query<{ metadata: OidcPayload; secret_hash: string | null; disabled: boolean }>(
      'SELECT metadata, secret_hash, disabled FROM login_clients WHERE tenant_id = $1 AND client_id = $2',
      [tenantId, clientId],
    );
    const row = rows[0];
    if (!row) return undefined; // unknown ids are not remembered: anyone can make them up
    const client: StoredClient = {
      metadata: row.metadata,
      secretDigest: row.secret_hash === null ? null : Buffer.from(row.secret_hash, 'hex'),
      disabled: row.disabled,
    };
    if (this.live && generation === this.generation) this.entries.set(key, client);
    return client;
  }

  /** The client changed: the next lookup reads the read model. */
  forget(tenantId: string, clientId: string): void {
    this.generation++;
    this.entries.delete(`${tenantId}|${clientId}`);
  }

  /** Starts remembering clients (invalidations are flowing). */
  resume(): void {
    this.live = true;
  }

  /** Forgets everything and stops remembering (change notices may be missed). */
  suspend(): void {
    this.live = false;
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The channel login's projection notifies (after commit) with `{tenantId}|{clientId}` when a client changed. */
export const CLIENT_CHANGES_CHANNEL = 'login_client_changes';

const RECONNECT_MS = 1000;

/**
 * Keeps ClientCache true to the read model in every replica: the projection that writes
 * login_clients notifies CLIENT_CHANGES_CHANNEL in the same transaction, so PostgreSQL delivers the
 * notice only once the change is visible, to every listening replica (only one replica applies a
 * batch to the shared read model). Notices sent while this listener is disconnected are lost, so
 * the cache is emptied and switched off until it listens again. Client changes are rare: the
 * notices cost nothing on the token path and nothing is polled.
 */
export class ClientChangeListener implements BackgroundTask {
  private stopped = true;
  private client?: Client;
  private retry?: NodeJS.Timeout;
  private connecting?: Promise<void>;

  constructor(
    private readonly cache: ClientCache,
    private readonly databaseUrl: string,
    private readonly warn: (fields: object, message: string) => void,
  ) {}

  start(): void {
    this.stopped = false;
    this.connecting = this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.connecting;
    this.cache.suspend();
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl, keepAlive: true });
    const lost = (error?: Error): void => {
      if (this.client !== client) return;
      this.client = undefined;
      this.cache.suspend();
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      this.warn({ error: error?.message ?? 'connection ended' }, 'client change notices lost; client cache off until they resume');
      this.retry = setTimeout(() => (this.connecting = this.listen()), RECONNECT_MS);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (notice) => {
      if (notice.channel !== CLIENT_CHANGES_CHANNEL || !notice.payload) return;
      const bar = notice.payload.indexOf('|');
      this.cache.forget(notice.payload.slice(0, bar), notice.payload.slice(bar + 1));
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CLIENT_CHANGES_CHANNEL}`);
      if (this.client === client && !this.stopped) this.cache.resume();
    } catch (error) {
      lost(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
