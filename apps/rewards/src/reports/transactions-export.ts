import { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import { instantProblem, parseIsoInstant } from '#platform';
import { invalidParameter } from '../shared/request-edges';

/** Finance exports a year at most per call (a leap year's 366 days): a longer span is a 400 naming `to`. */
export const MAX_EXPORT_DAYS = 366;
const DAY_MS = 86_400_000;
const MAX_INSTANT_MS = Date.parse('9999-12-31T23:59:59.999Z');
/** Rows per keyset page: memory stays at one page whatever the period holds. */
export const EXPORT_PAGE_ROWS = 1_000;

export type ExportFormat = 'csv' | 'ndjson';

export interface ExportPeriod {
  readonly from: Date;
  readonly to: Date;
  readonly format: ExportFormat;
}

/** `from` (inclusive) and `to` (exclusive) as ISO instants, `from` before `to`, at most a year apart; 400 naming the parameter. */
export function exportPeriodOf(raw: { from?: unknown; to?: unknown; format?: unknown }, now: Date): ExportPeriod {
  const from = instantParameter('from', raw.from, now);
  // `to` may lie ahead (the month to date, asked as the whole month): the span bounds it.
  const to = instantParameter('to', raw.to);
  if (to.getTime() <= from.getTime()) throw invalidParameter('to', 'must be after from');
  if (to.getTime() - from.getTime() > MAX_EXPORT_DAYS * DAY_MS)
    throw invalidParameter('to', `must be at most ${MAX_EXPORT_DAYS} days after from`);
  const format = raw.format === undefined ? 'csv' : raw.format;
  if (format !== 'csv' && format !== 'ndjson') throw invalidParameter('format', 'must be csv or ndjson');
  return { from, to, format };
}

function instantParameter(name: string, raw: unknown, now?: Date): Date {
  if (typeof raw !== 'string' || raw === '') throw invalidParameter(name, 'is required: an ISO-8601 instant such as 2026-01-01T00:00:00Z');
  const at = parseIsoInstant(raw);
  if (!at) throw invalidParameter(name, 'must be an ISO-8601 instant such as 2026-01-01T00:00:00Z');
  const problem = now ? instantProblem(at, now) : at.getTime() > MAX_INSTANT_MS ? 'must not be after 9999-12-31' : undefined;
  if (problem) throw invalidParameter(name, problem);
  return at;
}

interface StoredTransaction {
  event_id: string;
  at: Date;
  user_id: string;
  kind: string;
  points: string;
  reason: string | null;
  order_id: string | null;
  campaigns: { campaignId: string; points: number }[] | null;
  reference: string | null;
  counterparty: string | null;
}

export const CSV_COLUMNS = ['id', 'at', 'userId', 'kind', 'points', 'reason', 'orderId', 'campaigns', 'reference', 'counterparty'] as const;

/**
 * A CSV field as RFC 4180 has it: quoted (quotes doubled) when it holds a quote, comma, CR or LF.
 * Text a spreadsheet would run as a formula (starting with = + - @, a tab or CR) gets a leading
 * apostrophe, as OWASP advises; so does text already starting with one, so that a reader strips
 * exactly one leading apostrophe to get the value back. Numbers and times are written as they are.
 */
export function csvField(value: string | number | null, text = true): string {
  if (value === null) return '';
  let field = String(value);
  if (text && /^[=+\-@\t\r']/.test(field)) field = `'${field}`;
  return /[",\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}

function csvLine(row: StoredTransaction): string {
  const campaigns = row.campaigns?.map((share) => `${share.campaignId}:${share.points}`).join(';') ?? null;
  return (
    [
      csvField(row.event_id, false),
      csvField(row.at.toISOString(), false),
      csvField(row.user_id),
      csvField(row.kind, false),
      csvField(Number(row.points), false),
      csvField(row.reason),
      csvField(row.order_id),
      csvField(campaigns),
      csvField(row.reference),
      csvField(row.counterparty),
    ].join(',') + '\r\n'
  );
}

function ndjsonLine(row: StoredTransaction): string {
  return (
    JSON.stringify({
      id: row.event_id,
      at: row.at.toISOString(),
      userId: row.user_id,
      kind: row.kind,
      points: Number(row.points),
      reason: row.reason,
      orderId: row.order_id,
      campaigns: row.campaigns,
      reference: row.reference,
      counterparty: row.counterparty,
    }) + '\n'
  );
}

const SELECT = `SELECT event_id, at, user_id, kind, points::text, reason, order_id, campaigns, reference, counterparty FROM rewards_transactions`;

/**
 * The period's movements, oldest first (ties by event id), as a stream of text: one keyset page
 * read from PostgreSQL at a time, the next only when the client has taken the last (the stream
 * pulls), so neither the period nor a slow client's backlog is ever held in memory.
 */
export function transactionsExport(dataSource: DataSource, tenantId: string, period: ExportPeriod): Readable {
  const line = period.format === 'csv' ? csvLine : ndjsonLine;
  async function* pages(): AsyncGenerator<string> {
    if (period.format === 'csv') yield CSV_COLUMNS.join(',') + '\r\n';
    let after: { at: Date; eventId: string } | undefined;
    for (;;) {
      const rows: StoredTransaction[] = after
        ? await dataSource.query(
            `${SELECT} WHERE tenant_id = $1 AND at >= $2 AND at < $3 AND (at, event_id) > ($4, $5::uuid) ORDER BY at, event_id LIMIT $6`,
            [tenantId, period.from, period.to, after.at, after.eventId, EXPORT_PAGE_ROWS],
          )
        : await dataSource.query(`${SELECT} WHERE tenant_id = $1 AND at >= $2 AND at < $3 ORDER BY at, event_id LIMIT $4`, [
            tenantId,
            period.from,
            period.to,
            EXPORT_PAGE_ROWS,
          ]);
      if (rows.length > 0) yield rows.map(line).join('');
      if (rows.length < EXPORT_PAGE_ROWS) return;
      const last = rows[rows.length - 1]!;
      after = { at: last.at, eventId: last.event_id };
    }
  }
  return Readable.from(pages(), { objectMode: false });
}
