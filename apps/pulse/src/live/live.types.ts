import type { EventStore } from '../../../../libs/eventstore/src/event-store';

export type { AllSubscription } from '../../../../libs/eventstore/src/event-store';
export type PostgresEventStoreLike = Pick<EventStore, 'headPosition' | 'subscribeToAll'>;
