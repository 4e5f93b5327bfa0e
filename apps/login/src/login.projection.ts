import type { EntityManager } from 'typeorm';
import type { EventEnvelope, Projection } from '#cqrs';
import { ACCOUNT_STREAM_PREFIX, TENANT_STREAM_PREFIX, type AccountEvent, type TenantEvent } from '#contracts';
import { CLIENT_CHANGES_CHANNEL } from './clients/client-cache';
import { CLIENT_STREAM_PREFIX, type ClientEvent } from './clients/client.events';
import { advisoryLockKey } from '#eventstore';
import { accountLockName } from './sign-in/password-check';

/** The metadata oidc-provider reads for a client, built from its events (never a secret). */
function clientMetadata(data: Extract<ClientEvent, { type: 'ClientRegistered' }>['data']): Record<string, unknown> {
  return {
    client_id: data.clientId,
    client_name: data.name,
    redirect_uris: data.redirectUris,
    post_logout_redirect_uris: data.postLogoutRedirectUris,
    grant_types: data.grantTypes,
    response_types: data.grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: data.tokenEndpointAuthMethod,
  };
}

/** Tells every replica's client cache, once this transaction commits, that the client changed. */
async function announceClientChange(tx: EntityManager, tenantId: string, clientId: string): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [CLIENT_CHANGES_CHANNEL, `${tenantId}|${clientId}`]);
}

/**
 * A reset is the unlock path of a locked account. It takes the account's sign-in lock, so an
 * attempt still running cannot write its failures back over the reset.
 */
async function unlockAccount(tx: EntityManager, tenantId: string, userId: string): Promise<void> {
  const rows: { email_index: string }[] = await tx.query(
    'SELECT email_index FROM login_credentials WHERE tenant_id = $1 AND user_id = $2',
    [tenantId, userId],
  );
  const accountKey = rows[0]?.email_index;
  if (!accountKey) return;
  await tx.query(`SELECT pg_advisory_xact_lock(${advisoryLockKey(accountLockName(tenantId, accountKey))})`);
  await tx.query('DELETE FROM login_throttle WHERE tenant_id = $1 AND account_key = $2', [tenantId, accountKey]);
}

/** Sessions, grants, codes and tokens of a person: every oidc-provider artefact names its account. */
export async function endEverythingOf(tx: EntityManager, tenantId: string, userId: string): Promise<void> {
  await tx.query("DELETE FROM login_oidc_models WHERE tenant_id = $1 AND payload->>'accountId' = $2", [tenantId, userId]);
}

/**
 * Login's read models: tenants and credentials from register's events (login never reads
 * register's tables), and OAuth clients from login's own client streams.
 */
