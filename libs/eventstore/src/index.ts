export * from './event-store';
export {
  PostgresEventStore,
  type PostgresConnectOptions,
  type PostgresEventStoreOptions,
} from './postgres/postgres-event-store';
