export * from './event-store';
export { PostgresEventStore, type PostgresConnectOptions, type PostgresEventStoreOptions } from './postgres/postgres-event-store';
export { connectEventStore } from './connect';
export { newEventId } from './event-id';
export { type StreamEvents, StreamsRefusedError, type WritesBeside } from './postgres/append-many';
export { advisoryLockKey, inTransaction } from './postgres/transaction';
export { eventLogTableDdl } from './postgres/schema';
