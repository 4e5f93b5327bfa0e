import type { AccountEvent, ProfileAttributes } from '#contracts';

export interface PendingToken {
  readonly tokenHash: string;
  readonly expiresAt: string;
}

/**
 * The latest change of address asked for: only it can be confirmed (a newer request replaces it),
 * and only once register mailed its link (the token's hash is known from EmailChangeLinkIssued).
 */
export interface PendingEmailChange {
  readonly requestId: string;
  readonly newEmail: string;
  readonly locale: string;
  readonly link?: PendingToken;
}

export interface ConsentState {
  readonly policyVersion: string;
  readonly grantedAt: string;
}

/** What every account rule needs to know, folded from the account stream. */
export interface AccountState {
  readonly status: 'unregistered' | 'active' | 'erased';
  readonly userId?: string;
  readonly email?: string;
  /** Names the e-mail reservation stream, which erasure releases. */
  readonly emailIndex?: string;
  readonly emailVerified: boolean;
  readonly verification?: PendingToken;
  readonly reset?: PendingToken;
  readonly emailChange?: PendingEmailChange;
  readonly profile: ProfileAttributes;
  readonly consents: Readonly<Record<string, ConsentState>>;
  /** Set when the account came from a bulk import: the fingerprint of what that import said. */
  readonly importDigest?: string;
}

export const emptyProfile: ProfileAttributes = { givenName: null, familyName: null, phone: null, locale: null };

export function initialAccountState(): AccountState {
  return { status: 'unregistered', emailVerified: false, profile: emptyProfile, consents: {} };
}

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  switch (event.type) {
    case 'UserRegistered':
      return activated(state, event.data);
    case 'UserImported':
      return {
        ...activated(state, event.data),
        emailVerified: event.data.emailVerified,
        importDigest: event.data.importDigest ?? undefined,
      };
    case 'EmailVerificationRequested':
      return { ...state, verification: { tokenHash: event.data.tokenHash, expiresAt: event.data.expiresAt } };
    case 'EmailVerified':
      return { ...state, emailVerified: true, verification: undefined };
    case 'PasswordResetRequested':
      return { ...state, reset: { tokenHash: event.data.tokenHash, expiresAt: event.data.expiresAt } };
    case 'PasswordChanged':
      return { ...state, reset: undefined };
    case 'ConsentGranted':
      return {
        ...state,
        consents: { ...state.consents, [event.data.purpose]: { policyVersion: event.data.policyVersion, grantedAt: event.data.at } },
      };
    case 'ConsentWithdrawn': {
      const { [event.data.purpose]: _withdrawn, ...rest } = state.consents;
      return { ...state, consents: rest };
    }
    case 'ProfileUpdated':
      return { ...state, profile: { ...state.profile, ...(event.data.changes ?? {}) } };
    case 'UserErased':
      return { ...initialAccountState(), status: 'erased', userId: state.userId, emailIndex: state.emailIndex };
    case 'EmailChangeRequested':
      return {
        ...state,
        emailChange: { requestId: event.data.requestId, newEmail: event.data.newEmail ?? '', locale: event.data.locale },
      };
    case 'EmailChangeLinkIssued':
      if (state.emailChange?.requestId !== event.data.requestId) return state;
      return {
        ...state,
        emailChange: { ...state.emailChange, link: { tokenHash: event.data.tokenHash, expiresAt: event.data.expiresAt } },
      };
    case 'EmailChanged':
      // The new address is proven read; a verification link of the old one must not verify it.
      return {
        ...state,
        email: event.data.email ?? undefined,
        emailIndex: event.data.emailIndex,
        emailVerified: true,
        verification: undefined,
        emailChange: undefined,
      };
    case 'UserSessionsRevoked':
    case 'PasswordRehashed':
      return state;
  }
}

/** An account's first event, signed up or imported. Personal fields read back null once the person is erased. */
function activated(
  state: AccountState,
  data: { userId: string; email: string; emailIndex: string; profile: ProfileAttributes },
): AccountState {
  return {
    ...state,
    status: 'active',
    userId: data.userId,
    email: data.email ?? undefined,
    emailIndex: data.emailIndex,
    profile: data.profile ?? emptyProfile,
  };
}

export type AccountRejection =
  | { readonly kind: 'AccountNotFound' }
  | { readonly kind: 'AlreadyRegistered' }
  | { readonly kind: 'InvalidToken' }
  | { readonly kind: 'TokenExpired' }
  /** The address an e-mail change would move to is another account's (found when its link is opened). */
  | { readonly kind: 'EmailTaken' }
  /** An import line with an external id already imported with other content (like an idempotency key reused). */
  | { readonly kind: 'ImportConflict' }
  /** An import line naming a person who was erased: erasure is not undone by importing them again. */
  | { readonly kind: 'AccountErased' };