export const loginReadModelProjection: Projection = {
  name: 'login.read-models',
  filter: { streamNamePrefixes: [TENANT_STREAM_PREFIX, ACCOUNT_STREAM_PREFIX, CLIENT_STREAM_PREFIX] },
  async apply(envelope: EventEnvelope, tx: EntityManager) {
    const event = envelope.event as AccountEvent | TenantEvent | ClientEvent;
    const tenantId = envelope.metadata.tenantId;
    switch (event.type) {
      case 'TenantCreated':
        await tx.query('INSERT INTO login_tenants (tenant_id, slug, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
          event.data.tenantId,
          event.data.slug,
          event.data.name,
        ]);
        return;
      case 'TenantBrandingChanged':
        await tx.query('UPDATE login_tenants SET branding = $2 WHERE tenant_id = $1', [
          event.data.tenantId,
          JSON.stringify(event.data.branding),
        ]);
        return;
      case 'UserRegistered':
        if (envelope.erased || !event.data.email || !event.data.passwordHash) return;
        await tx.query(
          `INSERT INTO login_credentials (tenant_id, user_id, email_index, email, password_hash, given_name, family_name, locale, password_changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
          [
            tenantId,
            event.data.userId,
            event.data.emailIndex,
            event.data.email,
            event.data.passwordHash,
            event.data.profile?.givenName ?? null,
            event.data.profile?.familyName ?? null,
            event.data.profile?.locale ?? null,
            envelope.createdAt,
          ],
        );
        return;
      case 'UserImported':
        // Without any hash the row still exists: the person's claims, and a reset that sets a password.
        if (envelope.erased || !event.data.email) return;
        await tx.query(
          `INSERT INTO login_credentials (tenant_id, user_id, email_index, email, email_verified, password_hash, legacy_password, given_name, family_name, locale, password_changed_at)
           VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
          [
            tenantId,
            event.data.userId,
            event.data.emailIndex,
            event.data.email,
            event.data.emailVerified,
            event.data.legacyPassword === null ? null : JSON.stringify(event.data.legacyPassword),
            event.data.profile?.givenName ?? null,
            event.data.profile?.familyName ?? null,
            event.data.profile?.locale ?? null,
            envelope.createdAt,
          ],
        );
        return;
      case 'PasswordRehashed':
        // The same password, now under argon2id: the old hash goes, nothing else about the account changes.
        if (envelope.erased || !event.data.passwordHash) return;
        await tx.query('UPDATE login_credentials SET password_hash = $3, legacy_password = NULL WHERE tenant_id = $1 AND user_id = $2', [
          tenantId,
          event.data.userId,
          event.data.passwordHash,
        ]);
        return;
      case 'EmailVerified':
        await tx.query('UPDATE login_credentials SET email_verified = true WHERE tenant_id = $1 AND user_id = $2', [
          tenantId,
          event.data.userId,
        ]);
        return;
      case 'EmailChanged':
        // Sign-in finds the account by the new address's index from now on; the old address no longer signs in.
        if (envelope.erased || !event.data.email) return;
        await tx.query(
          'UPDATE login_credentials SET email = $3, email_index = $4, email_verified = true WHERE tenant_id = $1 AND user_id = $2',
          [tenantId, event.data.userId, event.data.email, event.data.emailIndex],
        );
        // An identifier change ends every session and grant, as a reset does, whichever way it was
        // confirmed (register's page or its API): whoever held the old address, or a browser signed
        // in with it, keeps nothing. The browser that confirmed is not spared: the confirmation is
        // register's, which never sees login's cookie, and the link may be opened on another device;
        // the page it lands on says to sign in with the new address. In the same transaction as the
        // address, so no session outlives the moment the new address signs in.
        await endEverythingOf(tx, tenantId, event.data.userId);
        return;
      case 'PasswordChanged':
        if (envelope.erased || !event.data.passwordHash) return;
        await tx.query(
          'UPDATE login_credentials SET password_hash = $3, legacy_password = NULL, password_changed_at = $4 WHERE tenant_id = $1 AND user_id = $2',
          [tenantId, event.data.userId, event.data.passwordHash, envelope.createdAt],
        );
        await unlockAccount(tx, tenantId, event.data.userId);
        return;
      case 'UserSessionsRevoked':
        await endEverythingOf(tx, tenantId, event.data.userId);
        return;
      case 'UserErased':
        await tx.query('DELETE FROM login_credentials WHERE tenant_id = $1 AND user_id = $2', [tenantId, event.data.userId]);
        await endEverythingOf(tx, tenantId, event.data.userId);
        return;
      case 'ClientRegistered':
        await tx.query(
          'INSERT INTO login_clients (tenant_id, client_id, metadata, secret_hash) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
          [tenantId, event.data.clientId, clientMetadata(event.data), event.data.secretHash],
        );
        await announceClientChange(tx, tenantId, event.data.clientId);
        return;
      case 'RedirectUrisChanged':
        await tx.query(
          `UPDATE login_clients SET metadata = metadata || jsonb_build_object('redirect_uris', $3::jsonb, 'post_logout_redirect_uris', $4::jsonb)
           WHERE tenant_id = $1 AND client_id = $2`,
          [tenantId, event.data.clientId, JSON.stringify(event.data.redirectUris), JSON.stringify(event.data.postLogoutRedirectUris)],
        );
        await announceClientChange(tx, tenantId, event.data.clientId);
        return;
      case 'ClientSecretRotated':
        await tx.query('UPDATE login_clients SET secret_hash = $3 WHERE tenant_id = $1 AND client_id = $2', [
          tenantId,
          event.data.clientId,
          event.data.secretHash,
        ]);
        await announceClientChange(tx, tenantId, event.data.clientId);
        return;
      case 'ClientDisabled':
        await tx.query('UPDATE login_clients SET disabled = true WHERE tenant_id = $1 AND client_id = $2', [tenantId, event.data.clientId]);
        await announceClientChange(tx, tenantId, event.data.clientId);
        return;
      default:
        return;
    }
  },
};
