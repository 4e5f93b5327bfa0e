import { importDigest, importedUserId, IMPORT_MAX_USERS, parseImport } from './import-lines';

const bcrypt = { format: 'bcrypt', hash: '$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm' };
const line = (fields: Record<string, unknown>) => JSON.stringify({ externalId: 'u-1', email: 'ada@example.com', ...fields });

describe('reading an import request', () => {
  test('each NDJSON line is read on its own: a bad one is reported by its number and the good ones stay', () => {
    const body = [
      line({ externalId: 'u-1', password: bcrypt, emailVerified: true }),
      '',
      '{"externalId": "u-2", "email": ',
      line({ externalId: 'u-3', email: 'not an address' }),
      line({ externalId: 'u-4', email: 'bob@example.com', password: { format: 'bcrypt', hash: '$2b$31$' + 'a'.repeat(53) } }),
      line({ externalId: 'u-5', email: 'Eve@Example.com', password: null, profile: { givenName: 'Eve' } }),
    ].join('\n');
    const lines = parseImport('ndjson', body);
    expect(lines.map((l) => [l.line, l.ok])).toEqual([
      [1, true],
      [3, false],
      [4, false],
      [5, false],
      [6, true],
    ]);
    expect(lines[1]).toMatchObject({ ok: false, problem: { type: 'malformed-json' } });
    expect(lines[2]).toMatchObject({
      ok: false,
      externalId: 'u-3',
      problem: { type: 'validation-failed', errors: [{ pointer: '/email' }] },
    });
    expect(lines[3]).toMatchObject({ ok: false, externalId: 'u-4', problem: { errors: [{ pointer: '/password/hash' }] } });
    expect(lines[4]).toMatchObject({
      ok: true,
      person: { email: 'eve@example.com', password: null, emailVerified: false, profile: { givenName: 'Eve', familyName: null } },
    });
  });

  test('a JSON batch numbers its people from 1, in the order of users', () => {
    const lines = parseImport('json', JSON.stringify({ users: [JSON.parse(line({})), { externalId: 'x' }] }));
    expect(lines.map((l) => [l.line, l.ok])).toEqual([
      [1, true],
      [2, false],
    ]);
  });

  test('a second line with the same externalId or e-mail is refused, whichever would have finished first', () => {
    const lines = parseImport(
      'ndjson',
      [line({}), line({ email: 'other@example.com' }), line({ externalId: 'u-9', email: 'ADA@example.com' })].join('\n'),
    );
    expect(lines.map((l) => (l.ok ? 'ok' : l.problem.type))).toEqual(['ok', 'repeated-in-request', 'repeated-in-request']);
  });

  test('a request that is not readable as a whole, or holds too many people, is refused whole', () => {
    expect(() => parseImport('json', '{"users": ')).toThrow('not valid JSON');
    expect(() => parseImport('json', '[]')).toThrow();
    expect(() => parseImport('ndjson', '\n\n')).toThrow('no line');
    const many = Array.from({ length: IMPORT_MAX_USERS + 1 }, (_, i) => line({ externalId: `u-${i}`, email: `p${i}@example.com` }));
    expect(() => parseImport('ndjson', many.join('\n'))).toThrow(`at most ${IMPORT_MAX_USERS}`);
  });

  test('the digest of a person does not depend on the order fields or consents came in, and changes with any content', () => {
    const [a] = parseImport(
      'ndjson',
      line({
        consents: [
          { purpose: 'b', policyVersion: '1' },
          { purpose: 'a', policyVersion: '1' },
        ],
      }),
    );
    const [b] = parseImport(
      'ndjson',
      JSON.stringify({
        consents: [
          { policyVersion: '1', purpose: 'a' },
          { purpose: 'b', policyVersion: '1' },
        ],
        email: 'ada@example.com',
        externalId: 'u-1',
      }),
    );
    const [c] = parseImport('ndjson', line({ emailVerified: true }));
    if (!a?.ok || !b?.ok || !c?.ok) throw new Error('lines expected to parse');
    expect(importDigest(a.person)).toBe(importDigest(b.person));
    expect(importDigest(a.person)).not.toBe(importDigest(c.person));
  });

  test("an external id names one account per tenant, and another tenant's is another", () => {
    const tenantA = '0193c2a0-0000-7000-8000-00000000000a';
    const tenantB = '0193c2a0-0000-7000-8000-00000000000b';
    expect(importedUserId(tenantA, 'u-1')).toBe(importedUserId(tenantA, 'u-1'));
    expect(importedUserId(tenantA, 'u-1')).not.toBe(importedUserId(tenantB, 'u-1'));
    expect(importedUserId(tenantA, 'u-1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
