import { z } from 'zod';
import { bounded, BOUNDS } from '#platform';
import { DEFAULT_RULE_SOURCES } from './program.events';

/** Names people read (tiers) and event names as trackers send them: single-line, at most an index key long. */
const name = bounded.name(BOUNDS.nameLength);
export const eventName = bounded.name(BOUNDS.identifierLength);
/** Reminders go out at most 30 days ahead: the expiry job looks that far for lots to remind. */
const remindDaysBefore = z.number().int().min(1).max(30).optional();

export const propertyPath = bounded
  .identifier(BOUNDS.identifierLength)
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, { message: 'must be a dot path such as order.total' });

/** What a condition compares with: text as storage holds it, amounts as clients send them. */
const conditionScalar = z.union([bounded.text(500), bounded.amount()]);

export const condition = z
  .object({
    property: propertyPath,
    op: z.enum(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'exists']),
    value: z.union([conditionScalar, z.boolean(), z.null(), z.array(conditionScalar).max(100)]).optional(),
  })
  .strict()
  .refine((c) => c.op === 'exists' || c.value !== undefined, { message: 'needs a value', path: ['value'] })
  .refine((c) => c.op !== 'in' || Array.isArray(c.value), { message: 'must be a list for "in"', path: ['value'] })
  .refine((c) => !['gt', 'gte', 'lt', 'lte'].includes(c.op) || typeof c.value === 'number', {
    message: 'must be a number for a comparison',
    path: ['value'],
  });

const award = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fixed'), points: bounded.points() }).strict(),
  z
    .object({
      kind: z.literal('perAmount'),
      property: propertyPath,
      // A multiplier, not an amount: a million points per unit is already past any sane program.
      pointsPerUnit: z.number().positive().max(1_000_000),
      rounding: z.enum(['down', 'up', 'nearest']),
    })
    .strict(),
]);

export const sources = z
  .array(z.enum(['server', 'client']))
  .min(1)
  .max(2)
  .refine((kinds) => new Set(kinds).size === kinds.length, { message: 'must not repeat a source' })
  // One order whatever the client sent, so that the same program sent again is the same version.
  .transform((kinds) => (['server', 'client'] as const).filter((kind) => kinds.includes(kind)))
  .default([...DEFAULT_RULE_SOURCES]);

export const programBody = z
  .object({
    rules: z
      .array(
        z
          .object({
            id: z
              .string()
              .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { message: 'must be 1-64 lowercase letters, digits, dashes or underscores' }),
            event: eventName,
            conditions: z.array(condition).max(20).default([]),
            award,
            caps: z.object({ perDay: bounded.points().optional(), perMonth: bounded.points().optional() }).strict().optional(),
            sources,
          })
          .strict(),
      )
      .max(200),
    tiers: z
      .object({
        periodMonths: z.number().int().min(1).max(120),
        graceMonths: z.number().int().min(1).max(24).optional(),
        levels: z
          .array(
            z
              .object({
                name,
                threshold: z.number().int().min(0).max(BOUNDS.pointsTotal),
                // A benefit, not a bonus scheme: up to ten times, to the hundredth.
                earningMultiplier: z
                  .number()
                  .min(1)
                  .max(10)
                  .refine((value) => Math.abs(value * 100 - Math.round(value * 100)) < 1e-9, { message: 'must have at most two decimals' })
                  .optional(),
              })
              .strict(),
          )
          .min(1)
          .max(20),
      })
      .strict()
      .nullable()
      .default(null),
    expiry: z
      .union([
        z.object({ monthsAfterEarning: z.number().int().min(1).max(120), remindDaysBefore }).strict(),
        z
          .object({
            endOfPeriod: z.object({ period: z.enum(['month', 'quarter', 'year']), periodsAfter: z.number().int().min(0).max(10) }).strict(),
            remindDaysBefore,
          })
          .strict(),
      ])
      .nullable()
      .default(null),
    limits: z
      .object({
        maxPointsPerEvent: bounded.points().optional(),
        perMemberPerDay: z.number().int().positive().max(BOUNDS.pointsTotal).optional(),
        perMemberPerMonth: z.number().int().positive().max(BOUNDS.pointsTotal).optional(),
      })
      .strict()
      .default({}),
    refunds: z.object({ allowNegativeBalance: z.boolean() }).strict().default({ allowNegativeBalance: false }),
    transfers: z
      .object({
        maxPointsPerTransfer: bounded.points(),
        maxPointsPerDay: z.number().int().positive().max(BOUNDS.pointsTotal).optional(),
        minBalanceAfter: z.number().int().min(0).max(BOUNDS.pointsTotal).default(0),
      })
      .strict()
      .optional(),
    referrals: z
      .object({
        qualifyingEvent: eventName.default('Order Completed'),
        referrerPoints: bounded.points(),
        refereePoints: bounded.points(),
        maxPerReferrer: z.number().int().min(1).max(BOUNDS.quantity),
      })
      .strict()
      .optional(),
  })
  .strict();
