import { z } from 'zod';

const points = z.number().int().positive().max(1_000_000_000);
const name = z.string().trim().min(1).max(100);

const propertyPath = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, { message: 'must be a dot path such as order.total' });

const condition = z
  .object({
    property: propertyPath,
    op: z.enum(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'exists']),
    value: z
      .union([z.string().max(500), z.number(), z.boolean(), z.null(), z.array(z.union([z.string().max(500), z.number()])).max(100)])
      .optional(),
  })
  .strict()
  .refine((c) => c.op === 'exists' || c.value !== undefined, { message: 'needs a value', path: ['value'] })
  .refine((c) => c.op !== 'in' || Array.isArray(c.value), { message: 'must be a list for "in"', path: ['value'] })
  .refine((c) => !['gt', 'gte', 'lt', 'lte'].includes(c.op) || typeof c.value === 'number', {
    message: 'must be a number for a comparison',
    path: ['value'],
  });

const award = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fixed'), points }).strict(),
  z
    .object({
      kind: z.literal('perAmount'),
      property: propertyPath,
      pointsPerUnit: z.number().positive().max(1_000_000),
      rounding: z.enum(['down', 'up', 'nearest']),
    })
    .strict(),
]);

export const programBody = z
  .object({
    rules: z
      .array(
        z
          .object({
            id: z
              .string()
              .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { message: 'must be 1-64 lowercase letters, digits, dashes or underscores' }),
            event: name,
            conditions: z.array(condition).max(20).default([]),
            award,
            caps: z.object({ perDay: points.optional(), perMonth: points.optional() }).strict().optional(),
          })
          .strict(),
      )
      .max(200),
    tiers: z
      .object({
        periodMonths: z.number().int().min(1).max(120),
        levels: z
          .array(z.object({ name, threshold: z.number().int().min(0) }).strict())
          .min(1)
          .max(20),
      })
      .strict()
      .nullable()
      .default(null),
    expiry: z
      .object({ monthsAfterEarning: z.number().int().min(1).max(120) })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();
