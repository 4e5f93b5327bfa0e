import type { Pool } from 'pg';
import type { Counter } from 'prom-client';
import type { CommandRunner } from '#cqrs';
import { ExpiringLruCache, type MetricsRegistry } from '#platform';
import type { TrackingMessage } from '#contracts';
import {
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

/**
 * Consent at ingest: a message serving a purpose that its sender withdrew (a known person, by
 * userId, through register) or that its own consent object refuses (Segment's, for anonymous
 * visitors) is acknowledged and dropped, counted but never stored, so no projection, destination
 * or audience ever sees it. A tenant without rules pays one cache lookup per request.
 */
export class ConsentGate {
  private readonly purposes = new ExpiringLruCache<{ readonly rules: TrackingPurposes; readonly find: ReturnType<typeof purposeFinder> }>(
    10_000,
    CONSENT_CACHE_MS,
  );
  private readonly withdrawals = new ExpiringLruCache<readonly string[]>(100_000, CONSENT_CACHE_MS);
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
    const people = [...new Set(messages.filter((message, i) => served[i] !== undefined && message.userId !== null).map((m) => m.userId!))];
    const withdrawn = await this.withdrawalsOf(tenantId, people);
    const kept = messages.filter((message, i) => {
      const purpose = served[i];
      if (purpose === undefined) return true;
      if (refusedByItsConsent(message, purpose, purposes)) return false;
      return !(message.userId !== null && withdrawn.get(message.userId)?.includes(purpose));
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

  /** Each person's withdrawn purposes: from the cache, the rest in one query. */
  private async withdrawalsOf(tenantId: string, userIds: readonly string[]): Promise<Map<string, readonly string[]>> {
    const found = new Map<string, readonly string[]>();
    const missing: string[] = [];
    for (const userId of userIds) {
      const cached = this.withdrawals.get(`${tenantId}|${userId}`);
      if (cached) found.set(userId, cached);
      else missing.push(userId);
    }
    if (missing.length === 0) return found;
    const { rows } = await this.pool.query<{ user_id: string; purposes: string[] }>(
      `SELECT user_id, array_agg(purpose) AS purposes FROM pulse_consent_withdrawals
       WHERE tenant_id = $1 AND user_id = ANY($2) GROUP BY user_id`,
      [tenantId, missing],
    );
    const byUser = new Map(rows.map((row) => [row.user_id, row.purposes]));
    for (const userId of missing) {
      const purposes = byUser.get(userId) ?? [];
      this.withdrawals.set(`${tenantId}|${userId}`, purposes);
      found.set(userId, purposes);
    }
    return found;
  }
}
