import { accept, reject, type Decider } from '#cqrs';
import {
  ClientDisabled,
  ClientRegistered,
  ClientSecretRotated,
  RedirectUrisChanged,
  type ClientAuthMethod,
  type ClientEvent,
  type ClientKind,
} from './client.events';

export type ClientCommand =
  | {
      readonly kind: 'Register';
      readonly clientId: string;
      readonly name: string;
      readonly clientKind: ClientKind;
      readonly redirectUris: string[];
      readonly postLogoutRedirectUris: string[];
      readonly grantTypes: string[];
      readonly tokenEndpointAuthMethod: ClientAuthMethod;
      readonly secretHash: string | null;
      readonly now: Date;
    }
  | { readonly kind: 'ChangeRedirectUris'; readonly redirectUris: string[]; readonly postLogoutRedirectUris: string[] }
  | { readonly kind: 'RotateSecret'; readonly secretHash: string; readonly now: Date }
  | { readonly kind: 'Disable'; readonly now: Date };

export interface ClientState {
  readonly clientId?: string;
  readonly clientKind?: ClientKind;
  readonly disabled: boolean;
}

export type ClientRejection =
  | { readonly kind: 'ClientExists' }
  | { readonly kind: 'UnknownClient' }
  | { readonly kind: 'ClientDisabled' }
  | { readonly kind: 'PublicClientHasNoSecret' };

export const clientDecider: Decider<ClientCommand, ClientEvent, ClientState, ClientRejection> = {
  initialState: () => ({ disabled: false }),
  evolve(state, event) {
    switch (event.type) {
      case 'ClientRegistered':
        return { clientId: event.data.clientId, clientKind: event.data.kind, disabled: false };
      case 'ClientDisabled':
        return { ...state, disabled: true };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (command.kind === 'Register') {
      if (state.clientId) return reject({ kind: 'ClientExists' });
      return accept(
        ClientRegistered({
          clientId: command.clientId,
          name: command.name,
          kind: command.clientKind,
          redirectUris: command.redirectUris,
          postLogoutRedirectUris: command.postLogoutRedirectUris,
          grantTypes: command.grantTypes,
          tokenEndpointAuthMethod: command.tokenEndpointAuthMethod,
          secretHash: command.secretHash,
          registeredAt: command.now.toISOString(),
        }),
      );
    }
    if (!state.clientId) return reject({ kind: 'UnknownClient' });
    if (state.disabled) return reject({ kind: 'ClientDisabled' });
    switch (command.kind) {
      case 'ChangeRedirectUris':
        return accept(
          RedirectUrisChanged({
            clientId: state.clientId,
            redirectUris: command.redirectUris,
            postLogoutRedirectUris: command.postLogoutRedirectUris,
          }),
        );
      case 'RotateSecret':
        if (state.clientKind === 'public') return reject({ kind: 'PublicClientHasNoSecret' });
        return accept(
          ClientSecretRotated({ clientId: state.clientId, secretHash: command.secretHash, rotatedAt: command.now.toISOString() }),
        );
      case 'Disable':
        return accept(ClientDisabled({ clientId: state.clientId, disabledAt: command.now.toISOString() }));
    }
  },
};
