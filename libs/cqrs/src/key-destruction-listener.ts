import { Client } from 'pg';
import { KEY_DESTRUCTION_CHANNEL, type PersonalDataCodec } from '#personal-data';
import type { BackgroundTask } from './runtime-lifecycle';

const RECONNECT_MS = 1_000;

/**
 * Evicts keys other processes destroyed from this process's key cache as soon as PostgreSQL
 * announces them (KEY_DESTRUCTION_CHANNEL), on a connection of its own. While the connection is
 * lost the cache's own expiry (30 s) is the bound, as before; it reconnects every second.
 */
export class KeyDestructionListener implements BackgroundTask {
  private stopped = true;
  private client?: Client;
  private retry?: NodeJS.Timeout;
  private connecting?: Promise<void>;

  constructor(
    private readonly personalData: Pick<PersonalDataCodec, 'evict'>,
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
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.databaseUrl, keepAlive: true });
    const lost = (error?: Error): void => {
      if (this.client !== client) return;
      this.client = undefined;
      void client.end().catch(() => undefined);
      if (this.stopped) return;
      this.warn(
        { error: error?.message ?? 'connection ended' },
        'key destruction notices lost; cached keys expire on their own until they resume',
      );
      this.retry = setTimeout(() => (this.connecting = this.listen()), RECONNECT_MS);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (notice) => {
      if (notice.channel !== KEY_DESTRUCTION_CHANNEL || !notice.payload) return;
      const parsed: unknown = JSON.parse(notice.payload);
      if (Array.isArray(parsed) && typeof parsed[0] === 'string' && typeof parsed[1] === 'string')
        this.personalData.evict(parsed[0], parsed[1]);
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${KEY_DESTRUCTION_CHANNEL}`);
    } catch (error) {
      lost(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
