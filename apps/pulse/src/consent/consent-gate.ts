import type { Pool } from 'pg';
import type { Counter } from 'prom-client';
import type { CommandRunner } from '#cqrs';
import { ExpiringLruCache, type MetricsRegistry } from '#platform';
import type { TrackingMessage } from '#contracts';
import {
  allowedByItsConsent,
  purposeFinder,
  refusedByItsConsent,
  trackingPurposesDecider,
  trackingPurposesStreamFor,
  type TrackingPurposes,
} from './tracking-purposes';

/**
 * How long an ingest process keeps what it read of a tenant's purposes and a person's
 * withdrawals. A withdrawal stops tracking for its purpose within this plus the consents
 * projection's lag; a change of the tenant's rules applies at once on the process that made it.
 */
export const CONSENT_CACHE_MS = 2_000;

/** What one person said in register: the purposes they withdrew and those they granted. */
interface PersonsConsents {
  readonly withdrawn: readonly string[];
  readonly granted: readonly string[];
}

const NOTHING_SAID: PersonsConsents = { withdrawn: [], granted: [] };

/**
 * Consent at ingest: a message serving a purpose that its sender withdrew (a known person, by
 * userId, through register) or that its own consent object refuses (Segment's, for anonymous
 * visitors) is acknowledged and dropped, counted but never stored, so no projection, destination
 * or audience ever sees it. A purpose the tenant marks as needing consent given is tracked only
 * for a person who granted it, or whose message's consent object allows it. A message without a
 * userId whose anonymousId profiles already tied to a person is that person's: signing out does
 * not undo a withdrawal. A tenant without rules pays one cache lookup per request.
 */
export class ConsentGate {
  private readonly purposes = new ExpiringLruCache<{ readonly rules: TrackingPurposes; readonly find: ReturnType<typeof purposeFinder> }>(
    10_000,
    CONSENT_CACHE_MS,
  );
  private readonly consents = new ExpiringLruCache<PersonsConsents>(100_000, CONSENT_CACHE_MS);
  /** The person (userId) an anonymousId belongs to, '' for none yet. */
  private readonly people = new ExpiringLruCache<string>(100_000, CONSENT_CACHE_MS);
  private readonly suppressed: Counter<'reason'>;

  constructor(
    private readonly pool: Pool,
    private readonly commands: CommandRunner,
    metrics: MetricsRegistry,
  ) {
    this.suppressed = metrics.counter({
      name: 'tessera_tracking_messages_suppressed_total',
      help: 'Tracked messages acknowledged but not stored, by reason (consent: a purpose withdrawn or refused by the message; erased: its person was erased)',
      labelNames: ['reason'],
    });
  }

  /** The messages consent lets through, in order. */
  async admit(tenantId: string, messages: TrackingMessage[]): Promise<TrackingMessage[]> {
    const { rules: purposes, find } = await this.purposesOf(tenantId);
    if (purposes.rules.length === 0) return messages;
    const served = messages.map(find);
    const anonymous = messages.filter((m, i) => served[i] !== undefined && m.userId === null && m.anonymousId !== null);
    const owners = await this.ownersOf(tenantId, [...new Set(anonymous.map((m) => m.anonymousId!))]);
    const personOf = (message: TrackingMessage) =>
      message.userId ?? (message.anonymousId !== null ? owners.get(message.anonymousId) : undefined);
    const people = new Set<string>();
    messages.forEach((message, i) => {
      const person = served[i] !== undefined ? personOf(message) : undefined;
      if (person) people.add(person);
    });
    const said = await this.consentsOf(tenantId, [...people]);
    const optIn = new Set(purposes.requireGrant);
    const kept = messages.filter((message, i) => {
      const purpose = served[i];
      if (purpose === undefined) return true;
      if (refusedByItsConsent(message, purpose, purposes)) return false;
      const person = personOf(message);
      const consents = (person && said.get(person)) || NOTHING_SAID;
      if (consents.withdrawn.includes(purpose)) return false;
      return !optIn.has(purpose) || consents.granted.includes(purpose) || allowedByItsConsent(message, purpose, purposes);
    });
    if (kept.length < messages.length) this.suppressed.inc({ reason: 'consent' }, messages.length - kept.length);
    return kept;
  }

