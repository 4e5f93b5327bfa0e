import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, passwordProblemsOf, type PasswordProblem } from '#contracts';
import { RequestValidationError } from '#platform';
import { sayIn, type Say } from '../messages/messages';

// The rules are shared with login, whose change-password page holds a new password to them too.
export { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, passwordProblemsOf, type PasswordProblem };

const inEnglish = sayIn('en');

/**
 * A password refused by the rules: the API's 400 (its messages in English, the API's language),
 * carrying the kinds so that a hosted page can say them in the person's language.
 */
export class WeakPasswordError extends RequestValidationError {
  constructor(readonly problems: readonly PasswordProblem[]) {
    super(problems.map((problem) => ({ pointer: '/password', message: weakPasswordReason(problem, inEnglish) })));
  }
}

/** Throws WeakPasswordError when the password breaks a rule. */
export function requireStrongPassword(password: string, email: string): void {
  const problems = passwordProblemsOf(password, email);
  if (problems.length > 0) throw new WeakPasswordError(problems);
}

export function weakPasswordReason(problem: PasswordProblem, say: Say): string {
  return say(`weakPassword.${problem}`, { min: PASSWORD_MIN_LENGTH, max: PASSWORD_MAX_LENGTH });
}
