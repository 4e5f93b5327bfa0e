import { accept, reject, type Decider } from '#cqrs';
import {
  DestinationChanged,
  DestinationCreated,
  DestinationDeleted,
  DestinationSecretRotated,
  type DestinationEvent,
  type DestinationSettings,
  type SealedSigningSecret,
} from './destination.events';

export type DestinationCommand =
  | {
      readonly type: 'CreateDestination';
      readonly destinationId: string;
      readonly settings: DestinationSettings;
      readonly secret: SealedSigningSecret;
      readonly now: Date;
    }
  | { readonly type: 'ChangeDestination'; readonly changes: Partial<DestinationSettings>; readonly now: Date }
  | { readonly type: 'RotateSecret'; readonly secret: SealedSigningSecret; readonly graceMs: number; readonly now: Date }
  | { readonly type: 'DeleteDestination'; readonly now: Date };

export type DestinationRejection = { readonly kind: 'DestinationExists' } | { readonly kind: 'DestinationNotFound' };

/** A signing secret and until when it signs (null: the current one). */
export interface SecretInUse {
  readonly sealed: string;
  readonly validUntil: string | null;
}

export interface DestinationState {
  readonly status: 'none' | 'active' | 'deleted';
  readonly destinationId?: string;
  readonly settings?: DestinationSettings;
  /** Newest first: the current secret, then the one it replaced while its grace period lasts. */
  readonly secrets: readonly SecretInUse[];
  readonly createdAt?: string;
}

export const destinationDecider: Decider<DestinationCommand, DestinationEvent, DestinationState, DestinationRejection> = {
  initialState: () => ({ status: 'none', secrets: [] }),
  evolve(state, event) {
    switch (event.type) {
      case 'DestinationCreated':
        return {
          status: 'active',
          destinationId: event.data.destinationId,
          settings: event.data.settings,
          secrets: [{ sealed: event.data.secret.sealed, validUntil: null }],
          createdAt: event.data.createdAt,
        };
      case 'DestinationChanged':
        return { ...state, settings: event.data.settings };
      case 'DestinationSecretRotated': {
        // Two secrets at most: a rotation during another's grace period ends that grace at once.
        const current = state.secrets.find((secret) => secret.validUntil === null);
        const previous = current ? [{ sealed: current.sealed, validUntil: event.data.previousValidUntil }] : [];
        return { ...state, secrets: [{ sealed: event.data.secret.sealed, validUntil: null }, ...previous] };
      }
      case 'DestinationDeleted':
        return { ...state, status: 'deleted', secrets: [] };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (command.type === 'CreateDestination') {
      if (state.status !== 'none') return reject({ kind: 'DestinationExists' });
      const { destinationId, settings, secret, now } = command;
      return accept(DestinationCreated({ destinationId, settings, secret, createdAt: now.toISOString() }));
    }
    if (state.status !== 'active' || !state.settings || !state.destinationId) return reject({ kind: 'DestinationNotFound' });
    const destinationId = state.destinationId;
    switch (command.type) {
      case 'ChangeDestination': {
        const settings = { ...state.settings, ...command.changes };
        if (JSON.stringify(settings) === JSON.stringify(state.settings)) return accept();
        return accept(DestinationChanged({ destinationId, settings, changedAt: command.now.toISOString() }));
      }
      case 'RotateSecret':
        return accept(
          DestinationSecretRotated({
            destinationId,
            secret: command.secret,
            previousValidUntil: new Date(command.now.getTime() + command.graceMs).toISOString(),
            rotatedAt: command.now.toISOString(),
          }),
        );
      case 'DeleteDestination':
        return accept(DestinationDeleted({ destinationId, deletedAt: command.now.toISOString() }));
    }
  },
};
