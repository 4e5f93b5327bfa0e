import { randomBytes } from 'node:crypto';
import { blindIndex, normaliseEmail } from './blind-index';

describe('the blind index', () => {
  const key = randomBytes(32);

  it('is stable: the same e-mail in the same tenant always gives the same index', () => {
    expect(blindIndex(key, 'acme', 'email', 'ada@example.com')).toBe(blindIndex(key, 'acme', 'email', 'ada@example.com'));
  });

  it('ignores case and surrounding whitespace of e-mails', () => {
    const index = blindIndex(key, 'acme', 'email', 'ada@example.com');
    expect(blindIndex(key, 'acme', 'email', '  Ada@Example.COM\t')).toBe(index);
  });

  it('treats composed and decomposed accents as one address', () => {
    expect(blindIndex(key, 'acme', 'email', 'jos\u00e9@example.com')).toBe(blindIndex(key, 'acme', 'email', 'JOSE\u0301@example.com'));
  });

  it('is scoped to the tenant: one address in two tenants gives unrelated indexes', () => {
    expect(blindIndex(key, 'acme', 'email', 'ada@example.com')).not.toBe(blindIndex(key, 'globex', 'email', 'ada@example.com'));
  });

  it('is scoped to the kind of value', () => {
    expect(blindIndex(key, 'acme', 'email', 'ada@example.com')).not.toBe(blindIndex(key, 'acme', 'username', 'ada@example.com'));
  });

  it('cannot be confused by moving characters between tenant and value', () => {
    expect(blindIndex(key, 'a', 'email', 'b.c@example.com')).not.toBe(blindIndex(key, 'a.b', 'email', 'c@example.com'));
  });

  it('depends on the key, so it cannot be recomputed without the master key', () => {
    expect(blindIndex(key, 'acme', 'email', 'ada@example.com')).not.toBe(blindIndex(randomBytes(32), 'acme', 'email', 'ada@example.com'));
  });

  it('is a base64url token that fits a stream name and contains nothing of the address', () => {
    const index = blindIndex(key, 'acme', 'email', 'ada@example.com');
    expect(index).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(index.toLowerCase()).not.toContain('ada');
  });
});

describe('e-mail normalisation', () => {
  it('trims and lower-cases', () => {
    expect(normaliseEmail('  Ada.Lovelace@Example.COM ')).toBe('ada.lovelace@example.com');
  });

  it('keeps dots and plus tags, because only some providers ignore them', () => {
    expect(normaliseEmail('a.da+news@gmail.com')).toBe('a.da+news@gmail.com');
    expect(normaliseEmail('a.da@gmail.com')).not.toBe(normaliseEmail('ada@gmail.com'));
  });

  it('puts Unicode in composed form (NFC)', () => {
    expect(normaliseEmail('Jose\u0301@example.com')).toBe('jos\u00e9@example.com');
  });
});
