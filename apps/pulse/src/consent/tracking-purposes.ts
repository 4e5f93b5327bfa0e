import { z } from 'zod';
import { accept, defineEvent, type Decider, type EventOf } from '#cqrs';
import { bounded } from '#platform';
import { CONSENT_PURPOSE_PATTERN, MESSAGE_KINDS, type MessageKind, type TrackingMessage } from '#contracts';

/**
 * Which consent purpose a tenant's tracked messages serve. Rules are tried in order; the first
 * that matches gives the purpose, and a message no rule matches serves none (it is tracked
 * whatever the person consented to). `events` lists track event names (`*` for every track),
 * `kinds` message types. `segmentCategories` maps the categories of Segment's consent object
 * (`context.consent.categoryPreferences`, sent by anonymous visitors' consent managers) to
 * purposes; a category not listed maps to the purpose of the same name, case aside.
 * `requireGrant` lists the purposes that need consent given (opt-in, as GDPR asks of marketing):
 * their messages are tracked only for a person who granted the purpose in register, or whose
 * message's own consent object allows it; every other purpose is tracked until withdrawn (opt-out).
 */
export interface TrackingPurposes {
  readonly rules: readonly PurposeRule[];
  readonly segmentCategories: Readonly<Record<string, string>>;
  readonly requireGrant: readonly string[];
}

export interface PurposeRule {
  readonly purpose: string;
  readonly events?: readonly string[];
  readonly kinds?: readonly MessageKind[];
}

export const NO_PURPOSES: TrackingPurposes = { rules: [], segmentCategories: {}, requireGrant: [] };

const purpose = bounded.identifier(64).regex(CONSENT_PURPOSE_PATTERN, {
  message: 'must be a consent purpose: 1-64 lowercase letters, digits, dots, dashes or underscores',
});

export const trackingPurposesBody = z
  .object({
    rules: z
      .array(
        z
          .object({
            purpose,
            events: z.array(bounded.identifier()).min(1).max(500).optional(),
            kinds: z.array(z.enum(MESSAGE_KINDS)).min(1).optional(),
          })
          .strict()
          .refine((rule) => rule.events !== undefined || rule.kinds !== undefined, { message: 'name events, kinds or both' }),
      )
      .max(100),
    segmentCategories: z.record(bounded.identifier(128), purpose).default({}),
    requireGrant: z.array(purpose).max(100).default([]),
  })
  .strict()
  .refine((body) => Object.keys(body.segmentCategories).length <= 100, {
    message: 'map at most 100 categories',
    path: ['segmentCategories'],
  });

/** `requireGrant` came later: a set without it required no grant. */
export const TrackingPurposesSet = defineEvent<{
  rules: PurposeRule[];
  segmentCategories: Record<string, string>;
  requireGrant?: string[];
  at: string;
}>()('TrackingPurposesSet');
export const trackingPurposeEvents = [TrackingPurposesSet];
type PurposesEvent = EventOf<typeof TrackingPurposesSet>;
type SetPurposes = { readonly type: 'SetTrackingPurposes'; readonly purposes: TrackingPurposes; readonly now: Date };

export const trackingPurposesStreamFor = (tenantId: string) => `pulse.tracking-purposes-${tenantId}`;

/** Setting what is already set records nothing. */
export const trackingPurposesDecider: Decider<SetPurposes, PurposesEvent, TrackingPurposes, never> = {
  initialState: () => NO_PURPOSES,
  evolve: (_state, event) => ({
    rules: event.data.rules,
    segmentCategories: event.data.segmentCategories,
    requireGrant: event.data.requireGrant ?? [],
  }),
  decide({ purposes, now }, state) {
    if (JSON.stringify(purposes) === JSON.stringify(state)) return accept();
    return accept(
      TrackingPurposesSet({
        rules: [...purposes.rules],
        segmentCategories: { ...purposes.segmentCategories },
        requireGrant: [...new Set(purposes.requireGrant)],
        at: now.toISOString(),
      }),
    );
  },
};

/** The purpose a message serves under the tenant's rules, or undefined. */
export function purposeOf(message: Pick<TrackingMessage, 'kind' | 'event'>, purposes: TrackingPurposes): string | undefined {
  return purposeFinder(purposes)(message);
}

/**
 * purposeOf with the rules indexed once: a tenant may set 100 rules of 500 event names each, and
 * scanning them for every message of a 2,500-message batch would hold ingest's event loop for
 * everyone. The first matching rule still wins: each index keeps the lowest rule number.
 */
export function purposeFinder(purposes: TrackingPurposes): (message: Pick<TrackingMessage, 'kind' | 'event'>) => string | undefined {
  const byKind = new Map<string, number>();
  const byEvent = new Map<string, number>();
  let anyTrack = Infinity;
  purposes.rules.forEach((rule, index) => {
    for (const kind of rule.kinds ?? []) if (!byKind.has(kind)) byKind.set(kind, index);
    for (const event of rule.events ?? []) {
      if (event === '*') anyTrack = Math.min(anyTrack, index);
      else if (!byEvent.has(event)) byEvent.set(event, index);
    }
  });
  return (message) => {
    let first = byKind.get(message.kind) ?? Infinity;
    if (message.kind === 'track') first = Math.min(first, anyTrack, byEvent.get(message.event ?? '') ?? Infinity);
    return purposes.rules[first]?.purpose;
  };
}

/** Whether the message's own consent object (Segment's) says no to `purpose`. */
export function refusedByItsConsent(message: Pick<TrackingMessage, 'context'>, purpose: string, purposes: TrackingPurposes): boolean {
  return itsConsentSays(message, purpose, purposes, false);
}

/** Whether the message's own consent object (Segment's) says yes to `purpose` (what an opt-in purpose needs of an anonymous visitor). */
export function allowedByItsConsent(message: Pick<TrackingMessage, 'context'>, purpose: string, purposes: TrackingPurposes): boolean {
  return itsConsentSays(message, purpose, purposes, true);
}

function itsConsentSays(message: Pick<TrackingMessage, 'context'>, purpose: string, purposes: TrackingPurposes, answer: boolean): boolean {
  const consent = message.context?.consent;
  const preferences = consent && typeof consent === 'object' && !Array.isArray(consent) ? consent.categoryPreferences : undefined;
  if (!preferences || typeof preferences !== 'object' || Array.isArray(preferences)) return false;
  return Object.entries(preferences).some(
    ([category, allowed]) =>
      allowed === answer &&
      (Object.hasOwn(purposes.segmentCategories, category) ? purposes.segmentCategories[category] : category.toLowerCase()) === purpose,
  );
}
