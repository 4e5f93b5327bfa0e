import type { EventStore } from '#eventstore';

export type { AllSubscription } from '#eventstore';
export type PostgresEventStoreLike = Pick<EventStore, 'headPosition' | 'subscribeToAll'>;
