import { defineEvent, type EventOf } from '#cqrs';

export type ClientKind = 'public' | 'confidential';
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

/** An OAuth client of one tenant. The secret travels only as its SHA-256 (the secret has 256 bits). */
export const ClientRegistered = defineEvent<{
  clientId: string;
  name: string;
  kind: ClientKind;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  tokenEndpointAuthMethod: ClientAuthMethod;
  secretHash: string | null;
  registeredAt: string;
}>()('ClientRegistered');

export const RedirectUrisChanged = defineEvent<{ clientId: string; redirectUris: string[]; postLogoutRedirectUris: string[] }>()(
  'RedirectUrisChanged',
);

export const ClientSecretRotated = defineEvent<{ clientId: string; secretHash: string; rotatedAt: string }>()('ClientSecretRotated');

export const ClientDisabled = defineEvent<{ clientId: string; disabledAt: string }>()('ClientDisabled');

export type ClientEvent =
  | EventOf<typeof ClientRegistered>
  | EventOf<typeof RedirectUrisChanged>
  | EventOf<typeof ClientSecretRotated>
  | EventOf<typeof ClientDisabled>;

export const clientEvents = [ClientRegistered, RedirectUrisChanged, ClientSecretRotated, ClientDisabled];

export const CLIENT_STREAM_PREFIX = 'login.client-';

export function clientStreamFor(tenantId: string, clientId: string): string {
  return `${CLIENT_STREAM_PREFIX}${tenantId}.${clientId}`;
}
