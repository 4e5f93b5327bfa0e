import { legacyVerificationWork } from '#password-hashes';

const salt = Buffer.alloc(16, 1).toString('base64');
const key = Buffer.alloc(32, 2).toString('base64');

describe('the work of verifying an imported hash, in verifications of our own argon2id', () => {
  test('a hash with our own argon2id parameters costs one', () => {
    const ours = `$argon2id$v=19$m=19456,t=2,p=1$${'a'.repeat(22)}$${'b'.repeat(43)}`;
    expect(legacyVerificationWork({ format: 'argon2id', hash: ours })).toBe(1);
  });

  test("bcrypt's cost doubles per step: the most an import may bring is about seventy of ours", () => {
    const bcrypt = (cost: string) => ({ format: 'bcrypt', hash: `$2b$${cost}$${'C'.repeat(53)}` });
    expect(legacyVerificationWork(bcrypt('10'))).toBeCloseTo(4.4);
    expect(legacyVerificationWork(bcrypt('11'))).toBeCloseTo(8.8);
    expect(legacyVerificationWork(bcrypt('14'))).toBeCloseTo(70.4);
  });

  test('PBKDF2 and scrypt grow with their work parameters, SHA-512 dearer than SHA-256', () => {
    const pbkdf2 = (format: string, iterations: number) => ({ format, salt, iterations, hash: key });
    expect(legacyVerificationWork(pbkdf2('pbkdf2-sha256', 27_500))).toBeCloseTo(0.275);
    expect(legacyVerificationWork(pbkdf2('pbkdf2-sha512', 1_000_000))).toBeCloseTo(27);
    const scrypt = { format: 'firebase-scrypt', hash: key, salt, signerKey: key, saltSeparator: 'Bw==', rounds: 8, memCost: 14 };
    expect(legacyVerificationWork(scrypt)).toBeCloseTo(2.8);
  });

  test('what is no hash Tessera verifies costs nothing: it is refused before any work', () => {
    expect(legacyVerificationWork({ format: 'bcrypt', hash: '$2b$31$' })).toBe(0);
    expect(legacyVerificationWork(null)).toBe(0);
  });
});
