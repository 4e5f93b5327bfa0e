import { z } from 'zod';
import { bounded, BOUNDS } from '#platform';
import { validityInstant } from '../catalog/catalog.schemas';
import { condition, eventName, sources } from '../program/program.schemas';
import { isTimeZone } from '../shared/calendar';
import { WEEKDAYS } from './campaign.events';

/** Campaign ids name a stream and a lot: the shape of the program's rule ids. */
export const CAMPAIGN_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A multiplier of the program's points: above 1 to add anything, up to 100, to the hundredth. */
const multiplier = z
  .number()
  .min(1)
  .max(100)
  .refine((value) => Number.isInteger(Math.round(value * 100)) && Math.abs(value * 100 - Math.round(value * 100)) < 1e-9, {
    message: 'must have at most two decimals',
  });

const schedule = z
  .object({
    timeZone: z
      .string()
      .max(64)
      .refine((zone) => isTimeZone(zone), { message: 'must be an IANA time zone such as Europe/Paris' })
      .default('UTC'),
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1)
      .max(7)
      .refine((days) => new Set(days).size === days.length, { message: 'must not repeat a day' })
      // One order whatever the client sent, so that the same campaign sent again is the same.
      .transform((days) => WEEKDAYS.filter((day) => days.includes(day)))
      .default([...WEEKDAYS]),
    hours: z
      .object({ from: z.number().int().min(0).max(23), until: z.number().int().min(1).max(24) })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();

const count = z.number().int().positive().max(BOUNDS.quantity);

export const createCampaignBody = z
  .object({
    id: z.string().regex(CAMPAIGN_ID, { message: 'must be 1-64 lowercase letters, digits, dashes or underscores' }),
    name: bounded.name(),
    event: eventName,
    sources,
    conditions: z.array(condition).max(20).default([]),
    award: z
      .object({
        bonus: z.number().int().min(0).max(BOUNDS.points).default(0),
        multiplier: multiplier.nullable().default(null),
        tierMultipliers: z
          .record(bounded.name(BOUNDS.nameLength), multiplier)
          .refine((map) => Object.keys(map).length <= 20, { message: 'must name at most 20 tiers' })
          .default({}),
      })
      .strict(),
    validFrom: validityInstant.optional(),
    validUntil: validityInstant.nullable().default(null),
    schedule: schedule.nullable().default(null),
    limits: z
      .object({
        budget: z.number().int().positive().max(BOUNDS.pointsTotal).nullable().default(null),
        perMemberAwards: count.nullable().default(null),
        perMemberPoints: z.number().int().positive().max(BOUNDS.pointsTotal).nullable().default(null),
        firstOrders: count.nullable().default(null),
      })
      .strict()
      .default({ budget: null, perMemberAwards: null, perMemberPoints: null, firstOrders: null }),
  })
  .strict();

export type CreateCampaignBody = z.infer<typeof createCampaignBody>;
