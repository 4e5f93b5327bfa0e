import { exportPartsApi } from '#contracts';
import { parkedEventsApi } from '#cqrs';
import { secondFactorPolicyBody } from './mfa/second-factors.http';
import type { ApiDescription, ApiOperation } from '#platform';
import { registerClientBody } from './clients/clients.http';
import { passkeyAssertionBody, passkeyRegistrationBody } from './mfa/passkeys';

const adminErrors = { 400: 'invalid input', 401: 'no admin token', 403: 'wrong admin token', 404: 'unknown tenant or client' } as const;

/**
 * The tenant's OpenID Connect provider (oidc-provider, mounted under `/t/{tenant}/`): each endpoint
 * its discovery document lists. Their parameters are OAuth's and OIDC's, form-encoded where the
 * specifications say so; the discovery document is the machine-readable description clients use.
 */
const provider = (method: ApiOperation['method'], path: string, summary: string, responses: ApiOperation['responses']): ApiOperation => ({
  method,
  path: `/t/{tenant}${path}`,
  summary,
  tags: ['openid-connect'],
  responses,
});

/** login's public API (PRODUCT.md), served at /docs and /docs-json. */
export const loginApi: ApiDescription = {
  title: 'Tessera login',
  version: '1',
  description:
    "Each tenant's OpenID Connect provider (issuer `{public URL}/t/{tenant}`): authorization code with PKCE, refresh tokens, client credentials, device flow, hosted sign-in pages; OAuth client administration.",
  operations: [
    {
      method: 'post',
      path: '/admin/tenants/{tenant}/clients',
      summary: 'Register an OAuth client (public or confidential); a confidential client secret is returned once',
      tags: ['clients'],
      auth: 'adminToken',
      body: registerClientBody,
      responses: { 201: 'registered', ...adminErrors },
    },
    {
      method: 'post',
      path: '/admin/tenants/{tenant}/clients/{clientId}/secret',
      summary: "Rotate a confidential client's secret; the new secret is returned once",
      tags: ['clients'],
      auth: 'adminToken',
      responses: { 201: 'rotated', ...adminErrors, 409: 'a public client has no secret' },
    },
    {
      method: 'put',
      path: '/admin/tenants/{tenant}/clients/{clientId}/redirect-uris',
      summary: "Replace a client's redirect URIs (and post-logout redirect URIs)",
      tags: ['clients'],
      auth: 'adminToken',
      responses: { 204: 'replaced', ...adminErrors },
    },
    {
      method: 'delete',
      path: '/admin/tenants/{tenant}/clients/{clientId}',
      summary: 'Remove a client; its tokens stop working',
      tags: ['clients'],
      auth: 'adminToken',
      responses: { 204: 'removed', ...adminErrors },
    },
    {
      method: 'post',
      path: '/admin/tenants/{tenant}/signing-keys/rotate',
      summary: "Rotate the tenant's ID token signing key (the previous key stays in the JWKS for verification)",
      tags: ['keys'],
      auth: 'adminToken',
      responses: { 204: 'rotated', ...adminErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/interaction/{uid}',
      summary: 'The hosted sign-in or consent page of an authorization request (HTML); with prompt=create, a redirect to the sign-up page',
      tags: ['pages'],
      responses: { 200: 'the page', 303: "prompt=create: register's sign-up page", 400: 'interaction expired or unknown' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/interaction/{uid}/login',
      summary: 'The sign-in form (e-mail, password, CSRF token; form-encoded); redirects back into the authorization flow',
      tags: ['pages'],
      responses: {
        303: 'signed in: back to the authorization endpoint',
        400: 'expired interaction or bad CSRF token',
        401: 'the page again: wrong e-mail or password',
        403: 'the page again: e-mail not verified',
        429: 'the page again: account locked or too many attempts',
      },
    },
    {
      method: 'get',
      path: '/admin/tenants/{tenant}/second-factor-policy',
      summary: "The tenant's second-factor policy: mode (off, optional, required) and the clients that require it",
      tags: ['admin'],
      auth: 'adminToken',
      responses: { 200: 'the policy', 401: 'no admin token', 403: 'wrong admin token', 404: 'unknown tenant' },
    },
    {
      method: 'put',
      path: '/admin/tenants/{tenant}/second-factor-policy',
      summary: "Sets the tenant's second-factor policy (an event); required: people without an app enrol at their next sign-in",
      tags: ['admin'],
      auth: 'adminToken',
      body: secondFactorPolicyBody,
      responses: { 200: 'the policy now', 400: 'invalid policy', 401: 'no admin token', 403: 'wrong admin token', 404: 'unknown tenant' },
    },
    {
      method: 'delete',
      path: '/admin/tenants/{tenant}/users/{userId}/second-factors',
      summary:
        'Removes every second factor of a person who lost them all, passkeys included (audited: an event and a log line); they sign in with the password alone until they enrol again',
      tags: ['admin'],
      auth: 'adminToken',
      responses: { 204: 'reset (or nothing to reset)', 401: 'no admin token', 403: 'wrong admin token', 404: 'unknown tenant or person' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/interaction/{uid}/second-factor',
      summary:
        'The second step of a sign-in (a code of the authenticator app or a recovery code, CSRF token; form-encoded); a person with passkeys may use one instead (…/passkey)',
      tags: ['pages'],
      responses: {
        303: 'signed in (amr pwd, otp, mfa): back to the authorization endpoint',
        400: 'expired interaction, bad CSRF token, or no second factor awaited',
        401: 'the page again: wrong or used code',
        429: 'the page again: too many wrong codes, the factor is locked for a while',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/account/security',
      summary: "The signed-in person's security page: set up or remove an authenticator app, list, add and remove passkeys (HTML)",
      tags: ['pages'],
      responses: { 200: 'the page', 401: 'no session at this tenant: sign in first', 404: 'unknown tenant' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/security/totp',
      summary: 'Starts setting up an authenticator app: a new key, shown as a QR code',
      tags: ['pages'],
      responses: { 303: 'to the page showing the key', 403: 'not signed in, or bad CSRF token' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/security/totp/confirm',
      summary: 'Confirms the authenticator app with a code it shows; the recovery codes are shown once',
      tags: ['pages'],
      responses: {
        200: 'two-step sign-in is on: the recovery codes',
        400: 'the page again: wrong code',
        403: 'not signed in, or bad CSRF token',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/security/totp/remove',
      summary: 'Removes the authenticator app (and its recovery codes) with a current code',
      tags: ['pages'],
      responses: { 200: 'removed', 400: 'wrong code', 403: 'not signed in, or bad CSRF token', 429: 'too many wrong codes' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/account/password',
      summary: "The signed-in person's change-password page (HTML); `return_to`: the authorization request to go back into once done",
      tags: ['pages'],
      responses: { 200: 'the page', 401: 'no session at this tenant: sign in first', 404: 'unknown tenant' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/password',
      summary:
        'Changes the password (form: csrf, current_password, new_password, return_to?): the new one held to sign-up’s rules, the current one checked under the sign-in lock-out; PasswordChanged, and every other session of the person ends',
      tags: ['pages'],
      responses: {
        200: 'changed (the page says so)',
        303: 'changed: back into the authorization named by return_to',
        400: 'the page again: the new password breaks a rule, or no current password',
        401: 'the page again: the current password is wrong',
        403: 'not signed in, or bad CSRF token',
        429: 'the account is locked after too many wrong passwords',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/account/email',
      summary: "The signed-in person's change-of-address page (HTML); `return_to` as on the password page",
      tags: ['pages'],
      responses: { 200: 'the page', 401: 'no session at this tenant: sign in first', 404: 'unknown tenant' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/email',
      summary:
        'Asks to move the account to another address (form: csrf, new_email, current_password, return_to?): the current password checked under the sign-in lock-out; EmailChangeRequested, after which register mails the new address a link and the current one a notice',
      tags: ['pages'],
      responses: {
        202: 'the page says a link went to the new address, and the current one stays in use until it is opened',
        400: 'the page again: not an address, the address in use, or no current password',
        401: 'the page again: the current password is wrong',
        403: 'not signed in, or bad CSRF token',
        429: 'the account is locked after too many wrong passwords',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/account/sessions',
      summary: "The signed-in person's sessions at this tenant: signed in, last active, applications, this browser marked (HTML)",
      tags: ['pages'],
      responses: { 200: 'the page', 401: 'no session at this tenant: sign in first', 404: 'unknown tenant' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/sessions/end',
      summary:
        'Ends one of the person’s sessions (form: csrf, session: its uid, return_to?), with the grants it signed in to; SessionEnded',
      tags: ['pages'],
      responses: {
        200: 'ended (the list again; or, for this browser’s own session, signed out)',
        303: 'ended: back into the authorization named by return_to',
        400: 'no session uid, or not an id',
        403: 'not signed in, or bad CSRF token',
        404: 'the person has no session by that uid (ended already, or not theirs)',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/sessions/end-others',
      summary: 'Ends every session of the person but this browser’s (form: csrf, return_to?); SessionEnded for each',
      tags: ['pages'],
      responses: {
        200: 'the list again, with how many ended',
        303: 'back into the authorization named by return_to',
        403: 'not signed in, or bad CSRF token',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/interaction/{uid}/passkey/options',
      summary:
        "Options for navigator.credentials.get() (JSON; body: the page's CSRF token): the person's passkeys at the second step, none for a passwordless sign-in; the challenge is single-use, bound to the interaction, valid 5 minutes",
      tags: ['pages'],
      responses: {
        200: 'PublicKeyCredentialRequestOptionsJSON',
        400: 'expired interaction, or one that asks for no sign-in',
        403: 'bad CSRF token',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/interaction/{uid}/passkey',
      summary:
        "The browser's passkey assertion (JSON): completes the sign-in as the second step (amr pwd, hwk, user, mfa) or without a password (amr hwk, user, mfa); acr urn:tessera:acr:mfa either way",
      tags: ['pages'],
      body: passkeyAssertionBody,
      responses: {
        200: '{ location }: where the browser goes on, back to the authorization endpoint',
        400: 'malformed assertion (the field is named), expired interaction',
        401: 'refused: unknown passkey, wrong signature, no outstanding challenge, or a signature count that went back (a cloned authenticator)',
        403: 'bad CSRF token; or email-unverified: the tenant refuses sign-ins before the address is verified (LOGIN_UNVERIFIED_EMAIL)',
        429: "the tenant's share of sign-ins in flight is taken; retry shortly",
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/security/passkeys/options',
      summary: "Options for navigator.credentials.create() (JSON; body: the page's CSRF token); the challenge is bound to the session",
      tags: ['pages'],
      responses: { 200: 'PublicKeyCredentialCreationOptionsJSON', 403: 'not signed in, or bad CSRF token' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/security/passkeys',
      summary: "Registers a passkey from the browser's attestation (JSON) under the name given",
      tags: ['pages'],
      body: passkeyRegistrationBody,
      responses: {
        201: 'registered',
        400: 'malformed or unverifiable attestation (the field is named), or no outstanding challenge',
        403: 'not signed in, or bad CSRF token',
        409: 'registered already, or the most passkeys a person may have',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/account/security/passkeys/remove',
      summary: 'Removes a passkey (form-encoded: CSRF token, credentialId); it signs in nobody afterwards',
      tags: ['pages'],
      responses: { 200: 'removed', 400: 'no credential id', 403: 'not signed in, or bad CSRF token', 404: 'no such passkey' },
    },
    {
      method: 'get',
      path: '/assets/passkeys.js',
      summary: "The hosted pages' passkey script (navigator.credentials); the pages work without it for everything but passkeys",
      tags: ['pages'],
      responses: { 200: 'JavaScript' },
    },
    {
      method: 'get',
      path: '/t/{tenant}/interaction/{uid}/signed-up',
      summary: 'Back from the sign-up page that prompt=create led to; the authorization goes on to sign-in',
      tags: ['pages'],
      responses: { 303: 'back to the authorization endpoint', 400: 'expired interaction, or one that asks for no sign-up' },
    },
    {
      method: 'post',
      path: '/t/{tenant}/interaction/{uid}/consent',
      summary: 'The consent form (form-encoded); redirects back into the authorization flow',
      tags: ['pages'],
      responses: { 303: 'consent recorded: back to the authorization endpoint', 400: 'bad form or CSRF token' },
    },
    provider('get', '/.well-known/openid-configuration', 'OpenID Connect discovery document of the tenant', {
      200: 'discovery document',
      404: 'unknown tenant',
    }),
    provider('get', '/auth', 'Authorization endpoint (code flow with PKCE)', {
      303: 'to the sign-in page or back to the client',
      400: 'invalid request',
    }),
    provider('post', '/auth', 'Authorization endpoint, form post', {
      303: 'to the sign-in page or back to the client',
      400: 'invalid request',
    }),
    provider('post', '/request', 'Pushed authorization request (RFC 9126)', {
      201: 'request_uri issued',
      400: 'invalid request',
      401: 'invalid client',
    }),
    provider('post', '/token', 'Token endpoint: authorization_code, refresh_token, client_credentials, device_code grants', {
      200: 'tokens',
      400: 'invalid grant or request',
      401: 'invalid client',
    }),
    provider('get', '/jwks', "The tenant's public signing keys (JWKS)", { 200: 'JWK set' }),
    provider('get', '/me', 'UserInfo endpoint', { 200: 'claims of the access token subject', 401: 'invalid token' }),
    provider('post', '/me', 'UserInfo endpoint, form post', { 200: 'claims of the access token subject', 401: 'invalid token' }),
    provider('post', '/token/introspection', 'Token introspection (RFC 7662), for confidential clients', {
      200: 'token status',
      401: 'invalid client',
    }),
    provider('post', '/token/revocation', 'Token revocation (RFC 7009)', { 200: 'revoked (or unknown)', 401: 'invalid client' }),
    provider('get', '/session/end', 'RP-initiated logout', { 200: 'logout confirmation page', 303: 'to the post-logout redirect URI' }),
    provider('post', '/session/end', 'RP-initiated logout, form post', {
      200: 'logout confirmation page',
      303: 'to the post-logout redirect URI',
    }),
    provider('post', '/device/auth', 'Device authorization (RFC 8628)', { 200: 'device and user codes', 401: 'invalid client' }),
    provider('get', '/device', 'Device flow: the page where a person enters the user code', { 200: 'the page' }),
    provider('post', '/device', 'Device flow: the user code form', { 200: 'the next page', 303: 'to sign-in' }),
    ...parkedEventsApi,
    ...exportPartsApi,
  ],
};
