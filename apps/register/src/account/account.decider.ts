import { accept, reject, type Decider, type Decision } from '#cqrs';
import type { JsonObject } from '#eventstore';
import {
  ConsentGranted,
  ConsentWithdrawn,
  EmailChanged,
  EmailChangeLinkIssued,
  EmailChangeRequested,
  EmailVerificationRequested,
  EmailVerified,
  PasswordChanged,
  PasswordResetRequested,
  ProfileUpdated,
  UserErased,
  UserImported,
  UserRegistered,
  UserSessionsRevoked,
  type AccountEvent,
  type ProfileAttributes,
  type ProfileChanges,
} from '#contracts';
import { evolveAccount, initialAccountState, type AccountRejection, type AccountState, type PendingToken } from './account.state';
import { sameSecretHash } from './tokens';

export type AccountCommand =
  | {
      readonly type: 'RegisterUser';
      readonly userId: string;
      readonly email: string;
      readonly emailIndex: string;
      readonly passwordHash: string;
      readonly profile: ProfileAttributes;
      readonly consents: readonly { purpose: string; policyVersion: string }[];
      readonly verificationTokenHash: string;
      readonly verificationExpiresAt: Date;
      readonly now: Date;
    }
  | ImportUser
  | { readonly type: 'VerifyEmail'; readonly tokenHash: string; readonly now: Date }
  | { readonly type: 'RequestEmailVerification'; readonly tokenHash: string; readonly expiresAt: Date }
  | { readonly type: 'RequestPasswordReset'; readonly tokenHash: string; readonly expiresAt: Date }
  | { readonly type: 'ResetPassword'; readonly tokenHash: string; readonly passwordHash: string; readonly now: Date }
  | { readonly type: 'GrantConsent'; readonly purpose: string; readonly policyVersion: string; readonly now: Date }
  | { readonly type: 'WithdrawConsent'; readonly purpose: string; readonly now: Date }
  | { readonly type: 'UpdateProfile'; readonly changes: ProfileChanges }
  | { readonly type: 'EraseUser'; readonly requestedBy: 'user' | 'tenant'; readonly now: Date }
  | EmailChangeCommand;

/** The three steps of a change of address: asked for, its link mailed, the link opened. */
export type EmailChangeCommand =
  | {
      readonly type: 'RequestEmailChange';
      readonly requestId: string;
      /** Normalised, as every address the account holds. */
      readonly newEmail: string;
      readonly locale: string;
      readonly now: Date;
    }
  | { readonly type: 'IssueEmailChangeLink'; readonly requestId: string; readonly tokenHash: string; readonly expiresAt: Date }
  | {
      readonly type: 'ConfirmEmailChange';
      readonly tokenHash: string;
      /** The new address's blind index, whose reservation the caller holds by now. */
      readonly emailIndex: string;
      readonly now: Date;
    };

/** One line of a bulk import: a person moved in with their old hash (or none), decided like a sign-up. */
export interface ImportUser {
  readonly type: 'ImportUser';
  /** Derived from the tenant and `externalId`, so the same person always lands on the same stream. */
  readonly userId: string;
  readonly externalId: string;
  readonly email: string;
  readonly emailIndex: string;
  readonly emailVerified: boolean;
  readonly legacyPassword: JsonObject | null;
  readonly profile: ProfileAttributes;
  readonly consents: readonly { purpose: string; policyVersion: string }[];
  readonly importDigest: string;
  readonly now: Date;
}

type AccountDecision = Decision<AccountEvent, AccountRejection>;

