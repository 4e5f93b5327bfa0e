import { parkedEventsApi } from '#cqrs';
import { z } from 'zod';
import type { ApiDescription } from '#platform';
import { grantConsentBody } from './consent/consent.http';
import { erasureRequestBody } from './erasure/erasure-requests.http';
import { resetConfirmBody, resetRequestBody } from './password-reset/password-reset.http';
import { profileChanges } from './register.schemas';
import { signUpBody } from './sign-up/sign-up.http';
import { brandingBody } from './tenants/tenant-branding.http';
import { issueKeyBody, rotateKeyBody } from './tenants/tenant-keys.http';
import { createTenantBody } from './tenants/tenants.http';
import { journeyPages } from './pages/journey-pages.api';
import { emailChangeBody, emailChangeConfirmBody } from './email-change/email-change.http';
import { IMPORT_MAX_USERS, importedUser } from './user-import/import-lines';
import { verificationLinkBody, verifyBody } from './verification/verification.http';

const adminErrors = { 401: 'no admin token', 403: 'wrong admin token', 404: 'unknown tenant' } as const;
const tenantErrors = { 400: 'invalid input', 404: 'unknown tenant' } as const;
/** Request limits (per client network, e-mail address or account) and the per-tenant hash budget. */
const limited = { 429: 'too many requests; retry after Retry-After seconds' } as const;
const personErrors = {
  401: 'no or invalid access token',
  403: 'token of another tenant',
  404: 'unknown tenant or erased account',
} as const;

