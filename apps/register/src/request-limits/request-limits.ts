import type { Pool } from 'pg';
import type { Counter } from 'prom-client';
import { blindIndex } from '#personal-data';
import { ProblemError, type MetricsRegistry } from '#platform';
import type { MailedLink } from '../account/mailed-links';
import { clientNetwork } from './client-address';
import { retryAfterMs, windowAt } from './sliding-window';

/** How many requests of each kind one key may make per sliding window (REGISTER_* variables). */
export interface RequestLimitSettings {
  readonly windowMs: number;
  readonly signUpsPerAddress: number;
  readonly signUpsPerEmail: number;
  readonly resetsPerAddress: number;
  readonly resetsPerEmail: number;
  readonly tokenAttemptsPerAddress: number;
  readonly tokenAttemptsPerAccount: number;
}

type Hit = { readonly kind: string; readonly keyHash: string; readonly limit: number };
type Refusal = { readonly kind: string; readonly retryAfterMs: number };

/**
 * Request limits on register's unauthenticated writes (sign-up, reset requests, mailed tokens),
 * per client network and per e-mail address or account, counted in PostgreSQL so that every
 * replica enforces the same budget. Keys are blind indexes: neither addresses nor e-mails are
 * stored. One statement per request counts every key of it; a key over its limit is not counted,
 * so a refused flood does not push the retry further away.
 */
export class RequestLimits {
  private readonly refused: Counter<'kind'>;

  constructor(
    private readonly pool: Pool,
    private readonly indexKey: Buffer,
    private readonly settings: RequestLimitSettings,
    metrics: MetricsRegistry,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.refused = metrics.counter({
      name: 'tessera_register_requests_limited_total',
      help: 'Requests refused (or, for reset requests over the e-mail limit, not mailed) by a request limit',
      labelNames: ['kind'],
    });
  }

  /** A sign-up attempt; 429 when its network or its e-mail address is over the limit. */
  async signUp(tenantId: string, address: string, emailIndex: string): Promise<void> {
    const refusals = await this.count(tenantId, [
      this.byAddress('sign-up', tenantId, address, this.settings.signUpsPerAddress),
      { kind: 'sign-up/email', keyHash: emailIndex, limit: this.settings.signUpsPerEmail },
    ]);
    if (refusals.length > 0) throw tooManyRequests(refusals, 'sign-ups');
  }

  /**
   * A request for a mailed link (a password reset, a new verification link): 429 when its network
   * is over the limit. Over the e-mail's limit it answers false (send no mail) instead: the request
   * still gets the same 202 as any other, so the answer says nothing about the address, and the
   * mailbox stops filling.
   */
  async mailedLinkRequest(link: MailedLink, tenantId: string, address: string, emailIndex: string): Promise<{ mayMail: boolean }> {
    const purpose = link === 'password-reset' ? 'reset' : 'verification-mail';
    const refusals = await this.count(tenantId, [
      this.byAddress(purpose, tenantId, address, this.settings.resetsPerAddress),
      { kind: `${purpose}/email`, keyHash: emailIndex, limit: this.settings.resetsPerEmail },
    ]);
    const byAddress = refusals.filter((refusal) => refusal.kind === `${purpose}/address`);
    if (byAddress.length > 0)
      throw tooManyRequests(byAddress, link === 'password-reset' ? 'password-reset requests' : 'verification mails');
    return { mayMail: refusals.length === 0 };
  }

  /** An attempt with a mailed token; the account is the one the token names, when it names one. */
  async tokenAttempt(purpose: 'verification' | 'reset-confirm', tenantId: string, address: string, accountId?: string): Promise<void> {
    const hits = [this.byAddress(purpose, tenantId, address, this.settings.tokenAttemptsPerAddress)];
    if (accountId) {
      const keyHash = blindIndex(this.indexKey, tenantId, 'account', accountId);
      hits.push({ kind: `${purpose}/account`, keyHash, limit: this.settings.tokenAttemptsPerAccount });
    }
    const refusals = await this.count(tenantId, hits);
    if (refusals.length > 0)
      throw tooManyRequests(refusals, purpose === 'verification' ? 'verification attempts' : 'password-reset attempts');
  }

