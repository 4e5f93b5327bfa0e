import type { EventStore } from '#eventstore';

export type { AllSubscription } from '#eventstore';
/** What the live view reads of the event store: where the log ends, and what comes after. */
export type LiveSource = Pick<EventStore, 'headPosition' | 'subscribeToAll'>;
