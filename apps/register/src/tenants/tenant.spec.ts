import { given } from '#cqrs/testing';
import { keyRingOf, keyValidAt, TenantCreated, TenantKeyIssued, TenantKeyRevoked } from '#contracts';
import { MAX_LIVE_KEYS, MAX_ROTATION_OVERLAP_SECONDS, tenantDecider, type TenantCommand } from './tenant.decider';

const tenantId = '0193c2a0-0000-7000-8000-0000000000aa';
const now = new Date('2026-12-06T10:00:00.000Z');
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000).toISOString();
const created = TenantCreated({
  tenantId,
  slug: 'acme',
  name: 'Acme',
  apiKeyHash: 'a'.repeat(64),
  writeKeyHash: 'w'.repeat(64),
  createdAt: at(-3600),
});
const issued = (keyId: string, kind: 'write' | 'server' | 'api', replaces: string | null = null) =>
  TenantKeyIssued({ tenantId, keyId, kind, keyHash: `${keyId}-hash`, label: null, issuedAt: at(-60), replaces });
const revoked = (keyId: string, effectiveAt: string, reason: 'revoked' | 'rotated' = 'revoked') =>
  TenantKeyRevoked({ tenantId, keyId, revokedAt: at(-30), effectiveAt, reason });

const issue = (kind: 'write' | 'server' | 'api', keyId = 'k-new'): TenantCommand => ({
  type: 'IssueTenantKey',
  keyId,
  kind,
  keyHash: `${keyId}-hash`,
  label: 'checkout servers',
  now,
});
const rotate = (keyId: string, overlapSeconds: number): TenantCommand => ({
  type: 'RotateTenantKey',
  keyId,
  overlapSeconds,
  newKeyId: 'k-next',
  newKeyHash: 'k-next-hash',
  now,
});
const revoke = (keyId: string): TenantCommand => ({ type: 'RevokeTenantKey', keyId, now });