/** register's public API (PRODUCT.md), served at /docs and /docs-json. */
export const registerApi: ApiDescription = {
  title: 'Tessera register',
  version: '1',
  description: 'Sign-up, e-mail verification, password reset, consent, profile, GDPR export and erasure, tenant administration.',
  operations: [
    {
      method: 'post',
      path: '/admin/tenants',
      summary: 'Create a tenant; its write key and API key are returned once',
      tags: ['tenants'],
      auth: 'adminToken',
      body: createTenantBody,
      responses: { 201: 'created', 400: 'invalid input', 401: 'no admin token', 403: 'wrong admin token', 409: 'slug taken' },
    },
    {
      method: 'get',
      path: '/admin/tenants/{tenant}/keys',
      summary: "The tenant's keys in issue order, ended ones included: id, kind, label, issued, valid until, status (?cursor=&limit=)",
      tags: ['tenants'],
      auth: 'adminToken',
      responses: { 200: 'a page of keys (never a secret)', 400: 'malformed cursor or limit', ...adminErrors },
    },
    {
      method: 'post',
      path: '/admin/tenants/{tenant}/keys',
      summary: 'Issue a key: write (twk_, a client source), server (tss_, a server source) or api (tsk_); returned once',
      tags: ['tenants'],
      auth: 'adminToken',
      body: issueKeyBody,
      responses: { 201: 'issued; the key is in this answer only', 400: 'invalid input', ...adminErrors, 409: 'too many live keys' },
    },
    {
      method: 'post',
      path: '/admin/tenants/{tenant}/keys/{keyId}/rotation',
      summary: 'Rotate a key: a successor is returned once; the old key works for overlapSeconds (0 to 30 days), then is refused',
      tags: ['tenants'],
      auth: 'adminToken',
      body: rotateKeyBody,
      responses: {
        201: 'rotated; the new key is in this answer only',
        400: 'invalid input',
        ...adminErrors,
        404: 'unknown tenant or key',
        409: 'key already ended or already rotated',
      },
    },
    {
      method: 'delete',
      path: '/admin/tenants/{tenant}/keys/{keyId}',
      summary: 'Revoke a key: refused from now on by every service',
      tags: ['tenants'],
      auth: 'adminToken',
      responses: {
        204: 'revoked',
        400: 'invalid key id',
        ...adminErrors,
        404: 'unknown tenant or key',
        409: 'key already ended, or the last API key',
      },
    },
    {
      method: 'get',
      path: '/admin/tenants/{tenant}/branding',
      summary: "The tenant's branding and default language (null fields: the defaults)",
      tags: ['tenants'],
      auth: 'adminToken',
      responses: { 200: 'the branding', ...adminErrors },
    },
    {
      method: 'put',
      path: '/admin/tenants/{tenant}/branding',
      summary:
        'Set the branding of the hosted pages and mails: displayName, logoUrl, termsUrl, privacyUrl (https), primaryColor, accentColor (#rrggbb), supportEmail, defaultLocale (en, fr); a field left out is the default',
      tags: ['tenants'],
      auth: 'adminToken',
      body: brandingBody,
      responses: {
        200: 'the branding now in force',
        400: 'a field breaks its rule (named by JSON pointer); nothing is stored',
        ...adminErrors,
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/users',
      summary: 'Sign up with e-mail, password, profile attributes and consents',
      tags: ['sign-up'],
      body: signUpBody,
      responses: {
        201: 'registered; a verification mail is sent',
        ...tenantErrors,
        409: 'e-mail already registered',
        413: 'body too large',
        ...limited,
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/email-verifications',
      summary: 'Confirm an e-mail address with the mailed token',
      tags: ['verification'],
      body: verifyBody,
      responses: { 200: 'verified', ...tenantErrors, ...limited },
    },
    {
      method: 'post',
      path: '/t/{tenant}/email-verifications/requests',
      summary: 'Ask for a new verification link (always 202; mailed only when the address awaits verification)',
      tags: ['verification'],
      body: verificationLinkBody,
      responses: { 202: 'accepted (past the limit for one e-mail address, nothing is mailed)', ...tenantErrors, ...limited },
    },
    ...journeyPages,
    {
      method: 'post',
      path: '/t/{tenant}/password-resets',
      summary: 'Ask for a password reset mail (always 202)',
      tags: ['password-reset'],
      body: resetRequestBody,
      responses: { 202: 'accepted (past the limit for one e-mail address, nothing is mailed)', ...tenantErrors, ...limited },
    },
    {
      method: 'post',
      path: '/t/{tenant}/password-resets/confirm',
      summary: 'Set a new password with the mailed token',
      tags: ['password-reset'],
      body: resetConfirmBody,
      responses: { 200: 'password changed; sessions revoked', ...tenantErrors, ...limited },
    },
    {
      method: 'get',
      path: '/t/{tenant}/me',
      summary: "The caller's profile and current consents",
      tags: ['profile'],
      auth: 'accessToken',
      responses: { 200: 'profile', ...personErrors },
    },
    {
      method: 'patch',
      path: '/t/{tenant}/me',
      summary: "Change the caller's profile attributes",
      tags: ['profile'],
      auth: 'accessToken',
      body: profileChanges,
      responses: { 200: 'updated profile', 400: 'invalid input', ...personErrors },
    },
    {
      method: 'post',
      path: '/t/{tenant}/me/email',
      summary:
        "Ask to move the caller's account to another address: a link is mailed to it (and a notice to the current one); nothing changes until the link is opened",
      tags: ['profile'],
      auth: 'accessToken',
      body: emailChangeBody,
      responses: {
        202: 'the same answer whether or not another account uses the address',
        400: 'invalid input',
        ...personErrors,
        ...limited,
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/email-changes/confirm',
      summary:
        'Confirm a change of address with the mailed token, as the link’s page does: the account moves to the new address and every session and refresh token of the person ends',
      tags: ['profile'],
      body: emailChangeConfirmBody,
      responses: {
        200: 'changed',
        400: 'invalid input, or a token that is unknown, used, replaced (invalid-token) or expired (token-expired)',
        404: 'unknown tenant',
        409: 'another account uses the address (email-taken): nothing changed',
        ...limited,
      },
    },
    {
      method: 'put',
      path: '/t/{tenant}/me/consents/{purpose}',
      summary: 'Grant a consent for a policy version',
      tags: ['consent'],
      auth: 'accessToken',
      body: grantConsentBody,
      responses: { 200: 'granted', 400: 'invalid input', ...personErrors },
    },
    {
      method: 'delete',
      path: '/t/{tenant}/me/consents/{purpose}',
      summary: 'Withdraw a consent',
      tags: ['consent'],
      auth: 'accessToken',
      responses: { 204: 'withdrawn', ...personErrors },
    },
    {
      method: 'get',
      path: '/t/{tenant}/me/export',
      summary: 'Everything register holds about the caller (GDPR access)',
      tags: ['privacy'],
      auth: 'accessToken',
      responses: { 200: 'export', ...personErrors },
    },
    {
      method: 'delete',
      path: '/t/{tenant}/me',
      summary: 'Erase the caller in every service (crypto-shredding); Location names the erasure request',
      tags: ['privacy'],
      auth: 'accessToken',
      responses: { 204: 'erased by register; the request carries it to login, pulse and rewards', ...personErrors },
    },
    {
      method: 'post',
      path: '/t/{tenant}/erasures',
      summary: 'Ask that a person be erased in every service, by userId (an account or a tracked id), e-mail or anonymousId',
      tags: ['privacy'],
      auth: 'apiKey',
      body: erasureRequestBody,
      responses: {
        202: 'requested; Location names it',
        200: 'the same people were asked for already: that request',
        400: 'invalid input (none of userId, email, anonymousId, or one malformed)',
        401: 'no or unknown API key',
        403: 'API key of another tenant',
        404: 'unknown tenant',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/erasures/{id}',
      summary: 'Which services have completed an erasure request',
      tags: ['privacy'],
      auth: 'apiKey',
      responses: {
        200: 'status: pending or completed, per service',
        400: 'not an erasure id',
        401: 'no or unknown API key',
        403: 'API key of another tenant',
        404: 'unknown tenant or erasure request',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/exports',
      summary:
        'Ask for everything every service holds about a person, by userId (an account or a tracked id), e-mail or anonymousId: a job',
      tags: ['privacy'],
      auth: 'apiKey',
      body: erasureRequestBody,
      responses: {
        202: 'requested; Location names the job',
        400: 'invalid input, naming the field',
        401: 'no or unknown API key',
        403: 'API key of another tenant',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/exports/{id}',
      summary: 'The export job: which services have written their section, and once all have, the download link and its expiry',
      tags: ['privacy'],
      auth: 'apiKey',
      responses: {
        200: 'pending or ready, per service',
        400: 'not an export id',
        401: 'no or unknown API key',
        403: 'API key of another tenant',
        404: 'unknown export',
        410: 'the link expired, or the person was erased',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/exports/{id}/download',
      summary: "The export document (tessera-export/1), streamed: its head, then each service's section",
      tags: ['privacy'],
      auth: 'apiKey',
      responses: {
        200: 'the document (JSON, chunked)',
        400: 'not an export id',
        401: 'no or unknown API key',
        403: 'API key of another tenant',
        404: 'unknown export',
        409: 'some sections still pending',
        410: 'the link expired, or the person was erased',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/me/exports',
      summary: 'Ask for an export of everything every service holds about oneself (the account, by its id and e-mail): a job',
      tags: ['privacy'],
      auth: 'accessToken',
      responses: {
        202: 'requested; Location names the job',
        400: 'invalid input, naming the field',
        401: 'no or invalid access token',
        403: 'an access token of another tenant',
        404: 'no such account',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/me/exports/{id}',
      summary: 'The export job: which services have written their section, and once all have, the download link and its expiry',
      tags: ['privacy'],
      auth: 'accessToken',
      responses: {
        200: 'pending or ready, per service',
        400: 'not an export id',
        401: 'no or invalid access token',
        403: 'an access token of another tenant',
        404: 'unknown export',
        410: 'the link expired, or the person was erased',
      },
    },
    {
      method: 'get',
      path: '/t/{tenant}/me/exports/{id}/download',
      summary: "The export document (tessera-export/1), streamed: its head, then each service's section",
      tags: ['privacy'],
      auth: 'accessToken',
      responses: {
        200: 'the document (JSON, chunked)',
        400: 'not an export id',
        401: 'no or invalid access token',
        403: 'an access token of another tenant',
        404: 'unknown export',
        409: 'some sections still pending',
        410: 'the link expired, or the person was erased',
      },
    },
    {
      method: 'delete',
      path: '/t/{tenant}/users/{id}',
      summary: 'Erase a user in every service, by the tenant; Location names the erasure request',
      tags: ['privacy'],
      auth: 'apiKey',
      responses: {
        204: 'erased by register; the request carries it to login, pulse and rewards',
        400: 'not a user id',
        401: 'no or unknown API key',
        403: 'API key of another tenant',
        404: 'unknown tenant or user',
      },
    },
    {
      method: 'post',
      path: '/t/{tenant}/users/import',
      summary:
        'Import people from another system: application/x-ndjson (one person per line) or JSON {users: [...]}, at most ' +
        `${IMPORT_MAX_USERS} people and 4 MiB. Idempotent by externalId. password is the old hash (bcrypt, pbkdf2-sha256/512, ` +
        'firebase-scrypt, argon2i, argon2id, or a Keycloak export credential as {format: "keycloak", credential}), replaced by ' +
        'argon2id at the first sign-in; null: the person resets. Each line is imported, unchanged, or failed with its problem; ' +
        "a failed line stores nothing. Authorised by the tenant's API key or the admin token.",
      tags: ['import'],
      auth: 'apiKey',
      body: z.object({ users: z.array(importedUser).max(IMPORT_MAX_USERS) }).strict(),
      alsoAccepts: { 'application/x-ndjson': importedUser },
      responses: {
        200: 'every line imported or unchanged: {imported, unchanged, failed: [], accounts: [{line, externalId, id, outcome}]}',
        207: 'some lines failed: failed lists each {line, externalId?, problem: {type, title, detail, errors?}}; the others are imported',
        400: 'the request as a whole is unreadable (not JSON, no line, too many people); nothing imported',
        401: 'no or unknown API key',
        403: 'API key of another tenant',
        404: 'unknown tenant',
        413: 'body larger than 4 MiB',
        415: 'neither NDJSON nor JSON',
      },
    },
    ...parkedEventsApi,
  ],
};
