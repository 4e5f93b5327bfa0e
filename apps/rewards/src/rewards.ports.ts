export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

export interface RewardsSettings {
  readonly expiryIntervalMs: number;
  readonly recoveryAfterMs: number;
  readonly maxProjectionLagMs: number;
  /** Each tenant's share of this replica (see TenantCalls). */
  readonly fairness: { readonly writesPerSecond: number; readonly writeBurst: number; readonly concurrency: number };
}
export const REWARDS_SETTINGS = Symbol('RewardsSettings');

export interface TenantRef {
  readonly tenantId: string;
  readonly slug: string;
}

/**
 * Member ids come from the tenant's own systems (Segment userId) and end up in stream names, where
 * no e-mail address may appear in clear: ids with `@` are refused (and such events earn nothing).
 */
export const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