  /** Deletes the windows no limit looks at any more (older than the previous one). */
  async forgetExpired(): Promise<number> {
    const { previousStart } = windowAt(this.now(), this.settings.windowMs);
    const result = await this.pool.query('DELETE FROM register_request_limits WHERE window_start < $1', [previousStart]);
    return result.rowCount ?? 0;
  }

  private byAddress(purpose: string, tenantId: string, address: string, limit: number): Hit {
    return { kind: `${purpose}/address`, keyHash: blindIndex(this.indexKey, tenantId, 'client-address', clientNetwork(address)), limit };
  }

  private async count(tenantId: string, hits: readonly Hit[]): Promise<Refusal[]> {
    const { windowMs } = this.settings;
    const { start, previousStart, elapsedMs } = windowAt(this.now(), windowMs);
    const weight = 1 - elapsedMs / windowMs;
    const { rows } = await this.pool.query<{ kind: string; previous: number; seen: number; limit: number; counted: number | null }>(
      COUNT_HITS,
      [tenantId, start, previousStart, hits.map((hit) => hit.kind), hits.map((hit) => hit.keyHash), hits.map((hit) => hit.limit), weight],
    );
    const refusals = rows
      .filter((row) => row.counted === null)
      .map((row) => ({
        kind: row.kind,
        retryAfterMs: retryAfterMs({ current: row.seen, previous: row.previous, limit: row.limit, elapsedMs, windowMs }),
      }));
    for (const refusal of refusals) this.refused.inc({ kind: refusal.kind });
    return refusals;
  }
}

/**
 * Counts one hit for every key that has room, in one statement, and says which did not. The row
 * lock ON CONFLICT takes makes the check and the increment one step: concurrent requests on any
 * replica never count past the limit. `seen` (the count before this statement) only serves the
 * Retry-After of a refused key.
 */
const COUNT_HITS = `
WITH input AS (
  SELECT i.kind, i.key_hash, i."limit",
    COALESCE((SELECT p.hits FROM register_request_limits p
      WHERE p.tenant_id = $1 AND p.kind = i.kind AND p.key_hash = i.key_hash AND p.window_start = $3), 0) AS previous,
    COALESCE((SELECT c.hits FROM register_request_limits c
      WHERE c.tenant_id = $1 AND c.kind = i.kind AND c.key_hash = i.key_hash AND c.window_start = $2), 0) AS seen
  FROM unnest($4::text[], $5::text[], $6::int[]) AS i (kind, key_hash, "limit")
), counted AS (
  INSERT INTO register_request_limits AS r (tenant_id, kind, key_hash, window_start, hits)
  SELECT $1, kind, key_hash, $2, 1 FROM input WHERE 1 + previous * $7::float8 <= "limit"
  ON CONFLICT (tenant_id, kind, key_hash, window_start) DO UPDATE SET hits = r.hits + 1
  WHERE r.hits + 1 + (SELECT i.previous * $7::float8 - i."limit" FROM input i WHERE i.kind = r.kind AND i.key_hash = r.key_hash) <= 0
  RETURNING r.kind, r.key_hash, r.hits
)
SELECT i.kind, i.previous, i.seen, i."limit" AS "limit", c.hits AS counted
FROM input i LEFT JOIN counted c ON c.kind = i.kind AND c.key_hash = i.key_hash`;

function tooManyRequests(refusals: readonly Refusal[], what: string): ProblemError {
  const waitMs = Math.max(...refusals.map((refusal) => refusal.retryAfterMs));
  return new ProblemError({
    status: 429,
    type: 'rate-limited',
    title: 'Too many requests',
    detail: `too many ${what} from this network or for this account; retry later`,
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(waitMs / 1000))) },
  });
}
