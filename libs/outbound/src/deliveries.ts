import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { RELAXED_COMMIT, WITHOUT_SYNCHRONOUS_COMMIT, type JsonObject } from '#eventstore';
import { breakerOpenMs, type RetryPolicy, type Verdict } from './retry-policy';
import type { StoredSecret } from './outbox';

/** A delivery leased to this process: send it before `leaseMs` runs out, or another replica will. */
export interface ClaimedDelivery {
  readonly id: string;
  readonly tenantId: string;
  readonly endpointId: string;
  readonly webhookId: string;
  readonly leaseToken: string;
  readonly items: readonly JsonObject[];
  readonly attempts: number;
  readonly eventAt: Date;
  readonly url: string;
  readonly secrets: readonly StoredSecret[];
  readonly batched: boolean;
}

export interface ClaimLimits {
  readonly lane: string;
  readonly limit: number;
  /** Deliveries one tenant gets at most in one claim, so a tenant with a backlog cannot take every slot. */
  readonly perTenant: number;
  /** Deliveries one endpoint gets at most in one claim (1 for ordered endpoints and half-open circuits). */
  readonly perEndpoint: number;
  /** Endpoints (`tenant/endpoint`) this process already has as many requests in flight to as it allows. */
  readonly busy: readonly string[];
  readonly leaseMs: number;
  readonly breakerThreshold: number;
}

/**
 * Leases due deliveries. Candidates are taken endpoint by endpoint through the pending index (an
 * ordered endpoint offers only its oldest pending delivery, and none while that one waits or is in
 * flight; an open circuit offers nothing), ranked round-robin across tenants, and locked with SKIP
 * LOCKED so that replicas claiming at once take different rows. The lease is a column, not a held
 * lock: no transaction stays open while a receiver answers.
 */
export async function claimDeliveries(pool: Pool, limits: ClaimLimits): Promise<ClaimedDelivery[]> {
  if (limits.limit <= 0) return [];
  const { rows } = await pool.query<{
    id: string;
    tenant_id: string;
    endpoint_id: string;
    webhook_id: string;
    lease_token: string;
    items: JsonObject[];
    attempts: number;
    event_at: Date;
    url: string;
    secrets: StoredSecret[];
    batch_max: number;
  }>({
    name: 'outbound_claim_deliveries',
    // Unordered endpoints offer their due deliveries locked with SKIP LOCKED, so replicas claiming at
    // the same moment find different rows instead of all racing for the same first few. An ordered
    // endpoint offers its oldest pending delivery only, unlocked: skipping it while another replica
    // holds it would offer the next one out of order. Either way the lease is checked again under lock.
    text: `WITH open_endpoints AS (
       SELECT e.tenant_id, e.endpoint_id, e.ordered, e.failures FROM outbound_endpoints e
       WHERE e.enabled AND (e.open_until IS NULL OR e.open_until <= now())
         AND NOT ((e.tenant_id || '/' || e.endpoint_id) = ANY($5::text[]))
     ),
     candidates AS (
       SELECT c.id, c.tenant_id, c.next_attempt_at FROM open_endpoints e
       CROSS JOIN LATERAL (
         SELECT d.id, d.tenant_id, d.next_attempt_at FROM outbound_deliveries d
         WHERE d.tenant_id = e.tenant_id AND d.endpoint_id = e.endpoint_id AND d.lane = $1 AND d.state = 'pending'
           AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now())
         ORDER BY d.id
         LIMIT CASE WHEN e.failures >= $6 THEN 1 ELSE $4 END
         FOR UPDATE OF d SKIP LOCKED
       ) c
       WHERE NOT e.ordered
       UNION ALL
       SELECT c.id, c.tenant_id, c.next_attempt_at FROM open_endpoints e
       CROSS JOIN LATERAL (
         SELECT d.id, d.tenant_id, d.next_attempt_at, d.leased_until FROM outbound_deliveries d
         WHERE d.tenant_id = e.tenant_id AND d.endpoint_id = e.endpoint_id AND d.lane = $1 AND d.state = 'pending'
         ORDER BY d.id
         LIMIT 1
       ) c
       WHERE e.ordered AND c.next_attempt_at <= now() AND (c.leased_until IS NULL OR c.leased_until < now())
     ),
     ranked AS (SELECT id, row_number() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, id) AS turn FROM candidates),
     fair AS (SELECT id FROM ranked WHERE turn <= $3 ORDER BY turn, id LIMIT $2),
     locked AS (
       SELECT d.id FROM outbound_deliveries d WHERE d.id IN (SELECT id FROM fair)
         AND d.state = 'pending' AND (d.leased_until IS NULL OR d.leased_until < now())
       FOR UPDATE SKIP LOCKED
     ),
     leased AS (
       UPDATE outbound_deliveries d
       SET leased_until = now() + $7 * interval '1 millisecond', lease_token = gen_random_uuid(), attempts = d.attempts + 1
       FROM locked, outbound_endpoints e
       WHERE d.id = locked.id AND e.tenant_id = d.tenant_id AND e.endpoint_id = d.endpoint_id
       RETURNING d.id::text, d.tenant_id, d.endpoint_id, d.webhook_id, d.lease_token::text, d.items, d.attempts, d.event_at,
         e.url, e.secrets, e.batch_max
     )
     -- A lease lost with a crash of PostgreSQL leaves the delivery claimable again, as a lease that
     -- ran out does: the commit need not wait for the WAL's fsync (set once per row leased; none, nothing to commit).
     SELECT leased.*, ${RELAXED_COMMIT} AS relaxed FROM leased`,
    values: [limits.lane, limits.limit, limits.perTenant, limits.perEndpoint, limits.busy, limits.breakerThreshold, limits.leaseMs],
  });
  return rows.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    endpointId: row.endpoint_id,
    webhookId: row.webhook_id,
    leaseToken: row.lease_token,
    items: row.items,
    attempts: row.attempts,
    eventAt: row.event_at,
    url: row.url,
    secrets: row.secrets,
    batched: row.batch_max > 1,
  }));
}

