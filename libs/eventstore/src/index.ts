export * from './event-store';
export { connectEventStore } from './connect';
export { newEventId } from './event-id';
export { advisoryLockKey, inTransaction, RELAXED_COMMIT, WITHOUT_SYNCHRONOUS_COMMIT } from './postgres/transaction';
export { eventLogTableDdl, REVISION_REFUSED_SQLSTATE } from './postgres/schema';
