/**
 * The PostgreSQL adapter, for the code that composes a store rather than uses one:
 * `connectEventStore`, the store's own tests, the bench. Services reach it only through the
 * EventStore port and its capabilities (eslint.config.mjs forbids this entry under apps/).
 */
export { PostgresEventStore, type PostgresConnectOptions, type PostgresEventStoreOptions } from './postgres-event-store';
