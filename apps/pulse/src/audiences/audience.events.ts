import { defineEvent, type EventOf } from '#cqrs';
import type { AudienceRule } from './audience-rule';

/**
 * A computed trait: a value pulse keeps per profile from the profile's own events.
 * - `count`: how many `event`s in the last `windowDays` days;
 * - `sum`: the sum of the numeric `property` of those events (other values count as nothing);
 * - `last`: the value of `property` on the latest `event`;
 * - `firstSeen`: when the profile first did `event` (or anything, without an event).
 * Windows are bounded (a year) so that what is kept per profile is too. `sources: ['server']` makes
 * count, sum and last take only what server sources sent: what a rule that rewards earn on may
 * rely on, since a page can send anything its write key allows.
 */
export type TraitDefinition =
  | { readonly kind: 'count'; readonly event: string; readonly windowDays: number; readonly sources?: readonly SourceKind[] }
  | {
      readonly kind: 'sum';
      readonly event: string;
      readonly property: string;
      readonly windowDays: number;
      readonly sources?: readonly SourceKind[];
    }
  | { readonly kind: 'last'; readonly event: string; readonly property: string; readonly sources?: readonly SourceKind[] }
  | { readonly kind: 'firstSeen'; readonly event?: string };

export type SourceKind = 'client' | 'server';

export interface AudienceDefinition {
  readonly name: string;
  readonly rule: AudienceRule;
}

export const ComputedTraitDefined = defineEvent<{ key: string; definition: TraitDefinition; at: string }>()('ComputedTraitDefined');
export const ComputedTraitRemoved = defineEvent<{ key: string; at: string }>()('ComputedTraitRemoved');
export const AudienceDefined = defineEvent<{ key: string; definition: AudienceDefinition; at: string }>()('AudienceDefined');
export const AudienceRemoved = defineEvent<{ key: string; at: string }>()('AudienceRemoved');

export const audienceEvents = [ComputedTraitDefined, ComputedTraitRemoved, AudienceDefined, AudienceRemoved];
export type AudienceDefinitionEvent =
  | EventOf<typeof ComputedTraitDefined>
  | EventOf<typeof ComputedTraitRemoved>
  | EventOf<typeof AudienceDefined>
  | EventOf<typeof AudienceRemoved>;

export const AUDIENCES_STREAM_PREFIX = 'pulse.audiences-';
/** One stream per tenant holds all its definitions: the limits and the references are checked against one state. */
export const audiencesStreamFor = (tenantId: string) => `${AUDIENCES_STREAM_PREFIX}${tenantId}`;
