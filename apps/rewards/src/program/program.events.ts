import { defineEvent, type EventOf } from '#cqrs';

/** `property` is a dot path into the tracked event's properties, e.g. `order.total`. */
export interface Condition {
  property: string;
  op: 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'exists';
  value?: string | number | boolean | (string | number)[] | null;
}

export type Award =
  { kind: 'fixed'; points: number } | { kind: 'perAmount'; property: string; pointsPerUnit: number; rounding: 'down' | 'up' | 'nearest' };

export interface EarningRule {
  id: string;
  /** The tracked event name (`Order Completed`), or `UserRegistered` for a sign-up in register. */
  event: string;
  conditions: Condition[];
  award: Award;
  /** Most points this rule gives one member per UTC day / month. */
  caps?: { perDay?: number; perMonth?: number };
}

export interface TierLevel {
  name: string;
  /** Points earned over the rolling period that qualify for this tier. */
  threshold: number;
}

export interface ProgramDefinition {
  rules: EarningRule[];
  tiers: { periodMonths: number; levels: TierLevel[] } | null;
  expiry: { monthsAfterEarning: number } | null;
}

/** The whole program, each version complete: a reader never merges versions. */
export const ProgramPublished = defineEvent<ProgramDefinition & { version: number; publishedAt: string }>()('ProgramPublished');

export type ProgramEvent = EventOf<typeof ProgramPublished>;
export const programEvents = [ProgramPublished];
