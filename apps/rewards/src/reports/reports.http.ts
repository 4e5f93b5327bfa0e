import { Controller, Get, Param, Query, Req, StreamableFile } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { BOUNDS, textProblem } from '#platform';
import { encodeCursor, keyAfter, pageLimit } from '../read-models';
import { Clock } from '../rewards.ports';
import { invalidParameter } from '../shared/request-edges';
import { TenantCalls } from '../shared/tenant-calls';
import type { IncomingRequest } from '../tenants/tenant-access';
import { expiryMonthOf, pointsValue, VALUE_PER_POINT } from './liability';
import { exportPeriodOf, transactionsExport } from './transactions-export';

/** Any member id the wallets take: the cursor is one, and reaches SQL only as a bound parameter. */
const MEMBER_KEY = /^\P{Cc}{1,512}$/u;

/**
 * Points a member can spend now: unexpired lots, as the read model keeps them (a write the caller
 * just made shows once the projection applied it; a member's own page folds their stream instead).
 */
const SPENDABLE = '(l.expires_at IS NULL OR l.expires_at > $2)';

function wholePoints(name: string, raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0 || value > BOUNDS.pointsTotal)
    throw invalidParameter(name, `must be a whole number from 0 to ${BOUNDS.pointsTotal}`);
  return value;
}

/** The program's members, for loyalty managers: filtered by tier and balance, in pages. */
@Controller('t/:tenant/members')
export class MembersController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  @Get()
  list(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('cursor') cursor?: string,
    @Query('limit') limit?: string,
    @Query('tier') tier?: string,
    @Query('minBalance') minBalance?: string,
    @Query('maxBalance') maxBalance?: string,
  ) {
    return this.calls.read(request, slug, async (tenant) => {
      const tierProblem = tier === undefined ? undefined : textProblem(tier, 'identifier', BOUNDS.nameLength);
      if (tierProblem) throw invalidParameter('tier', tierProblem);
      const [min, max] = [wholePoints('minBalance', minBalance), wholePoints('maxBalance', maxBalance)];
      const size = pageLimit(limit);
      const after = keyAfter(cursor, MEMBER_KEY);
      // Members are whoever enrolled (rewards_members has them from MemberEnrolled on) or holds lots; a page scans them in id order from the cursor.
      const rows: { user_id: string; tier: string | null; balance: string }[] = await this.dataSource.query(
        `WITH ids AS (
           SELECT user_id FROM rewards_lots WHERE tenant_id = $1 AND ($3::text IS NULL OR user_id > $3)
           UNION SELECT user_id FROM rewards_members WHERE tenant_id = $1 AND ($3::text IS NULL OR user_id > $3)
         ), members AS (
           SELECT ids.user_id, m.tier,
                  (SELECT coalesce(sum(l.remaining), 0) FROM rewards_lots l
                   WHERE l.tenant_id = $1 AND l.user_id = ids.user_id AND l.remaining > 0 AND ${SPENDABLE}) - coalesce(m.owed, 0) AS balance
           FROM ids LEFT JOIN rewards_members m ON m.tenant_id = $1 AND m.user_id = ids.user_id
         )
         SELECT user_id, tier, balance::text FROM members
         WHERE ($4::text IS NULL OR tier = $4) AND ($5::bigint IS NULL OR balance >= $5) AND ($6::bigint IS NULL OR balance <= $6)
         ORDER BY user_id LIMIT $7`,
        [tenant.tenantId, this.clock.now(), after ?? null, tier ?? null, min, max, size],
      );
      return {
        items: rows.map((row) => ({ userId: row.user_id, tier: row.tier, balance: Number(row.balance) })),
        nextCursor: rows.length === size ? encodeCursor(rows[rows.length - 1]!.user_id) : null,
      };
    });
  }
}

/** What finance needs of the program: the points outstanding and what they are worth, by tier and by the month they expire. */
@Controller('t/:tenant/reports')
export class ReportsController {
  constructor(
    private readonly calls: TenantCalls,
    private readonly dataSource: DataSource,
    private readonly clock: Clock,
  ) {}

  @Get('liability')
  liability(@Param('tenant') slug: string, @Req() request: IncomingRequest, @Query('valuePerPoint') valuePerPoint?: string) {
    return this.calls.read(request, slug, async (tenant) => {
      if (valuePerPoint === undefined || !VALUE_PER_POINT.test(valuePerPoint))
        throw invalidParameter('valuePerPoint', 'give the value of one point as a decimal such as 0.01 (at most 6 decimals)');
      const now = this.clock.now();
      const rows: { tier: string | null; expires_at: Date | null; points: string }[] = await this.dataSource.query(
        `SELECT m.tier, l.expires_at, sum(l.remaining)::text AS points
         FROM rewards_lots l LEFT JOIN rewards_members m ON m.tenant_id = l.tenant_id AND m.user_id = l.user_id
         WHERE l.tenant_id = $1 AND l.remaining > 0 AND ${SPENDABLE}
         GROUP BY m.tier, l.expires_at`,
        [tenant.tenantId, now],
      );
      const byTier = new Map<string, bigint>();
      const byMonth = new Map<string, bigint>();
      let total = 0n;
      for (const row of rows) {
        const points = BigInt(row.points);
        total += points;
        const tier = row.tier ?? 'none';
        byTier.set(tier, (byTier.get(tier) ?? 0n) + points);
        const month = expiryMonthOf(row.expires_at);
        byMonth.set(month, (byMonth.get(month) ?? 0n) + points);
      }
      const line = (points: bigint) => ({ points: Number(points), value: pointsValue(points, valuePerPoint) });
      return {
        asOf: now.toISOString(),
        valuePerPoint,
        outstanding: line(total),
        byTier: [...byTier].sort(([a], [b]) => a.localeCompare(b)).map(([tier, points]) => ({ tier, ...line(points) })),
        byExpiryMonth: [...byMonth].sort(([a], [b]) => a.localeCompare(b)).map(([month, points]) => ({ month, ...line(points) })),
      };
    });
  }

  /**
   * Every points movement of the period (`from` inclusive, `to` exclusive), oldest first, as CSV
   * (RFC 4180, formula-like text prefixed with an apostrophe) or NDJSON, streamed page by page.
   */
  @Get('transactions')
  transactions(
    @Param('tenant') slug: string,
    @Req() request: IncomingRequest,
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('format') format?: string,
  ) {
    return this.calls.read(request, slug, async (tenant) => {
      const period = exportPeriodOf({ from, to, format }, this.clock.now());
      const name = `transactions-${period.from.toISOString().slice(0, 10)}-${period.to.toISOString().slice(0, 10)}.${period.format}`;
      return new StreamableFile(transactionsExport(this.dataSource, tenant.tenantId, period), {
        type: period.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
        disposition: `attachment; filename="${name}"`,
      });
    });
  }
}
