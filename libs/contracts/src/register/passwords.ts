import { textProblem } from '#platform';

/**
 * argon2id with OWASP's minimum recommended parameters (19 MiB, 2 passes, 1 lane). Register hashes
 * with them; login verifies these hashes on every sign-in (and hashes a dummy with the same cost
 * for unknown addresses), so the cost is what one core can afford per attempt.
 */
// `algorithm: 2` is Algorithm.Argon2id: the package's enum is a const enum that isolated modules cannot inline.
export const ARGON2ID_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * The longest password register accepts, in code points. Login refuses a longer one before any
 * argon2id work: it cannot match a stored hash, so hashing it would only spend a core for an attacker.
 */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * The rules every new password is held to, wherever it is chosen (register's sign-up and reset,
 * login's change of password). NIST SP 800-63B: length over composition rules, and no password
 * known to be common.
 */
export const PASSWORD_MIN_LENGTH = 10;

const COMMON_PASSWORDS = new Set(
  [
    '123456789012',
    '1234567890',
    '12345678910',
    'qwertyuiop',
    'password123',
    'password1234',
    'passw0rd123',
    'iloveyou123',
    '1q2w3e4r5t',
    'qwerty12345',
    'qwerty123456',
    'abc1234567',
    'football123',
    'baseball123',
    'welcome123',
    'letmein123',
    'monkey12345',
    'dragon12345',
    'sunshine123',
    'princess123',
    'superman123',
    'administrator',
    'changeme123',
    'trustno1234',
    'starwars123',
    '0987654321',
    '1111111111',
    '0000000000',
    'aaaaaaaaaa',
    'password!1',
    'Password1!',
    'Password123',
    'Passw0rd!',
    'qwertyuiop123',
    'asdfghjkl1',
    'zxcvbnm123',
    '1qaz2wsx3edc',
    'qazwsxedc123',
    'michael123',
    'charlie123',
    'shadow12345',
    'master12345',
  ].map((p) => p.toLowerCase()),
);

/** Why a password is refused, as kinds a page can say in any language. */
export type PasswordProblem = 'unusable' | 'tooShort' | 'tooLong' | 'common' | 'tooFewDistinct' | 'containsEmail';

/** The password rules a new password is held to; empty when it is acceptable. */
export function passwordProblemsOf(password: string, email: string): PasswordProblem[] {
  const problems: PasswordProblem[] = [];
  // Any character a person can type, tab and line breaks included; never a NUL, another control
  // character or an unpaired surrogate (UTF-8 cannot carry it, so two passwords would hash alike).
  if (textProblem(password, 'text', Number.POSITIVE_INFINITY)) problems.push('unusable');
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) problems.push('tooShort');
  if (length > PASSWORD_MAX_LENGTH) problems.push('tooLong');
  const lowered = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lowered)) problems.push('common');
  if (new Set(password).size < 4) problems.push('tooFewDistinct');
  const localPart = email.split('@')[0]?.toLowerCase() ?? '';
  if (localPart.length >= 4 && lowered.includes(localPart)) problems.push('containsEmail');
  return problems;
}
