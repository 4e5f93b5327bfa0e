import type { JsonObject } from '#eventstore';
import { defineEvent, type EventOf } from '#cqrs';
import type { TrackingSourceKind } from '#contracts';

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
  /**
   * Which of the tenant's sources may earn through this rule. A client source's write key ships in
   * web pages, so anyone can send what it sends: only `server` by default, and a tenant lists
   * `client` for a rule only when the event is worth nothing to a forger. Register's sign-ups are
   * our own service's word and count as `server`.
   */
  sources: TrackingSourceKind[];
}

export interface TierLevel {
  name: string;
  /** Points earned over the rolling period that qualify for this tier. */
  threshold: number;
  /** A benefit of the tier: what the program's rules earn its members is multiplied by it (absent: 1). */
  earningMultiplier?: number;
}

/** What one member may earn, all rules together; each unset limit is BOUNDS' own. */
export interface ProgramLimits {
  /** Most points one source event earns, every matching rule included. */
  maxPointsPerEvent?: number;
  /** Most points one member earns per UTC day / month, every rule included. */
  perMemberPerDay?: number;
  perMemberPerMonth?: number;
}

/** What a refund or return may do to a wallet. */
export interface RefundPolicy {
  /**
   * Whether points taken back beyond the balance are owed (the balance goes negative, and later
   * points pay it first) or only recorded as a shortfall (the balance stops at what it holds).
   */
  allowNegativeBalance: boolean;
}

export const DEFAULT_REFUND_POLICY: RefundPolicy = { allowNegativeBalance: false };

/** Whether and how far members may give points to each other (see wallet/transfer.ts). */
export interface TransferPolicy {
  /** Most points one transfer moves. */
  maxPointsPerTransfer: number;
  /** Most points a member sends per UTC day, every transfer together; none: no daily limit. */
  maxPointsPerDay?: number;
  /** Points the sender keeps at least after a transfer. */
  minBalanceAfter: number;
}

/** What a referral is worth (see referral/referral.decider.ts). */
export interface ReferralPolicy {
  /** The referee's event that qualifies (from a server source, carrying `properties.referral_code`). */
  qualifyingEvent: string;
  referrerPoints: number;
  refereePoints: number;
  /** Referees one referrer is rewarded for at most. */
  maxPerReferrer: number;
}

/**
 * When earned points expire: a number of months after they were earned, or at the end of a
 * calendar period (UTC): `{period: 'year', periodsAfter: 0}` is the 31 December of the year they
 * were earned in, `periodsAfter: 1` the one after. Either may send `points.expiring_soon`
 * reminders `remindDaysBefore` days ahead (see expiry/expiring.ts).
 */
export type ExpiryPolicy = (
  { monthsAfterEarning: number } | { endOfPeriod: { period: 'month' | 'quarter' | 'year'; periodsAfter: number } }
) & { remindDaysBefore?: number };

export interface ProgramDefinition {
  rules: EarningRule[];
  /** `graceMonths`: a member a review finds below their tier keeps it that much longer, once (absent: none). */
  tiers: { periodMonths: number; levels: TierLevel[]; graceMonths?: number } | null;
  expiry: ExpiryPolicy | null;
  limits: ProgramLimits;
  refunds: RefundPolicy;
  /** Absent (every program published before, and any that leaves it out): members cannot transfer points. */
  transfers?: TransferPolicy;
  /** Absent: referrals earn nothing. */
  referrals?: ReferralPolicy;
}

/** Only what a trusted source sends earns, unless a rule says otherwise. */
export const DEFAULT_RULE_SOURCES: readonly TrackingSourceKind[] = ['server'];

/**
 * A program as a caller may write it: rules without `sources` earn from server sources, no `limits`
 * is none, no `refunds` keeps balances from going negative.
 */
export type ProgramInput = Omit<ProgramDefinition, 'rules' | 'limits' | 'refunds'> & {
  rules: (Omit<EarningRule, 'sources'> & { sources?: TrackingSourceKind[] })[];
  limits?: ProgramLimits;
  refunds?: RefundPolicy;
};

/** The program with its defaults spelt out, as it is published (and compared with the one in force). */
export function completeProgram(input: ProgramInput): ProgramDefinition {
  return {
    ...input,
    rules: input.rules.map((rule) => ({ ...rule, sources: rule.sources ?? [...DEFAULT_RULE_SOURCES] })),
    limits: input.limits ?? {},
    refunds: input.refunds ?? { ...DEFAULT_REFUND_POLICY },
  };
}

/**
 * The whole program, each version complete: a reader never merges versions. Version 2 names the
 * sources each rule earns from and the program's limits; a version 1 program was published before
 * sources were told apart, and reads as earning from server sources only, without limits of its own
 * (its tenant publishes again to let client sources earn). Version 3 adds the refund policy; a
 * program published before it keeps balances from going negative, the default.
 */
export const ProgramPublished = defineEvent<ProgramDefinition & { version: number; publishedAt: string }>()('ProgramPublished', {
  version: 3,
  upcasters: {
    1: (data) => ({
      ...data,
      rules: (Array.isArray(data.rules) ? data.rules : []).map((rule) => ({ ...(rule as JsonObject), sources: [...DEFAULT_RULE_SOURCES] })),
      limits: {},
    }),
    2: (data) => ({ ...data, refunds: { ...DEFAULT_REFUND_POLICY } }),
  },
});

export type ProgramEvent = EventOf<typeof ProgramPublished>;
export const programEvents = [ProgramPublished];
