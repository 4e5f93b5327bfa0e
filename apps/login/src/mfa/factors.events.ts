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
  | EventOf<typeof SecondFactorLocked>;

export const factorEvents = [
  TotpEnrolmentStarted,
  TotpEnrolled,
  RecoveryCodesIssued,
  TotpRemoved,
  SecondFactorsReset,
  SecondFactorVerified,
  SecondFactorFailed,
  SecondFactorLocked,
];

export const factorsStreamFor = (tenantId: string, userId: string) => `login.factors-${tenantId}.${userId}`;