/**
 * A delivery done with: its row goes, and a delivered one counts on its endpoint and closes its
 * circuit, in one statement. Only while the lease is still ours: a delivery whose lease ran out and
 * was taken by another replica is counted by that replica. Neither commit waits for the WAL's
 * fsync: a crash of PostgreSQL that loses one brings the delivery back, and it is sent again under
 * the same webhook-id (at least once, as a lease that ran out would; receivers drop the repeat by
 * its id), with a count short by what was lost. Waiting would cost every delivery an fsync while
 * holding its endpoint's row, and with a backlog every sender queued behind that row in turn.
 */
const SETTLE_DELIVERED = `WITH settled AS (DELETE FROM outbound_deliveries WHERE id = $1 AND lease_token = $2 RETURNING tenant_id, endpoint_id),
  counted AS (UPDATE outbound_endpoints e SET failures = 0, open_until = NULL, delivered = e.delivered + $3, last_delivered_at = now()
    FROM settled WHERE e.tenant_id = settled.tenant_id AND e.endpoint_id = settled.endpoint_id)
  ${WITHOUT_SYNCHRONOUS_COMMIT}`;
const SETTLE_SUPPRESSED = `WITH settled AS (DELETE FROM outbound_deliveries WHERE id = $1 AND lease_token = $2)
  ${WITHOUT_SYNCHRONOUS_COMMIT}`;

/**
 * Records what became of a leased delivery, and moves its endpoint's circuit. Guarded by the lease
 * token: a delivery whose lease ran out and was taken by another replica is that replica's now.
 */
export async function settleDelivery(
  pool: Pool,
  delivery: ClaimedDelivery,
  verdict: Verdict | { readonly kind: 'suppressed' },
  lastStatus: number | undefined,
  policy: RetryPolicy,
): Promise<void> {
  const guard = [delivery.id, delivery.leaseToken];
  const endpoint = [delivery.tenantId, delivery.endpointId];
  switch (verdict.kind) {
    case 'delivered':
      await pool.query({ name: 'outbound_settle_delivered', text: SETTLE_DELIVERED, values: [...guard, delivery.items.length] });
      return;
    case 'suppressed':
      await pool.query({ name: 'outbound_settle_suppressed', text: SETTLE_SUPPRESSED, values: guard });
      return;
    case 'retry':
      await pool.query(
        `UPDATE outbound_deliveries SET next_attempt_at = now() + $3 * interval '1 millisecond', leased_until = NULL,
           last_error = $4, last_status = $5
         WHERE id = $1 AND lease_token = $2`,
        [...guard, verdict.delayMs, verdict.reason, lastStatus ?? null],
      );
      break;
    case 'dead':
      await pool.query(
        `UPDATE outbound_deliveries SET state = 'dead', dead_at = now(), leased_until = NULL, last_error = $3, last_status = $4
         WHERE id = $1 AND lease_token = $2`,
        [...guard, verdict.reason, lastStatus ?? null],
      );
      break;
  }
  const { rows } = await pool.query<{ failures: number }>(
    `UPDATE outbound_endpoints SET failures = failures + 1, failed = failed + 1, last_error = $3,
       retried = retried + $4, dead = dead + $5
     WHERE tenant_id = $1 AND endpoint_id = $2 RETURNING failures`,
    [...endpoint, verdict.reason, verdict.kind === 'retry' ? 1 : 0, verdict.kind === 'dead' ? 1 : 0],
  );
  const openMs = breakerOpenMs(rows[0]?.failures ?? 0, policy);
  if (openMs > 0) {
    await pool.query(
      `UPDATE outbound_endpoints SET open_until = now() + $3 * interval '1 millisecond' WHERE tenant_id = $1 AND endpoint_id = $2`,
      [...endpoint, openMs],
    );
  }
}

