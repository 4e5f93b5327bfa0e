import type { EntityManager } from 'typeorm';
import type { AppendedEvents, EventStore, EventToAppend } from '#eventstore';
import { transactionClientOf } from './command-handling';

/**
 * Appends events a projection produces while applying a batch. On a store that shares the read
 * model's database they commit with the batch and its checkpoint (answered, so the runner tells the
 * store's subscriptions once it commits); elsewhere they are appended at once, and a replay after a
 * crash may append them again: give them stable ids, or make what they say safe to repeat.
 */
export async function appendFromProjection(
  store: EventStore,
  tx: EntityManager,
  streamName: string,
  events: readonly EventToAppend[],
): Promise<AppendedEvents | undefined> {
  if (events.length === 0) return undefined;
  const { transactional } = store;
  const client = transactional && transactionClientOf(tx);
  if (transactional && client) {
    await transactional.appendWithin(client, streamName, events);
    return { streamName, types: events.map((event) => event.type) };
  }
  await store.appendToStream(streamName, events);
  return undefined;
}