describe('tenant key rules', () => {
  test('a tenant created before key events holds two keys: initial-write and initial-api, valid until something ends them', () => {
    const ring = keyRingOf([created]);
    expect(ring.keys.map(({ keyId, kind, keyHash, validUntil }) => ({ keyId, kind, keyHash, validUntil }))).toEqual([
      { keyId: 'initial-write', kind: 'write', keyHash: 'w'.repeat(64), validUntil: null },
      { keyId: 'initial-api', kind: 'api', keyHash: 'a'.repeat(64), validUntil: null },
    ]);
  });

  test('a key of any kind can be issued, valid from now with nothing ending it', () => {
    given(tenantDecider, [created])
      .when(issue('server'))
      .then([
        TenantKeyIssued({
          tenantId,
          keyId: 'k-new',
          kind: 'server',
          keyHash: 'k-new-hash',
          label: 'checkout servers',
          issuedAt: now.toISOString(),
          replaces: null,
        }),
      ]);
  });

  test('keys are issued only for a tenant that exists', () => {
    given(tenantDecider, []).when(issue('api')).thenRejects({ kind: 'UnknownTenant' });
  });

  test('a key id is never reused', () => {
    given(tenantDecider, [created]).when(issue('write', 'initial-api')).thenRejects({ kind: 'KeyIdTaken', keyId: 'initial-api' });
  });

  test(`a tenant holds at most ${MAX_LIVE_KEYS} keys that have not ended; ended keys do not count`, () => {
    const live = Array.from({ length: MAX_LIVE_KEYS - 2 }, (_, i) => issued(`k${i}`, 'server'));
    given(tenantDecider, [created, ...live])
      .when(issue('server'))
      .thenRejects({ kind: 'TooManyKeys', limit: MAX_LIVE_KEYS });
    given(tenantDecider, [created, ...live, revoked('k0', at(-1))])
      .when(issue('server'))
      .then([expect.objectContaining({ type: 'TenantKeyIssued' })]);
  });

  test('rotation issues a key of the same kind and label and ends the old one when the overlap has passed', () => {
    given(tenantDecider, [created])
      .when(rotate('initial-write', 3600))
      .then([
        TenantKeyIssued({
          tenantId,
          keyId: 'k-next',
          kind: 'write',
          keyHash: 'k-next-hash',
          label: null,
          issuedAt: now.toISOString(),
          replaces: 'initial-write',
        }),
        TenantKeyRevoked({ tenantId, keyId: 'initial-write', revokedAt: now.toISOString(), effectiveAt: at(3600), reason: 'rotated' }),
      ]);
  });

  test('an overlap of 0 s ends the old key at once', () => {
    given(tenantDecider, [created])
      .when(rotate('initial-api', 0))
      .then([
        expect.objectContaining({ type: 'TenantKeyIssued' }),
        expect.objectContaining({ data: expect.objectContaining({ effectiveAt: now.toISOString() }) }),
      ]);
  });

  test.each([-1, MAX_ROTATION_OVERLAP_SECONDS + 1, 1.5, Number.NaN])('an overlap of %s s is out of range (0 s to 30 days)', (overlap) => {
    given(tenantDecider, [created])
      .when(rotate('initial-api', overlap))
      .thenRejects({ kind: 'OverlapOutOfRange', max: MAX_ROTATION_OVERLAP_SECONDS });
  });

  test('the longest overlap is 30 days', () => {
    given(tenantDecider, [created])
      .when(rotate('initial-api', MAX_ROTATION_OVERLAP_SECONDS))
      .then([
        expect.anything(),
        expect.objectContaining({ data: expect.objectContaining({ effectiveAt: at(MAX_ROTATION_OVERLAP_SECONDS) }) }),
      ]);
  });

  test('a key already rotated is not rotated again while its overlap runs', () => {
    given(tenantDecider, [created, issued('k1', 'api', 'initial-api'), revoked('initial-api', at(600), 'rotated')])
      .when(rotate('initial-api', 60))
      .thenRejects({ kind: 'KeyAlreadyEnding', keyId: 'initial-api', validUntil: at(600) });
  });

  test('an unknown key cannot be rotated or revoked', () => {
    given(tenantDecider, [created]).when(rotate('nope', 60)).thenRejects({ kind: 'UnknownKey', keyId: 'nope' });
    given(tenantDecider, [created]).when(revoke('nope')).thenRejects({ kind: 'UnknownKey', keyId: 'nope' });
  });

  test('a key that has ended cannot be rotated or revoked', () => {
    const history = [created, issued('k1', 'write'), revoked('k1', at(-1))];
    given(tenantDecider, history)
      .when(revoke('k1'))
      .thenRejects({ kind: 'KeyRevoked', keyId: 'k1', validUntil: at(-1) });
    given(tenantDecider, history).when(rotate('k1', 60)).thenRejects({ kind: 'KeyRevoked', keyId: 'k1' });
  });

  test('revocation ends a key now', () => {
    given(tenantDecider, [created])
      .when(revoke('initial-write'))
      .then([
        TenantKeyRevoked({
          tenantId,
          keyId: 'initial-write',
          revokedAt: now.toISOString(),
          effectiveAt: now.toISOString(),
          reason: 'revoked',
        }),
      ]);
  });

  test('revocation cuts a running rotation overlap short, and nothing lengthens a key once ended', () => {
    const history = [created, issued('k1', 'api', 'initial-api'), revoked('initial-api', at(600), 'rotated')];
    given(tenantDecider, history)
      .when(revoke('initial-api'))
      .then([expect.objectContaining({ type: 'TenantKeyRevoked' })]);
    const ring = keyRingOf([...history, revoked('initial-api', at(0)), revoked('initial-api', at(900))]);
    expect(ring.keys.find((key) => key.keyId === 'initial-api')?.validUntil).toBe(at(0));
  });

  test('the last API key that nothing ends cannot be revoked: the tenant would lock its own servers out', () => {
    given(tenantDecider, [created]).when(revoke('initial-api')).thenRejects({ kind: 'LastApiKey', keyId: 'initial-api' });
    // The only other API key is ending: revoking the open one would leave none after the overlap.
    given(tenantDecider, [created, issued('k1', 'api'), revoked('k1', at(600), 'rotated')])
      .when(revoke('initial-api'))
      .thenRejects({ kind: 'LastApiKey' });
    given(tenantDecider, [created, issued('k1', 'api')])
      .when(revoke('initial-api'))
      .then([expect.objectContaining({ type: 'TenantKeyRevoked' })]);
  });

  test('the last write key can be revoked: a tenant may track from servers only', () => {
    given(tenantDecider, [created])
      .when(revoke('initial-write'))
      .then([expect.objectContaining({ type: 'TenantKeyRevoked' })]);
  });

  test('a key is valid up to, not at, its end', () => {
    const [key] = keyRingOf([created, revoked('initial-write', at(10))]).keys;
    expect(keyValidAt(key!, new Date(at(9.999)))).toBe(true);
    expect(keyValidAt(key!, new Date(at(10)))).toBe(false);
  });

  test('a tenant slug is taken once', () => {
    given(tenantDecider, [created])
      .when({ type: 'CreateTenant', tenantId, slug: 'acme', name: 'Acme', apiKeyHash: 'x', writeKeyHash: 'y', now })
      .thenRejects({ kind: 'SlugTaken', slug: 'acme' });
  });
});