/** Every rule of one person's account. Commands arrive from the capability folders' handlers. */
export const accountDecider: Decider<AccountCommand, AccountEvent, AccountState, AccountRejection> = {
  initialState: initialAccountState,
  evolve: evolveAccount,
  decide(command, state) {
    if (command.type === 'RegisterUser') return register(command, state);
    if (command.type === 'ImportUser') return importUser(command, state);
    if (state.status !== 'active' || !state.userId) {
      // Erasing twice is the same as erasing once; everything else needs a live account.
      if (command.type === 'EraseUser' && state.status === 'erased') return accept();
      if (command.type === 'RequestPasswordReset' || command.type === 'RequestEmailVerification') return accept();
      // An erased account's pending change is void: no link is mailed for it.
      if (command.type === 'IssueEmailChangeLink') return accept();
      return reject({ kind: 'AccountNotFound' });
    }
    return decideForActive(command, state, state.userId);
  },
};

function decideForActive(
  command: Exclude<AccountCommand, { type: 'RegisterUser' | 'ImportUser' }>,
  state: AccountState,
  userId: string,
): AccountDecision {
  switch (command.type) {
    case 'VerifyEmail': {
      const invalid = checkToken(state.verification, command.tokenHash, command.now);
      if (invalid) return reject(invalid);
      return accept(EmailVerified({ userId, verifiedAt: command.now.toISOString() }));
    }
    case 'RequestEmailVerification':
      // A new link replaces the last one; a verified address needs none (and no mail goes out).
      if (state.emailVerified) return accept();
      return accept(EmailVerificationRequested({ userId, tokenHash: command.tokenHash, expiresAt: command.expiresAt.toISOString() }));
    case 'RequestPasswordReset':
      return accept(PasswordResetRequested({ userId, tokenHash: command.tokenHash, expiresAt: command.expiresAt.toISOString() }));
    case 'ResetPassword': {
      const invalid = resetTokenRejection(state, command.tokenHash, command.now);
      if (invalid) return reject(invalid);
      // The mailed token proves the person reads that mailbox: as good as a verification.
      const verification = state.emailVerified ? [] : [EmailVerified({ userId, verifiedAt: command.now.toISOString() })];
      return accept(
        PasswordChanged({ userId, passwordHash: command.passwordHash, reason: 'reset' }),
        ...verification,
        UserSessionsRevoked({ userId, reason: 'password-reset' }),
      );
    }
    case 'GrantConsent': {
      if (state.consents[command.purpose]?.policyVersion === command.policyVersion) return accept();
      return accept(
        ConsentGranted({ userId, purpose: command.purpose, policyVersion: command.policyVersion, at: command.now.toISOString() }),
      );
    }
    case 'WithdrawConsent':
      if (!state.consents[command.purpose]) return accept();
      return accept(ConsentWithdrawn({ userId, purpose: command.purpose, at: command.now.toISOString() }));
    case 'UpdateProfile': {
      const changes: ProfileChanges = {};
      for (const [field, value] of Object.entries(command.changes) as [
        keyof ProfileChanges & keyof ProfileAttributes,
        string | null | undefined,
      ][]) {
        if (value !== undefined && state.profile[field] !== value) changes[field] = value;
      }
      if (Object.keys(changes).length === 0) return accept();
      return accept(ProfileUpdated({ userId, changes }));
    }
    case 'EraseUser':
      return accept(UserErased({ userId, erasedAt: command.now.toISOString(), requestedBy: command.requestedBy }));
    case 'RequestEmailChange':
    case 'IssueEmailChangeLink':
    case 'ConfirmEmailChange':
      return decideEmailChange(command, state, userId);
  }
}

