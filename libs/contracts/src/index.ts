export { hashKey } from './keys';
export { LoginSucceeded, signInStreamFor } from './login/sign-in.events';
export {
  LEGACY_CLIENT_SOURCE,
  MESSAGE_KINDS,
  MessageReceived,
  TRACKING_STREAM_PREFIX,
  carriesTraits,
  trackReceived,
  trackingEvents,
  trackingStreamFor,
  trackingSubject,
  type MessageKind,
  type TrackingEvent,
  type TrackingMessage,
  type TrackingSource,
  type TrackingSourceKind,
} from './pulse/tracking.events';
export {
  type AccountEvent,
  CONSENT_PURPOSE_PATTERN,
  ConsentGranted,
  ConsentWithdrawn,
  EmailVerificationRequested,
  EmailVerified,
  PasswordChanged,
  PasswordRehashed,
  PasswordResetRequested,
  type ProfileAttributes,
  type ProfileChanges,
  ProfileUpdated,
  UserErased,
  UserImported,
  UserRegistered,
  UserSessionsRevoked,
  accountEvents,
} from './register/account.events';
export { ARGON2ID_OPTIONS, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, passwordProblemsOf, type PasswordProblem } from './register/passwords';
export {
  ACCOUNT_STREAM_PREFIX,
  TENANT_STREAM_PREFIX,
  accountStreamFor,
  emailReservationStreamFor,
  tenantStreamFor,
} from './register/streams';
export {
  TENANT_KEY_KINDS,
  TenantCreated,
  type TenantEvent,
  TenantKeyIssued,
  type TenantKeyKind,
  TenantKeyRevoked,
  tenantEvents,
} from './register/tenant.events';
export {
  INITIAL_API_KEY_ID,
  INITIAL_WRITE_KEY_ID,
  type TenantKey,
  type TenantKeyRing,
  earliestEnd,
  emptyKeyRing,
  evolveKeyRing,
  keyById,
  keyByHash,
  keyRingOf,
  keyValidAt,
  keysIssuedBy,
} from './register/tenant-key-ring';
