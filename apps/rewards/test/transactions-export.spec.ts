import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type request from 'supertest';
import { textProblem } from '#platform';
import { eventually } from '#platform/testing';
import { hostileText } from '../../../test/support/hostile-values';
import { auth, PROGRAM, startRewards, type RewardsHarness, type Tenant } from './rewards-harness';

interface Movement {
  id: string;
  at: string;
  userId: string;
  kind: string;
  points: number;
  reason: string | null;
  orderId: string | null;
  campaigns: unknown;
  reference: string | null;
  counterparty: string | null;
}

/** RFC 4180 as a spreadsheet reads it, written apart from the exporter: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  const endField = () => {
    record.push(field);
    field = '';
  };
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"') {
      // The closing quote is the first one not doubled; doubled quotes inside are one quote each.
      let at = i + 1;
      for (;;) {
        const next = text.indexOf('"', at);
        if (next < 0) throw new Error('unterminated quoted field');
        if (text[next + 1] === '"') at = next + 2;
        else {
          field += text.slice(i + 1, next).replaceAll('""', '"');
          i = next + 1;
          break;
        }
      }
    } else if (char === ',') {
      endField();
      i++;
    } else if (char === '\r' && text[i + 1] === '\n') {
      endField();
      records.push(record);
      record = [];
      i += 2;
    } else if (char === '\r' || char === '\n') throw new Error(`bare line break at ${i}`);
    else {
      field += char;
      i++;
    }
  }
  if (field !== '' || record.length > 0) throw new Error('last record not ended by CRLF');
  return records;
}

/** What a spreadsheet shows for text the export neutralised: one leading apostrophe before = + - @ tab CR or an apostrophe. */
const asExported = (value: string) => (/^[=+\-@\t\r']/.test(value) ? `'${value}` : value);

/** Finance exports every points movement of a period, streamed, as CSV or NDJSON. */
describe('transactions export', () => {
  let h: RewardsHarness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await startRewards();
    tenant = await h.createTenant();
    expect((await h.rewards.http().put(`/t/${tenant.slug}/program`).set(auth(tenant)).send(PROGRAM)).status).toBe(200);
  });
  afterAll(() => h.close());

  const exported = (of: Tenant, query: Record<string, string>) =>
    h.rewards.http().get(`/t/${of.slug}/reports/transactions`).set(auth(of)).query(query).buffer(true).parse(text);
  const ndjson = async (of: Tenant, from: string, to: string): Promise<Movement[]> => {
    const response = await exported(of, { from, to, format: 'ndjson' }).expect(200);
    return (response.body as string)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Movement);
  };
  const stored = async (of: Tenant, userId?: string) =>
    Number(
      (
        await h.rewards.runtime.infrastructure.pool.query(
          'SELECT count(*) FROM rewards_transactions WHERE tenant_id = $1 AND ($2::text IS NULL OR user_id = $2)',
          [of.id, userId ?? null],
        )
      ).rows[0].count,
    );
  const wide = () => ({ from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() });

  test('every kind of movement, oldest first, with its order, reason and reference; a period takes [from, to); another tenant sees none', async () => {
    const member = `fin-${randomUUID()}`;
    await h.track(tenant, member, 'Grant', { points: 100 });
    await h.track(tenant, member, 'Order Completed', { order_id: 'W-7', total: 30, currency: 'EUR' });
    const adjusted = await h.rewards
      .http()
      .post(`/t/${tenant.slug}/members/${member}/adjustments`)
      .set(auth(tenant))
      .send({ points: -10, reason: 'late parcel', actor: 'agent-7' })
      .expect(201);
    const reward = (await h.rewards.http().post(`/t/${tenant.slug}/rewards`).set(auth(tenant)).send({ name: 'Mug', cost: 20, stock: 5 }))
      .body;
    const redeemed = await h.rewards
      .http()
      .post(`/t/${tenant.slug}/members/${member}/redemptions`)
      .set(auth(tenant))
      .set('idempotency-key', randomUUID())
      .send({ rewardId: reward.id })
      .expect(201);
    const other = await h.createTenant();
    await h.rewards.http().put(`/t/${other.slug}/program`).set(auth(other)).send(PROGRAM).expect(200);
    await h.track(other, `theirs-${randomUUID()}`, 'Grant', { points: 5 });
    const { from, to } = wide();
    await eventually(async () => expect((await ndjson(tenant, from, to)).filter((m) => m.userId === member)).toHaveLength(4));

    const mine = (await ndjson(tenant, from, to)).filter((m) => m.userId === member);
    expect(
      mine.map(({ kind, points, reason, orderId, reference, counterparty }) => ({
        kind,
        points,
        reason,
        orderId,
        reference,
        counterparty,
      })),
    ).toEqual([
      { kind: 'earned', points: 100, reason: 'grant', orderId: null, reference: expect.any(String), counterparty: null },
      { kind: 'earned', points: 30, reason: 'order', orderId: 'W-7', reference: expect.any(String), counterparty: null },
      {
        kind: 'adjusted',
        points: -10,
        reason: 'late parcel',
        orderId: null,
        reference: adjusted.body.adjustmentId,
        counterparty: 'agent-7',
      },
      { kind: 'redeemed', points: -20, reason: reward.id, orderId: null, reference: redeemed.body.id, counterparty: null },
    ]);
    // The same rows as CSV, in the same order.
    const csv = parseCsv((await exported(tenant, { from, to, format: 'csv' }).expect(200)).body);
    expect(csv[0]).toEqual(['id', 'at', 'userId', 'kind', 'points', 'reason', 'orderId', 'campaigns', 'reference', 'counterparty']);
    expect(
      csv
        .slice(1)
        .filter((row) => row[2] === member)
        .map((row) => row[0]),
    ).toEqual(mine.map((m) => m.id));

    // from is inclusive, to exclusive.
    const inner = await ndjson(tenant, mine[1]!.at, mine[3]!.at);
    expect(inner.filter((m) => m.userId === member).map((m) => m.kind)).toEqual(
      mine.filter((m) => m.at >= mine[1]!.at && m.at < mine[3]!.at).map((m) => m.kind),
    );
    expect(inner.every((m) => m.at >= mine[1]!.at && m.at < mine[3]!.at)).toBe(true);

    // The month to date, asked as the whole month: `to` may lie ahead.
    const ahead = new Date(Date.now() + 30 * 86_400_000).toISOString();
    expect((await ndjson(tenant, from, ahead)).filter((m) => m.userId === member)).toEqual(mine);

    const theirs = await ndjson(other, from, to);
    expect(theirs.map((m) => m.points)).toEqual([5]);
    expect((await ndjson(tenant, from, to)).some((m) => m.userId === theirs[0]!.userId)).toBe(false);
    expect((await h.rewards.http().get(`/t/${tenant.slug}/reports/transactions`).set(auth(other)).query({ from, to })).status).toBe(403);
  });

  test('hostile reasons, operators and order ids come back from the CSV as written, formulas neutralised', async () => {
    // Member ids are tokens (letters, digits, . _ : -) and cannot start a formula; the free text is
    // in reasons (line breaks allowed), operators and order ids (single-line).
    const member = `csv-${randomUUID()}`;
    await h.track(tenant, member, 'Order Completed', { order_id: '=HYPERLINK("http://x","a,b")', total: 5, currency: 'EUR' });
    const fixed = ['=1+1', '+SUM(A1)', '-2', '@cmd', "'quoted", 'a,b', 'say "hi"', 'two\nlines', 'cr\r\nlf', '\tindent', ' =spaced'];
    const generated = fc
      .sample(hostileText(fixed), { numRuns: 40, seed: 24 })
      .filter((reason) => textProblem(reason, 'text', 2000) === undefined && reason.trim() !== '');
    const actors = ['@ops', '=agent', '-bot', 'a,"b"'];
    const made = new Map<string, { reason: string; actor: string }>();
    for (const [i, reason] of [...fixed, ...generated].entries()) {
      const actor = actors[i % actors.length]!;
      const response = await h.rewards
        .http()
        .post(`/t/${tenant.slug}/members/${member}/adjustments`)
        .set(auth(tenant))
        .send({ points: 1, reason, actor })
        .expect(201);
      made.set(response.body.adjustmentId, { reason: reason.trim(), actor });
    }
    await eventually(async () => expect(await stored(tenant, member)).toBe(made.size + 1));
    const { from, to } = wide();
    const rows = parseCsv((await exported(tenant, { from, to, format: 'csv' }).expect(200)).body).filter((row) => row[2] === member);
    expect(rows.every((row) => row.length === 10)).toBe(true);
    expect(rows.find((row) => row[3] === 'earned')![6]).toBe(`'=HYPERLINK("http://x","a,b")`);
    const adjustments = rows.filter((row) => row[3] === 'adjusted');
    expect(adjustments).toHaveLength(made.size);
    for (const row of adjustments) {
      const sent = made.get(row[8]!)!;
      expect([row[5], row[9]]).toEqual([asExported(sent.reason), asExported(sent.actor)]);
    }
    // NDJSON carries the text untouched.
    const json = (await ndjson(tenant, from, to)).filter((m) => m.kind === 'adjusted' && m.userId === member);
    for (const movement of json) expect(movement.reason).toBe(made.get(movement.reference!)!.reason);
  });

  test('thousands of movements stream in keyset pages: all of them, each once, in (at, id) order', async () => {
    const bulk = await h.createTenant();
    await h.rewards.http().put(`/t/${bulk.slug}/program`).set(auth(bulk)).send(PROGRAM).expect(200);
    const { from, to } = wide();
    // One append: the movements share a handful of milliseconds, so pages break inside equal times.
    await h.trackMany(
      bulk,
      Array.from({ length: 2500 }, (_, i) => ({ userId: `bulk-${i % 40}`, event: 'Grant', properties: { points: 1 + (i % 7) } })),
    );
    await eventually(async () => expect(await stored(bulk)).toBe(2500), { timeoutMs: 60_000 });
    const response = await exported(bulk, { from, to, format: 'ndjson' }).expect(200);
    expect(response.headers['content-type']).toMatch(/^application\/x-ndjson/);
    // Streamed: no length known up front.
    expect(response.headers['transfer-encoding']).toBe('chunked');
    expect(response.headers['content-length']).toBeUndefined();
    const rows = (response.body as string)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Movement);
    expect(rows).toHaveLength(2500);
    expect(new Set(rows.map((row) => row.id)).size).toBe(2500);
    const keys = rows.map((row) => [row.at, row.id] as const);
    const sorted = [...keys].sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
    expect(keys).toEqual(sorted);
    expect(rows.reduce((sum, row) => sum + row.points, 0)).toBe(
      Array.from({ length: 2500 }, (_, i) => 1 + (i % 7)).reduce((a, b) => a + b),
    );
  }, 120_000);

  test('hostile period parameters: a 400 problem naming the parameter, or rows of that period only', async () => {
    const instant = fc
      .date({ min: new Date('1960-01-01'), max: new Date(Date.now() + 3 * 86_400_000), noInvalidDate: true })
      .map((d) => d.toISOString());
    const parameter = fc.option(fc.oneof(instant, instant, hostileText(['2026-13-01T00:00:00Z', '2026-01-01', 'now', '-1', '1e309'])), {
      nil: undefined,
    });
    const format = fc.option(fc.constantFrom('csv', 'ndjson', 'CSV', 'xml', ''), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(parameter, parameter, format, async (from, to, format) => {
        const query: Record<string, string> = {};
        if (from !== undefined) query.from = from;
        if (to !== undefined) query.to = to;
        if (format !== undefined) query.format = format;
        const response = await exported(tenant, query);
        if (response.status === 400) {
          expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
          expect(['from', 'to', 'format']).toContain(JSON.parse(response.body).parameter);
          return;
        }
        expect(response.status).toBe(200);
        const [start, end] = [Date.parse(from!), Date.parse(to!)];
        expect(start).toBeLessThan(end);
        expect(end - start).toBeLessThanOrEqual(366 * 86_400_000);
        expect(start).toBeGreaterThanOrEqual(0);
        expect(start).toBeLessThanOrEqual(Date.now() + 86_400_000);
        expect([undefined, 'csv', 'ndjson']).toContain(format);
      }),
      { numRuns: 60 },
    );
  });
});

/** The raw body as text, whatever its type (superagent buffers only the types it knows). */
function text(response: request.Response, callback: (error: Error | null, body: string) => void): void {
  const stream = response as unknown as NodeJS.ReadableStream;
  let body = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (body += chunk));
  stream.on('end', () => callback(null, body));
}