  /** Messages dropped elsewhere at ingest, counted with consent's (one metric of what was acknowledged and not stored). */
  countSuppressed(reason: 'erased', count: number): void {
    if (count > 0) this.suppressed.inc({ reason }, count);
  }

  /** The tenant's rules changed on this process: read them again. */
  forget(tenantId: string): void {
    this.purposes.delete(tenantId);
  }

  private async purposesOf(tenantId: string) {
    const cached = this.purposes.get(tenantId);
    if (cached) return cached;
    const { state } = await this.commands.load(trackingPurposesStreamFor(tenantId), trackingPurposesDecider);
    const compiled = { rules: state, find: purposeFinder(state) };
    this.purposes.set(tenantId, compiled);
    return compiled;
  }

  /** What each person said: from the cache, the rest in one query. */
  private async consentsOf(tenantId: string, userIds: readonly string[]): Promise<Map<string, PersonsConsents>> {
    const found = new Map<string, PersonsConsents>();
    const missing: string[] = [];
    for (const userId of userIds) {
      const cached = this.consents.get(`${tenantId}|${userId}`);
      if (cached) found.set(userId, cached);
      else missing.push(userId);
    }
    if (missing.length === 0) return found;
    const { rows } = await this.pool.query<{ user_id: string; withdrawn: string[]; granted: string[] }>(
      `SELECT user_id, array_agg(purpose) FILTER (WHERE withdrawn) AS withdrawn, array_agg(purpose) FILTER (WHERE NOT withdrawn) AS granted
       FROM (SELECT user_id, purpose, true AS withdrawn FROM pulse_consent_withdrawals WHERE tenant_id = $1 AND user_id = ANY($2)
             UNION ALL
             SELECT user_id, purpose, false FROM pulse_consent_grants WHERE tenant_id = $1 AND user_id = ANY($2)) said
       GROUP BY user_id`,
      [tenantId, missing],
    );
    const byUser = new Map(rows.map((row) => [row.user_id, { withdrawn: row.withdrawn ?? [], granted: row.granted ?? [] }]));
    for (const userId of missing) {
      const consents = byUser.get(userId) ?? NOTHING_SAID;
      this.consents.set(`${tenantId}|${userId}`, consents);
      found.set(userId, consents);
    }
    return found;
  }

  /** The person each anonymousId was tied to by identity resolution (identify, alias): from the cache, the rest in one query. */
  private async ownersOf(tenantId: string, anonymousIds: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    const missing: string[] = [];
    for (const anonymousId of anonymousIds) {
      const cached = this.people.get(`${tenantId}|${anonymousId}`);
      if (cached === undefined) missing.push(anonymousId);
      else if (cached !== '') found.set(anonymousId, cached);
    }
    if (missing.length === 0) return found;
    const { rows } = await this.pool.query<{ value: string; user_id: string }>(
      `SELECT i.value, p.user_id FROM pulse_identities i
       JOIN pulse_profiles p ON p.tenant_id = i.tenant_id AND p.profile_id = i.profile_id
       WHERE i.tenant_id = $1 AND i.kind = 'anonymousId' AND i.value = ANY($2) AND p.user_id IS NOT NULL`,
      [tenantId, missing],
    );
    const byId = new Map(rows.map((row) => [row.value, row.user_id]));
    for (const anonymousId of missing) {
      const owner = byId.get(anonymousId);
      this.people.set(`${tenantId}|${anonymousId}`, owner ?? '');
      if (owner) found.set(anonymousId, owner);
    }
    return found;
  }
}