function decideEmailChange(command: EmailChangeCommand, state: AccountState, userId: string): AccountDecision {
  switch (command.type) {
    case 'RequestEmailChange':
      // Moving to the address one has is nothing to do (and nothing to mail).
      if (command.newEmail === state.email) return accept();
      return accept(
        EmailChangeRequested({
          userId,
          requestId: command.requestId,
          newEmail: command.newEmail,
          locale: command.locale,
          requestedAt: command.now.toISOString(),
        }),
      );
    case 'IssueEmailChangeLink':
      // Only the latest request gets a link, and only one: a replay of the request mails nothing twice.
      if (state.emailChange?.requestId !== command.requestId || state.emailChange.link) return accept();
      return accept(
        EmailChangeLinkIssued({
          userId,
          requestId: command.requestId,
          tokenHash: command.tokenHash,
          expiresAt: command.expiresAt.toISOString(),
        }),
      );
    case 'ConfirmEmailChange': {
      const invalid = emailChangeTokenRejection(state, command.tokenHash, command.now);
      if (invalid || !state.emailChange) return reject(invalid ?? { kind: 'InvalidToken' });
      return accept(
        EmailChanged({
          userId,
          email: state.emailChange.newEmail,
          emailIndex: command.emailIndex,
          previousEmailIndex: state.emailIndex ?? '',
          changedAt: command.now.toISOString(),
        }),
        // Consumers that know only EmailVerified (login's sign-in check) learn the address is proven.
        ...(state.emailVerified ? [] : [EmailVerified({ userId, verifiedAt: command.now.toISOString() })]),
      );
    }
  }
}

/**
 * Why an e-mail change link does not open this account's pending change, or undefined when it
 * does; exported so the handler can check it before it reserves the new address.
 */
export function emailChangeTokenRejection(state: AccountState, tokenHash: string, now: Date): AccountRejection | undefined {
  if (state.status !== 'active') return { kind: 'InvalidToken' };
  return checkToken(state.emailChange?.link, tokenHash, now);
}

function register(command: Extract<AccountCommand, { type: 'RegisterUser' }>, state: AccountState): AccountDecision {
  if (state.status !== 'unregistered') return reject({ kind: 'AlreadyRegistered' });
  const { userId, now } = command;
  return accept(
    UserRegistered({
      userId,
      email: command.email,
      emailIndex: command.emailIndex,
      passwordHash: command.passwordHash,
      profile: command.profile,
    }),
    ...consentsGranted(userId, command.consents, now),
    EmailVerificationRequested({
      userId,
      tokenHash: command.verificationTokenHash,
      expiresAt: command.verificationExpiresAt.toISOString(),
    }),
  );
}

/**
 * An import is idempotent by its external id: the same content again changes nothing, other
 * content is refused (the account may have moved on since, and an import must not overwrite it).
 * No verification mail is asked for: the tenant says whether the address was verified.
 */
function importUser(command: ImportUser, state: AccountState): AccountDecision {
  if (state.status === 'erased') return reject({ kind: 'AccountErased' });
  if (state.status === 'active') return state.importDigest === command.importDigest ? accept() : reject({ kind: 'ImportConflict' });
  const { userId, now } = command;
  return accept(
    UserImported({
      userId,
      externalId: command.externalId,
      email: command.email,
      emailIndex: command.emailIndex,
      emailVerified: command.emailVerified,
      legacyPassword: command.legacyPassword,
      profile: command.profile,
      importDigest: command.importDigest,
    }),
    ...consentsGranted(userId, command.consents, now),
  );
}

function consentsGranted(userId: string, consents: readonly { purpose: string; policyVersion: string }[], now: Date) {
  return consents.map((consent) =>
    ConsentGranted({ userId, purpose: consent.purpose, policyVersion: consent.policyVersion, at: now.toISOString() }),
  );
}

/**
 * Why a reset token does not open this account, or undefined when it does: the rule ResetPassword
 * decides on, exported so the handler can apply it before paying for the new password's argon2id.
 */
export function resetTokenRejection(state: AccountState, tokenHash: string, now: Date): AccountRejection | undefined {
  if (state.status !== 'active') return { kind: 'AccountNotFound' };
  return checkToken(state.reset, tokenHash, now);
}

/** A token is good once: the event that consumes it clears it from the state. */
function checkToken(pending: PendingToken | undefined, tokenHash: string, now: Date): AccountRejection | undefined {
  if (!pending || !sameSecretHash(pending.tokenHash, tokenHash)) return { kind: 'InvalidToken' };
  if (new Date(pending.expiresAt).getTime() <= now.getTime()) return { kind: 'TokenExpired' };
  return undefined;
}
