import type { Pool } from 'pg';
import { DataSource, MigrationExecutor, type MixedList, type EntitySchema } from 'typeorm';
import { connectEventStore, type EventStore } from '#eventstore';
import { deriveKeys, PersonalDataCodec, PersonalKeyStore } from '#personal-data';
import { EventCodec } from './event-codec';
import { EventRegistry, type AnyEventDefinition } from './event-types';
import { CommandRunner, type CommandRunnerOptions } from './command-handling';
import { migrateProjectionTables } from './projection-tables';

export interface InfrastructureSettings {
  /** Service name: prefixes its migrations table. */
  readonly service: string;
  readonly databaseUrl: string;
  readonly eventstoreUrl?: string;
  readonly masterKey: Buffer;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly migrations: MixedList<Function | string>;
  readonly events: Iterable<AnyEventDefinition>;
  /** Connections of the service's one pool (DATABASE_POOL_SIZE). */
  readonly poolSize?: number;
  /** How the service's command runner handles commands (a state cache, its retries); plain reads and few retries otherwise. */
  readonly commands?: CommandRunnerOptions;
  /** MIGRATE (see serviceEnvSchema): `off` runs no DDL and refuses a database with pending migrations. */
  readonly migrate?: 'on-start' | 'off' | 'only';
  /** EVENTSTORE_WAKE=notify (see serviceEnvSchema). */
  readonly wakeOtherProcesses?: boolean;
}

/**
 * Everything an event-sourced service talks to: the event store, its read-model database (TypeORM),
 * the personal-data keys and the codec that ties them together. Opened once in main (or a test)
 * and handed to the service's module.
 */
export class ServiceInfrastructure {
  private constructor(
    readonly eventStore: EventStore,
    readonly pool: Pool,
    readonly dataSource: DataSource,
    readonly personalData: PersonalDataCodec,
    readonly blindIndexKey: Buffer,
    /** Signs and checks the short-lived links between services (see deriveKeys). */
    readonly internalLinkKey: Buffer,
    readonly codec: EventCodec,
    readonly commands: CommandRunner,
  ) {}

  static async connect(settings: InfrastructureSettings): Promise<ServiceInfrastructure> {
    const keys = deriveKeys(settings.masterKey);
    const dataSource = new DataSource({
      type: 'postgres',
      url: settings.databaseUrl,
      entities: settings.entities,
      migrations: settings.migrations,
      migrationsTableName: `${settings.service}_migrations`,
      synchronize: false,
      logging: false,
      extra: { max: settings.poolSize ?? DEFAULT_POOL_SIZE },
    });
    const opened: { close(): Promise<unknown> }[] = [];
    try {
      await dataSource.initialize();
      opened.push({ close: () => dataSource.destroy() });
      // One pool for everything the service does in PostgreSQL: TypeORM's own (it cannot be handed
      // one), shared with raw queries, the key store and, on PostgreSQL, the event store. Three pools
      // (10 + 10 + 20 connections) used to split a process's connections by who asked.
      const pool = (dataSource.driver as unknown as { master: Pool }).master;
      const migrate = settings.migrate !== 'off';
      const eventStore = await connectEventStore({ ...settings, pool, migrate });
      opened.push(eventStore);
      const keyStore = new PersonalKeyStore(pool, keys.keyWrappingKey);
      if (migrate) {
        await migrateExclusively(dataSource);
        await keyStore.migrate();
      } else await refuseIfPending(dataSource, settings.service);
      const personalData = new PersonalDataCodec(keyStore);
      const codec = new EventCodec(new EventRegistry(settings.events), personalData);
      return new ServiceInfrastructure(
        eventStore,
        pool,
        dataSource,
        personalData,
        keys.blindIndexKey,
        keys.internalLinkKey,
        codec,
        new CommandRunner(eventStore, codec, settings.commands),
      );
    } catch (error) {
      for (const resource of opened.reverse()) await resource.close().catch(() => undefined);
      throw error;
    }
  }

  /** Readiness: both the event store and the read-model database answer. */
  async ping(): Promise<{ eventStore: boolean; database: boolean }> {
    const [eventStore, database] = await Promise.all([
      this.eventStore.ping().then(
        () => true,
        () => false,
      ),
      this.pool.query('SELECT 1').then(
        () => true,
        () => false,
      ),
    ]);
    return { eventStore, database };
  }

  /** The event store first (it stops its subscriptions), then the pool they shared. */
  async close(): Promise<void> {
    await this.eventStore.close().catch(() => undefined);
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * Replicas starting together (or the migrations Jobs of several services) must not run the same
 * migration twice, and services sharing one database create shared tables (projection_checkpoints,
 * TypeORM's migrations table) with CREATE ... IF NOT EXISTS, which still fails when two sessions
 * run it at once. One lock for every service, taken inside the one transaction that runs all
 * pending migrations: transaction-scoped, so it holds on the connection that transaction runs on
 * also behind PgBouncer in transaction mode (where a session lock and the DDL after it may land on
 * different server connections), and it goes with COMMIT or ROLLBACK, never left behind. A failed
 * migration rolls back the whole release's, so the schema is never half-way.
 */
async function migrateExclusively(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    await runner.query('SELECT pg_advisory_xact_lock(hashtext($1))', [MIGRATION_LOCK]);
    const executor = new MigrationExecutor(dataSource, runner);
    executor.transaction = 'all';
    await executor.executePendingMigrations();
    // Every service's projection runners keep their checkpoints and park events here; idempotent,
    // so it also reaches databases whose migrations ran before these tables (or columns) existed.
    await migrateProjectionTables(runner);
    await runner.commitTransaction();
  } catch (error) {
    if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
  }
}

/** With MIGRATE=off the schema must already be this release's: starting on an older one would fail later, request by request. */
async function refuseIfPending(dataSource: DataSource, service: string): Promise<void> {
  const pending = await new MigrationExecutor(dataSource).getPendingMigrations();
  if (pending.length > 0)
    throw new Error(
      `${pending.length} ${service} migration(s) pending (${pending.map((migration) => migration.name).join(', ')}): ` +
        'run the migrations Job (MIGRATE=only) before this release, or start with MIGRATE=on-start',
    );
}

const MIGRATION_LOCK = 'tessera.migrations';
const DEFAULT_POOL_SIZE = 40;
