import { z } from 'zod';

/** Input shapes shared by several capabilities. */
export const emailAddress = z
  .string()
  .trim()
  .max(254, { message: 'must be at most 254 characters' })
  .pipe(z.email({ message: 'must be an e-mail address' }));

const personName = z.string().trim().min(1).max(200);

export const profileChanges = z
  .object({
    givenName: personName.nullable().optional(),
    familyName: personName.nullable().optional(),
    phone: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, { message: 'must be an E.164 phone number such as +441632960961' })
      .nullable()
      .optional(),
    locale: z
      .string()
      .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, { message: 'must be a BCP 47 language tag such as en-GB' })
      .nullable()
      .optional(),
  })
  .strict();

export const consentPurpose = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, {
  message: 'must be 1-64 lowercase letters, digits, dots, dashes or underscores',
});

export const policyVersion = z.string().trim().min(1).max(64);

export const mailedToken = z.string().min(1).max(200);
