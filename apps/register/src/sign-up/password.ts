import { PASSWORD_MAX_LENGTH } from '#contracts';
import { textProblem } from '#platform';

export { PASSWORD_MAX_LENGTH };

/** NIST SP 800-63B: length over composition rules, and no password known to be common. */
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

/** Why a password is refused, in words a person can act on; empty when it is acceptable. */
export function passwordProblems(password: string, email: string): string[] {
  const problems: string[] = [];
  // Any character a person can type, tab and line breaks included; never a NUL, another control
  // character or an unpaired surrogate (UTF-8 cannot carry it, so two passwords would hash alike).
  const unusable = textProblem(password, 'text', Number.POSITIVE_INFINITY);
  if (unusable) problems.push(unusable);
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) problems.push(`must be at least ${PASSWORD_MIN_LENGTH} characters long`);
  if (length > PASSWORD_MAX_LENGTH) problems.push(`must be at most ${PASSWORD_MAX_LENGTH} characters long`);
  const lowered = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lowered)) problems.push('is a commonly used password');
  if (new Set(password).size < 4) problems.push('repeats too few distinct characters');
  const localPart = email.split('@')[0]?.toLowerCase() ?? '';
  if (localPart.length >= 4 && lowered.includes(localPart)) problems.push('must not contain the e-mail address');
  return problems;
}
