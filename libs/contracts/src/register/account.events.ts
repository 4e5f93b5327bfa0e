import type { JsonObject } from '#eventstore';
import { defineEvent, type EventOf } from '#cqrs';

/** The person's own attributes; all of it is personal data. */
export interface ProfileAttributes extends JsonObject {
  givenName: string | null;
  familyName: string | null;
  phone: string | null;
  locale: string | null;
}

/** A partial update of the profile: only the fields that change. */
export interface ProfileChanges {
  givenName?: string | null;
  familyName?: string | null;
  phone?: string | null;
  locale?: string | null;
}

const ofUser = (data: JsonObject) => String(data.userId);

/**
 * Events of one account stream. Personal fields are sealed under the person's key, so destroying
 * the key leaves nothing readable about them in the store. The password hash is sealed too:
 * login projects it from here, and an erased person's hash must go with them.
 */
export const UserRegistered = defineEvent<{
  userId: string;
  email: string;
  emailIndex: string;
  passwordHash: string;
  profile: ProfileAttributes;
}>()('UserRegistered', { personalData: { subject: ofUser, fields: ['email', 'passwordHash', 'profile'] } });

export const EmailVerificationRequested = defineEvent<{ userId: string; tokenHash: string; expiresAt: string }>()(
  'EmailVerificationRequested',
);

export const EmailVerified = defineEvent<{ userId: string; verifiedAt: string }>()('EmailVerified');

export const PasswordResetRequested = defineEvent<{ userId: string; tokenHash: string; expiresAt: string }>()('PasswordResetRequested');

export const PasswordChanged = defineEvent<{ userId: string; passwordHash: string; reason: 'reset' | 'change' }>()('PasswordChanged', {
  personalData: { subject: ofUser, fields: ['passwordHash'] },
});

/**
 * A person moved in from another system by the tenant's bulk import (register's `users/import`),
 * instead of signing up. `externalId` is the id the other system gave them, the import's
 * idempotency key; `importDigest` fingerprints what the import said, so the same line sent again
 * is recognised and a different one refused. `legacyPassword` is the other system's hash as
 * #password-hashes reads it (format and parameters), or null: the person must then reset. It is
 * replaced by an argon2id hash on their first sign-in (PasswordRehashed) or by any password change.
 * Everything about the person is sealed, the digest included (it would confirm a guess of them).
 */
export const UserImported = defineEvent<{
  userId: string;
  externalId: string;
  email: string;
  emailIndex: string;
  emailVerified: boolean;
  legacyPassword: JsonObject | null;
  profile: ProfileAttributes;
  importDigest: string;
}>()('UserImported', {
  personalData: { subject: ofUser, fields: ['externalId', 'email', 'legacyPassword', 'profile', 'importDigest'] },
});

/**
 * Login replaced an imported hash by an argon2id hash of the password the person just signed in
 * with. `replaced` names the format that is gone; the password itself did not change.
 */
export const PasswordRehashed = defineEvent<{ userId: string; passwordHash: string; replaced: string }>()('PasswordRehashed', {
  personalData: { subject: ofUser, fields: ['passwordHash'] },
});

/**
 * A signed-in person asked to use another address (login's account page, or register's
 * `POST /me/email`). Nothing changes yet: register mails a link to `newEmail` (EmailChangeLinkIssued)
 * and the current address stays in use until that link is opened. `locale` is the language of the
 * page or call that asked, for the mails. A newer request replaces this one.
 */
export const EmailChangeRequested = defineEvent<{
  userId: string;
  requestId: string;
  newEmail: string;
  locale: string;
  requestedAt: string;
}>()('EmailChangeRequested', { personalData: { subject: ofUser, fields: ['newEmail'] } });

/**
 * Register mailed the confirmation link of request `requestId`. The token is minted by register
 * when it mails (only it can mail, and only a hash is ever stored), hence an event of its own
 * rather than a hash on the request that whoever asked would have to hand over in clear.
 */
export const EmailChangeLinkIssued = defineEvent<{ userId: string; requestId: string; tokenHash: string; expiresAt: string }>()(
  'EmailChangeLinkIssued',
);

/**
 * The link was opened and the new address reserved: from now on the account's address is `email`
 * (verified, since the person proved they read it). `previousEmailIndex` names the reservation
 * released. Read models replace the address; sign-in takes the new one only.
 */
export const EmailChanged = defineEvent<{
  userId: string;
  email: string;
  emailIndex: string;
  previousEmailIndex: string;
  changedAt: string;
}>()('EmailChanged', { personalData: { subject: ofUser, fields: ['email'] } });

/** Tells every holder of a session for this person (login) to end it. */
export const UserSessionsRevoked = defineEvent<{ userId: string; reason: string }>()('UserSessionsRevoked');

/** A consent purpose as register records it (and pulse maps tracked events to): a lowercase token. */
export const CONSENT_PURPOSE_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export const ConsentGranted = defineEvent<{ userId: string; purpose: string; policyVersion: string; at: string }>()('ConsentGranted');

export const ConsentWithdrawn = defineEvent<{ userId: string; purpose: string; at: string }>()('ConsentWithdrawn');

export const ProfileUpdated = defineEvent<{ userId: string; changes: ProfileChanges }>()('ProfileUpdated', {
  personalData: { subject: ofUser, fields: ['changes'] },
});

/** Carries no personal data: it must stay readable after the key it announces is destroyed. */
export const UserErased = defineEvent<{ userId: string; erasedAt: string; requestedBy: 'user' | 'tenant' }>()('UserErased');

export type AccountEvent =
  | EventOf<typeof UserRegistered>
  | EventOf<typeof EmailVerificationRequested>
  | EventOf<typeof EmailVerified>
  | EventOf<typeof PasswordResetRequested>
  | EventOf<typeof PasswordChanged>
  | EventOf<typeof UserSessionsRevoked>
  | EventOf<typeof ConsentGranted>
  | EventOf<typeof ConsentWithdrawn>
  | EventOf<typeof ProfileUpdated>
  | EventOf<typeof UserErased>
  | EventOf<typeof UserImported>
  | EventOf<typeof PasswordRehashed>
  | EventOf<typeof EmailChangeRequested>
  | EventOf<typeof EmailChangeLinkIssued>
  | EventOf<typeof EmailChanged>;

export const accountEvents = [
  UserRegistered,
  EmailVerificationRequested,
  EmailVerified,
  PasswordResetRequested,
  PasswordChanged,
  UserSessionsRevoked,
  ConsentGranted,
  ConsentWithdrawn,
  ProfileUpdated,
  UserErased,
  UserImported,
  PasswordRehashed,
  EmailChangeRequested,
  EmailChangeLinkIssued,
  EmailChanged,
];
