import { accept, reject, type Decider } from '#cqrs';
import type { StoredSecret } from '#outbound';
import {
  WebhookEndpointChanged,
  WebhookEndpointCreated,
  WebhookEndpointDeleted,
  WebhookEndpointSecretRotated,
  type SealedSecret,
  type WebhookEndpointEvent,
  type WebhookSettings,
} from './webhook.events';

export type WebhookCommand =
  | {
      readonly type: 'Create';
      readonly endpointId: string;
      readonly settings: WebhookSettings;
      readonly secret: SealedSecret;
      readonly now: Date;
    }
  | { readonly type: 'Change'; readonly changes: Partial<WebhookSettings>; readonly now: Date }
  | { readonly type: 'RotateSecret'; readonly secret: SealedSecret; readonly graceMs: number; readonly now: Date }
  | { readonly type: 'Delete'; readonly now: Date };

export type WebhookRejection = { readonly kind: 'EndpointExists' } | { readonly kind: 'EndpointNotFound' };

export interface WebhookState {
  readonly status: 'none' | 'active' | 'deleted';
  readonly endpointId?: string;
  readonly settings?: WebhookSettings;
  /** Newest first: the current secret, then the one it replaced while its grace period lasts. */
  readonly secrets: readonly StoredSecret[];
  readonly createdAt?: string;
}

/** A tenant's webhook endpoint: its settings and signing secrets as events on its own stream. */
export const webhookDecider: Decider<WebhookCommand, WebhookEndpointEvent, WebhookState, WebhookRejection> = {
  initialState: () => ({ status: 'none', secrets: [] }),
  evolve(state, event) {
    switch (event.type) {
      case 'WebhookEndpointCreated': {
        const { endpointId, settings, secret, createdAt } = event.data;
        return { status: 'active', endpointId, settings, secrets: [{ sealed: secret.sealed, validUntil: null }], createdAt };
      }
      case 'WebhookEndpointChanged':
        return { ...state, settings: event.data.settings };
      case 'WebhookEndpointSecretRotated': {
        // Two secrets at most: a rotation during another's grace period ends that grace at once.
        const current = state.secrets.find((secret) => secret.validUntil === null);
        const previous = current ? [{ sealed: current.sealed, validUntil: event.data.previousValidUntil }] : [];
        return { ...state, secrets: [{ sealed: event.data.secret.sealed, validUntil: null }, ...previous] };
      }
      case 'WebhookEndpointDeleted':
        return { ...state, status: 'deleted', secrets: [] };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (command.type === 'Create') {
      if (state.status !== 'none') return reject({ kind: 'EndpointExists' });
      const { endpointId, settings, secret, now } = command;
      return accept(WebhookEndpointCreated({ endpointId, settings, secret, createdAt: now.toISOString() }));
    }
    if (state.status !== 'active' || !state.settings || !state.endpointId) return reject({ kind: 'EndpointNotFound' });
    const endpointId = state.endpointId;
    switch (command.type) {
      case 'Change': {
        const settings = { ...state.settings, ...command.changes };
        // Nothing new: no event, so a retried PATCH leaves one entry in the history.
        if (JSON.stringify(settings) === JSON.stringify(state.settings)) return accept();
        return accept(WebhookEndpointChanged({ endpointId, settings, changedAt: command.now.toISOString() }));
      }
      case 'RotateSecret':
        return accept(
          WebhookEndpointSecretRotated({
            endpointId,
            secret: command.secret,
            previousValidUntil: new Date(command.now.getTime() + command.graceMs).toISOString(),
            rotatedAt: command.now.toISOString(),
          }),
        );
      case 'Delete':
        return accept(WebhookEndpointDeleted({ endpointId, deletedAt: command.now.toISOString() }));
    }
  },
};
