export * from './event-store';
export { connectEventStore } from './connect';
export { newEventId } from './event-id';
export { advisoryLockKey, inTransaction } from './postgres/transaction';
export { eventLogTableDdl } from './postgres/schema';