/** A dead-lettered delivery as the API shows it: never its content. */
export interface DeadLetter {
  readonly id: string;
  readonly webhookId: string;
  readonly messages: number;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly lastStatus: number | null;
  readonly eventAt: string;
  readonly deadAt: string;
}

/** Dead letters of one tenant's endpoint, oldest first, paginated by id. */
export async function listDeadLetters(
  pool: Pool,
  tenantId: string,
  endpointId: string,
  after: string | undefined,
  limit: number,
): Promise<{ items: DeadLetter[]; next?: string }> {
  const { rows } = await pool.query<{
    id: string;
    webhook_id: string;
    item_count: number;
    attempts: number;
    last_error: string | null;
    last_status: number | null;
    event_at: Date;
    dead_at: Date;
  }>(
    `SELECT id::text, webhook_id, item_count, attempts, last_error, last_status, event_at, dead_at FROM outbound_deliveries
     WHERE tenant_id = $1 AND endpoint_id = $2 AND state = 'dead' AND id > $3 ORDER BY id LIMIT $4`,
    [tenantId, endpointId, after ?? '0', limit + 1],
  );
  const page = rows.slice(0, limit);
  return {
    items: page.map((row) => ({
      id: row.id,
      webhookId: row.webhook_id,
      messages: row.item_count,
      attempts: row.attempts,
      lastError: row.last_error,
      lastStatus: row.last_status,
      eventAt: row.event_at.toISOString(),
      deadAt: row.dead_at.toISOString(),
    })),
    ...(rows.length > limit ? { next: page[page.length - 1]!.id } : {}),
  };
}

/** Sends a dead letter again, with its webhook-id, from a fresh count of attempts; false when there is no such dead letter. */
export async function retryDeadLetter(pool: Pool, tenantId: string, endpointId: string, id: string): Promise<boolean> {
  const result = await pool.query(
    `UPDATE outbound_deliveries SET state = 'pending', attempts = 0, next_attempt_at = now(), dead_at = NULL, lease_token = $4
     WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3 AND state = 'dead'`,
    [tenantId, endpointId, id, randomUUID()],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Drops a dead letter for good; false when there is no such dead letter. */
export async function dismissDeadLetter(pool: Pool, tenantId: string, endpointId: string, id: string): Promise<boolean> {
  const result = await pool.query(
    `DELETE FROM outbound_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3 AND state = 'dead'`,
    [tenantId, endpointId, id],
  );
  return (result.rowCount ?? 0) > 0;
}

/** What delivery counts an endpoint has, for its API. */
export interface EndpointStats {
  readonly delivered: number;
  readonly failed: number;
  readonly retried: number;
  readonly deadLettered: number;
  readonly pending: number;
  readonly circuitOpenUntil: string | null;
  readonly lastDeliveredAt: string | null;
}

export async function endpointStats(pool: Pool, tenantId: string, endpointId: string): Promise<EndpointStats | undefined> {
  const { rows } = await pool.query<{
    delivered: string;
    failed: string;
    retried: string;
    dead: string;
    pending: string;
    open_until: Date | null;
    last_delivered_at: Date | null;
  }>(
    `SELECT delivered, failed, retried, dead, open_until, last_delivered_at,
       (SELECT count(*) FROM outbound_deliveries d WHERE d.tenant_id = e.tenant_id AND d.endpoint_id = e.endpoint_id AND d.state = 'pending') AS pending
     FROM outbound_endpoints e WHERE tenant_id = $1 AND endpoint_id = $2`,
    [tenantId, endpointId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    delivered: Number(row.delivered),
    failed: Number(row.failed),
    retried: Number(row.retried),
    deadLettered: Number(row.dead),
    pending: Number(row.pending),
    circuitOpenUntil: row.open_until && row.open_until.getTime() > Date.now() ? row.open_until.toISOString() : null,
    lastDeliveredAt: row.last_delivered_at?.toISOString() ?? null,
  };
}
