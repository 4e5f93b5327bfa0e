import { z } from 'zod';
import { MESSAGE_KINDS } from '#contracts';
import { destinationUrlProblem, type AddressPolicy } from '#outbound';
import { BOUNDS, bounded, parseBody } from '#platform';
import type { DestinationSettings, FieldMapping } from './destination.events';

/** Limits of one destination's settings: a tenant's settings are read for every message it tracks. */
export const DESTINATION_LIMITS = {
  eventNames: 100,
  mappings: 50,
  maxBatchMessages: 500,
  maxBatchWaitMs: 60_000,
  pathSegments: 8,
} as const;

/** Fields of a Segment message a mapping may start from: anything else references nothing. */
export const MESSAGE_FIELDS = [
  'type',
  'messageId',
  'userId',
  'anonymousId',
  'previousId',
  'groupId',
  'event',
  'name',
  'category',
  'timestamp',
  'originalTimestamp',
  'sentAt',
  'receivedAt',
  'properties',
  'traits',
  'context',
  'integrations',
] as const;

// Keys that would reach Object.prototype when a mapping writes through them.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** `properties.total`: dot-separated keys, starting from a message field. */
const fieldPath = (role: 'source' | 'target') =>
  bounded.identifier(BOUNDS.nameLength).superRefine((path, context) => {
    const segments = path.split('.');
    if (segments.length > DESTINATION_LIMITS.pathSegments || segments.some((segment) => segment === '')) {
      context.addIssue({ code: 'custom', message: `must be up to ${DESTINATION_LIMITS.pathSegments} non-empty keys separated by dots` });
      return;
    }
    if (segments.some((segment) => FORBIDDEN_SEGMENTS.has(segment))) {
      context.addIssue({ code: 'custom', message: 'must not name __proto__, prototype or constructor' });
      return;
    }
    if (!(MESSAGE_FIELDS as readonly string[]).includes(segments[0]!)) {
      context.addIssue({
        code: 'custom',
        message: `references nothing: a ${role} path starts with a message field (${MESSAGE_FIELDS.join(', ')})`,
      });
    }
  });

const mapping = z.union([
  z
    .object({ rename: z.object({ from: fieldPath('source'), to: fieldPath('target') }).strict() })
    .strict()
    .refine((each) => each.rename.from !== each.rename.to, { message: 'renames a field to itself', path: ['rename', 'to'] }),
  z.object({ drop: fieldPath('source') }).strict(),
]);

const settingsShape = (policy: AddressPolicy) => ({
  name: bounded.name(),
  url: z.string().superRefine((url, context) => {
    const problem = bounded.identifier(BOUNDS.urlLength).safeParse(url).error?.issues[0]?.message ?? destinationUrlProblem(url, policy);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  }),
  enabled: z.boolean(),
  filters: z
    .object({
      types: z.array(z.enum(MESSAGE_KINDS)).min(1).max(MESSAGE_KINDS.length).nullable().default(null),
      events: z.array(bounded.identifier()).min(1).max(DESTINATION_LIMITS.eventNames).nullable().default(null),
    })
    .strict(),
  mappings: z.array(mapping).max(DESTINATION_LIMITS.mappings),
  batching: z
    .object({
      maxMessages: z.number().int().min(1).max(DESTINATION_LIMITS.maxBatchMessages),
      maxWaitMs: z.number().int().min(0).max(DESTINATION_LIMITS.maxBatchWaitMs).default(0),
    })
    .strict(),
  ordered: z.boolean(),
  historical: z.boolean(),
});

const DEFAULTS = {
  enabled: true,
  filters: { types: null, events: null },
  mappings: [] as FieldMapping[],
  batching: { maxMessages: 1, maxWaitMs: 0 },
  ordered: false,
  historical: false,
};

/** A new destination's settings: name and url required, the rest defaulted; 400 naming every bad field. */
export function parseNewDestination(body: unknown, policy: AddressPolicy): DestinationSettings {
  const shape = settingsShape(policy);
  const schema = z
    .object({
      ...shape,
      enabled: shape.enabled.default(DEFAULTS.enabled),
      filters: shape.filters.default(DEFAULTS.filters),
      mappings: shape.mappings.default(DEFAULTS.mappings),
      batching: shape.batching.default(DEFAULTS.batching),
      ordered: shape.ordered.default(DEFAULTS.ordered),
      historical: shape.historical.default(DEFAULTS.historical),
    })
    .strict();
  return parseBody(schema, body) as DestinationSettings;
}

/** The settings a PATCH changes (at least one). */
export function parseDestinationChanges(body: unknown, policy: AddressPolicy): Partial<DestinationSettings> {
  const schema = z
    .object(settingsShape(policy))
    .partial()
    .strict()
    .refine((changes) => Object.keys(changes).length > 0, { message: 'must change at least one setting' });
  return parseBody(schema, body) as Partial<DestinationSettings>;
}

/** A replay's range: `from` required, `to` optional; each an ISO-8601 instant or a log position (`commit/prepare`). */
export function parseReplayRange(body: unknown): { from: string; to?: string } {
  const bound = z.string().regex(/^(?:\d{1,20}\/\d{1,20}|\d{4}-\d{2}-\d{2}T[0-9:.]{2,18}(?:Z|[+-]\d{2}:?\d{2}))$/, {
    message: 'must be an ISO-8601 date-time with a zone, or a log position (commit/prepare)',
  });
  return parseBody(z.object({ from: bound, to: bound.optional() }).strict(), body);
}
