import { z } from 'zod';
import { accept, defineEvent, reject, type Decider, type EventOf } from '#cqrs';

/**
 * How long a tenant keeps its tracked events. `trackedEventsDays: null` keeps them for ever (the
 * default). Past the period, a message is removed from the event log and from its profile's
 * event list; profiles keep what they counted (totals, per-event counts, first and last seen) and
 * their traits.
 */
export interface RetentionPolicy {
  readonly trackedEventsDays: number | null;
}

export const KEEP_FOREVER: RetentionPolicy = { trackedEventsDays: null };

/** Ten years: beyond that a period is a mistake, not a policy. */
export const MAX_RETENTION_DAYS = 3650;

export const retentionBody = z
  .object({
    trackedEventsDays: z
      .number({ message: 'must be a number of days, or null to keep events for ever' })
      .int({ message: 'must be a whole number of days' })
      .min(1, { message: 'must be at least 1 day' })
      .max(MAX_RETENTION_DAYS, { message: `must be at most ${MAX_RETENTION_DAYS} days` })
      .nullable(),
  })
  .strict();

export const RetentionSet = defineEvent<{ trackedEventsDays: number | null; at: string }>()('RetentionSet');
export const retentionEvents = [RetentionSet];
type RetentionEvent = EventOf<typeof RetentionSet>;
type SetRetention = { readonly type: 'SetRetention'; readonly policy: RetentionPolicy; readonly now: Date };
type RetentionRejection = { readonly kind: 'InvalidPeriod' };

export const retentionStreamFor = (tenantId: string) => `pulse.retention-${tenantId}`;

/** Setting the period in force records nothing; a period outside 1 day to 10 years is refused. */
export const retentionDecider: Decider<SetRetention, RetentionEvent, RetentionPolicy, RetentionRejection> = {
  initialState: () => KEEP_FOREVER,
  evolve: (_state, event) => ({ trackedEventsDays: event.data.trackedEventsDays }),
  decide({ policy, now }, state) {
    const days = policy.trackedEventsDays;
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > MAX_RETENTION_DAYS)) return reject({ kind: 'InvalidPeriod' });
    if (days === state.trackedEventsDays) return accept();
    return accept(RetentionSet({ trackedEventsDays: days, at: now.toISOString() }));
  },
};

/** The instant before which a tenant's tracked events go, at `now`; undefined while kept for ever. */
export function retentionCutoff(policy: RetentionPolicy, now: Date): Date | undefined {
  if (policy.trackedEventsDays === null) return undefined;
  return new Date(now.getTime() - policy.trackedEventsDays * 86_400_000);
}
