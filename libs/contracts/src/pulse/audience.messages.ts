import { TRACKING_STREAM_PREFIX, type TrackingSource } from './tracking.events';

/**
 * Entering and leaving an audience is a track message pulse writes into the tenant's own log, so
 * that what follows the log sees it as it sees any tracked call: webhook destinations route it,
 * rewards earns on it (a program rule on event `Audience Entered` with a condition on
 * `properties.audience_key`), profiles show it in their timeline.
 */
export const AUDIENCE_ENTERED = 'Audience Entered';
export const AUDIENCE_EXITED = 'Audience Exited';

/**
 * The source those messages name. It is a server source: what enters a person into an audience is
 * the tenant's own definition evaluated by pulse, not anything a page could send, so rewards trusts
 * it as it trusts the tenant's servers. No key of register's has this id.
 */
export const AUDIENCE_SOURCE: TrackingSource = { kind: 'server', keyId: 'pulse:audiences' };

/** The stream of a tenant's audience messages: a partition of its tracking log of its own. */
export function audienceMessagesStreamFor(tenantId: string): string {
  return `${TRACKING_STREAM_PREFIX}${tenantId}.audiences`;
}
