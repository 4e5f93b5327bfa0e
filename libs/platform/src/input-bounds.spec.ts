import fc from 'fast-check';
import { Client } from 'pg';
import { createTestDatabase } from '../../../test/support/database';
import { BOUNDS, instantProblem, jsonProblems, parseIsoInstant, textProblem } from './input-bounds';

/**
 * The vocabulary's promise is about storage: what it accepts, PostgreSQL holds and gives back
 * unchanged; what it refuses holds something storage cannot. Both are checked against a real
 * PostgreSQL with generated hostile input, not only the cases we thought of.
 */
describe('input bounds: what they accept, PostgreSQL stores', () => {
  let db: Client;
  beforeAll(async () => {
    db = new Client({ connectionString: await createTestDatabase('bounds') });
    await db.connect();
  });
  afterAll(() => db.end());

  // Every UTF-16 code unit, lone surrogates and controls included.
  const anyText = fc.string({ unit: 'binary', maxLength: 40 });
  const hostileText = fc.oneof(
    anyText,
    fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udc00', 'line\nbreak', 'tab\there', '\u001b[31m', 'ok'),
  );

  test('accepted text round-trips through text and jsonb; refused text holds a control character or a lone surrogate', async () => {
    await fc.assert(
      fc.asyncProperty(hostileText, async (value) => {
        const problem = textProblem(value, 'text', 100);
        if (problem === undefined) {
          const { rows } = await db.query<{ t: string; j: { v: string } }>('SELECT $1::text AS t, $2::jsonb AS j', [
            value,
            JSON.stringify({ v: value }),
          ]);
          expect(rows[0]!.t).toBe(value);
          expect(rows[0]!.j.v).toBe(value);
        } else {
          expect([...value].some((c) => c.charCodeAt(0) < 0x20 && !'\t\n\r'.includes(c)) || !value.isWellFormed()).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('identifiers take no control character at all, line breaks and DEL included', () => {
    expect(textProblem('Order Completed', 'identifier', 100)).toBeUndefined();
    for (const bad of ['a\nb', 'a\rb', 'a\tb', 'a\u007fb', '\u0000'])
      expect(textProblem(bad, 'identifier', 100)).toBe('must not contain control characters');
    expect(textProblem('a'.repeat(101), 'identifier', 100)).toBe('must be at most 100 characters');
  });

  test('JSON it accepts is stored as jsonb and read back equal; what it refuses is named by pointer', async () => {
    const hostileJson = fc.jsonValue({ maxDepth: 6 }).map((value) => ({ v: value }));
    await fc.assert(
      fc.asyncProperty(hostileJson, async (value) => {
        const errors = jsonProblems(value, ['properties']);
        if (errors.length === 0) {
          const { rows } = await db.query<{ j: unknown }>('SELECT $1::jsonb AS j', [JSON.stringify(value)]);
          expect(rows[0]!.j).toEqual(JSON.parse(JSON.stringify(value)));
        } else {
          for (const error of errors) expect(error.pointer.startsWith('/properties/v')).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('refuses what JSON.parse lets through but storage cannot take, and says where', () => {
    const parsed = JSON.parse('{"total": 1e400, "ok\\u0000key": 1, "name": "\\ud800", "nested": {"list": [1, "a\\u0000"]}}');
    expect(jsonProblems(parsed, ['properties'])).toEqual([
      { pointer: '/properties/total', message: 'must be a finite number' },
      { pointer: '/properties/ok\u0000key', message: 'key must not contain control characters' },
      { pointer: '/properties/name', message: 'must be well-formed Unicode (no unpaired surrogates)' },
      { pointer: '/properties/nested/list/1', message: 'must not contain control characters other than tab and line breaks' },
    ]);
  });

  test(`nesting stops at ${BOUNDS.jsonDepth} levels`, () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < BOUNDS.jsonDepth + 5; i++) deep = [deep];
    const errors = jsonProblems({ deep }, []);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe(`must not nest deeper than ${BOUNDS.jsonDepth} levels`);
    let shallow: unknown = 'leaf';
    for (let i = 0; i < BOUNDS.jsonDepth - 2; i++) shallow = [shallow];
    expect(jsonProblems({ shallow }, [])).toEqual([]);
  });

  test('a hostile body with thousands of bad values reports a bounded number of them', () => {
    const body = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, '\u0000']));
    expect(jsonProblems(body, []).length).toBe(20);
  });

  test('instants it accepts cast to timestamptz and stay between 1970 and a day from now', async () => {
    const now = new Date('2026-12-06T00:00:00Z');
    const anyInstant = fc.oneof(
      fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.constantFrom(
        '9999-12-31T23:00:00-05:00',
        '1969-12-31T23:59:59Z',
        '2026-12-06T23:59:59Z',
        '2026-12-08T00:00:00Z',
        '+275760-09-13T00:00:00Z',
        'yesterday',
        '2026-02-30T00:00:00Z',
      ),
    );
    await fc.assert(
      fc.asyncProperty(anyInstant, async (text) => {
        const parsed = parseIsoInstant(text);
        if (!parsed || instantProblem(parsed, now)) return;
        expect(parsed.getTime()).toBeGreaterThanOrEqual(Date.UTC(1970, 0, 1));
        expect(parsed.getTime()).toBeLessThanOrEqual(now.getTime() + 86_400_000);
        const { rows } = await db.query<{ t: Date }>('SELECT $1::timestamptz AS t', [parsed.toISOString()]);
        expect(rows[0]!.t.getTime()).toBe(parsed.getTime());
      }),
      { numRuns: 300 },
    );
    expect(instantProblem(parseIsoInstant('9999-12-31T23:00:00-05:00')!, now)).toBe('must not be more than a day in the future');
    expect(parseIsoInstant('+275760-09-13T00:00:00Z')).toBeUndefined();
  });
});
