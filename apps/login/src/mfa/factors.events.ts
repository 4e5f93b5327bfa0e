import { defineEvent, type EventOf } from '#cqrs';
import type { JsonObject } from '#eventstore';

const ofUser = (data: JsonObject) => String(data.userId);

/**
 * A person's second factors, on a stream of login's own. The TOTP secret is sealed under the
 * person's key (erasure shreds it); recovery codes are kept as SHA-256 hashes (they are random
 * and long, so a fast hash is enough) and never shown again after they were issued.
 */
export const TotpEnrolmentStarted = defineEvent<{ userId: string; secret: string; at: string }>()('TotpEnrolmentStarted', {
  personalData: { subject: ofUser, fields: ['secret'] },
});
export const TotpEnrolled = defineEvent<{ userId: string; at: string }>()('TotpEnrolled');
export const RecoveryCodesIssued = defineEvent<{ userId: string; codeHashes: string[]; at: string }>()('RecoveryCodesIssued');
export const TotpRemoved = defineEvent<{ userId: string; at: string }>()('TotpRemoved');
/** Every factor removed by an operator for a person who lost them all (the audited way back in). */
export const SecondFactorsReset = defineEvent<{ userId: string; by: 'admin'; at: string }>()('SecondFactorsReset');
/** `step` is the TOTP time step used (a code works once); `codeHash` the recovery code spent. */
export const SecondFactorVerified = defineEvent<{
  userId: string;
  method: 'totp' | 'recovery-code';
  step?: number;
  codeHash?: string;
  at: string;
}>()('SecondFactorVerified');
export const SecondFactorFailed = defineEvent<{ userId: string; at: string }>()('SecondFactorFailed');
/**
 * A passkey (WebAuthn credential) the person registered from their account page. The public key
 * and credential id are not secrets (they only verify signatures); the name is what the person
 * typed, so it is sealed like the TOTP secret. `counter` is the authenticator's signature count
 * at registration (0 for the many that keep none).
 */
export const PasskeyRegistered = defineEvent<{
  userId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  backedUp: boolean;
  name: string;
  at: string;
}>()('PasskeyRegistered', { personalData: { subject: ofUser, fields: ['name'] } });
/** The sign-in challenge an assertion answered (see SignInChallenges): its id, and until when it could answer. */
export interface AnsweredChallenge {
  readonly id: string;
  readonly until: string;
}

/** A passkey signed a sign-in: its new signature count and whether it is now backed up (synced). */
export const PasskeyUsed = defineEvent<{
  userId: string;
  credentialId: string;
  counter: number;
  backedUp: boolean;
  /** Absent before sign-in challenges were sealed (their stored challenges were taken on reading). */
  challenge?: AnsweredChallenge;
  at: string;
}>()('PasskeyUsed');
/**
 * A sign-in with a registered passkey, refused: its signature did not verify under the stored key,
 * or it did but its count did not move forward (a cloned authenticator).
 */
export const PasskeyRefused = defineEvent<{
  userId: string;
  credentialId: string;
  reason: 'counter-regressed' | 'signature-invalid';
  counter: number;
  challenge?: AnsweredChallenge;
  at: string;
}>()('PasskeyRefused');
export const PasskeyRemoved = defineEvent<{ userId: string; credentialId: string; at: string }>()('PasskeyRemoved');
export const SecondFactorLocked = defineEvent<{ userId: string; failures: number; lockedUntil: string; at: string }>()(
  'SecondFactorLocked',
);

export type FactorEvent =
  | EventOf<typeof TotpEnrolmentStarted>
  | EventOf<typeof TotpEnrolled>
  | EventOf<typeof RecoveryCodesIssued>
  | EventOf<typeof TotpRemoved>
  | EventOf<typeof SecondFactorsReset>
  | EventOf<typeof SecondFactorVerified>
  | EventOf<typeof SecondFactorFailed>
  | EventOf<typeof SecondFactorLocked>
  | EventOf<typeof PasskeyRegistered>
  | EventOf<typeof PasskeyUsed>
  | EventOf<typeof PasskeyRefused>
  | EventOf<typeof PasskeyRemoved>;

export const factorEvents = [
  TotpEnrolmentStarted,
  TotpEnrolled,
  RecoveryCodesIssued,
  TotpRemoved,
  SecondFactorsReset,
  SecondFactorVerified,
  SecondFactorFailed,
  SecondFactorLocked,
  PasskeyRegistered,
  PasskeyUsed,
  PasskeyRefused,
  PasskeyRemoved,
];

export const factorsStreamFor = (tenantId: string, userId: string) => `login.factors-${tenantId}.${userId}`;
