import { defineEvent, type EventOf } from '#cqrs';
import { LoginSucceeded, signInStreamFor } from '#contracts';

export { LoginSucceeded, signInStreamFor };

/**
 * Login's own sign-in events. LoginSucceeded, which pulse consumes, is a published contract
 * (libs/contracts); the rest stay login's. Attempts are keyed by the blind index of the e-mail
 * (`accountKey`), so unknown addresses are throttled too and no address is in clear.
 */
export const LoginFailed = defineEvent<{
  accountKey: string;
  reason: 'invalid_credentials' | 'locked' | 'throttled' | 'email_unverified';
  clientId: string;
  at: string;
}>()('LoginFailed');
export const AccountLocked = defineEvent<{ accountKey: string; failures: number; lockedUntil: string; at: string }>()('AccountLocked');
export const SessionStarted = defineEvent<{ userId: string; sessionUid: string; clientId: string; at: string }>()('SessionStarted');
/**
 * `logout`: the browser signed out (oidc-provider's end_session); `ended-by-person`: the person ended it
 * from another browser (the sessions page), or it ended when they changed their password elsewhere
 * (`password-changed`). `sessionUid` names the session where it is known.
 */
export const SessionEnded = defineEvent<{
  userId: string;
  reason: 'logout' | 'ended-by-person' | 'password-changed';
  sessionUid?: string;
  at: string;
}>()('SessionEnded');
export const TokensRevoked = defineEvent<{
  grantId: string;
  reason: 'revocation' | 'refresh_token_reuse' | 'code_replay' | 'grant_revoked';
  at: string;
}>()('TokensRevoked');

export type SignInEvent =
  | EventOf<typeof LoginSucceeded>
  | EventOf<typeof LoginFailed>
  | EventOf<typeof AccountLocked>
  | EventOf<typeof SessionStarted>
  | EventOf<typeof SessionEnded>
  | EventOf<typeof TokensRevoked>;

export const signInEvents = [LoginSucceeded, LoginFailed, AccountLocked, SessionStarted, SessionEnded, TokensRevoked];

export const sessionStreamFor = (tenantId: string, userId: string) => `login.session-${tenantId}.${userId}`;
export const grantStreamFor = (tenantId: string, grantId: string) => `login.grant-${tenantId}.${grantId}`;
