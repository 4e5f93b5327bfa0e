import { BOUNDS } from '#platform';
import type { TrackingSourceKind } from '#contracts';
import type { Award, Condition, EarningRule, ProgramDefinition, TierLevel } from './program.events';

/** A fact a member's points may come from: a tracked event or a sign-up. */
export interface SourceEvent {
  readonly id: string;
  readonly name: string;
  readonly properties: Readonly<Record<string, unknown>>;
  /** Who vouches for it: a server source (or rewards' own sibling, register), or a client anyone can copy. */
  readonly kind: TrackingSourceKind;
}

/** The rules an event earns through: its name, a source the rule trusts, and every condition. */
export function matchingRules(program: ProgramDefinition, source: SourceEvent): EarningRule[] {
  return program.rules.filter(
    (rule) => rule.event === source.name && rule.sources.includes(source.kind) && conditionsHold(rule.conditions, source.properties),
  );
}

/** Every condition holds on the event's properties (none: always); campaigns share the language. */
export function conditionsHold(conditions: readonly Condition[], properties: Readonly<Record<string, unknown>>): boolean {
  return conditions.every((condition) => holds(condition, properties));
}

/**
 * Points an award gives before caps, never more than one award's worth (BOUNDS.points): an order
 * total of 1e300, or one that multiplies past what a double holds, earns that much and no more.
 * 0 when the amount is missing, not a number or not positive.
 */
export function awardPoints(award: Award, properties: Readonly<Record<string, unknown>>): number {
  if (award.kind === 'fixed') return Math.min(award.points, BOUNDS.points);
  const amount = toAmount(valueAt(properties, award.property));
  if (amount === undefined || !(amount > 0)) return 0;
  const product = amount * award.pointsPerUnit;
  // Compared before rounding: toFixed writes anything from 1e21 on in exponent notation.
  if (!(product < BOUNDS.points)) return BOUNDS.points;
  // toFixed first: 19.99 * 100 is 1998.9999999999998 in binary, which "down" must not turn into 1998.
  const exact = Number(product.toFixed(9));
  switch (award.rounding) {
    case 'down':
      return Math.floor(exact);
    case 'up':
      return Math.ceil(exact);
    case 'nearest':
      return Math.round(exact);
  }
}

/** The highest tier the points qualify for; levels are ascending from 0. */
export function qualifyingTier(levels: readonly TierLevel[], points: number): TierLevel | undefined {
  let qualified: TierLevel | undefined;
  for (const level of levels) if (points >= level.threshold) qualified = level;
  return qualified;
}

export function tierRank(levels: readonly TierLevel[], name: string | null): number {
  return name === null ? -1 : levels.findIndex((level) => level.name === name);
}

function holds(condition: Condition, properties: Readonly<Record<string, unknown>>): boolean {
  const actual = valueAt(properties, condition.property);
  const expected = condition.value;
  switch (condition.op) {
    case 'exists':
      return actual !== undefined && actual !== null;
    case 'eq':
      return actual === expected;
    case 'neq':
      return actual !== expected;
    case 'in':
      return Array.isArray(expected) && (expected as unknown[]).includes(actual);
    default: {
      const a = toNumber(actual);
      const b = toNumber(expected);
      if (a === undefined || b === undefined) return false;
      return condition.op === 'gt' ? a > b : condition.op === 'gte' ? a >= b : condition.op === 'lt' ? a < b : a <= b;
    }
  }
}

function valueAt(properties: Readonly<Record<string, unknown>>, path: string): unknown {
  let current: unknown = properties;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** An amount to earn on: a number or numeric text; an infinite one ("1e999") is simply huge, and capped. */
function toAmount(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  return Number.isNaN(number) ? undefined : number;
}

function toNumber(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  return Number.isFinite(number) ? number : undefined;
}
