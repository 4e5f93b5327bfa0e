import { given } from '#cqrs/testing';
import { clientDecider, type ClientCommand } from './client.decider';
import { ClientDisabled, ClientRegistered, ClientSecretRotated, RedirectUrisChanged } from './client.events';

const now = new Date('2026-11-23T10:00:00.000Z');
const register: ClientCommand = {
  kind: 'Register',
  clientId: 'c1',
  name: 'App',
  clientKind: 'confidential',
  redirectUris: ['https://app.example/cb'],
  postLogoutRedirectUris: [],
  grantTypes: ['authorization_code'],
  tokenEndpointAuthMethod: 'client_secret_basic',
  secretHash: 'h1',
  now,
};
const registered = ClientRegistered({
  clientId: 'c1',
  name: 'App',
  kind: 'confidential',
  redirectUris: ['https://app.example/cb'],
  postLogoutRedirectUris: [],
  grantTypes: ['authorization_code'],
  tokenEndpointAuthMethod: 'client_secret_basic',
  secretHash: 'h1',
  registeredAt: now.toISOString(),
});

describe('OAuth client decider', () => {
  it('registers a client once', () => {
    given(clientDecider, []).when(register).then([registered]);
    given(clientDecider, [registered]).when(register).thenRejects({ kind: 'ClientExists' });
  });

  it('changes redirect URIs and rotates the secret of a registered client only', () => {
    given(clientDecider, [registered])
      .when({ kind: 'ChangeRedirectUris', redirectUris: ['https://new.example/cb'], postLogoutRedirectUris: [] })
      .then([RedirectUrisChanged({ clientId: 'c1', redirectUris: ['https://new.example/cb'], postLogoutRedirectUris: [] })]);
    given(clientDecider, [registered])
      .when({ kind: 'RotateSecret', secretHash: 'h2', now })
      .then([ClientSecretRotated({ clientId: 'c1', secretHash: 'h2', rotatedAt: now.toISOString() })]);
    given(clientDecider, []).when({ kind: 'RotateSecret', secretHash: 'h2', now }).thenRejects({ kind: 'UnknownClient' });
  });

  it('gives a public client no secret to rotate', () => {
    const publicClient = ClientRegistered({ ...registered.data, kind: 'public', tokenEndpointAuthMethod: 'none', secretHash: null });
    given(clientDecider, [publicClient])
      .when({ kind: 'RotateSecret', secretHash: 'h2', now })
      .thenRejects({ kind: 'PublicClientHasNoSecret' });
  });

  it('changes nothing about a disabled client', () => {
    const disabled = ClientDisabled({ clientId: 'c1', disabledAt: now.toISOString() });
    given(clientDecider, [registered]).when({ kind: 'Disable', now }).then([disabled]);
    given(clientDecider, [registered, disabled])
      .when({ kind: 'RotateSecret', secretHash: 'h2', now })
      .thenRejects({ kind: 'ClientDisabled' });
  });
});
