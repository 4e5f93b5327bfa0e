import { given } from '#cqrs/testing';
import { EmailChanged, EmailChangeLinkIssued, EmailChangeRequested, EmailVerified, UserErased, UserRegistered } from '#contracts';
import { accountDecider, type AccountCommand } from './account.decider';

const userId = '0193c2a0-0000-7000-8000-000000000002';
const now = new Date('2026-11-23T10:00:00.000Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const profile = { givenName: null, familyName: null, phone: null, locale: null };
const registered = UserRegistered({ userId, email: 'ada@example.com', emailIndex: 'old-idx', passwordHash: 'h1', profile });
const verified = EmailVerified({ userId, verifiedAt: now.toISOString() });
const requested = (requestId: string, newEmail = 'ada@new.example') =>
  EmailChangeRequested({ userId, requestId, newEmail, locale: 'fr', requestedAt: now.toISOString() });
const linkIssued = (requestId: string, tokenHash: string) =>
  EmailChangeLinkIssued({ userId, requestId, tokenHash, expiresAt: later(60_000).toISOString() });
const request = (requestId: string, newEmail = 'ada@new.example'): AccountCommand => ({
  type: 'RequestEmailChange',
  requestId,
  newEmail,
  locale: 'fr',
  now,
});
const confirm = (tokenHash: string, at = now): AccountCommand => ({
  type: 'ConfirmEmailChange',
  tokenHash,
  emailIndex: 'new-idx',
  now: at,
});
const changed = EmailChanged({
  userId,
  email: 'ada@new.example',
  emailIndex: 'new-idx',
  previousEmailIndex: 'old-idx',
  changedAt: now.toISOString(),
});

describe('changing the e-mail address of an account', () => {
  test('a live account records the request; nothing changes until its link is opened', () => {
    given(accountDecider, [registered, verified])
      .when(request('r1'))
      .then([requested('r1')]);
  });

  test('asking for the address one has already is nothing to do', () => {
    given(accountDecider, [registered]).when(request('r1', 'ada@example.com')).then([]);
  });

  test('an erased account takes no request, and its pending change gets no link', () => {
    const erased = UserErased({ userId, erasedAt: now.toISOString(), requestedBy: 'user' });
    given(accountDecider, [registered, erased]).when(request('r1')).thenRejects({ kind: 'AccountNotFound' });
    given(accountDecider, [registered, requested('r1'), erased])
      .when({ type: 'IssueEmailChangeLink', requestId: 'r1', tokenHash: 't1', expiresAt: later(60_000) })
      .then([]);
  });

  test('the latest request gets its link, once; an older request gets none', () => {
    const issue = (requestId: string): AccountCommand => ({
      type: 'IssueEmailChangeLink',
      requestId,
      tokenHash: 't',
      expiresAt: later(60_000),
    });
    given(accountDecider, [registered, requested('r1')])
      .when(issue('r1'))
      .then([linkIssued('r1', 't')]);
    given(accountDecider, [registered, requested('r1'), linkIssued('r1', 't')])
      .when(issue('r1'))
      .then([]);
    given(accountDecider, [registered, requested('r1'), requested('r2')])
      .when(issue('r1'))
      .then([]);
  });

  test('the mailed link moves the account to the new address, verified', () => {
    given(accountDecider, [registered, verified, requested('r1'), linkIssued('r1', 't1')])
      .when(confirm('t1'))
      .then([changed]);
    // An account not yet verified becomes so: the new address is proven read.
    given(accountDecider, [registered, requested('r1'), linkIssued('r1', 't1')])
      .when(confirm('t1'))
      .then([changed, EmailVerified({ userId, verifiedAt: now.toISOString() })]);
  });

  test('a link works once', () => {
    given(accountDecider, [registered, verified, requested('r1'), linkIssued('r1', 't1'), changed])
      .when(confirm('t1'))
      .thenRejects({ kind: 'InvalidToken' });
  });

  test('a newer request voids the link of the older one', () => {
    given(accountDecider, [registered, verified, requested('r1'), linkIssued('r1', 't1'), requested('r2', 'ada@other.example')])
      .when(confirm('t1'))
      .thenRejects({ kind: 'InvalidToken' });
  });

  test('a wrong token opens nothing, an expired one says it expired', () => {
    const history = [registered, verified, requested('r1'), linkIssued('r1', 't1')];
    given(accountDecider, history).when(confirm('t2')).thenRejects({ kind: 'InvalidToken' });
    given(accountDecider, history)
      .when(confirm('t1', later(60_000)))
      .thenRejects({ kind: 'TokenExpired' });
  });

  test('an erasure voids the pending change', () => {
    const erased = UserErased({ userId, erasedAt: now.toISOString(), requestedBy: 'tenant' });
    given(accountDecider, [registered, requested('r1'), linkIssued('r1', 't1'), erased])
      .when(confirm('t1'))
      .thenRejects({ kind: 'AccountNotFound' });
  });
});
