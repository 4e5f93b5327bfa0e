import { z } from 'zod';
import { bounded, BOUNDS, EARLIEST_INSTANT, parseIsoInstant } from '#platform';
import { MAX_IMPORT, VOUCHER_CODE } from './catalog.rules';

/**
 * The last instant a validity window may name. Validity is compared as ISO-8601 text, which orders
 * as time only while the year has four digits (`+010000-…` sorts before `2026-…`).
 */
const LATEST_VALIDITY = new Date('9999-12-31T23:59:59.999Z');

/** A validity bound: an ISO-8601 instant from 1970 to the end of year 9999, in UTC. */
export const validityInstant = z.string().transform((value, context) => {
  const parsed = parseIsoInstant(value);
  const problem = !parsed
    ? 'must be an ISO-8601 date-time'
    : parsed < EARLIEST_INSTANT
      ? 'must not be before 1970'
      : parsed > LATEST_VALIDITY
        ? 'must not be after 9999-12-31T23:59:59.999Z'
        : undefined;
  if (problem || !parsed) {
    context.addIssue({ code: 'custom', message: problem ?? 'must be an ISO-8601 date-time' });
    return z.NEVER;
  }
  return parsed.toISOString();
});

const category = bounded.name(BOUNDS.nameLength).nullable();
/** Tier names as the program names them; a reward reserved for none would be for nobody. */
const tiers = z.array(bounded.name(BOUNDS.nameLength)).min(1).max(20).nullable();
const code = z.string().regex(VOUCHER_CODE, { message: 'must be 1-64 visible ASCII characters' });
const codes = z.array(code).min(1).max(MAX_IMPORT);

const voucher = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('generated'),
      // Printed before the random part: what a shop's till or a support agent recognises.
      prefix: z
        .string()
        .regex(/^[A-Z0-9-]{0,16}$/, { message: 'must be up to 16 capital letters, digits or dashes' })
        .default(''),
      // 31 symbols: 6 of them are about 10^9 codes, 32 about 10^47.
      length: z.number().int().min(6).max(32).default(10),
    })
    .strict(),
  z.object({ kind: z.literal('imported'), codes: codes.optional() }).strict(),
]);

export const createRewardBody = z
  .object({
    name: bounded.name(),
    cost: bounded.points(),
    stock: bounded.quantity(),
    perMemberLimit: bounded.quantity().min(1).nullable().default(null),
    validFrom: validityInstant.optional(),
    validUntil: validityInstant.nullable().default(null),
    category: category.default(null),
    tiers: tiers.default(null),
    voucher: voucher.nullable().default(null),
  })
  .strict();

/** Every field optional, at least one sent; stock only grows through restocks, and the voucher policy is fixed. */
export const updateRewardBody = z
  .object({
    name: bounded.name().optional(),
    cost: bounded.points().optional(),
    perMemberLimit: bounded.quantity().min(1).nullable().optional(),
    validFrom: validityInstant.optional(),
    validUntil: validityInstant.nullable().optional(),
    category: category.optional(),
    tiers: tiers.optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, { message: 'must change at least one field' });

export const restockBody = z.object({ units: bounded.quantity().min(1) }).strict();

export const importCodesBody = z.object({ codes }).strict();
