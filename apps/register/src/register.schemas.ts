import { z } from 'zod';
import { bounded } from '#platform';
import { CONSENT_PURPOSE_PATTERN } from '#contracts';

/**
 * Input shapes shared by several capabilities, in the platform's bounds vocabulary: every string
 * that reaches an event or a read model is refused at the door if storage cannot hold it (a NUL,
 * an unpaired surrogate, a control character in a single-line value, a length past its column).
 */
export const emailAddress = z
  .string()
  .trim()
  .pipe(bounded.identifier(254))
  .pipe(z.email({ message: 'must be an e-mail address' }));

const personName = bounded.name();

export const profileChanges = z
  .object({
    givenName: personName.nullable().optional(),
    familyName: personName.nullable().optional(),
    phone: bounded
      .identifier(16)
      .regex(/^\+[1-9]\d{6,14}$/, { message: 'must be an E.164 phone number such as +441632960961' })
      .nullable()
      .optional(),
    locale: bounded
      .identifier(35)
      .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, { message: 'must be a BCP 47 language tag such as en-GB' })
      .nullable()
      .optional(),
  })
  .strict();

export const consentPurpose = bounded.identifier(64).regex(CONSENT_PURPOSE_PATTERN, {
  message: 'must be 1-64 lowercase letters, digits, dots, dashes or underscores',
});

export const policyVersion = bounded.name(64);

/** The consents a person gives at sign-up (or brought along by an import): each purpose once. */
export const consentList = z
  .array(z.object({ purpose: consentPurpose, policyVersion }).strict())
  .max(32)
  .refine((list) => new Set(list.map((c) => c.purpose)).size === list.length, { message: 'each purpose may appear once' });

/** A mailed token is `<uuid>.<43 base64url characters>`; anything far longer is not one. */
export const mailedToken = bounded.identifier(200).min(1);
